//! The pure heart of the parse stage: [`ParseCore`] turns one record into output bytes (filter,
//! redact, format, types, timestamp, metadata). Per-file state lives in [`super::files`].

use super::decorate::{Decorations, Origin, now_rfc3339};
use super::ec2::Ec2Metadata;
use super::output::{write_data, write_object, write_record};
use super::spec::{FailurePolicy, Format, ParseSpec};
use super::timestamp::to_rfc3339;
use super::{Fields, ParseError, Parsed, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// What became of one record.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Written,
    /// Excluded by `include` / `exclude`.
    Filtered,
    /// Did not parse; `written`: sent raw (`send_raw`).
    Failed {
        error: ParseError,
        written: bool,
    },
}

/// One record's formatting, shared by all files of a flow.
#[derive(Debug, Clone)]
pub struct ParseCore {
    pub spec: Arc<ParseSpec>,
    decorations: Decorations,
}

impl ParseCore {
    pub fn new(spec: Arc<ParseSpec>, ec2: Option<Ec2Metadata>) -> ParseCore {
        let mut decorations = spec.decorations.clone();
        decorations.ec2 = ec2;
        ParseCore { spec, decorations }
    }

    /// Formats `record` into `out` (appending). `csv_names`: the file's CSV header, if read.
    pub fn record(
        &self,
        record: &[u8],
        origin: &Origin<'_>,
        csv_names: Option<&[String]>,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let spec = &*self.spec;
        if spec
            .include
            .as_ref()
            .is_some_and(|set| !set.is_match(record))
            || spec
                .exclude
                .as_ref()
                .is_some_and(|set| set.is_match(record))
        {
            return Outcome::Filtered;
        }
        let text = self.redact(record);
        match self.parse(&text, csv_names) {
            Ok(parsed) => {
                self.write(parsed, origin, out);
                Outcome::Written
            }
            Err(error) if spec.on_failure == FailurePolicy::SendRaw => {
                let unparsed = Parsed::Fields(vec![("unparsed".into(), Value::bytes(&text))]);
                self.write(unparsed, origin, out);
                Outcome::Failed {
                    error,
                    written: true,
                }
            }
            Err(error) => Outcome::Failed {
                error,
                written: false,
            },
        }
    }

    /// The record with every `redact` rule applied (also what failure logs and dead letters show).
    pub fn redact<'a>(&self, record: &'a [u8]) -> Cow<'a, [u8]> {
        let mut text = Cow::Borrowed(record);
        for (regex, replacement) in &self.spec.redact {
            if let Cow::Owned(replaced) = regex.replace_all(&text, replacement.as_bytes()) {
                text = Cow::Owned(replaced);
            }
        }
        text
    }

    /// The format step alone, with renaming, types and the timestamp applied.
    pub fn parse<'a>(
        &'a self,
        text: &'a [u8],
        csv_names: Option<&'a [String]>,
    ) -> Result<Parsed<'a>, ParseError> {
        let spec = &*self.spec;
        let mut parsed = match &spec.format {
            Format::Line => super::line::parse(text),
            Format::SingleLine(f) => f.parse(text),
            Format::Csv(f) => f.parse(text, csv_names)?,
            Format::Json(f) => f.parse(text, self.adds_fields())?,
            Format::Regex(f) => f.parse(text)?,
            Format::ApacheCommon => super::apache_common::parse(text)?,
            Format::ApacheCombined => super::apache_combined::parse(text)?,
            Format::ApacheError => super::apache_error::parse(text)?,
            Format::Syslog => super::syslog::parse(text)?,
            Format::SyslogRfc5424 => super::syslog_rfc5424::parse(text)?,
            Format::Rfc3339Syslog => super::rfc3339_syslog::parse(text)?,
        };
        if let Parsed::Fields(fields) = &mut parsed {
            self.refine(fields);
        }
        Ok(parsed)
    }

    fn adds_fields(&self) -> bool {
        !self.decorations.is_empty() || self.spec.envelope
    }

    fn refine<'a>(&'a self, fields: &mut Fields<'a>) {
        let spec = &*self.spec;
        for (field, name) in fields.iter_mut().zip(&spec.rename) {
            field.0 = Cow::Borrowed(name.as_str());
        }
        if spec.types.is_empty() && spec.timestamp_field.is_none() {
            return;
        }
        for (name, value) in fields.iter_mut() {
            if let Some((_, ty)) = spec.types.iter().find(|(n, _)| n == name)
                && let Some(typed) = value.as_str().and_then(|s| ty.convert(s))
            {
                *value = typed;
            }
            if spec.timestamp_field.as_deref() == Some(name.as_ref())
                && let Some(ts) = value.as_str().and_then(|s| to_rfc3339(s, current_year()))
            {
                *value = Value::Str(Cow::Owned(ts));
            }
        }
    }

    fn write(&self, parsed: Parsed<'_>, origin: &Origin<'_>, out: &mut Vec<u8>) {
        if self.spec.envelope {
            // The Kinesis Agent's ADDMETADATA: {"ts", "metadata", "data"}.
            let mut head: Fields<'_> = Vec::new();
            if self.decorations.read_time {
                head.push(("ts".into(), Value::Str(Cow::Borrowed(origin.read_time))));
            }
            let mut meta = Vec::new();
            write_object(&mut meta, &[&self.decorations.fields(origin, false)]);
            head.push((
                "metadata".into(),
                Value::Raw(Cow::Owned(String::from_utf8(meta).expect("JSON is UTF-8"))),
            ));
            let mut data = Vec::new();
            write_data(&mut data, parsed);
            head.push((
                "data".into(),
                Value::Raw(Cow::Owned(String::from_utf8_lossy(&data).into_owned())),
            ));
            write_object(out, &[&head]);
        } else {
            write_record(out, parsed, &self.decorations.fields(origin, true));
        }
        if self.spec.append_newline {
            out.push(b'\n');
        }
    }
}

fn current_year() -> i32 {
    now_rfc3339()[..4].parse().unwrap_or(1970)
}
