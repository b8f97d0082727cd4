//! `[flow.parse]` as written. Optional: without it a flow ships lines untouched (no parse stage
//! at all). The `///` docs here are the key reference; README "Parsing" has the walkthrough.

use crate::units::{byte_size, duration, optional_byte_size, optional_duration};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParse {
    /// How a record becomes output: `"line"` (as read, default), `"single_line"`, `"csv"`,
    /// `"json"`, `"regex"`, `"apache_common"`, `"apache_combined"`, `"apache_error"`,
    /// `"syslog"` (RFC 3164), `"syslog_rfc5424"` or `"rfc3339_syslog"`. Structured formats
    /// send one JSON object per record.
    #[serde(default = "default_format")]
    pub format: String,
    /// `"regex"`: the pattern; it must match the whole record. Named groups `(?P<name>...)`
    /// become fields (or the numbered groups, named by `field_names`). Rust `regex` syntax: no
    /// look-around or back-references.
    pub pattern: Option<String>,
    /// `"csv"`: column names in order. `"regex"`: names of the numbered groups. Built-in
    /// formats: new names for their fields, same count (the Kinesis Agent's `customFieldNames`).
    #[serde(default)]
    pub field_names: Vec<String>,
    /// `"csv"`: the delimiter, one byte; `"\t"` for tab. Default `","`.
    #[serde(default = "default_delimiter")]
    pub csv_delimiter: String,
    /// `"csv"`: the first line of a file read from its beginning names the columns (and is not
    /// sent). Default `false`.
    #[serde(default)]
    pub csv_header: bool,
    /// `"json"`: re-serialise compactly instead of sending the line as written. Default `false`.
    #[serde(default)]
    pub json_compact: bool,
    /// `"single_line"`: trim each line (bytes <= space) before joining. Default `true`.
    #[serde(default = "default_true")]
    pub single_line_trim: bool,
    /// `"single_line"`: join lines with the two characters `\n` instead of nothing. Default `false`.
    #[serde(default)]
    pub single_line_escape_newlines: bool,
    /// Multiline: a line matching this regex (at its start) starts a new record; other lines
    /// join the record before them. E.g. `'^\d{4}-\d{2}-\d{2}'`.
    pub multiline_start: Option<String>,
    /// Multiline, the inverse: a line matching this regex (at its start) continues the record
    /// before it, e.g. `'^\s'` for stack traces. Exclusive with `multiline_start`.
    pub multiline_continue: Option<String>,
    /// Multiline: a record is sent when no line was added to it for this long, so the last
    /// event of a quiet file is not held. Default `"1s"`; needs `multiline_start` or
    /// `multiline_continue`.
    #[serde(default, deserialize_with = "optional_duration")]
    pub multiline_flush: Option<Duration>,
    /// Largest record before formatting; longer ones are cut and end with
    /// `truncated_record_terminator`. Default: the flow's record limit minus 256 bytes.
    #[serde(default, deserialize_with = "optional_byte_size")]
    pub max_record_bytes: Option<u64>,
    /// Appended where a record was cut. Default `""`.
    #[serde(default)]
    pub truncated_record_terminator: String,
    /// Lines to skip at the start of a file, only when it is read from offset 0 (headers).
    /// Default 0.
    #[serde(default)]
    pub skip_header_lines: u32,
    /// A record that does not parse: `"send_raw"` (default: sent as `{"unparsed": "..."}`),
    /// `"drop"` (counted in `parse_failures_total`, sampled in the log) or `"dead_letter"`
    /// (appended to `dead_letter_path`). Never silently dropped.
    #[serde(default = "default_on_failure")]
    pub on_failure: String,
    /// `"dead_letter"`: the file failed records are appended to (JSON lines with the reason).
    pub dead_letter_path: Option<PathBuf>,
    /// `"dead_letter"`: size at which the file is rotated to `<path>.1` (one old file kept).
    /// Default `"10MiB"`.
    #[serde(default = "default_dead_letter_max", deserialize_with = "byte_size")]
    pub dead_letter_max_bytes: u64,
    /// Regexes: when set, only records matching at least one are sent (matched anywhere).
    #[serde(default)]
    pub include: Vec<String>,
    /// Regexes: records matching any are not sent (counted as filtered).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Redaction, applied before parsing: every match of `pattern` is replaced.
    #[serde(default)]
    pub redact: Vec<RawRedact>,
    /// Field types: `{ response = "int", bytes = "int", ratio = "float", ok = "bool" }`. A
    /// value that does not convert stays a string. Formats with fields only (not `line`,
    /// `single_line` or `json`).
    #[serde(default)]
    pub types: BTreeMap<String, String>,
    /// A field holding the event time, rewritten to RFC 3339 (Apache, syslog, ISO 8601 and
    /// epoch times are recognised; times without a zone are taken as UTC). Formats with fields
    /// only, as `types`.
    pub timestamp_field: Option<String>,
    /// Add `_host` (the host name). Default `false`.
    #[serde(default)]
    pub add_host: bool,
    /// Add `_file` (the file's path). Default `false`.
    #[serde(default)]
    pub add_file: bool,
    /// Add `_offset` (byte offset of the record in its file). Default `false`.
    #[serde(default)]
    pub add_offset: bool,
    /// Add `_read_time` (when the agent read the record, RFC 3339 UTC). Default `false`.
    #[serde(default)]
    pub add_read_time: bool,
    /// Static fields added to every record, e.g. `{ env = "prod", team = "web" }`.
    #[serde(default)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Add EC2 instance metadata (instanceId, region, availabilityZone, ...) via IMDSv2, cached
    /// and refreshed in the background; records never wait for it. Default `false`.
    #[serde(default)]
    pub ec2_metadata: bool,
    /// How long fetched EC2 metadata is reused. Default `"1h"`. One cache serves every flow: the
    /// first flow started with `ec2_metadata` sets it.
    #[serde(default = "default_ec2_ttl", deserialize_with = "duration")]
    pub ec2_metadata_ttl: Duration,
    /// Shape records like the Kinesis Agent's ADDMETADATA: `{"ts": read time (if
    /// add_read_time), "metadata": {fields and added metadata}, "data": record}`. Default `false`.
    #[serde(default)]
    pub metadata_envelope: bool,
    /// End every record with `\n`, as the Kinesis Agent sends them (unpacked modes). Default
    /// `false`.
    #[serde(default)]
    pub append_newline: bool,
}

/// One `[[flow.parse.redact]]` rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedact {
    /// Regex; every match is replaced.
    pub pattern: String,
    /// Replacement; `$1` / `${name}` insert groups. Default `"[REDACTED]"`.
    #[serde(default = "default_replacement")]
    pub replacement: String,
}

fn default_format() -> String {
    "line".into()
}
fn default_delimiter() -> String {
    ",".into()
}
fn default_true() -> bool {
    true
}
fn default_on_failure() -> String {
    "send_raw".into()
}
fn default_dead_letter_max() -> u64 {
    10 * 1024 * 1024
}
fn default_ec2_ttl() -> Duration {
    Duration::from_secs(3600)
}
fn default_replacement() -> String {
    "[REDACTED]".into()
}
