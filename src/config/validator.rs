//! From the file as written ([`RawConfig`]) to the validated [`Config`], one section at a time.
//! Every error names the key and says what to write instead; a key that would have no effect
//! for the flow it is in is an error too, not silently ignored.

use super::*;
use globset::{Glob, GlobBuilder, GlobSetBuilder};

/// Encoded request bodies a flow may have in flight by default: two full 1 MiB requests (a JSON
/// body is about 4/3 of its data) or more smaller ones, enough to keep a link busy without
/// growing memory.
const DEFAULT_IN_FLIGHT_BYTES: u64 = 4 * 1024 * 1024;

/// The spool must hold at least a few files' worth of compressed lines.
const MIN_SPOOL_BYTES: u64 = 16 * 1024 * 1024;

/// Per-shard budgets just under the 1,000 records/s and 1 MiB/s a shard accepts.
const DEFAULT_SHARD_RECORDS_PER_SEC: u32 = 980;
const DEFAULT_SHARD_BYTES_PER_SEC: u64 = 1000 * 1024;

pub(super) struct Validator<'a> {
    pub(super) path: &'a Path,
}

/// Builds `flow[0] ("nginx").key` for messages.
type KeyName<'a> = &'a dyn Fn(&str) -> String;

impl Validator<'_> {
    fn err(
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
        let key = |field: &str| format!("flow[{index}] ({:?}).{field}", raw.name);
        if raw.name.trim().is_empty() {
            return Err(self.err(
                format!("flow[{index}].name"),
                "the flow name is empty",
                "name = \"nginx\"",
            ));
        }
        let destination = self.destination(&raw, &key)?;
        let (include, exclude_names, exclude_paths) = self.globs(&raw, &key)?;
        let aggregation = self.aggregation(&raw, &destination, &key)?;
        let compression = self.compression(&raw, aggregation, &key)?;
        let limits = self.limits(&raw, &destination, (aggregation, compression), &key)?;
        let parse = match &raw.parse {
            None => None,
            Some(p) => Some(std::sync::Arc::new(
                crate::parse::ParseSpec::from_raw(p, limits.max_line_bytes() as u64)
                    .map_err(|e| self.err(key(&e.key), e.message, e.hint))?,
            )),
        };
        let shard_rate = self.shard_rate(&raw, &destination, aggregation, &key)?;
        self.tailing(&raw, &key)?;
        if raw.max_in_flight == 0 || raw.max_in_flight > 64 {
            return Err(self.err(
                key("max_in_flight"),
                format!("{} is out of range", raw.max_in_flight),
                "use 1 to 64",
            ));
        }
        Ok(Flow {
            name: raw.name.clone(),
            paths: raw.paths.clone(),
            include,
            exclude_names,
            exclude_paths,
            start_at: raw.start_at,
            destination,
            aggregation,
            partition_key: raw.partition_key.unwrap_or_default(),
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
                    "keep exactly one; use two flows to send the same files to both",
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

    fn globs(
        &self,
        raw: &RawFlow,
        key: KeyName,
    ) -> Result<(GlobSet, GlobSet, GlobSet), ConfigError> {
        if raw.paths.is_empty() {
            return Err(self.err(
                key("paths"),
                "the path list is empty",
                "list at least one absolute glob, e.g. paths = [\"/var/log/app/*.log\"]",
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

    fn aggregation(
        &self,
        raw: &RawFlow,
        destination: &Destination,
        key: KeyName,
    ) -> Result<Aggregation, ConfigError> {
        match (raw.aggregation, destination.is_firehose()) {
            (Some(Aggregation::Kpl), true) => Err(self.err(
                key("aggregation"),
                "KPL aggregation cannot be sent to Firehose Direct PUT (it does not de-aggregate)",
                "use aggregation = \"lines\"",
            )),
            (Some(aggregation), _) => Ok(aggregation),
            (None, true) => Ok(Aggregation::Lines),
            (None, false) => Ok(Aggregation::None),
        }
    }

    fn compression(
        &self,
        raw: &RawFlow,
        aggregation: Aggregation,
        key: KeyName,
    ) -> Result<Compression, ConfigError> {
        let compression = match (raw.compression, raw.compression_level) {
            (CompressionKind::Gzip, None) => Compression::gzip(),
            (CompressionKind::Gzip, Some(level @ 1..=9)) => Compression::Gzip { level },
            (CompressionKind::Zstd, None | Some(1)) => Compression::Zstd,
            (CompressionKind::None, None) => Compression::None,
            (kind, Some(level)) => {
                return Err(self.err(
                    key("compression_level"),
                    format!("level {level} is not available for compression = \"{kind}\""),
                    "gzip takes 1 (fastest) to 9 (smallest), default 3; zstd has only level 1; or remove compression_level",
                ));
            }
        };
        if compression != Compression::None && aggregation == Aggregation::None {
            return Err(self.err(
                key("compression"),
                "compression applies to packed records, and this flow sends one line per record",
                "set aggregation = \"lines\" or \"kpl\" (a single line compresses poorly)",
            ));
        }
        Ok(compression)
    }

    fn limits(
        &self,
        raw: &RawFlow,
        destination: &Destination,
        (aggregation, compression): (Aggregation, Compression),
        key: KeyName,
    ) -> Result<BatchLimits, ConfigError> {
        let (default_request, max_request, record_range) = match destination {
            Destination::Kinesis { .. } => (
                DEFAULT_REQUEST_BYTES,
                KINESIS_MAX_REQUEST_BYTES,
                KINESIS_DEFAULT_RECORD_BYTES..=KINESIS_MAX_RECORD_BYTES,
            ),
            Destination::Firehose { .. } => (
                DEFAULT_REQUEST_BYTES,
                FIREHOSE_MAX_REQUEST_BYTES,
                FIREHOSE_MAX_RECORD_BYTES..=FIREHOSE_MAX_RECORD_BYTES,
            ),
        };
        if !(1..=MAX_RECORDS_PER_REQUEST).contains(&raw.batch_max_records) {
            return Err(self.err(
                key("batch_max_records"),
                format!("{} is out of range", raw.batch_max_records),
                "use 1 to 500 (the PutRecords limit)",
            ));
        }
        let max_record_bytes = raw.record_max_bytes.unwrap_or(*record_range.start());
        if !record_range.contains(&max_record_bytes) {
            return Err(self.err(
                key("record_max_bytes"),
                format!("{max_record_bytes} bytes is out of range for a {destination}"),
                format!(
                    "use {} to {} bytes",
                    record_range.start(),
                    record_range.end()
                ),
            ));
        }
        let max_request_bytes = raw
            .batch_max_bytes
            .unwrap_or(default_request.max(max_record_bytes));
        if max_request_bytes < max_record_bytes || max_request_bytes > max_request {
            return Err(self.err(
                key("batch_max_bytes"),
                format!("{max_request_bytes} bytes is out of range"),
                format!("use {max_record_bytes} (the record limit) to {max_request} bytes"),
            ));
        }
        let default_target = match (aggregation, compression) {
            (Aggregation::Kpl, Compression::None) => KPL_DEFAULT_AGGREGATE_BYTES,
            // Compressed aggregates of 256 KiB fill about two 25 KB PUT payload units, where
            // 50 KB ones would pay a whole unit for ~8 KB (`cargo bench --bench compression`).
            (Aggregation::Kpl, _) => KPL_COMPRESSED_AGGREGATE_BYTES,
            _ => LINES_DEFAULT_RECORD_BYTES.min(max_record_bytes),
        };
        let record_target_bytes = raw.record_target_bytes.unwrap_or(default_target);
        if aggregation != Aggregation::None
            && !(1024..=max_record_bytes).contains(&record_target_bytes)
        {
            return Err(self.err(
                key("record_target_bytes"),
                format!("{record_target_bytes} bytes is out of range"),
                format!("use 1KiB to {max_record_bytes} bytes"),
            ));
        }
        if raw.batch_max_age.is_zero() {
            return Err(self.err(
                key("batch_max_age"),
                "must be greater than zero",
                "use e.g. \"1s\"",
            ));
        }
        Ok(BatchLimits {
            max_age: raw.batch_max_age,
            max_records: raw.batch_max_records,
            max_request_bytes,
            max_record_bytes,
            record_target_bytes,
            compression,
        })
    }
}
