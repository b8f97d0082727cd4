//! The `[aws]` keys checked beyond their types (proxy URL, CA and IoT file paths) and each
//! flow's `[flow.aws]`.

use super::validator::{KeyName, Validator};
use super::*;

impl Validator<'_> {
    /// `[aws] proxy` and `ca_file` (the file itself is read when the agent starts).
    pub(super) fn network(&self, aws: &RawAws) -> Result<(), ConfigError> {
        if let Some(proxy) = &aws.proxy {
            crate::sink::network::check_proxy_url(&proxy.0).map_err(|why| {
                self.err(
                    "aws.proxy",
                    format!("{}: {why}", crate::sink::network::redact(&proxy.0)),
                    "e.g. proxy = \"http://proxy.example.com:3128\"",
                )
            })?;
        }
        if let Some(path) = aws.ca_file.as_ref().filter(|p| !p.is_absolute()) {
            return Err(self.err(
                "aws.ca_file",
                format!("{path:?} is not an absolute path"),
                "e.g. ca_file = \"/etc/ssl/private-ca.pem\"",
            ));
        }
        if let Some(iot) = &aws.iot {
            self.iot(iot)?;
        }
        Ok(())
    }

    fn iot(&self, iot: &crate::sink::iot::RawIot) -> Result<(), ConfigError> {
        for (key, value) in [
            ("credentials_endpoint", &iot.credentials_endpoint),
            ("role_alias", &iot.role_alias),
            ("thing_name", &iot.thing_name),
        ] {
            if value.trim().is_empty() || value.contains('/') && key != "credentials_endpoint" {
                return Err(self.err(
                    format!("aws.iot.{key}"),
                    format!("{value:?} is not a {}", key.replace('_', " ")),
                    "see README \"Credentials and networks\": aws iot describe-endpoint --endpoint-type iot:CredentialProvider gives the endpoint",
                ));
            }
        }
        let files = [
            ("cert_file", Some(&iot.cert_file)),
            ("key_file", Some(&iot.key_file)),
            ("ca_file", iot.ca_file.as_ref()),
        ];
        for (key, path) in files {
            if let Some(path) = path.filter(|p| !p.is_absolute()) {
                return Err(self.err(
                    format!("aws.iot.{key}"),
                    format!("{path:?} is not an absolute path"),
                    "e.g. cert_file = \"/etc/edgeship/device.pem.crt\"",
                ));
            }
        }
        Ok(())
    }

    /// `[flow.aws]`, validated.
    pub(super) fn flow_aws(
        &self,
        raw: &RawFlow,
        key: KeyName,
    ) -> Result<Option<FlowAws>, ConfigError> {
        let Some(aws) = &raw.aws else {
            return Ok(None);
        };
        if let Some(region) = aws.region.as_ref().filter(|r| !valid_region(r)) {
            return Err(self.err(
                key("aws.region"),
                format!("{region:?} is not a region name"),
                "e.g. region = \"us-west-2\"",
            ));
        }
        let role = match &aws.role_arn {
            None if aws.external_id.is_some() || aws.session_name.is_some() => {
                return Err(self.err(
                    key("aws.role_arn"),
                    "external_id or session_name is set without role_arn",
                    "add role_arn = \"arn:aws:iam::111122223333:role/log-writer\"",
                ));
            }
            None => None,
            Some(arn) if !(arn.starts_with("arn:") && arn.contains(":role/")) => {
                return Err(self.err(
                    key("aws.role_arn"),
                    format!("{arn:?} is not a role ARN"),
                    "e.g. role_arn = \"arn:aws:iam::111122223333:role/log-writer\"",
                ));
            }
            Some(arn) => Some(AssumeRole {
                role_arn: arn.clone(),
                external_id: aws.external_id.clone(),
                session_name: aws
                    .session_name
                    .clone()
                    .unwrap_or_else(|| "edgeship".into()),
            }),
        };
        Ok(Some(FlowAws {
            region: aws.region.clone(),
            endpoint_url: aws.endpoint_url.clone(),
            profile: aws.profile.clone(),
            role,
        }))
    }
}

/// Lower-case letters, digits and dashes, e.g. `eu-west-1`, `us-gov-east-1`, `cn-north-1`.
fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.contains('-')
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, std::path::Path::new("/etc/edgeship/edgeship.toml"))
    }

    const TWO_FLOWS: &str = r#"
[aws]
region = "eu-west-1"
profile = "logs"
endpoint_url = "https://vpce.example.com"
[[flow]]
name = "here"
paths = ["/var/log/a.log"]
kinesis_stream = "a"
[[flow]]
name = "there"
paths = ["/var/log/b.log"]
kinesis_stream = "b"
[flow.aws]
region = "us-west-2"
role_arn = "arn:aws:iam::111122223333:role/log-writer"
"#;

    #[test]
    fn unset_flow_keys_inherit_aws_and_a_role_gets_a_default_session_name() {
        let config = parse(TWO_FLOWS).unwrap();
        let here = config.flows[0].aws_settings(&config.aws);
        assert_eq!(here, config.aws);
        let there = config.flows[1].aws_settings(&config.aws);
        assert_eq!(there.region.as_deref(), Some("us-west-2"));
        assert_eq!(there.profile.as_deref(), Some("logs"));
        assert_eq!(
            there.endpoint_url.as_deref(),
            Some("https://vpce.example.com")
        );
        let role = there.role.unwrap();
        assert_eq!(role.role_arn, "arn:aws:iam::111122223333:role/log-writer");
        assert_eq!(role.session_name, "edgeship");
        assert_eq!(role.external_id, None);
    }

    #[test]
    fn flow_aws_errors_name_the_key() {
        let cases = [
            (
                "region = \"US West\"",
                "flow[1] (\"b\").aws.region",
                "not a region name",
            ),
            (
                "role_arn = \"log-writer\"",
                "flow[1] (\"b\").aws.role_arn",
                "not a role ARN",
            ),
            (
                "external_id = \"x\"",
                "flow[1] (\"b\").aws.role_arn",
                "without role_arn",
            ),
            ("access_key = \"x\"", "access_key", "unknown field"),
        ];
        for (line, key, message) in cases {
            let text = format!(
                "[[flow]]\nname = \"a\"\npaths = [\"/a\"]\nkinesis_stream = \"s\"\n[[flow]]\nname = \"b\"\npaths = [\"/b\"]\nkinesis_stream = \"s\"\n[flow.aws]\n{line}\n"
            );
            let error = parse(&text).unwrap_err().to_string();
            assert!(
                error.contains(key) && error.contains(message),
                "{line}: {error}"
            );
        }
    }
}
