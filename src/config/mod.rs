//! Configuration: `raw` is the file as written (serde, unknown keys rejected), [`Config`] is
//! the validated form built once with compiled globs and limits clamped to the service's, so no
//! later stage has to re-check anything.

mod raw;
mod raw_parse;
mod units;

pub use raw::{RawAws, RawConfig, RawFlow, RawMetrics, WireProtocol};
pub use raw_parse::{RawParse, RawRedact};
pub use units::parse_byte_size;

use crate::kinesis::limits::*;
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Exit code for configuration errors (sysexits `EX_CONFIG`).
pub const EXIT_CONFIG: i32 = 78;

const HINT: &str = "see config/edgeship.toml (installed as /usr/share/doc/edgeship/edgeship.toml) for every key with an example";

/// A configuration problem, always naming the file and where in it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}:\n{message}\nhint: {HINT}")]
    Syntax { path: PathBuf, message: String },
    #[error("invalid config file {path}: {key}: {message}\nhint: {hint}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
        hint: String,
    },
}

/// Where a flow's records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Kinesis { stream: String },
    Firehose { stream: String },
}

impl Destination {
    pub fn stream(&self) -> &str {
        match self {
            Destination::Kinesis { stream } | Destination::Firehose { stream } => stream,
        }
    }
    pub fn is_firehose(&self) -> bool {
        matches!(self, Destination::Firehose { .. })
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Kinesis { stream } => write!(f, "kinesis stream {stream:?}"),
            Destination::Firehose { stream } => write!(f, "firehose stream {stream:?}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    Beginning,
    End,
}

impl StartAt {
    /// The name used in the configuration.
    pub fn name(&self) -> &'static str {
        match self {
            StartAt::Beginning => "beginning",
            StartAt::End => "end",
        }
    }
}

/// How lines become records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// One line per record, without its terminator.
    None,
    /// Newline-terminated lines packed into records up to a target size.
    Lines,
    /// KPL aggregated records (Streams only), one partition key per aggregate.
    Kpl,
}

impl Aggregation {
    /// The name used in the configuration.
    pub fn name(&self) -> &'static str {
        match self {
            Aggregation::None => "none",
            Aggregation::Lines => "lines",
            Aggregation::Kpl => "kpl",
        }
    }
}

/// How each record is compressed before it is sent (packed modes only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    /// One gzip member per record (RFC 1952); Firehose objects of such records are `.gz` files.
    Gzip {
        level: u32,
    },
    /// One zstd frame per record (RFC 8878), at the pure-Rust encoder's one level (about
    /// zstd's level 1).
    Zstd,
}

impl Compression {
    /// On generated web logs here: 8× smaller at ~90 MB/s per core; level 1 is 4× faster and
    /// a third bigger, level 6 half as fast and 12% smaller (`cargo bench --bench compression`).
    pub const DEFAULT_GZIP_LEVEL: u32 = 3;

    pub fn gzip() -> Compression {
        Compression::Gzip {
            level: Compression::DEFAULT_GZIP_LEVEL,
        }
    }

    /// The name used in the configuration.
    pub fn name(&self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip { .. } => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKey {
    Random,
    File,
    Host,
}

/// Size and age limits of the records and requests of one flow, already within service limits.
#[derive(Debug, Clone)]
pub struct BatchLimits {
    pub max_age: Duration,
    pub max_records: usize,
    pub max_request_bytes: u64,
    pub max_record_bytes: u64,
    pub record_target_bytes: u64,
    pub compression: Compression,
}

impl BatchLimits {
    /// Longest line kept whole: the record limit minus room for the partition key and, in
    /// packed modes, the `\n`.
    pub fn max_line_bytes(&self) -> usize {
        self.max_record_payload_bytes() - 1
    }

    /// Largest record payload before compression: the record limit minus room for the
    /// partition key and, when compressing, for a record that does not compress.
    pub fn max_record_payload_bytes(&self) -> usize {
        let margin = match self.compression {
            Compression::None => 0,
            _ => COMPRESSION_MARGIN_BYTES,
        };
        self.max_record_bytes as usize - KINESIS_MAX_PARTITION_KEY_BYTES - margin
    }
}

/// A validated `[[flow]]`.
#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    /// The flow's settings as written; a reload restarts the flow only if this changed.
    pub fingerprint: String,
    pub paths: Vec<String>,
    pub include: GlobSet,
    pub exclude_names: GlobSet,
    pub exclude_paths: GlobSet,
    pub start_at: StartAt,
    pub destination: Destination,
    pub aggregation: Aggregation,
    pub partition_key: PartitionKey,
    pub limits: BatchLimits,
    pub max_in_flight: usize,
    pub max_in_flight_bytes: u64,
    /// KPL only: one aggregator per shard, per-record keys.
    pub shard_aware: bool,
    /// Per-shard budget when rate limiting is on.
    pub shard_rate: Option<ShardRate>,
    pub scan_interval: Duration,
    pub poll_interval: Duration,
    /// `[flow.parse]`, validated; `None`: lines go to the batcher untouched.
    pub parse: Option<std::sync::Arc<crate::parse::ParseSpec>>,
    /// Use inotify wake-ups (`watch = "auto"`) or only poll.
    pub use_inotify: bool,
    pub max_open_files: usize,
}

#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
    pub request_timeout: Duration,
    pub permanent_error_backoff: Duration,
    pub wire_protocol: WireProtocol,
}

