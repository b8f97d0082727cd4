//! `edgeship check`: for each flow, resolves its credentials and describes its stream
//! (DescribeStreamSummary / DescribeDeliveryStream) with the same clients `run` would use, and
//! says what works and what to fix. Nothing is written: PutRecords cannot be tried without
//! shipping a record, so its permission is stated, not tested.

use crate::config::{Config, Destination, Flow};
use crate::sink::SendError;
use crate::sink::aws::AwsClients;
use crate::sink::wire::Service;
use std::fmt::Write;

/// The report, and how many flows cannot ship.
pub struct CheckReport {
    pub text: String,
    pub failed: usize,
    /// The last line: all can ship, or how many cannot.
    pub verdict: String,
}

pub async fn report(config: &Config) -> CheckReport {
    let mut out = CheckReport {
        text: format!("checking {}\n", config.source.display()),
        failed: 0,
        verdict: String::new(),
    };
    let destinations: Vec<&Flow> = config.flows.iter().flat_map(Flow::destinations).collect();
    for flow in &destinations {
        let settings = flow.aws_settings(&config.aws);
        let (region, lines) = match AwsClients::load(&settings).await {
            Ok(clients) => {
                let region = clients.sdk.region().map(|r| r.to_string());
                (region, check_flow(flow, &clients).await)
            }
            Err(error) => (None, Err(vec![format!("  FAIL setup: {error}")])),
        };
        let region = region.unwrap_or_else(|| "unknown".to_owned());
        let _ = writeln!(
            out.text,
            "flow {:?} -> {} (region {region})",
            flow.name, flow.destination
        );
        let lines = lines.unwrap_or_else(|lines| {
            out.failed += 1;
            lines
        });
        for line in lines {
            let _ = writeln!(out.text, "{line}");
        }
    }
    // A flow with `[[flow.destination]]` tables is checked per destination.
    let noun = match destinations.len() == config.flows.len() {
        true => "flows",
        false => "destinations",
    };
    out.verdict = match out.failed {
        0 => "every flow can reach its stream".to_owned(),
        n => format!("{n} of {} {noun} cannot ship", destinations.len()),
    };
    let _ = writeln!(out.text, "{}", out.verdict);
    out
}

/// The lines for one flow: `Ok` if it can ship, else the lines saying why not.
async fn check_flow(flow: &Flow, clients: &AwsClients) -> Result<Vec<String>, Vec<String>> {
    let mut lines = Vec::new();
    let region = clients
        .sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();
    match clients.wire.credentials().await {
        Ok(credentials) => lines.push(format!(
            "  ok   credentials: access key {}{}",
            mask(credentials.access_key_id()),
            match credentials.expiry() {
                Some(_) => " (temporary)",
                None => "",
            }
        )),
        Err(error) => {
            lines.push(format!(
                "  FAIL credentials: {}",
                credentials_problem(&error)
            ));
            return Err(lines);
        }
    }
    let (service, name, action) = match &flow.destination {
        Destination::Kinesis { stream } => (Service::Kinesis, stream, "kinesis:PutRecords"),
        Destination::Firehose { stream } => (Service::Firehose, stream, "firehose:PutRecordBatch"),
    };
    match clients.wire.describe(service, name).await {
        Ok(answer) => {
            let summary = summary(service, &answer.body);
            lines.push(format!("  ok   {}: {}", flow.destination, summary.text));
            lines.push(format!(
                "  note {action} is not tried (it would write): the policy must allow it on {}",
                summary.arn.as_deref().unwrap_or(name)
            ));
            Ok(lines)
        }
        Err(error) => {
            let problem = describe_problem(&error, &flow.destination.to_string(), &region);
            lines.push(format!("  FAIL {problem}"));
            Err(lines)
        }
    }
}

/// `AKIA…WXYZ`: enough to tell keys apart, not enough to matter.
fn mask(key: &str) -> String {
    if key.len() <= 8 {
        return key.to_owned();
    }
    format!("{}…{}", &key[..4], &key[key.len() - 4..])
}

fn credentials_problem(error: &SendError) -> String {
    format!(
        "{}. ({})",
        crate::sink::hint_for("NoCredentials", "the stream"),
        error.message
    )
}

