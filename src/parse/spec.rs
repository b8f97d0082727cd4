//! The validated `[flow.parse]`: formats resolved, regexes compiled, limits checked, so the
//! parse stage has nothing left to fail on at run time.

use super::csv::Csv;
use super::decorate::Decorations;
use super::frame::FrameSpec;
use super::json::Json;
use super::raw::RawParse;
use super::regex::RegexFormat;
use super::single_line::SingleLine;
use super::timestamp::FieldType;
use regex::bytes::{Regex, RegexSet};
use std::path::PathBuf;
use std::time::Duration;

/// A `[flow.parse]` problem; the config validator adds the file and flow.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SpecError {
    /// The key under `[flow.parse]`, e.g. `parse.pattern`.
    pub key: String,
    pub message: String,
    pub hint: String,
}

fn err(key: &str, message: impl Into<String>, hint: impl Into<String>) -> SpecError {
    SpecError {
        key: format!("parse.{key}"),
        message: message.into(),
        hint: hint.into(),
    }
}

#[derive(Debug, Clone)]
pub enum Format {
    Line,
    SingleLine(SingleLine),
    Csv(Box<Csv>),
    Json(Json),
    Regex(RegexFormat),
    ApacheCommon,
    ApacheCombined,
    ApacheError,
    Syslog,
    SyslogRfc5424,
    Rfc3339Syslog,
}

pub const FORMAT_NAMES: &str = "line, single_line, csv, json, regex, apache_common, apache_combined, apache_error, syslog, syslog_rfc5424, rfc3339_syslog";

impl Format {
    /// The `format` value that selects this format.
    pub fn name(&self) -> &'static str {
        match self {
            Format::Line => "line",
            Format::SingleLine(_) => "single_line",
            Format::Csv(_) => "csv",
            Format::Json(_) => "json",
            Format::Regex(_) => "regex",
            Format::ApacheCommon => "apache_common",
            Format::ApacheCombined => "apache_combined",
            Format::ApacheError => "apache_error",
            Format::Syslog => "syslog",
            Format::SyslogRfc5424 => "syslog_rfc5424",
            Format::Rfc3339Syslog => "rfc3339_syslog",
        }
    }

    /// Field names of the hand-written formats, for `field_names` renaming.
    pub fn builtin_fields(&self) -> Option<&'static [&'static str]> {
        match self {
            Format::ApacheCommon => Some(&super::apache_common::FIELDS),
            Format::ApacheCombined => Some(&super::apache_combined::FIELDS),
            Format::ApacheError => Some(&super::apache_error::FIELDS),
            Format::Syslog => Some(&super::syslog::FIELDS),
            Format::Rfc3339Syslog => Some(&super::rfc3339_syslog::FIELDS),
            Format::SyslogRfc5424 => Some(&super::syslog_rfc5424::FIELDS),
            _ => None,
        }
    }
}

/// What happens to a record that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Sent as `{"unparsed": "<record>"}` (plus added metadata).
    SendRaw,
    /// Not sent; counted and sampled in the log.
    Drop,
    /// Appended to a local file, rotated at `max_bytes`.
    DeadLetter { path: PathBuf, max_bytes: u64 },
}

#[derive(Debug, Clone)]
pub struct ParseSpec {
    pub format: Format,
    /// New names for a built-in format's fields.
    pub rename: Vec<String>,
    pub frame: FrameSpec,
    pub multiline_flush: Duration,
    pub skip_header_lines: u32,
    pub on_failure: FailurePolicy,
    pub include: Option<RegexSet>,
    pub exclude: Option<RegexSet>,
    pub redact: Vec<(Regex, String)>,
    pub types: Vec<(String, FieldType)>,
    pub timestamp_field: Option<String>,
    pub decorations: Decorations,
    /// Refresh period, when EC2 metadata is on (started by the stage, not here).
    pub ec2_metadata_ttl: Option<Duration>,
    pub envelope: bool,
    pub append_newline: bool,
}

/// A multiline record is sent when no line joined it for this long.
const DEFAULT_MULTILINE_FLUSH: Duration = Duration::from_secs(1);

impl ParseSpec {
    /// `max_record_bytes`: the flow's limit for one record's data.
    pub fn from_raw(raw: &RawParse, max_record_bytes: u64) -> Result<ParseSpec, SpecError> {
        let format = format(raw)?;
        let rename = rename(raw, &format)?;
        fields_are_refined(raw, &format)?;
        let frame = frame(raw, max_record_bytes)?;
        Ok(ParseSpec {
            format,
            rename,
            frame,
            multiline_flush: raw.multiline_flush.unwrap_or(DEFAULT_MULTILINE_FLUSH),
            skip_header_lines: raw.skip_header_lines,
            on_failure: failure_policy(raw)?,
            include: regex_set("include", &raw.include)?,
            exclude: regex_set("exclude", &raw.exclude)?,
            redact: redactions(raw)?,
            types: types(raw)?,
            timestamp_field: raw.timestamp_field.clone(),
            decorations: decorations(raw),
            ec2_metadata_ttl: raw.ec2_metadata.then_some(raw.ec2_metadata_ttl),
            envelope: raw.metadata_envelope,
            append_newline: raw.append_newline,
        })
    }

