//! The agent's global keys (`kinesis.endpoint`, `checkpointFile`, ...): mapped to edgeship's top level and `[aws]`, or
//! explained.

use super::Object;
use super::value::{Toml, millis, number, string, toml_str};

/// Keys with no edgeship equivalent, and why.
const EXPLAINED: &[(&str, &str)] = &[
    (
        "checkpointFile",
        "edgeship keeps checkpoints in state_dir (default /var/lib/edgeship), which survives reboots; the agent's file is not read",
    ),
    (
        "checkpointTimeToLiveDays",
        "edgeship expires checkpoints of vanished files by itself",
    ),
    (
        "checkpoints.queryTimeoutSeconds",
        "no SQLite store in edgeship",
    ),
    (
        "checkpoints.connectionTimeoutSeconds",
        "no SQLite store in edgeship",
    ),
    (
        "cloudwatch.emitMetrics",
        "edgeship does not publish CloudWatch metrics; enable [metrics] listen for a Prometheus endpoint (the CloudWatch agent can scrape it)",
    ),
    (
        "cloudwatch.endpoint",
        "no CloudWatch metrics; see [metrics]",
    ),
    (
        "cloudwatch.namespace",
        "no CloudWatch metrics; see [metrics]",
    ),
    (
        "cloudwatch.metricsBufferTimeMillis",
        "no CloudWatch metrics; see [metrics]",
    ),
    (
        "cloudwatch.metricsQueueSize",
        "no CloudWatch metrics; see [metrics]",
    ),
    (
        "cloudwatch.tagInstance",
        "no CloudWatch metrics; see [metrics]",
    ),
    (
        "sts.endpoint",
        "use the standard AWS_ENDPOINT_URL_STS variable",
    ),
    (
        "awsAccessKeyId",
        "not copied: put static keys in ~/.aws/credentials (or the environment) of the edgeship user; prefer an instance role",
    ),
    (
        "awsSecretAccessKey",
        "not copied (secret): see awsAccessKeyId",
    ),
    (
        "assumeRoleARN",
        "use a profile with role_arn/source_profile in ~/.aws/config and set [aws] profile",
    ),
    (
        "assumeRoleExternalId",
        "set external_id in the ~/.aws/config profile that assumes the role",
    ),
    (
        "userDefinedCredentialsProvider.classname",
        "no Java plugins: use the standard AWS credential chain (environment, profile, web identity, container, instance role)",
    ),
    ("userDefinedCredentialsProvider.location", "no Java plugins"),
    (
        "maxSendingThreads",
        "edgeship sends with max_in_flight concurrent requests per flow (default 4), not a thread pool",
    ),
    ("maxSendingThreadsPerCore", "see maxSendingThreads"),
    ("sendingThreadsKeepAliveMillis", "no sender thread pool"),
    (
        "sendingThreadsMaxQueueSize",
        "no sender queue: the log files are the buffer",
    ),
    ("maxConnections", "connections follow max_in_flight"),
    (
        "connectionTimeoutMillis",
        "the SDK default connect timeout applies; [aws] request_timeout bounds a whole attempt",
    ),
    ("connectionTTLMillis", "managed by the HTTP client"),
    ("useTcpKeepAlive", "managed by the HTTP client"),
    (
        "useHttpGzip",
        "Kinesis and Firehose requests are not compressed",
    ),
    ("userAgent", "not configurable"),
    ("userAgentOverride", "not configurable"),
    (
        "log.emitMetrics",
        "edgeship logs a per-flow summary every status_interval; see also [metrics]",
    ),
    ("log.emitInternalMetrics", "see log.emitMetrics"),
];

/// Keys converted by `convert` and `aws`.
const MAPPED: &[&str] = &[
    "kinesis.region",
    "kinesis.endpoint",
    "firehose.endpoint",
    "shutdownTimeoutMillis",
    "socketTimeoutMillis",
    "log.statusReportingPeriodSeconds",
    "flows",
];