/// What a failed describe call means for shipping.
fn describe_problem(error: &SendError, destination: &str, region: &str) -> String {
    let code = error.code.as_str();
    let fix = match code {
        "ResourceNotFoundException" => format!(
            "{destination} does not exist in region {region} of this account: create it, or fix the stream name or the region"
        ),
        c if c.starts_with("AccessDenied") => format!(
            "not allowed to describe {destination}: grant kinesis:DescribeStreamSummary / firehose:DescribeDeliveryStream for this check (shipping needs PutRecords / PutRecordBatch, see README \"The IAM policy edgeship needs\")"
        ),
        "UnrecognizedClientException" | "InvalidClientTokenId" => {
            "the access key is not known to AWS in this partition: check the key id, or the region's partition (China, GovCloud)".to_owned()
        }
        "InvalidSignatureException" | "SignatureDoesNotMatch" => {
            "the secret key does not match the access key".to_owned()
        }
        "ExpiredTokenException" | "ExpiredToken" => {
            "the session token has expired: refresh the credentials".to_owned()
        }
        "ConnectionError" | "Timeout" => format!(
            "cannot reach the {} endpoint for region {region}: check the region, endpoint_url, proxy and firewall",
            if destination.starts_with("kinesis") { "Kinesis" } else { "Firehose" }
        ),
        _ => crate::sink::hint_for(code, destination),
    };
    format!("{fix}. ({error})")
}

struct Summary {
    text: String,
    arn: Option<String>,
}

/// The parts of a describe answer that matter for shipping.
fn summary(service: Service, body: &[u8]) -> Summary {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    match service {
        Service::Kinesis => {
            let s = &value["StreamDescriptionSummary"];
            let mode = text(&s["StreamModeDetails"]["StreamMode"]).unwrap_or("PROVISIONED".into());
            let encryption = match text(&s["EncryptionType"]).as_deref() {
                Some("KMS") => ", KMS-encrypted (the policy also needs kms:GenerateDataKey)",
                _ => "",
            };
            Summary {
                text: format!(
                    "{}, {} open shards, {}{encryption}",
                    text(&s["StreamStatus"]).unwrap_or("status unknown".into()),
                    s["OpenShardCount"].as_u64().unwrap_or(0),
                    mode.to_lowercase().replace('_', "-"),
                ),
                arn: text(&s["StreamARN"]),
            }
        }
        Service::Firehose => {
            let d = &value["DeliveryStreamDescription"];
            Summary {
                text: text(&d["DeliveryStreamStatus"]).unwrap_or("status unknown".into()),
                arn: text(&d["DeliveryStreamARN"]),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_say_status_shards_mode_and_encryption() {
        let kinesis = br#"{"StreamDescriptionSummary":{"StreamName":"s","StreamARN":"arn:aws:kinesis:eu-west-1:1:stream/s","StreamStatus":"ACTIVE","OpenShardCount":2,"EncryptionType":"KMS","StreamModeDetails":{"StreamMode":"ON_DEMAND"}}}"#;
        let got = summary(Service::Kinesis, kinesis);
        assert_eq!(
            got.text,
            "ACTIVE, 2 open shards, on-demand, KMS-encrypted (the policy also needs kms:GenerateDataKey)"
        );
        assert_eq!(
            got.arn.as_deref(),
            Some("arn:aws:kinesis:eu-west-1:1:stream/s")
        );
        let firehose = br#"{"DeliveryStreamDescription":{"DeliveryStreamStatus":"ACTIVE","DeliveryStreamARN":"arn:f"}}"#;
        assert_eq!(summary(Service::Firehose, firehose).text, "ACTIVE");
        assert_eq!(
            summary(Service::Kinesis, b"not json").text,
            "status unknown, 0 open shards, provisioned"
        );
    }

    #[test]
    fn each_failure_says_what_to_fix() {
        let cases = [
            (
                "ResourceNotFoundException",
                "does not exist in region eu-west-1",
            ),
            (
                "AccessDeniedException",
                "grant kinesis:DescribeStreamSummary",
            ),
            ("UnrecognizedClientException", "access key is not known"),
            ("InvalidSignatureException", "secret key does not match"),
            (
                "ConnectionError",
                "cannot reach the Kinesis endpoint for region eu-west-1",
            ),
        ];
        for (code, expected) in cases {
            let error = SendError::new(code, "m", None);
            let text = describe_problem(&error, "kinesis stream \"s\"", "eu-west-1");
            assert!(text.contains(expected), "{code}: {text}");
        }
        assert_eq!(mask("AKIAIOSFODNN7EXAMPLE"), "AKIA…MPLE");
        assert_eq!(mask("testing"), "testing");
    }
}