    /// Whether records get fields beyond what the format produced.
    pub fn adds_fields(&self) -> bool {
        !self.decorations.is_empty() || self.ec2_metadata_ttl.is_some()
    }
}

fn format(raw: &RawParse) -> Result<Format, SpecError> {
    if raw.pattern.is_some() && raw.format != "regex" {
        return Err(err(
            "pattern",
            "pattern is only used by format = \"regex\"",
            "set format = \"regex\" or remove pattern",
        ));
    }
    Ok(match raw.format.as_str() {
        "line" => Format::Line,
        "single_line" => Format::SingleLine(SingleLine {
            trim: raw.single_line_trim,
            escape_newlines: raw.single_line_escape_newlines,
        }),
        "csv" => Format::Csv(Box::new(csv(raw)?)),
        "json" => Format::Json(Json {
            compact: raw.json_compact,
        }),
        "regex" => {
            let pattern = raw.pattern.as_deref().ok_or_else(|| {
                err(
                    "pattern",
                    "format = \"regex\" needs a pattern",
                    r#"e.g. pattern = '(?P<level>\w+) (?P<message>.*)'"#,
                )
            })?;
            Format::Regex(RegexFormat::new(pattern, &raw.field_names).map_err(|e| {
                err("pattern", e, "Rust regex syntax: named groups (?P<name>...); no look-around or back-references")
            })?)
        }
        "apache_common" => Format::ApacheCommon,
        "apache_combined" => Format::ApacheCombined,
        "apache_error" => Format::ApacheError,
        "syslog" => Format::Syslog,
        "syslog_rfc5424" => Format::SyslogRfc5424,
        "rfc3339_syslog" => Format::Rfc3339Syslog,
        other => {
            return Err(err(
                "format",
                format!("unknown format {other:?}"),
                format!("use one of {FORMAT_NAMES}"),
            ));
        }
    })
}

fn csv(raw: &RawParse) -> Result<Csv, SpecError> {
    let delimiter = match raw.csv_delimiter.as_bytes() {
        [byte] => *byte,
        _ => {
            return Err(err(
                "csv_delimiter",
                format!("{:?} is not a single byte", raw.csv_delimiter),
                "use e.g. \",\", \";\", \"|\" or \"\\t\"",
            ));
        }
    };
    if raw.field_names.is_empty() && !raw.csv_header {
        return Err(err(
            "field_names",
            "format = \"csv\" needs column names",
            "set field_names = [\"a\", \"b\"] or csv_header = true",
        ));
    }
    Ok(Csv::new(delimiter, raw.field_names.clone(), raw.csv_header))
}

fn rename(raw: &RawParse, format: &Format) -> Result<Vec<String>, SpecError> {
    match format.builtin_fields() {
        Some(fields) if !raw.field_names.is_empty() => {
            if raw.field_names.len() != fields.len() {
                return Err(err(
                    "field_names",
                    format!(
                        "{} names for the {} fields of format {:?}",
                        raw.field_names.len(),
                        fields.len(),
                        raw.format
                    ),
                    format!("list one name for each of: {}", fields.join(", ")),
                ));
            }
            Ok(raw.field_names.clone())
        }
        None if !raw.field_names.is_empty()
            && matches!(
                format,
                Format::Line | Format::SingleLine(_) | Format::Json(_)
            ) =>
        {
            Err(err(
                "field_names",
                format!("format {:?} has no fields to name", raw.format),
                "remove field_names",
            ))
        }
        _ => Ok(Vec::new()),
    }
}

