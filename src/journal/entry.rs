//! One line of `journalctl --output=json` into one record (pure).
//!
//! journalctl prints every field as a JSON string, except binary values (an array of byte
//! numbers), fields that occur more than once in an entry (an array of such values) and, without
//! `--all`, long ones (null). String values are copied into the record as written (they are
//! valid JSON already); only the others are decoded.

use super::spec::{FieldSelection, JournalFormat, JournalSpec};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::time::{Duration, UNIX_EPOCH};

/// The fields a `"json"` record carries, in this order, when present.
pub const STANDARD_FIELDS: [&str; 7] = [
    "MESSAGE",
    "PRIORITY",
    "_SYSTEMD_UNIT",
    "_HOSTNAME",
    REALTIME,
    "_PID",
    "SYSLOG_IDENTIFIER",
];
const REALTIME: &str = "__REALTIME_TIMESTAMP";
const CURSOR: &str = "__CURSOR";

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("journalctl printed a line that is not a JSON object: {0}")]
    NotJson(String),
    #[error("journalctl printed an entry without __CURSOR")]
    NoCursor,
}

/// An entry's fields in the order journalctl printed them.
struct Fields<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a journal entry")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Fields<'a>, M::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(24));
                while let Some(field) = map.next_entry::<&'de str, &'de RawValue>()? {
                    fields.push(field);
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData))
    }
}

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// Appends the record of the entry `line` to `out`; returns the entry's cursor.
pub fn convert<'a>(
    line: &'a [u8],
    spec: &JournalSpec,
    out: &mut Vec<u8>,
) -> Result<&'a str, EntryError> {
    let fields: Fields =
        serde_json::from_slice(line).map_err(|e| EntryError::NotJson(e.to_string()))?;
    let cursor = fields
        .get(CURSOR)
        .and_then(|raw| serde_json::from_str::<&str>(raw.get()).ok())
        .ok_or(EntryError::NoCursor)?;
    match spec.format {
        JournalFormat::Message => out.extend_from_slice(&message_bytes(fields.get("MESSAGE"))),
        JournalFormat::Json => write_object(&fields, &spec.fields, out),
    }
    Ok(cursor)
}

fn write_object(fields: &Fields, selection: &FieldSelection, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    let mut field = |name: &str, value: &RawValue| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, name).expect("writing to a Vec");
        out.push(b':');
        write_value(name, value, out);
    };
    match selection {
        FieldSelection::All => fields.0.iter().for_each(|(name, value)| field(name, value)),
        FieldSelection::Standard(extra) => {
            let names = STANDARD_FIELDS
                .iter()
                .copied()
                .chain(extra.iter().map(String::as_str));
            for name in names {
                if let Some(value) = fields.get(name) {
                    field(name, value);
                }
            }
        }
    }
    out.push(b'}');
}

fn write_value(name: &str, value: &RawValue, out: &mut Vec<u8>) {
    let text = value.get();
    if name == REALTIME
        && let Some(time) = rfc3339(text)
    {
        serde_json::to_writer(&mut *out, &time).expect("writing to a Vec");
    } else if text.starts_with('[') {
        let decoded = serde_json::from_str(text).map_or(serde_json::Value::Null, readable);
        serde_json::to_writer(&mut *out, &decoded).expect("writing to a Vec");
    } else {
        out.extend_from_slice(text.as_bytes()); // a JSON string (or null) as printed
    }
}

/// A binary value (byte numbers) as text, invalid UTF-8 replaced; repeated fields as an array.
fn readable(value: serde_json::Value) -> serde_json::Value {
    match bytes_of(&value) {
        Some(bytes) => String::from_utf8_lossy(&bytes).into_owned().into(),
        None => match value {
            serde_json::Value::Array(items) => items.into_iter().map(readable).collect(),
            other => other,
        },
    }
}

fn bytes_of(value: &serde_json::Value) -> Option<Vec<u8>> {
    let items = value.as_array()?;
    items
        .iter()
        .map(|n| n.as_u64().and_then(|n| u8::try_from(n).ok()))
        .collect()
}

