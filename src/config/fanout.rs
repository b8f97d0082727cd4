//! `[[flow.destination]]`: one flow's records shipped to several streams, each file read and
//! parsed once. Each destination table is laid over its flow's keys (unset keys inherit them)
//! and validated like a flow of its own; the first becomes the flow, the others its `fanout`.

use super::validator::{KeyName, Validator};
use super::*;
use crate::units::{optional_byte_size, optional_duration};
use serde::Deserialize;

/// `[[flow.destination]]`: one of a flow's streams, with its own batching. Keys not set here
/// take the flow's value (`batch_max_age`, `record_target_bytes`, `[flow.aws]`, ...), so
/// settings shared by all destinations are written once, in the flow.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDestination {
    /// Names the destination in metrics and status (`flow="FLOW/NAME"`; the first destination
    /// reports as the flow itself) and in messages. Unique within the flow. Default: the
    /// stream's name.
    pub name: Option<String>,
    /// Name of the Kinesis data stream. Exactly one of `kinesis_stream` / `firehose_stream`.
    pub kinesis_stream: Option<String>,
    /// Name of the Firehose stream (Direct PUT).
    pub firehose_stream: Option<String>,
    /// `[flow.destination.aws]`: region, endpoint, profile or role of this destination; unset
    /// keys inherit `[flow.aws]`, then `[aws]`.
    pub aws: Option<RawFlowAws>,
    /// As the flow's `aggregation`.
    pub aggregation: Option<Aggregation>,
    /// As the flow's `compression`.
    pub compression: Option<CompressionKind>,
    /// As the flow's `compression_level`.
    pub compression_level: Option<u32>,
    /// As the flow's `partition_key` (Streams only).
    pub partition_key: Option<String>,
    /// As the flow's `shard_aware`.
    pub shard_aware: Option<bool>,
    /// As the flow's `rate_limit`.
    pub rate_limit: Option<bool>,
    /// As the flow's `shard_records_per_sec`.
    pub shard_records_per_sec: Option<u32>,
    /// As the flow's `shard_bytes_per_sec`.
    #[serde(default, deserialize_with = "optional_byte_size")]
    pub shard_bytes_per_sec: Option<u64>,
    /// As the flow's `batch_max_age`.
    #[serde(default, deserialize_with = "optional_duration")]
    pub batch_max_age: Option<Duration>,
    /// As the flow's `batch_max_records`.
    pub batch_max_records: Option<usize>,
    /// As the flow's `batch_max_bytes`.
    #[serde(default, deserialize_with = "optional_byte_size")]
    pub batch_max_bytes: Option<u64>,
    /// As the flow's `batch_target_bytes`.
    #[serde(default, deserialize_with = "optional_byte_size")]
    pub batch_target_bytes: Option<u64>,
    /// As the flow's `record_max_bytes`. Lines are cut at the smallest record limit of the
    /// flow's destinations, since they are read once for all of them.
    #[serde(default, deserialize_with = "optional_byte_size")]
    pub record_max_bytes: Option<u64>,
    /// As the flow's `record_target_bytes`.
    #[serde(default, deserialize_with = "optional_byte_size")]
    pub record_target_bytes: Option<u64>,
    /// As the flow's `max_in_flight`.
    pub max_in_flight: Option<usize>,
    /// As the flow's `max_in_flight_bytes`.
    #[serde(default, deserialize_with = "optional_byte_size")]
    pub max_in_flight_bytes: Option<u64>,
}

impl RawDestination {
    /// The destination's name: its own, else its stream's.
    pub fn label(&self) -> &str {
        [&self.name, &self.kinesis_stream, &self.firehose_stream]
            .into_iter()
            .find_map(|s| s.as_deref())
            .unwrap_or("")
    }

