//! Writes records as JSON straight into the output buffer: field order is kept (the Java
//! agent's order) and no intermediate `serde_json::Value` is built on the hot path.

use super::{Fields, Parsed, Value};

fn write_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

fn write_value(out: &mut Vec<u8>, value: &Value<'_>) {
    match value {
        Value::Str(s) => write_str(out, s),
        Value::Null => out.extend_from_slice(b"null"),
        Value::Raw(raw) => out.extend_from_slice(raw.as_bytes()),
    }
}

/// `{"name":value,...}` over several field lists in turn.
pub(crate) fn write_object(out: &mut Vec<u8>, parts: &[&Fields<'_>]) {
    out.push(b'{');
    let mut first = true;
    for (name, value) in parts.iter().flat_map(|f| f.iter()) {
        if !first {
            out.push(b',');
        }
        first = false;
        write_str(out, name);
        out.push(b':');
        write_value(out, value);
    }
    out.push(b'}');
}

/// A parsed record plus added fields (`extra`, possibly empty) as one JSON value; unstructured
/// text without extra fields is written as is.
pub(crate) fn write_record(out: &mut Vec<u8>, parsed: Parsed<'_>, extra: &Fields<'_>) {
    match parsed {
        Parsed::Text(text) if extra.is_empty() => out.extend_from_slice(&text),
        Parsed::Text(text) => {
            let message = vec![("message".into(), Value::bytes(&text))];
            write_object(out, &[&message, extra]);
        }
        Parsed::Fields(fields) => write_object(out, &[&fields, extra]),
        Parsed::JsonText(text) if extra.is_empty() => out.extend_from_slice(text),
        Parsed::JsonText(text) => match serde_json::from_slice(text) {
            Ok(map) => write_record(out, Parsed::Object(map), extra),
            Err(_) => out.extend_from_slice(text),
        },
        Parsed::Object(mut map) => {
            for (name, value) in extra {
                map.insert(name.to_string(), to_json(value));
            }
            serde_json::to_writer(&mut *out, &map).expect("writing to a Vec cannot fail");
        }
    }
}

/// The value inside the Kinesis Agent's ADDMETADATA envelope: text stays a string.
pub(crate) fn write_data(out: &mut Vec<u8>, parsed: Parsed<'_>) {
    match parsed {
        Parsed::Text(text) => write_value(out, &Value::bytes(&text)),
        other => write_record(out, other, &Vec::new()),
    }
}

fn to_json(value: &Value<'_>) -> serde_json::Value {
    match value {
        Value::Str(s) => serde_json::Value::String(s.to_string()),
        Value::Null => serde_json::Value::Null,
        Value::Raw(raw) => serde_json::from_str(raw).unwrap_or(serde_json::Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_wrapped_only_when_fields_are_added() {
        let mut out = Vec::new();
        write_record(
            &mut out,
            Parsed::Text(b"a\"b".as_slice().into()),
            &Vec::new(),
        );
        assert_eq!(out, b"a\"b");
        out.clear();
        let extra = vec![("_offset".into(), Value::Raw("7".into()))];
        write_record(&mut out, Parsed::Text(b"a\"b".as_slice().into()), &extra);
        assert_eq!(out, br#"{"message":"a\"b","_offset":7}"#);
    }
}