/// The message as bytes: a binary message unchanged, the first of repeated ones.
fn message_bytes(value: Option<&RawValue>) -> Vec<u8> {
    let Some(value) = value else {
        return Vec::new();
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(value.get()) else {
        return Vec::new();
    };
    match (&value, bytes_of(&value)) {
        (_, Some(bytes)) => bytes,
        (serde_json::Value::String(text), _) => text.clone().into_bytes(),
        (serde_json::Value::Array(items), _) => items
            .first()
            .map(|first| message_bytes(serde_json::value::to_raw_value(first).ok().as_deref()))
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `"1796287615039686"` (microseconds since the epoch) as RFC 3339 with microseconds.
fn rfc3339(text: &str) -> Option<String> {
    let micros: u64 = text.strip_prefix('"')?.strip_suffix('"')?.parse().ok()?;
    let time = UNIX_EPOCH + Duration::from_micros(micros);
    Some(humantime::format_rfc3339_micros(time).to_string())
}

/// The cursor of the first entry in journalctl's output (`None`: no entry).
pub fn first_cursor(output: &[u8]) -> Option<&str> {
    let first = output.split(|b| *b == b'\n').next()?;
    let fields: Fields = serde_json::from_slice(first).ok()?;
    serde_json::from_str(fields.get(CURSOR)?.get()).ok()
}

/// The realtime timestamp (microseconds) in a cursor's `t=` part, for reporting gaps.
pub fn cursor_time(cursor: &str) -> Option<std::time::SystemTime> {
    let hex = cursor.split(';').find_map(|part| part.strip_prefix("t="))?;
    let micros = u64::from_str_radix(hex, 16).ok()?;
    Some(UNIX_EPOCH + Duration::from_micros(micros))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::spec::RawJournal;

    const ENTRY: &str = r#"{"_BOOT_ID":"b","__MONOTONIC_TIMESTAMP":"1000","MESSAGE":"hello \"x\"","__REALTIME_TIMESTAMP":"1796287615039686","__CURSOR":"s=5;i=1;b=b;m=3e8;t=661b6cd3578c6;x=4","_PID":"42","PRIORITY":"6","SYSLOG_IDENTIFIER":"nginx","_SYSTEMD_UNIT":"nginx.service","_HOSTNAME":"gw1","_COMM":"nginx"}"#;

    fn record(line: &str, raw: RawJournal) -> Result<(String, String), EntryError> {
        let spec = JournalSpec::from_raw(&raw).unwrap();
        let mut out = Vec::new();
        let cursor = convert(line.as_bytes(), &spec, &mut out)?;
        Ok((
            String::from_utf8_lossy(&out).into_owned(),
            cursor.to_owned(),
        ))
    }

    #[test]
    fn standard_fields_in_order_with_the_time_as_rfc3339() {
        let (json, cursor) = record(ENTRY, RawJournal::default()).unwrap();
        assert_eq!(
            json,
            r#"{"MESSAGE":"hello \"x\"","PRIORITY":"6","_SYSTEMD_UNIT":"nginx.service","_HOSTNAME":"gw1","__REALTIME_TIMESTAMP":"2026-12-03T08:46:55.039686Z","_PID":"42","SYSLOG_IDENTIFIER":"nginx"}"#
        );
        assert_eq!(cursor, "s=5;i=1;b=b;m=3e8;t=661b6cd3578c6;x=4");
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["MESSAGE"], "hello \"x\"");
    }

    #[test]
    fn extra_and_all_fields() {
        let extra = RawJournal {
            fields: vec!["_COMM".into(), "ABSENT".into()],
            ..Default::default()
        };
        let (json, _) = record(ENTRY, extra).unwrap();
        assert!(
            json.ends_with(r#""SYSLOG_IDENTIFIER":"nginx","_COMM":"nginx"}"#),
            "{json}"
        );
        let all = RawJournal {
            fields: vec!["*".into()],
            ..Default::default()
        };
        let (json, _) = record(ENTRY, all).unwrap();
        let parsed: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.len(), 11);
        assert!(
            json.starts_with(r#"{"_BOOT_ID":"b","__MONOTONIC"#),
            "entry order: {json}"
        );
    }

    #[test]
    fn binary_repeated_and_null_values() {
        let line = r#"{"__CURSOR":"c","MESSAGE":["hello 3",[98,105,110,0,255,10]],"_PID":[52,50],"PRIORITY":null}"#;
        let (json, _) = record(line, RawJournal::default()).unwrap();
        assert_eq!(
            json,
            "{\"MESSAGE\":[\"hello 3\",\"bin\\u0000\u{fffd}\\n\"],\"PRIORITY\":null,\"_PID\":\"42\"}"
        );
        let message = RawJournal {
            format: JournalFormat::Message,
            ..Default::default()
        };
        assert_eq!(record(line, message.clone()).unwrap().0, "hello 3");
        let binary = r#"{"__CURSOR":"c","MESSAGE":[104,105,10,255]}"#;
        let spec = JournalSpec::from_raw(&message).unwrap();
        let mut out = Vec::new();
        convert(binary.as_bytes(), &spec, &mut out).unwrap();
        assert_eq!(out, b"hi\n\xff", "a binary message is shipped as its bytes");
        assert_eq!(record(r#"{"__CURSOR":"c"}"#, message).unwrap().0, "");
    }

    #[test]
    fn bad_lines() {
        assert!(matches!(
            record("-- No entries --", RawJournal::default()),
            Err(EntryError::NotJson(_))
        ));
        assert_eq!(
            record(r#"{"MESSAGE":"x"}"#, RawJournal::default()),
            Err(EntryError::NoCursor)
        );
    }

    #[test]
    fn first_cursor_of_an_output() {
        let output = format!("{ENTRY}\n{ENTRY}\n");
        assert_eq!(
            first_cursor(output.as_bytes()),
            Some("s=5;i=1;b=b;m=3e8;t=661b6cd3578c6;x=4")
        );
        assert_eq!(first_cursor(b""), None);
    }

    #[test]
    fn cursor_times() {
        let time = cursor_time("s=5;i=1;b=b;m=3e8;t=661b6cd3578c6;x=4").unwrap();
        assert_eq!(
            humantime::format_rfc3339_micros(time).to_string(),
            "2026-12-03T08:46:55.039686Z"
        );
        assert_eq!(cursor_time("s=5;i=1"), None);
    }
}
