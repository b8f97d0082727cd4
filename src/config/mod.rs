//! Configuration: `raw` is the file as written (serde, unknown keys rejected), [`Config`] is
//! the validated form built once with compiled globs and limits clamped to the service's, so no
//! later stage has to re-check anything.

mod aws;
mod batching;
mod fanout;
mod partition_key;
mod raw;
mod suggest;
mod validator;

pub use crate::parse::{RawParse, RawRedact};
pub use fanout::RawDestination;
pub use partition_key::{KeyPart, PartitionKey};
pub use raw::{
    Aggregation, CompressionKind, LogLevel, ProxyUrl, RawAws, RawConfig, RawFlow, RawFlowAws,
    RawMetrics, StartAt, Watch, WireProtocol,
};

use crate::kinesis::limits::*;
use globset::GlobSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Exit code for configuration errors (sysexits `EX_CONFIG`).
pub const EXIT_CONFIG: i32 = 78;

const HINT: &str = "see config/edgeship.toml (installed as /usr/share/doc/edgeship/edgeship.toml.example) for every key with an example";

/// A configuration problem, always naming the file and where in it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The OS error is part of the message, not a `source`: printed with its causes it would
    // appear twice.
    #[error("cannot read config file {path}: {error}\nhint: {hint}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
        hint: &'static str,
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
    /// On generated web logs here: 7.7× smaller at ~160 MB/s per core; level 1 is 2× faster and
    /// a third bigger, level 6 half as fast and 11% smaller (`cargo bench --bench compression`).
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

/// Size and age limits of the records and requests of one flow, already within service limits.
#[derive(Debug, Clone)]
pub struct BatchLimits {
    pub max_age: Duration,
    pub max_records: usize,
    pub max_request_bytes: u64,
    /// A request is closed once the next record would take it past this (a larger record
    /// still goes, alone, up to `max_request_bytes`).
    pub request_target_bytes: u64,
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
    /// The flow's settings as written; a reload restarts the flow only if they changed.
    pub settings: RawFlow,
    pub files: FileSelection,
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
    /// `journal = { ... }`, validated: the flow reads the journal, not `files`.
    pub journal: Option<std::sync::Arc<crate::journal::JournalSpec>>,
    /// `host_metrics = { ... }`, validated: the flow ships the host's health, not `files`.
    pub host_metrics: Option<std::sync::Arc<crate::host::HostMetricsSpec>>,
    /// `[flow.aws]`, validated: overrides of `[aws]` for this flow.
    pub aws: Option<FlowAws>,
    /// `[[flow.destination]]` after the first: more streams fed from this flow's one read.
    /// Each is a flow of its own for its destination, batching and AWS settings (its name is
    /// `FLOW/DESTINATION`); the first destination is this flow itself.
    pub fanout: Vec<Flow>,
}

/// `[flow.aws]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowAws {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
    pub role: Option<AssumeRole>,
}

/// A role a flow's requests are signed as, assumed with STS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: String,
}

impl Flow {
    /// Longest line kept whole: the smallest limit of the flow's destinations (lines are read
    /// once for all of them).
    pub fn line_limit(&self) -> usize {
        self.destinations()
            .map(|d| d.limits.max_line_bytes())
            .min()
            .expect("a flow has a destination")
    }

    /// The flow itself and its fan-out destinations.
    pub fn destinations(&self) -> impl Iterator<Item = &Flow> {
        std::iter::once(self).chain(&self.fanout)
    }

    /// The AWS settings this flow's requests use: `[aws]` with this flow's overrides (its
    /// region, endpoint, profile and the role it assumes). Flows with equal settings share
    /// their clients.
    pub fn aws_settings(&self, global: &AwsSettings) -> AwsSettings {
        let mut settings = global.clone();
        let Some(own) = &self.aws else {
            return settings;
        };
        let pick = |own: &Option<String>, global: &mut Option<String>| {
            if own.is_some() {
                *global = own.clone();
            }
        };
        pick(&own.region, &mut settings.region);
        pick(&own.endpoint_url, &mut settings.endpoint_url);
        pick(&own.profile, &mut settings.profile);
        settings.role = own.role.clone();
        settings
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
    pub request_timeout: Duration,
    pub permanent_error_backoff: Duration,
    pub wire_protocol: WireProtocol,
    /// `[aws] proxy`, checked (`http://`, a host).
    pub proxy: Option<ProxyUrl>,
    pub ca_file: Option<PathBuf>,
    /// `[aws.iot]`: credentials from AWS IoT Core instead of the chain.
    pub iot: Option<crate::sink::iot::RawIot>,
    /// `[flow.aws] role_arn`: the role the credentials above assume (never set in `[aws]`).
    pub role: Option<AssumeRole>,
}

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
    pub log_level: LogLevel,
    pub aws: AwsSettings,
    /// Where the Prometheus endpoint listens, if enabled.
    pub metrics_listen: Option<std::net::SocketAddr>,
    pub flows: Vec<Flow>,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            hint: match error.kind() {
                std::io::ErrorKind::NotFound => "pass the file with --config FILE (or EDGESHIP_CONFIG); an example with every key is config/edgeship.toml (installed as /usr/share/doc/edgeship/edgeship.toml.example)",
                std::io::ErrorKind::PermissionDenied => "the file must be readable by the user edgeship runs as (the package runs it as edgeship)",
                _ => "check the path given with --config (or EDGESHIP_CONFIG)",
            },
            error,
        })?;
        Config::parse(&text, path)
    }

    /// Validates config text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|err| {
            let mut message = err.to_string().trim_end().to_owned();
            if let Some(hint) = suggest::did_you_mean(&message) {
                message.push_str(&format!("\n{hint}"));
            }
            ConfigError::Syntax {
                path: path.to_owned(),
                message,
            }
        })?;
        validator::Validator { path }.config(raw)
    }
}

/// Which files a flow reads: its `paths` globs, minus its exclusions.
#[derive(Debug, Clone)]
pub struct FileSelection {
    /// The globs as written (discovery walks from their fixed prefixes).
    pub paths: Vec<String>,
    pub include: GlobSet,
    pub exclude_names: GlobSet,
    pub exclude_paths: GlobSet,
}

impl FileSelection {
    /// Whether a discovered path belongs to the flow.
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
