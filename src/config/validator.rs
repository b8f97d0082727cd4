//! From the file as written ([`RawConfig`]) to the validated [`Config`], one section at a time.
//! Every error names the key and says what to write instead; a key that would have no effect
//! for the flow it is in is an error too, not silently ignored.

use super::*;
use globset::{Glob, GlobBuilder, GlobSetBuilder};

/// Encoded request bodies a flow may have in flight by default: three or four requests of the
/// default 200 KiB target (a JSON body is about 4/3 of its data), about 512 KiB of data per round
/// trip (5 MB/s at 100 ms), or one full 1 MiB request. Each MiB here is about 1.75 MiB of peak
/// memory (bodies and the records they carry): with 2 MiB and 1 MiB requests the packed modes
/// peaked at 14-15 MiB, with this and 200 KiB requests under 12 MiB (README, Memory).
const DEFAULT_IN_FLIGHT_BYTES: u64 = 1024 * 1024;

/// The spool must hold at least a few files' worth of compressed lines.
const MIN_SPOOL_BYTES: u64 = 16 * 1024 * 1024;

/// Per-shard budgets just under the 1,000 records/s and 1 MiB/s a shard accepts.
const DEFAULT_SHARD_RECORDS_PER_SEC: u32 = 980;
const DEFAULT_SHARD_BYTES_PER_SEC: u64 = 1000 * 1024;

pub(super) struct Validator<'a> {
    pub(super) path: &'a Path,
}

/// Builds `flow[0] ("nginx").key` for messages.
pub(super) type KeyName<'a> = &'a dyn Fn(&str) -> String;