    /// `flow` with this destination's keys laid over it.
    pub fn over(&self, flow: &RawFlow) -> RawFlow {
        let mut merged = flow.clone();
        merged.destination = Vec::new();
        merged.kinesis_stream = self.kinesis_stream.clone();
        merged.firehose_stream = self.firehose_stream.clone();
        merged.aws = match (&flow.aws, &self.aws) {
            (base, None) => base.clone(),
            (base, Some(own)) => Some(own.over(base.as_ref())),
        };
        let pick = |own: &Option<String>, base: &mut Option<String>| {
            if own.is_some() {
                base.clone_from(own);
            }
        };
        pick(&self.partition_key, &mut merged.partition_key);
        macro_rules! replace {
            ($($field:ident),*) => {$(
                if self.$field.is_some() { merged.$field = self.$field; }
            )*};
        }
        replace!(
            aggregation,
            compression_level,
            rate_limit,
            shard_records_per_sec,
            shard_bytes_per_sec,
            batch_max_bytes,
            batch_target_bytes,
            record_max_bytes,
            record_target_bytes,
            max_in_flight_bytes
        );
        macro_rules! set {
            ($($field:ident),*) => {$(
                if let Some(value) = self.$field { merged.$field = value; }
            )*};
        }
        set!(
            compression,
            shard_aware,
            batch_max_age,
            batch_max_records,
            max_in_flight
        );
        merged
    }

    /// Every key of the table and whether it is set; the stream keys count as set (they are
    /// never inherited).
    fn keys(&self) -> [(&'static str, bool); 20] {
        [
            ("name", true),
            ("kinesis_stream", true),
            ("firehose_stream", true),
            ("aws", self.aws.is_some()),
            ("aggregation", self.aggregation.is_some()),
            ("compression", self.compression.is_some()),
            ("compression_level", self.compression_level.is_some()),
            ("partition_key", self.partition_key.is_some()),
            ("shard_aware", self.shard_aware.is_some()),
            ("rate_limit", self.rate_limit.is_some()),
            (
                "shard_records_per_sec",
                self.shard_records_per_sec.is_some(),
            ),
            ("shard_bytes_per_sec", self.shard_bytes_per_sec.is_some()),
            ("batch_max_age", self.batch_max_age.is_some()),
            ("batch_max_records", self.batch_max_records.is_some()),
            ("batch_max_bytes", self.batch_max_bytes.is_some()),
            ("batch_target_bytes", self.batch_target_bytes.is_some()),
            ("record_max_bytes", self.record_max_bytes.is_some()),
            ("record_target_bytes", self.record_target_bytes.is_some()),
            ("max_in_flight", self.max_in_flight.is_some()),
            ("max_in_flight_bytes", self.max_in_flight_bytes.is_some()),
        ]
    }

    /// For `field` as an error names it: `None` if it is not a destination key, else whether
    /// this table sets it.
    fn sets(&self, field: &str) -> Option<bool> {
        let head = field.split(['.', '[']).next().unwrap_or(field);
        self.keys()
            .into_iter()
            .find(|(key, _)| *key == head)
            .map(|(_, set)| set)
    }
}

impl RawFlowAws {
    /// These keys laid over `base` (unset keys inherit it).
    fn over(&self, base: Option<&RawFlowAws>) -> RawFlowAws {
        let Some(base) = base else {
            return self.clone();
        };
        let pick = |own: &Option<String>, base: &Option<String>| own.clone().or(base.clone());
        // A role of its own comes with its own external id and session name: the flow's were
        // meant for the flow's role.
        let role = match self.role_arn.is_some() {
            true => RawFlowAws::default(),
            false => base.clone(),
        };
        RawFlowAws {
            region: pick(&self.region, &base.region),
            endpoint_url: pick(&self.endpoint_url, &base.endpoint_url),
            profile: pick(&self.profile, &base.profile),
            role_arn: pick(&self.role_arn, &base.role_arn),
            external_id: pick(&self.external_id, &role.external_id),
            session_name: pick(&self.session_name, &role.session_name),
        }
    }
}

impl Validator<'_> {
    /// A flow with `[[flow.destination]]` tables: the first destination becomes the flow (its
    /// name, checkpoints and metrics), the others its `fanout`.
    pub(super) fn fanned_out_flow(&self, index: usize, raw: RawFlow) -> Result<Flow, ConfigError> {
        let name = raw.name.clone();
        let flow_key = |field: &str| format!("flow[{index}] ({name:?}).{field}");
        for (field, set) in [
            ("kinesis_stream", raw.kinesis_stream.is_some()),
            ("firehose_stream", raw.firehose_stream.is_some()),
        ] {
            if set {
                return Err(self.err(
                    flow_key(field),
                    format!("{field} is set in a flow with [[flow.destination]] tables"),
                    format!(
                        "move {field} into a [[flow.destination]] table (each names its stream)"
                    ),
                ));
            }
        }
        let mut flows: Vec<Flow> = Vec::with_capacity(raw.destination.len());
        for (j, destination) in raw.destination.iter().enumerate() {
            let label = destination.label();
            if raw.destination[..j].iter().any(|d| d.label() == label) {
                return Err(self.err(
                    format!("flow[{index}] ({name:?}).destination[{j}].name"),
                    format!("two destinations of the flow are called {label:?}"),
                    "give each destination a unique name = \"...\" (it labels its metrics)",
                ));
            }
            let key = |field: &str| match destination.sets(field) {
                Some(true) => format!("flow[{index}] ({name:?}).destination[{j}].{field}"),
                Some(false) => {
                    format!("flow[{index}] ({name:?}).{field} (inherited by destination[{j}])")
                }
                None => flow_key(field),
            };
            let mut flow = self.single_flow(destination.over(&raw), &key)?;
            if j > 0 {
                flow.name = format!("{name}/{label}");
            }
            flows.push(flow);
        }
        let mut primary = flows.remove(0);
        primary.settings = raw;
        primary.fanout = flows;
        self.reparse_for_line_limit(&mut primary, &flow_key)?;
        Ok(primary)
    }

