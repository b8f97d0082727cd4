//! Parsing: turns the lines a tailer read into records, between `tail` and `aggregate`.
//!
//! ```text
//!  Chunk of lines ──► frame (multiline, header, max size) ──► filter ──► redact ──► format
//!                 ──► typed fields, timestamp ──► decorate (metadata) ──► JSON ──► Chunk of records
//! ```
//!
//! Everything here except [`stage`] (the async task, dead-letter file) and [`ec2`] (IMDSv2) is
//! pure: bytes in, bytes out, so each format is tested from golden files and fuzzed. A flow
//! without a `[flow.parse]` table has no parse stage at all: lines go to the batcher untouched.
//!
//! Field names follow the Java Kinesis Agent where it has the format (`LogToJSONDataConverter`).
//! A record that fails to parse is never dropped silently: see [`spec::FailurePolicy`].

pub mod apache_combined;
pub mod apache_common;
pub mod apache_error;
pub mod core;
pub mod csv;
mod cursor;
pub mod decorate;
pub mod ec2;
pub mod files;
pub mod frame;
pub mod json;
pub mod line;
mod output;
pub mod raw;
pub mod regex;
pub mod rfc3339_syslog;
pub mod sample;
pub mod single_line;
pub mod spec;
pub mod stage;
pub mod syslog;
pub mod syslog_rfc5424;
pub mod timestamp;

pub use self::core::{Outcome, ParseCore};
pub use files::{FileParser, Report};
pub use raw::{RawParse, RawRedact};
pub use spec::{FailurePolicy, Format, ParseSpec};

use std::borrow::Cow;

/// One field value of a structured record.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// A JSON string.
    Str(Cow<'a, str>),
    /// JSON `null` (an Apache `-`, an absent optional group).
    Null,
    /// Already-encoded JSON (a number, a boolean), written as is.
    Raw(Cow<'a, str>),
}

impl<'a> Value<'a> {
    /// A string field from log bytes; invalid UTF-8 becomes U+FFFD (JSON has no bytes).
    pub fn bytes(b: &'a [u8]) -> Value<'a> {
        Value::Str(String::from_utf8_lossy(b))
    }

    /// Like [`Value::bytes`], but an Apache-style `-` is `null`.
    pub fn dash_null(b: &'a [u8]) -> Value<'a> {
        if b == b"-" {
            Value::Null
        } else {
            Value::bytes(b)
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Fields in output order.
pub type Fields<'a> = Vec<(Cow<'a, str>, Value<'a>)>;

/// What a format made of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed<'a> {
    /// Unstructured text: sent as is, or as `{"message": ...}` when decorated.
    Text(Cow<'a, [u8]>),
    /// A structured record: one JSON object.
    Fields(Fields<'a>),
    /// A JSON object from the `json` format, to be re-serialised (compact, or decorated).
    Object(serde_json::Map<String, serde_json::Value>),
    /// Valid JSON kept byte for byte.
    JsonText(&'a [u8]),
}

/// Why a record did not parse: shown in `validate --sample`, the log and the dead-letter file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub Cow<'static, str>);

impl ParseError {
    pub fn new(message: impl Into<Cow<'static, str>>) -> ParseError {
        ParseError(message.into())
    }
}

/// Builds a [`Fields`] list from static names and values.
pub(crate) fn named<'a>(names: &[&'static str], values: Vec<Value<'a>>) -> Fields<'a> {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| (Cow::Borrowed(*n), v))
        .collect()
}