impl Validator<'_> {
    pub(super) fn err(
        &self,
        key: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            key: key.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub(super) fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        self.globals(&raw)?;
        let metrics_listen = match &raw.metrics.listen {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| {
                self.err(
                    "metrics.listen",
                    format!("{text:?} is not an address with a port"),
                    "use e.g. listen = \"127.0.0.1:9187\"",
                )
            })?),
        };
        let mut flows = Vec::with_capacity(raw.flow.len());
        for (index, raw_flow) in raw.flow.into_iter().enumerate() {
            let flow = self.flow(index, raw_flow)?;
            if flows.iter().any(|f: &Flow| f.name == flow.name) {
                return Err(self.err(
                    format!("flow[{index}].name"),
                    format!("flow name {:?} is used twice", flow.name),
                    "give every flow a unique name (checkpoints are keyed by it)",
                ));
            }
            flows.push(flow);
        }
        self.network(&raw.aws)?;
        let aws = raw.aws;
        Ok(Config {
            source: self.path.to_owned(),
            state_dir: raw.state_dir,
            checkpoint_interval: raw.checkpoint_interval,
            spool_max_bytes: raw.spool_max_bytes,
            max_held_bytes: raw.max_held_bytes,
            shutdown_timeout: raw.shutdown_timeout,
            status_interval: raw.status_interval,
            log_level: raw.log_level,
            aws: AwsSettings {
                region: aws.region,
                endpoint_url: aws.endpoint_url,
                profile: aws.profile,
                request_timeout: aws.request_timeout,
                permanent_error_backoff: aws.permanent_error_backoff,
                wire_protocol: aws.wire_protocol,
                proxy: aws.proxy,
                ca_file: aws.ca_file,
                iot: aws.iot,
                role: None,
            },
            metrics_listen,
            flows,
        })
    }

    fn globals(&self, raw: &RawConfig) -> Result<(), ConfigError> {
        if raw.flow.is_empty() {
            return Err(self.err(
                "flow",
                "no [[flow]] is configured",
                "add a [[flow]] table with name, paths and kinesis_stream or firehose_stream",
            ));
        }
        if !raw.state_dir.is_absolute() {
            return Err(self.err(
                "state_dir",
                format!("{:?} is not an absolute path", raw.state_dir),
                "use e.g. state_dir = \"/var/lib/edgeship\"",
            ));
        }
        if raw.spool_max_bytes < MIN_SPOOL_BYTES {
            return Err(self.err(
                "spool_max_bytes",
                format!(
                    "{} bytes is below the minimum of 16 MiB",
                    raw.spool_max_bytes
                ),
                "use e.g. spool_max_bytes = \"64MiB\"",
            ));
        }
        Ok(())
    }

    fn flow(&self, index: usize, raw: RawFlow) -> Result<Flow, ConfigError> {
        if raw.name.trim().is_empty() {
            return Err(self.err(
                format!("flow[{index}].name"),
                "the flow name is empty",
                "name = \"nginx\"",
            ));
        }
        if !raw.destination.is_empty() {
            return self.fanned_out_flow(index, raw);
        }
        let name = raw.name.clone();
        self.single_flow(raw, &|field: &str| {
            format!("flow[{index}] ({name:?}).{field}")
        })
    }

    /// A flow with one destination; `key` names its keys in messages.
    pub(super) fn single_flow(&self, raw: RawFlow, key: KeyName) -> Result<Flow, ConfigError> {
        let destination = self.destination(&raw, key)?;
        let journal = self.journal(&raw, key)?;
        let host_metrics = self.host_metrics(&raw, key)?;
        let (include, exclude_names, exclude_paths) = match (&journal, &host_metrics) {
            (None, None) => self.globs(&raw, key)?,
            _ => (GlobSet::empty(), GlobSet::empty(), GlobSet::empty()),
        };
        let aggregation = self.aggregation(&raw, &destination, key)?;
        let compression = self.compression(&raw, aggregation, key)?;
        let limits = self.limits(&raw, &destination, (aggregation, compression), key)?;
        let parse = match &raw.parse {
            None => None,
            Some(p) => Some(std::sync::Arc::new(
                crate::parse::ParseSpec::from_raw(p, limits.max_line_bytes() as u64)
                    .map_err(|e| self.err(key(&e.key), e.message, e.hint))?,
            )),
        };
        let shard_rate = self.shard_rate(&raw, &destination, aggregation, key)?;
        self.tailing(&raw, key)?;
        if raw.max_in_flight == 0 || raw.max_in_flight > 64 {
            return Err(self.err(
                key("max_in_flight"),
                format!("{} is out of range", raw.max_in_flight),
                "use 1 to 64",
            ));
        }
        Ok(Flow {
            name: raw.name.clone(),
            files: FileSelection {
                paths: raw.paths.clone(),
                include,
                exclude_names,
                exclude_paths,
            },
            start_at: raw.start_at,
            destination,
            aggregation,
            partition_key: self.partition_key(&raw, aggregation, key)?,
            limits,
            max_in_flight: raw.max_in_flight,
            max_in_flight_bytes: raw.max_in_flight_bytes.unwrap_or(DEFAULT_IN_FLIGHT_BYTES),
            shard_aware: raw.shard_aware,
            shard_rate,
            scan_interval: raw.scan_interval,
            poll_interval: raw.poll_interval,
            parse,
            use_inotify: raw.watch == Watch::Auto,
            max_open_files: raw.max_open_files,
            journal,
            host_metrics,
            aws: self.flow_aws(&raw, key)?,
            fanout: Vec::new(),
            settings: raw,
        })
    }

    fn destination(&self, raw: &RawFlow, key: KeyName) -> Result<Destination, ConfigError> {
        let destination = match (&raw.kinesis_stream, &raw.firehose_stream) {
            (Some(stream), None) => Destination::Kinesis {
                stream: stream.clone(),
            },
            (None, Some(stream)) => Destination::Firehose {
                stream: stream.clone(),
            },
            (Some(_), Some(_)) => {
                return Err(self.err(
                    key("kinesis_stream"),
                    "both kinesis_stream and firehose_stream are set",
                    "keep exactly one; to send the same records to both, list them as [[flow.destination]] tables (files are read once)",
                ));
            }
            (None, None) => {
                return Err(self.err(
                    key("kinesis_stream"),
                    "no destination",
                    "set kinesis_stream = \"NAME\" or firehose_stream = \"NAME\"",
                ));
            }
        };
        if destination.stream().is_empty() {
            return Err(self.err(
                key("kinesis_stream"),
                "the stream name is empty",
                "set the name of an existing stream",
            ));
        }
        Ok(destination)
    }

    /// Streams only: partition keys and per-shard pacing (Firehose has neither).
    fn shard_rate(
        &self,
        raw: &RawFlow,
        destination: &Destination,
        aggregation: Aggregation,
        key: KeyName,
    ) -> Result<Option<ShardRate>, ConfigError> {
        if raw.shard_aware && aggregation != Aggregation::Kpl {
            return Err(self.err(
                key("shard_aware"),
                "shard_aware only applies to aggregation = \"kpl\"",
                "set aggregation = \"kpl\" or remove shard_aware",
            ));
        }
        if destination.is_firehose() {
            let streams_only = [
                ("partition_key", raw.partition_key.is_some()),
                ("rate_limit", raw.rate_limit.is_some()),
                ("shard_records_per_sec", raw.shard_records_per_sec.is_some()),
                ("shard_bytes_per_sec", raw.shard_bytes_per_sec.is_some()),
            ];
            if let Some((field, _)) = streams_only.iter().find(|(_, set)| *set) {
                return Err(self.err(
                    key(field),
                    format!("{field} has no effect on a Firehose stream (it has no shards or partition keys)"),
                    format!("remove {field}; it applies to kinesis_stream flows"),
                ));
            }
            return Ok(None);
        }
        let records = raw
            .shard_records_per_sec
            .unwrap_or(DEFAULT_SHARD_RECORDS_PER_SEC);
        let bytes = raw
            .shard_bytes_per_sec
            .unwrap_or(DEFAULT_SHARD_BYTES_PER_SEC);
        if records == 0 || bytes < 1024 {
            return Err(self.err(
                key("shard_records_per_sec"),
                "per-shard budgets must be positive",
                "use e.g. shard_records_per_sec = 980 and shard_bytes_per_sec = \"1000KiB\"",
            ));
        }
        Ok(raw.rate_limit.unwrap_or(true).then_some(ShardRate {
            records_per_sec: f64::from(records),
            bytes_per_sec: bytes as f64,
        }))
    }

    fn tailing(&self, raw: &RawFlow, key: KeyName) -> Result<(), ConfigError> {
        for (field, value) in [
            ("scan_interval", raw.scan_interval),
            ("poll_interval", raw.poll_interval),
        ] {
            if value.is_zero() {
                return Err(self.err(
                    key(field),
                    "must be greater than zero",
                    "use e.g. \"250ms\"",
                ));
            }
        }
        if raw.max_open_files < 2 {
            return Err(self.err(
                key("max_open_files"),
                format!("{} is too small", raw.max_open_files),
                "allow at least 2 (a file and its rotated predecessor), e.g. 1024",
            ));
        }
        Ok(())
    }

    /// `journal`, validated; it replaces `paths` (and `exclude`, `start_at`).
    fn journal(
        &self,
        raw: &RawFlow,
        key: KeyName,
    ) -> Result<Option<std::sync::Arc<crate::journal::JournalSpec>>, ConfigError> {
        let Some(journal) = &raw.journal else {
            return Ok(None);
        };
        if !raw.paths.is_empty() || !raw.exclude.is_empty() {
            return Err(self.err(
                key("journal"),
                "both journal and paths (or exclude) are set",
                "a flow reads either files or the journal: use two flows for both",
            ));
        }
        crate::journal::JournalSpec::from_raw(journal)
            .map(|spec| Some(std::sync::Arc::new(spec)))
            .map_err(|e| self.err(key(&e.key), e.message, e.hint))
    }

    /// `host_metrics`, validated; it replaces `paths` (and `journal`).
    fn host_metrics(
        &self,
        raw: &RawFlow,
        key: KeyName,
    ) -> Result<Option<std::sync::Arc<crate::host::HostMetricsSpec>>, ConfigError> {
        let Some(host_metrics) = &raw.host_metrics else {
            return Ok(None);
        };
        if !raw.paths.is_empty() || !raw.exclude.is_empty() || raw.journal.is_some() {
            return Err(self.err(
                key("host_metrics"),
                "host_metrics and paths (or exclude, or journal) are set",
                "a flow ships one source: use a flow of its own for the host's health",
            ));
        }
        crate::host::HostMetricsSpec::from_raw(host_metrics)
            .map(|spec| Some(std::sync::Arc::new(spec)))
            .map_err(|e| self.err(key(&e.key), e.message, e.hint))
    }

    fn globs(
        &self,
        raw: &RawFlow,
        key: KeyName,
    ) -> Result<(GlobSet, GlobSet, GlobSet), ConfigError> {
        if raw.paths.is_empty() {
            return Err(self.err(
                key("paths"),
                "the path list is empty (or missing)",
                "list at least one absolute glob, e.g. paths = [\"/var/log/app/*.log\"], or read the systemd journal with journal = { units = [\"nginx.service\"] }, or ship the host's health with host_metrics = { interval = \"60s\" }",
            ));
        }
        let mut include = GlobSetBuilder::new();
        for (i, pattern) in raw.paths.iter().enumerate() {
            if !pattern.starts_with('/') {
                return Err(self.err(format!("{}[{i}]", key("paths")), format!("{pattern:?} is not an absolute path"), "patterns must start with / (the agent's working directory is not your shell's)"));
            }
            include.add(self.glob(&format!("{}[{i}]", key("paths")), pattern)?);
        }
        let (mut names, mut paths) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        for (i, pattern) in raw.exclude.iter().enumerate() {
            let glob = self.glob(&format!("{}[{i}]", key("exclude")), pattern)?;
            if pattern.contains('/') {
                paths.add(glob);
            } else {
                names.add(glob);
            }
        }
        let build = |set: GlobSetBuilder, field: &str| {
            set.build()
                .map_err(|e| self.err(key(field), e.to_string(), "check the glob syntax"))
        };
        Ok((
            build(include, "paths")?,
            build(names, "exclude")?,
            build(paths, "exclude")?,
        ))
    }

    fn glob(&self, key: &str, pattern: &str) -> Result<Glob, ConfigError> {
        GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| {
                self.err(
                    key,
                    format!("bad glob {pattern:?}: {}", e.kind()),
                    "globs support * ? [a-z] {a,b} and ** for any number of directories",
                )
            })
    }
}