    /// Multiline records are framed for the smallest line limit of the destinations.
    fn reparse_for_line_limit(&self, flow: &mut Flow, key: KeyName) -> Result<(), ConfigError> {
        let (Some(raw), true) = (
            &flow.settings.parse,
            flow.line_limit() < flow.limits.max_line_bytes(),
        ) else {
            return Ok(());
        };
        let spec = crate::parse::ParseSpec::from_raw(raw, flow.line_limit() as u64)
            .map_err(|e| self.err(key(&e.key), e.message, e.hint))?;
        flow.parse = Some(std::sync::Arc::new(spec));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flows: &str) -> Result<Config, ConfigError> {
        Config::parse(flows, Path::new("/etc/edgeship.toml"))
    }

    const TWO: &str = r#"
[[flow]]
name = "app"
paths = ["/var/log/app.log"]
batch_max_age = "3s"
partition_key = "file"

[[flow.destination]]
kinesis_stream = "live"
aggregation = "kpl"

[[flow.destination]]
name = "archive"
firehose_stream = "archive-fh"
compression = "gzip"
partition_key = "random"
"#;

    #[test]
    fn destinations_inherit_the_flows_keys_and_keep_their_own() {
        // partition_key is Streams-only: the Firehose destination must not inherit it.
        let err = parse(TWO).unwrap_err().to_string();
        assert!(
            err.contains("flow[0] (\"app\").destination[1].partition_key"),
            "{err}"
        );
        let config = parse(&TWO.replace("partition_key = \"random\"\n", "")).unwrap_err();
        assert!(
            config
                .to_string()
                .contains("flow[0] (\"app\").partition_key (inherited by destination[1])"),
            "{config}"
        );
        let text = TWO
            .replace("partition_key = \"file\"\n", "")
            .replace("partition_key = \"random\"\n", "");
        let flow = &parse(&text).unwrap().flows[0];
        assert_eq!(flow.name, "app");
        assert_eq!(flow.destination.stream(), "live");
        assert_eq!(flow.aggregation, Aggregation::Kpl);
        assert_eq!(flow.limits.max_age, Duration::from_secs(3));
        let archive = &flow.fanout[0];
        assert_eq!(archive.name, "app/archive");
        assert!(archive.destination.is_firehose());
        assert_eq!(archive.aggregation, Aggregation::Lines);
        assert_eq!(archive.limits.compression.name(), "gzip");
        assert_eq!(archive.limits.max_age, Duration::from_secs(3));
        // Firehose records are smaller: lines are cut for both at its limit.
        assert_eq!(flow.line_limit(), archive.limits.max_line_bytes());
        assert!(flow.line_limit() < flow.limits.max_line_bytes());
    }