fn frame(raw: &RawParse, max_record_bytes: u64) -> Result<FrameSpec, SpecError> {
    let anchored = |key: &str, pattern: &Option<String>| -> Result<Option<Regex>, SpecError> {
        pattern
            .as_deref()
            .map(|p| compile(key, &format!("^(?:{p})")))
            .transpose()
    };
    if raw.multiline_start.is_some() && raw.multiline_continue.is_some() {
        return Err(err(
            "multiline_start",
            "multiline_start and multiline_continue are both set",
            "keep one: a start pattern, or a continuation pattern",
        ));
    }
    match raw.multiline_flush {
        Some(flush) if raw.multiline_start.is_none() && raw.multiline_continue.is_none() => {
            return Err(err(
                "multiline_flush",
                format!(
                    "multiline_flush = {:?} has no effect without a multiline pattern",
                    humantime::format_duration(flush).to_string()
                ),
                "set multiline_start or multiline_continue, or remove multiline_flush",
            ));
        }
        Some(flush) if flush.is_zero() => {
            return Err(err(
                "multiline_flush",
                "must be greater than zero",
                "use e.g. \"1s\"",
            ));
        }
        _ => {}
    }
    let max_bytes = raw.max_record_bytes.unwrap_or(max_record_bytes);
    if !(64..=max_record_bytes).contains(&max_bytes) {
        return Err(err(
            "max_record_bytes",
            format!("{max_bytes} bytes is out of range"),
            format!("use 64 to {max_record_bytes} bytes (the flow's record limit)"),
        ));
    }
    if raw.truncated_record_terminator.len() >= max_bytes as usize / 2 {
        return Err(err(
            "truncated_record_terminator",
            "the terminator is too long",
            "use a short marker such as \"...\" or \"\\n\"",
        ));
    }
    Ok(FrameSpec {
        start: anchored("multiline_start", &raw.multiline_start)?,
        continuation: anchored("multiline_continue", &raw.multiline_continue)?,
        max_bytes: max_bytes as usize,
        terminator: raw.truncated_record_terminator.as_bytes().to_vec(),
    })
}

fn compile(key: &str, pattern: &str) -> Result<Regex, SpecError> {
    Regex::new(pattern).map_err(|e| {
        err(key, format!("bad regex: {e}"), "Rust regex syntax: no look-around or back-references; escape \\ in TOML basic strings or use '...' literal strings")
    })
}

fn regex_set(key: &str, patterns: &[String]) -> Result<Option<RegexSet>, SpecError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    for p in patterns {
        compile(key, p)?;
    }
    Ok(Some(RegexSet::new(patterns).map_err(|e| {
        err(key, e.to_string(), "check the regex syntax")
    })?))
}

fn redactions(raw: &RawParse) -> Result<Vec<(Regex, String)>, SpecError> {
    raw.redact
        .iter()
        .map(|r| {
            Ok((
                compile("redact.pattern", &r.pattern)?,
                r.replacement.clone(),
            ))
        })
        .collect()
}

/// `types` and `timestamp_field` act on fields; these formats send text (or JSON as written).
fn fields_are_refined(raw: &RawParse, format: &Format) -> Result<(), SpecError> {
    if !matches!(
        format,
        Format::Line | Format::SingleLine(_) | Format::Json(_)
    ) {
        return Ok(());
    }
    let key = match (raw.types.is_empty(), &raw.timestamp_field) {
        (false, _) => "types",
        (true, Some(_)) => "timestamp_field",
        (true, None) => return Ok(()),
    };
    Err(err(
        key,
        format!(
            "{key} has no effect with format = {:?}, which sends each record as written",
            raw.format
        ),
        "types and timestamp_field apply to formats with fields: csv, regex, apache_*, syslog*",
    ))
}

fn types(raw: &RawParse) -> Result<Vec<(String, FieldType)>, SpecError> {
    raw.types
        .iter()
        .map(|(field, name)| {
            FieldType::from_name(name)
                .map(|t| (field.clone(), t))
                .ok_or_else(|| {
                    err(
                        &format!("types.{field}"),
                        format!("unknown type {name:?}"),
                        "use \"int\", \"float\" or \"bool\"",
                    )
                })
        })
        .collect()
}

fn failure_policy(raw: &RawParse) -> Result<FailurePolicy, SpecError> {
    match (raw.on_failure.as_str(), &raw.dead_letter_path) {
        ("send_raw", None) => Ok(FailurePolicy::SendRaw),
        ("drop", None) => Ok(FailurePolicy::Drop),
        ("dead_letter", Some(path)) if path.is_absolute() && raw.dead_letter_max_bytes >= 1024 => {
            Ok(FailurePolicy::DeadLetter {
                path: path.clone(),
                max_bytes: raw.dead_letter_max_bytes,
            })
        }
        ("dead_letter", _) => Err(err(
            "dead_letter_path",
            "on_failure = \"dead_letter\" needs an absolute dead_letter_path (and dead_letter_max_bytes of at least 1KiB)",
            "e.g. dead_letter_path = \"/var/lib/edgeship/dead-letter/nginx.jsonl\"",
        )),
        ("send_raw" | "drop", Some(_)) => Err(err(
            "dead_letter_path",
            "dead_letter_path is only used with on_failure = \"dead_letter\"",
            "set on_failure = \"dead_letter\" or remove dead_letter_path",
        )),
        (other, _) => Err(err(
            "on_failure",
            format!("unknown policy {other:?}"),
            "use \"send_raw\", \"drop\" or \"dead_letter\"",
        )),
    }
}

fn decorations(raw: &RawParse) -> Decorations {
    Decorations {
        host: raw
            .add_host
            .then(|| gethostname::gethostname().to_string_lossy().into_owned()),
        file: raw.add_file,
        offset: raw.add_offset,
        read_time: raw.add_read_time,
        fields: raw
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect(),
        ec2: None,
    }
}