/// Encoded request bodies a flow may have in flight by default: two full 1 MiB requests (a JSON
/// body is about 4/3 of its data) or more smaller ones, enough to keep a link busy without
/// growing memory.
const DEFAULT_IN_FLIGHT_BYTES: u64 = 4 * 1024 * 1024;

/// The spool must hold at least a few files' worth of compressed lines.
const MIN_SPOOL_BYTES: u64 = 16 * 1024 * 1024;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: PathBuf,
    pub state_dir: PathBuf,
    pub checkpoint_interval: Duration,
    /// Compressed bytes the spool may hold (see `spool_max_bytes`).
    pub spool_max_bytes: u64,
    /// Disk that deleted files held open may pin before moving into the spool.
    pub max_held_bytes: u64,
    pub shutdown_timeout: Duration,
    pub status_interval: Duration,
    pub log_level: String,
    pub aws: AwsSettings,
    /// Where the Prometheus endpoint listens, if enabled.
    pub metrics_listen: Option<std::net::SocketAddr>,
    pub flows: Vec<Flow>,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Validates config text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|err| ConfigError::Syntax {
            path: path.to_owned(),
            message: err.to_string().trim_end().to_owned(),
        })?;
        Validator { path }.config(raw)
    }
}

struct Validator<'a> {
    path: &'a Path,
}

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

    fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
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
        if tracing_level_is_invalid(&raw.log_level) {
            return Err(self.err(
                "log_level",
                format!("unknown level {:?}", raw.log_level),
                "use one of error, warn, info, debug, trace",
            ));
        }
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
                region: raw.aws.region,
                endpoint_url: raw.aws.endpoint_url,
                profile: raw.aws.profile,
                request_timeout: raw.aws.request_timeout,
                permanent_error_backoff: raw.aws.permanent_error_backoff,
                wire_protocol: raw.aws.wire_protocol,
            },
            metrics_listen,
            flows,
        })
    }

    fn flow(&self, index: usize, raw: RawFlow) -> Result<Flow, ConfigError> {
        let fingerprint = format!("{raw:?}");
        let key = |field: &str| format!("flow[{index}] ({:?}).{field}", raw.name);
        if raw.name.trim().is_empty() {
            return Err(self.err(
                format!("flow[{index}].name"),
                "the flow name is empty",
                "name = \"nginx\"",
            ));
        }
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
        let (include, exclude_names, exclude_paths) = self.globs(&raw, &key)?;
        let start_at = match raw.start_at.as_str() {
            "beginning" => StartAt::Beginning,
            "end" => StartAt::End,
            other => {
                return Err(self.err(
                    key("start_at"),
                    format!("unknown value {other:?}"),
                    "use \"beginning\" or \"end\"",
                ));
            }
        };
        let aggregation = self.aggregation(&raw, &destination, &key)?;
        let partition_key = match raw.partition_key.as_str() {
            "random" => PartitionKey::Random,
            "file" => PartitionKey::File,
            "host" => PartitionKey::Host,
            other => {
                return Err(self.err(
                    key("partition_key"),
                    format!("unknown value {other:?}"),
                    "use \"random\", \"file\" or \"host\"",
                ));
            }
        };
        let compression = self.compression(&raw, aggregation, &key)?;
        let limits = self.limits(&raw, &destination, (aggregation, compression), &key)?;
        let parse = match &raw.parse {
            None => None,
            Some(p) => Some(std::sync::Arc::new(
                crate::parse::ParseSpec::from_raw(p, limits.max_line_bytes() as u64)
                    .map_err(|e| self.err(key(&e.key), e.message, e.hint))?,
            )),
        };
        let is_firehose = destination.is_firehose();
        if raw.shard_aware && aggregation != Aggregation::Kpl {
            return Err(self.err(
                key("shard_aware"),
                "shard_aware only applies to aggregation = \"kpl\"",
                "set aggregation = \"kpl\" or remove shard_aware",
            ));
        }
        if raw.shard_records_per_sec == 0 || raw.shard_bytes_per_sec < 1024 {
            return Err(self.err(
                key("shard_records_per_sec"),
                "per-shard budgets must be positive",
                "use e.g. shard_records_per_sec = 980 and shard_bytes_per_sec = \"1000KiB\"",
            ));
        }
        if raw.max_in_flight == 0 || raw.max_in_flight > 64 {
            return Err(self.err(
                key("max_in_flight"),
                format!("{} is out of range", raw.max_in_flight),
                "use 1 to 64",
            ));
        }
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
        let use_inotify = match raw.watch.as_str() {
            "auto" => true,
            "poll" => false,
            other => {
                return Err(self.err(
                    key("watch"),
                    format!("unknown value {other:?}"),
                    "use \"auto\" (inotify with polling as fallback) or \"poll\"",
                ));
            }
        };
        if raw.max_open_files < 2 {
            return Err(self.err(
                key("max_open_files"),
                format!("{} is too small", raw.max_open_files),
                "allow at least 2 (a file and its rotated predecessor), e.g. 1024",
            ));
        }
        Ok(Flow {
            fingerprint,
            name: raw.name,
            paths: raw.paths,
            include,
            exclude_names,
            exclude_paths,
            start_at,
            destination,
            aggregation,
            partition_key,
            limits,
            max_in_flight: raw.max_in_flight,
            max_in_flight_bytes: raw.max_in_flight_bytes.unwrap_or(DEFAULT_IN_FLIGHT_BYTES),
            shard_aware: raw.shard_aware,
            shard_rate: (raw.rate_limit && !is_firehose).then_some(ShardRate {
                records_per_sec: f64::from(raw.shard_records_per_sec),
                bytes_per_sec: raw.shard_bytes_per_sec as f64,
            }),
            scan_interval: raw.scan_interval,
            poll_interval: raw.poll_interval,
            parse,
            use_inotify,
            max_open_files: raw.max_open_files,
        })
    }

    fn globs(
        &self,
        raw: &RawFlow,
        key: &dyn Fn(&str) -> String,
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
        key: &dyn Fn(&str) -> String,
    ) -> Result<Aggregation, ConfigError> {
        let default = if destination.is_firehose() {
            "lines"
        } else {
            "none"
        };
        match raw.aggregation.as_deref().unwrap_or(default) {
            "none" => Ok(Aggregation::None),
            "lines" => Ok(Aggregation::Lines),
            "kpl" if destination.is_firehose() => Err(self.err(
                key("aggregation"),
                "KPL aggregation cannot be sent to Firehose Direct PUT (it does not de-aggregate)",
                "use aggregation = \"lines\"",
            )),
            "kpl" => Ok(Aggregation::Kpl),
            other => Err(self.err(
                key("aggregation"),
                format!("unknown value {other:?}"),
                "use \"none\", \"lines\" or (Streams only) \"kpl\"",
            )),
        }
    }

    fn compression(
        &self,
        raw: &RawFlow,
        aggregation: Aggregation,
        key: &dyn Fn(&str) -> String,
    ) -> Result<Compression, ConfigError> {
        let level = raw.compression_level;
        let compression = match (raw.compression.as_str(), level) {
            ("gzip", None) => Compression::gzip(),
            ("gzip", Some(level @ 1..=9)) => Compression::Gzip { level },
            ("zstd", None | Some(1)) => Compression::Zstd,
            ("none", None) => Compression::None,
            ("gzip" | "zstd" | "none", Some(level)) => {
                return Err(self.err(
                    key("compression_level"),
                    format!("level {level} is not available for compression = {:?}", raw.compression),
                    "gzip takes 1 (fastest) to 9 (smallest), default 3; zstd has only level 1; or remove compression_level",
                ));
            }
            (other, _) => {
                return Err(self.err(
                    key("compression"),
                    format!("unknown value {other:?}"),
                    "use \"none\", \"gzip\" or \"zstd\"",
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
        key: &dyn Fn(&str) -> String,
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

fn tracing_level_is_invalid(level: &str) -> bool {
    !matches!(level, "error" | "warn" | "info" | "debug" | "trace")
}

impl Flow {
    /// Whether a discovered path belongs to this flow.
    pub fn matches(&self, path: &Path) -> bool {
        if !self.include.is_match(path) || self.exclude_paths.is_match(path) {
            return false;
        }
        match path.file_name() {
            Some(name) => !self.exclude_names.is_match(name),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests;