pub fn convert(main: &Object, out: &mut Toml) -> Result<(), String> {
    for (key, _) in main {
        if MAPPED.contains(&key.as_str()) {
            continue;
        }
        match EXPLAINED.iter().find(|(k, _)| k == key) {
            Some((_, why)) => out.comment(&format!("agent.json {key}: not imported: {why}.")),
            None => out.comment(&format!(
                "agent.json {key}: unknown key (the Java agent ignores it too); not imported."
            )),
        }
    }
    if let Some(v) = main.get("shutdownTimeoutMillis") {
        let ms = number(v).ok_or("shutdownTimeoutMillis is not a number")?;
        out.key(
            "shutdown_timeout",
            &millis(ms),
            Some("agent.json shutdownTimeoutMillis. Keep it below systemd's TimeoutStopSec."),
        );
    }
    if let Some(v) = main.get("log.statusReportingPeriodSeconds") {
        let s = number(v).ok_or("log.statusReportingPeriodSeconds is not a number")?;
        out.key(
            "status_interval",
            &format!("\"{s}s\""),
            Some("agent.json log.statusReportingPeriodSeconds."),
        );
    }
    aws(main, out)
}

fn aws(main: &Object, out: &mut Toml) -> Result<(), String> {
    // The agent's sample config ships empty endpoints: empty means unset.
    let text = |key: &str| {
        main.get(key)
            .and_then(string)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let region = text("kinesis.region");
    let kinesis = text("kinesis.endpoint");
    let firehose = text("firehose.endpoint");
    out.table("[aws]");
    let derived = [&kinesis, &firehose]
        .into_iter()
        .flatten()
        .find_map(|e| region_of(e));
    match (&region, &derived) {
        (Some(r), _) => out.key("region", &toml_str(r), Some("agent.json kinesis.region.")),
        (None, Some(r)) => out.key("region", &toml_str(r), Some("Derived from the agent's endpoint host.")),
        (None, None) => out.comment("No region in agent.json: edgeship uses AWS_REGION or the profile's region. The agent defaulted Firehose (and CloudWatch) to us-east-1."),
    }
    let custom: Vec<&String> = [&kinesis, &firehose]
        .into_iter()
        .flatten()
        .filter(|e| region_of(e).is_none())
        .collect();
    match custom.as_slice() {
        [] => {}
        [one] => out.key("endpoint_url", &toml_str(&with_scheme(one)), Some("agent.json kinesis.endpoint / firehose.endpoint (not a standard AWS host).")),
        [k, f] if k == f => out.key("endpoint_url", &toml_str(&with_scheme(k)), None),
        _ => out.comment("agent.json sets different custom endpoints for Kinesis and Firehose: set AWS_ENDPOINT_URL_KINESIS and AWS_ENDPOINT_URL_FIREHOSE in the service environment instead."),
    }
    if let Some(v) = main.get("socketTimeoutMillis") {
        let ms = number(v).ok_or("socketTimeoutMillis is not a number")?;
        out.key("request_timeout", &millis(ms.max(1000)), Some("agent.json socketTimeoutMillis (edgeship bounds a whole attempt, not a socket read)."));
    }
    Ok(())
}

/// `kinesis.eu-west-1.amazonaws.com` (any scheme, any AWS partition) -> `eu-west-1`.
fn region_of(endpoint: &str) -> Option<String> {
    let host = endpoint.split("://").last()?.split(['/', ':']).next()?;
    let parts: Vec<&str> = host.split('.').collect();
    let is_aws = host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn");
    match parts.as_slice() {
        [_service, region, ..] if is_aws && region.contains('-') => Some((*region).to_owned()),
        _ => None,
    }
}

fn with_scheme(endpoint: &str) -> String {
    if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("https://{endpoint}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_come_from_aws_endpoint_hosts_only() {
        assert_eq!(
            region_of("https://kinesis.eu-west-1.amazonaws.com").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of("firehose.cn-north-1.amazonaws.com.cn").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(region_of("http://localhost:4567"), None);
    }
}
