//! The config file as written by the user: serde types with `deny_unknown_fields`, so a misspelt
//! key is an error, not a silently ignored setting. The `///` docs here are the key reference;
//! `config/edgeship.toml` shows every key with an example.

use crate::units::{byte_size, duration, optional_byte_size};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Top level of `edgeship.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Directory holding `checkpoints.json` and the agent lock. Must survive reboots
    /// (not /run or /tmp). Default `/var/lib/edgeship`.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Longest time acknowledged offsets wait before they are written to disk. Default `"1s"`.
    #[serde(default = "default_checkpoint_interval", deserialize_with = "duration")]
    pub checkpoint_interval: Duration,
    /// On SIGTERM/SIGINT: how long to wait for in-flight requests before giving up on them
    /// (they are re-sent after restart). Keep it below systemd's `TimeoutStopSec`. Default `"30s"`.
    #[serde(default = "default_shutdown_timeout", deserialize_with = "duration")]
    pub shutdown_timeout: Duration,
    /// Disk under `state_dir/spool/` for the unacknowledged rest of deleted files that edgeship
    /// still holds open when it stops (a restart or reboot during an outage, while logrotate
    /// deletes old files): that rest is compressed into the spool and shipped after the
    /// restart, before newer lines of the same log. When the spool is full, what does not fit
    /// is reported lost with file and byte range (reason `spool_full`), older files first.
    /// At least `"16MiB"`. Default `"64MiB"`.
    #[serde(default = "default_spool_max_bytes", deserialize_with = "byte_size")]
    pub spool_max_bytes: u64,
    /// Disk that deleted files may pin while edgeship still holds them open to ship their
    /// lines (logrotate deletes old files during an outage; their space is freed only when the
    /// handle closes). Past it, the oldest such file moves into the spool (compressed) and its
    /// handle is closed. If the spool is full too, files stay open and a warning says so.
    /// Default `"256MiB"`.
    #[serde(default = "default_max_held_bytes", deserialize_with = "byte_size")]
    pub max_held_bytes: u64,
    /// How often a one-line progress summary per flow is logged. Default `"60s"`.
    #[serde(default = "default_status_interval", deserialize_with = "duration")]
    pub status_interval: Duration,
    /// `error`, `warn`, `info`, `debug` or `trace`; `RUST_LOG` overrides it. Default `"info"`.
    #[serde(default)]
    pub log_level: LogLevel,
    /// AWS connection settings shared by all flows.
    #[serde(default)]
    pub aws: RawAws,
    /// `[metrics]`: the optional Prometheus endpoint.
    #[serde(default)]
    pub metrics: RawMetrics,
    /// One `[[flow]]` table per set of files and their destination.
    #[serde(default, deserialize_with = "flows")]
    pub flow: Vec<RawFlow>,
}

/// `[metrics]`: off unless `listen` is set.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Address of the Prometheus text endpoint (`GET /metrics`), e.g. `"127.0.0.1:9187"`.
    /// Keep it on localhost unless a firewall protects it. Default: off.
    pub listen: Option<String>,
}

/// `[aws]`: optional; the standard AWS environment variables and profiles also work.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAws {
    /// AWS region, e.g. `"eu-west-1"`. Default: `AWS_REGION` / the profile's region.
    pub region: Option<String>,
    /// Endpoint override, e.g. `"http://127.0.0.1:4567"` for a local emulator. Default: the
    /// `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_KINESIS` / `_FIREHOSE` variables, else AWS.
    pub endpoint_url: Option<String>,
    /// Named profile from `~/.aws/config`. Default: `AWS_PROFILE` or `default`.
    pub profile: Option<String>,
    /// Time limit for one HTTP attempt of one request. Default `"60s"` (a 5 MiB request is
    /// ~6.7 MiB of base64 on the wire; slow uplinks need time).
    #[serde(default = "default_request_timeout", deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// Pause before retrying after a configuration or permission error (stream not found, access
    /// denied, KMS key disabled). Data is kept, never dropped. Default `"60s"`.
    #[serde(
        default = "default_permanent_error_backoff",
        deserialize_with = "duration"
    )]
    pub permanent_error_backoff: Duration,
    /// How Kinesis Data Streams requests are encoded: `"json"` (default) or `"cbor"`, the
    /// protocol the Java SDK uses: record data travel as raw bytes instead of base64, about a
    /// quarter fewer bytes on the wire (metered uplinks) and less CPU per byte. If the endpoint
    /// rejects CBOR, edgeship warns once and switches to JSON. Firehose always uses JSON.
    #[serde(default)]
    pub wire_protocol: WireProtocol,
    /// HTTP proxy for every AWS request, `"http://[user:password@]host:port"`; requests to AWS
    /// go through it with CONNECT, TLS end to end. Default: `HTTPS_PROXY` / `HTTP_PROXY` /
    /// `ALL_PROXY` (either case), with `NO_PROXY`; instance metadata is always reached directly.
    /// The password never appears in logs.
    pub proxy: Option<ProxyUrl>,
    /// A PEM file of CA certificates trusted *in addition to* the system's roots, e.g. a private
    /// CA or a TLS-inspecting proxy's. `AWS_CA_BUNDLE` adds its file too.
    pub ca_file: Option<std::path::PathBuf>,
    /// `[aws.iot]`: credentials from AWS IoT Core for a device certificate; see `RawIot`.
    pub iot: Option<crate::sink::iot::RawIot>,
}

/// `[flow.aws]`: where and as whom one flow's requests go (another region or account). Unset
/// keys inherit `[aws]`; flows with the same settings share their clients.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlowAws {
    /// Region of this flow's stream, e.g. `"us-west-2"`.
    pub region: Option<String>,
    /// Endpoint override for this flow.
    pub endpoint_url: Option<String>,
    /// Named profile for this flow's credentials.
    pub profile: Option<String>,
    /// Role to assume with STS for this flow, e.g. `"arn:aws:iam::111122223333:role/log-writer"`
    /// (another account's stream): the credentials of `[aws]` (or `profile`) assume it; the
    /// temporary credentials are cached and refreshed before they expire.
    pub role_arn: Option<String>,
    /// The external id the role's trust policy requires, if any.
    pub external_id: Option<String>,
    /// Session name shown in the other account's CloudTrail. Default `"edgeship"`.
    pub session_name: Option<String>,
}

/// A proxy URL: shown with its password masked (`Debug` included).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ProxyUrl(pub String);

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", crate::sink::network::redact(&self.0))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireProtocol {
    #[default]
    Json,
    Cbor,
}

/// `start_at`: where to start in files without a checkpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    Beginning,
    #[default]
    End,
}

/// `aggregation`: how lines become records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// One line per record, without its terminator.
    None,
    /// Newline-terminated lines packed into records up to a target size.
    Lines,
    /// KPL aggregated records (Streams only), one partition key per aggregate.
    Kpl,
}

/// `compression`, without its level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompressionKind {
    #[default]
    None,
    Gzip,
    Zstd,
}

/// `watch`: inotify with polling as fallback, or polling only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Watch {
    #[default]
    Auto,
    Poll,
}

/// `log_level`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

/// Names as written in the config file, for messages.
macro_rules! config_names {
    ($($ty:ident { $($variant:ident => $name:literal),+ })+) => {$(
        impl $ty {
            /// The name used in the configuration.
            pub fn name(&self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    )+};
}

config_names! {
    StartAt { Beginning => "beginning", End => "end" }
    Aggregation { None => "none", Lines => "lines", Kpl => "kpl" }
    CompressionKind { None => "none", Gzip => "gzip", Zstd => "zstd" }
    Watch { Auto => "auto", Poll => "poll" }
    LogLevel { Error => "error", Warn => "warn", Info => "info", Debug => "debug", Trace => "trace" }
}

/// `flow` must be an array of tables; `[flow]` (one bracket) is the usual slip.
fn flows<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<RawFlow>, D::Error> {
    struct Flows;
    impl<'de> serde::de::Visitor<'de> for Flows {
        type Value = Vec<RawFlow>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("[[flow]] tables")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Vec<RawFlow>, A::Error> {
            Deserialize::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<Vec<RawFlow>, A::Error> {
            Err(serde::de::Error::custom(
                "a flow is written [[flow]] (two brackets: one table per flow), not [flow]",
            ))
        }
    }
    deserializer.deserialize_any(Flows)
}

impl Default for RawAws {
    fn default() -> RawAws {
        RawAws {
            region: None,
            endpoint_url: None,
            profile: None,
            request_timeout: default_request_timeout(),
            permanent_error_backoff: default_permanent_error_backoff(),
            wire_protocol: WireProtocol::Json,
            proxy: None,
            ca_file: None,
            iot: None,
        }
    }
}

/// `[[flow]]`: files matched by `paths` (or the systemd journal, `journal`, or the host's
/// health, `host_metrics`) shipped to exactly one stream.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    /// Unique name; it keys the flow's checkpoints, so renaming a flow re-reads per `start_at`.
    pub name: String,
    /// Absolute glob patterns: `*`, `?`, `[a-z]`, `{a,b}` within one path component, `**` across
    /// directories. Re-scanned every `scan_interval`, so new files are picked up. Exactly one
    /// of `paths` / `journal` / `host_metrics`.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Read the systemd journal instead of files, e.g. `journal = { units = ["nginx.service"] }`;
    /// see `RawJournal` for its keys.
    pub journal: Option<crate::journal::RawJournal>,
    /// Ship the host's health instead of files, e.g. `host_metrics = { interval = "60s" }`;
    /// see `RawHostMetrics` for its keys.
    pub host_metrics: Option<crate::host::RawHostMetrics>,
    /// `[flow.aws]`: this flow's region, endpoint, profile or role; see `RawFlowAws`.
    pub aws: Option<RawFlowAws>,
    /// Glob patterns of files to skip. A pattern without `/` matches the file name only
    /// (`"*.gz"`); with `/` it matches the whole path.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `"beginning"` or `"end"`: where to start in files that have no checkpoint when the agent
    /// starts. Files that appear later are always read from the beginning. Default `"end"`.
    #[serde(default)]
    pub start_at: StartAt,
    /// Name of the Kinesis data stream. Exactly one of `kinesis_stream` / `firehose_stream`,
    /// or `[[flow.destination]]` tables.
    pub kinesis_stream: Option<String>,
    /// Name of the Firehose stream (Direct PUT).
    pub firehose_stream: Option<String>,
    /// `[[flow.destination]]`: ship the flow's records to several streams, each file read and
    /// parsed once; see `RawDestination`. The flow's other keys are the destinations' defaults.
    #[serde(default)]
    pub destination: Vec<super::fanout::RawDestination>,
    /// Streams: `"none"` (one line per record, default), `"lines"` (newline-terminated lines
    /// packed into records) or `"kpl"` (KPL aggregated records, one partition key per aggregate,
    /// de-aggregated by KCL, Firehose-from-stream, `aws-kinesis-agg` and `edgeship consume`).
    /// Firehose: `"lines"` (default) or `"none"`.
    pub aggregation: Option<Aggregation>,
    /// `"none"` (default), `"gzip"` or `"zstd"`: each record (a packed `lines` record, a KPL
    /// aggregate, a Firehose record) is compressed on its own after aggregation, so consumers
    /// inflate each record and then de-aggregate it (`edgeship consume` does both). Firehose
    /// writes such records as concatenated gzip members or zstd frames: valid `.gz` / `.zst`
    /// objects in S3. `record_target_bytes` counts bytes before compression. Needs
    /// `aggregation = "lines"` or `"kpl"`.
    #[serde(default)]
    pub compression: CompressionKind,
    /// gzip: 1 (fastest) to 9 (smallest), default 3 (about 8× on web logs). zstd: only 1.
    pub compression_level: Option<u32>,
    /// Streams only: `"random"` (default), `"file"` (the file's path), `"host"` (host name),
    /// `"deterministic"` (the MD5 of the record's data, as the Java agent's `DETERMINISTIC`),
    /// or a template of literal text and `{host}`, `{file}` and `{field.NAME}` (a field of the
    /// parsed record, dots for nested fields), e.g. `"{field.user_id}"`; a record without the
    /// field gets a random key, counted as `edgeship_partition_key_fallbacks_total`.
    pub partition_key: Option<String>,
    /// `"kpl"` only: group records by the shard their own partition key hashes to (one
    /// aggregator per shard, from `ListShards`), so per-record keys (`"file"`, `"host"`, random
    /// per line) survive aggregation and consumers' shard checks pass. Default `false`: one key
    /// per aggregate, which is always safe.
    #[serde(default)]
    pub shard_aware: bool,
    /// Streams: pace requests per shard, from the shard map (`ListShards`), instead of learning
    /// the limits by being throttled. Default `true`; without `kinesis:ListShards` it is off.
    pub rate_limit: Option<bool>,
    /// Streams: per-shard record budget. Default 980 (just under the 1,000/s shard limit);
    /// raise it only for streams whose shards are known to take more.
    pub shard_records_per_sec: Option<u32>,
    /// Streams: per-shard byte budget (data plus partition keys). Default `"1000KiB"` (just
    /// under 1 MiB/s).
    #[serde(default, deserialize_with = "optional_byte_size")]
    pub shard_bytes_per_sec: Option<u64>,
    /// A partially filled request is sent at the latest this long after its first line was read.
    /// Default `"1s"`.
    #[serde(default = "default_batch_max_age", deserialize_with = "duration")]
    pub batch_max_age: Duration,
    /// Records per request, 1-500. Default 500.
    #[serde(default = "default_batch_max_records")]
    pub batch_max_records: usize,
    /// Request size (data plus partition keys). Default `"1MiB"` (at least `record_max_bytes`);
    /// Streams up to `"10MiB"`, Firehose up to `"4MiB"`. Larger requests save little CPU and
    /// cost memory (README, Memory).
    #[serde(default, deserialize_with = "optional_byte_size")]
    pub batch_max_bytes: Option<u64>,
    /// Request size a request is sent at (data plus partition keys): once the next record
    /// would take it past this; a larger record still goes, alone, up to `batch_max_bytes`.
    /// Default `"200KiB"`, or `batch_max_bytes` when only that is set. Small requests with
    /// several in flight carry as much per round trip as one large one in less memory
    /// (README, Memory).
    #[serde(default, deserialize_with = "optional_byte_size")]
    pub batch_target_bytes: Option<u64>,
    /// Streams: largest record (data plus partition key), as the stream's `MaxRecordSizeInKiB`
    /// allows; default and minimum `"1MiB"`, at most `"10MiB"`. Firehose: fixed at 1,000 KiB.
    /// Longer lines are truncated to fit (and counted), never dropped whole.
    #[serde(default, deserialize_with = "optional_byte_size")]
    pub record_max_bytes: Option<u64>,
    /// Packed modes: target size of one record, counting data plus partition key. Default
    /// 125,000 bytes for `"lines"` (five 25 KB PUT payload units), 50,000 bytes for `"kpl"`
    /// (two).
    #[serde(default, deserialize_with = "optional_byte_size")]
    pub record_target_bytes: Option<u64>,
    /// Requests in flight at once for this flow. Default 4.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Encoded bodies of all in-flight requests of this flow together (a body is about 4/3 of
    /// its data); bounds memory with large requests (a single larger request is still sent,
    /// alone). Default `"1MiB"`: with the default `max_in_flight` and `batch_target_bytes`,
    /// three or four requests and about 512 KiB of data per round trip (5 MB/s at 100 ms);
    /// raise both for fast, distant links, at about 1.75× the bodies' size in memory.
    #[serde(default, deserialize_with = "optional_byte_size")]
    pub max_in_flight_bytes: Option<u64>,
    /// How often the `paths` globs are re-scanned for new, rotated or deleted files. Default `"5s"`.
    #[serde(default = "default_scan_interval", deserialize_with = "duration")]
    pub scan_interval: Duration,
    /// How long the tailer sleeps when every file is at its end and file events are not
    /// available (`watch = "poll"`, or inotify failed). Default `"250ms"`.
    #[serde(default = "default_poll_interval", deserialize_with = "duration")]
    pub poll_interval: Duration,
    /// `[flow.parse]`: turn lines into records (multiline, formats, filters, metadata); see
    /// `RawParse`. Default: none, lines are shipped as read.
    pub parse: Option<crate::parse::RawParse>,
    /// `"auto"`: inotify wakes the tailer when a file changes, and the periodic scan catches
    /// anything inotify missed; if inotify cannot be used (watch limit, some network
    /// filesystems) the flow warns and polls. `"poll"`: never use inotify (NFS, FUSE).
    /// Default `"auto"`.
    #[serde(default)]
    pub watch: Watch,
    /// Most file handles this flow holds open. Idle files read to their end are closed and
    /// reopened when they grow; files rotated away or deleted stay open until read to their
    /// end. Files beyond the cap wait their turn; nothing is skipped. Default 1024.
    #[serde(default = "default_max_open_files")]
    pub max_open_files: usize,
}

fn default_max_open_files() -> usize {
    1024
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/edgeship")
}
fn default_checkpoint_interval() -> Duration {
    Duration::from_secs(1)
}
fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_held_bytes() -> u64 {
    256 * 1024 * 1024
}
fn default_spool_max_bytes() -> u64 {
    64 * 1024 * 1024
}
fn default_status_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_permanent_error_backoff() -> Duration {
    Duration::from_secs(60)
}
fn default_batch_max_age() -> Duration {
    Duration::from_secs(1)
}
fn default_batch_max_records() -> usize {
    500
}
fn default_max_in_flight() -> usize {
    4
}
fn default_scan_interval() -> Duration {
    Duration::from_secs(5)
}
fn default_poll_interval() -> Duration {
    Duration::from_millis(250)
}