    #[test]
    fn fan_out_mistakes_name_the_key() {
        let cases = [
            (
                TWO.replace("batch_max_age", "kinesis_stream = \"x\"\nbatch_max_age"),
                "flow[0] (\"app\").kinesis_stream: kinesis_stream is set in a flow with",
            ),
            (
                TWO.replace("name = \"archive\"\n", "name = \"live\"\n"),
                "destination[1].name: two destinations of the flow are called \"live\"",
            ),
            (
                TWO.replace(
                    "firehose_stream = \"archive-fh\"",
                    "kinesis_stream = \"a\"\nfirehose_stream = \"b\"",
                ),
                "destination[1].kinesis_stream: both kinesis_stream and firehose_stream",
            ),
            (
                TWO.replace(
                    "aggregation = \"kpl\"",
                    "aggregation = \"kpl\"\nmax_in_flight = 0",
                ),
                "destination[0].max_in_flight",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected:?} not in {err}");
        }
    }

    #[test]
    fn destination_aws_keys_inherit_the_flows() {
        let text = TWO
            .replace(
                "partition_key = \"file\"\n",
                "[flow.aws]\nregion = \"eu-west-1\"\nprofile = \"logs\"\n",
            )
            .replace(
                "partition_key = \"random\"\n",
                "[flow.destination.aws]\nregion = \"us-east-2\"\n",
            );
        let flow = &parse(&text).unwrap().flows[0];
        let own = flow.fanout[0].aws.as_ref().unwrap();
        assert_eq!(own.region.as_deref(), Some("us-east-2"));
        assert_eq!(own.profile.as_deref(), Some("logs"));
        assert_eq!(
            flow.aws.as_ref().unwrap().region.as_deref(),
            Some("eu-west-1")
        );
    }

    #[test]
    fn a_destination_with_its_own_role_does_not_inherit_the_flows_external_id() {
        let flow = RawFlowAws {
            role_arn: Some("arn:aws:iam::111122223333:role/a".into()),
            external_id: Some("for-a".into()),
            session_name: Some("a".into()),
            region: Some("eu-west-1".into()),
            ..RawFlowAws::default()
        };
        let own = RawFlowAws {
            role_arn: Some("arn:aws:iam::444455556666:role/b".into()),
            ..RawFlowAws::default()
        };
        let merged = own.over(Some(&flow));
        assert_eq!(merged.external_id, None);
        assert_eq!(merged.session_name, None);
        assert_eq!(merged.region.as_deref(), Some("eu-west-1"));
        let inherits = RawFlowAws::default().over(Some(&flow));
        assert_eq!(inherits, flow);
    }

    #[test]
    fn a_flow_with_one_destination_table_is_the_flow_without_it() {
        let flat = "[[flow]]\nname = \"a\"\npaths = [\"/l/*.log\"]\nkinesis_stream = \"s\"\naggregation = \"kpl\"\n";
        let table = "[[flow]]\nname = \"a\"\npaths = [\"/l/*.log\"]\n[[flow.destination]]\nkinesis_stream = \"s\"\naggregation = \"kpl\"\n";
        let (flat, table) = (
            &parse(flat).unwrap().flows[0],
            &parse(table).unwrap().flows[0],
        );
        assert_eq!(table.name, "a");
        assert!(table.fanout.is_empty());
        assert_eq!(table.destination, flat.destination);
        assert_eq!(table.aggregation, flat.aggregation);
        assert_eq!(table.line_limit(), flat.line_limit());
    }

    /// The fan-out example in `config/edgeship.toml` (commented out there) is valid.
    #[test]
    fn the_example_configs_fan_out_flow_is_valid() {
        let example = include_str!("../../config/edgeship.toml");
        let start = example.find("# name = \"web\"").expect("the example");
        let block: String = example[..start]
            .lines()
            .last()
            .into_iter()
            .chain(example[start..].lines().take_while(|l| l.starts_with('#')))
            .map(|l| format!("{}\n", l.trim_start_matches('#').trim_start()))
            .collect();
        let config = parse(&block).unwrap_or_else(|e| panic!("{e}\n{block}"));
        let flow = &config.flows[0];
        assert_eq!(flow.destination.stream(), "web-live");
        assert_eq!(flow.fanout[0].name, "web/archive");
    }
}
