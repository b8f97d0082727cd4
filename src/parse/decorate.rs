//! Metadata added to every record: host name, file path, byte offset, read time, static
//! fields, and EC2 instance metadata. Added fields are prefixed with `_` (except the static
//! fields and the EC2 names, which follow the Java agent) so they do not collide with parsed ones.

use super::ec2::Ec2Metadata;
use super::timestamp::format_utc;
use super::{Fields, Value};
use std::borrow::Cow;

#[derive(Debug, Clone, Default)]
pub struct Decorations {
    pub host: Option<String>,
    pub file: bool,
    pub offset: bool,
    pub read_time: bool,
    /// Static fields, values already JSON-encoded.
    pub fields: Vec<(String, String)>,
    pub ec2: Option<Ec2Metadata>,
}

/// Where a record came from.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub path: &'a str,
    /// File offset of the record's first byte.
    pub offset: u64,
    /// When the chunk holding it was read, RFC 3339 with milliseconds.
    pub read_time: &'a str,
}

impl Decorations {
    pub fn is_empty(&self) -> bool {
        self.host.is_none()
            && !self.file
            && !self.offset
            && !self.read_time
            && self.fields.is_empty()
            && self.ec2.is_none()
    }

    /// The fields to add to a record from `origin`. `read_time`: false in the Kinesis Agent
    /// envelope, which carries it as `ts` instead.
    pub fn fields<'a>(&'a self, origin: &Origin<'a>, read_time: bool) -> Fields<'a> {
        let mut out: Fields<'a> = Vec::new();
        for (name, json) in &self.fields {
            out.push((
                Cow::Borrowed(name.as_str()),
                Value::Raw(Cow::Borrowed(json.as_str())),
            ));
        }
        if let Some(host) = &self.host {
            out.push(("_host".into(), Value::Str(Cow::Borrowed(host))));
        }
        if self.file {
            out.push(("_file".into(), Value::Str(Cow::Borrowed(origin.path))));
        }
        if self.offset {
            out.push((
                "_offset".into(),
                Value::Raw(Cow::Owned(origin.offset.to_string())),
            ));
        }
        if self.read_time && read_time {
            out.push((
                "_read_time".into(),
                Value::Str(Cow::Borrowed(origin.read_time)),
            ));
        }
        if let Some(ec2) = &self.ec2 {
            out.extend(ec2.fields());
        }
        out
    }
}

/// Now, as the Java agent's ADDMETADATA `ts`: UTC, milliseconds.
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_utc(now.as_secs() as i64, Some(i64::from(now.subsec_millis())))
}
