//! `syslog_rfc5424`: RFC 5424 syslog
//! (`<PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]`). The Java agent
//! has no such format. Fields: priority, facility, severity (numbers), version, timestamp,
//! hostname, appname, procid, msgid, structured_data (as written), message; the nil value `-`
//! is `null`.

use super::cursor::{Cursor, all_digits};
use super::{ParseError, Parsed, Value, named};
use std::borrow::Cow;

pub const FIELDS: [&str; 11] = [
    "priority",
    "facility",
    "severity",
    "version",
    "timestamp",
    "hostname",
    "appname",
    "procid",
    "msgid",
    "structured_data",
    "message",
];

pub fn parse(line: &[u8]) -> Result<Parsed<'_>, ParseError> {
    let mut c = Cursor::new(line);
    c.expect(b'<', "<PRI>")?;
    let pri = c.until(b'>', "> closing the priority")?;
    let pri_num: u16 = std::str::from_utf8(pri)
        .ok()
        .filter(|p| all_digits(p.as_bytes()) && p.len() <= 3)
        .and_then(|p| p.parse().ok())
        .filter(|p| *p <= 191)
        .ok_or_else(|| ParseError::new("priority is not <0-191>"))?;
    let version = c.token("version")?;
    if !all_digits(version) {
        return Err(ParseError::new("version is not a number"));
    }
    let mut values = vec![
        number(pri_num),
        number(pri_num / 8),
        number(pri_num % 8),
        Value::bytes(version),
    ];
    for what in ["timestamp", "hostname", "appname", "procid", "msgid"] {
        c.spaces(what)?;
        values.push(Value::dash_null(c.token(what)?));
    }
    c.spaces("structured data")?;
    values.push(structured_data(&mut c)?);
    let mut message = c.rest();
    if let [b' ', more @ ..] = message {
        message = more;
    } else if !message.is_empty() {
        return Err(c.fail("space before the message"));
    }
    let message = message
        .strip_prefix("\u{feff}".as_bytes())
        .unwrap_or(message);
    values.push(Value::bytes(message));
    Ok(Parsed::Fields(named(&FIELDS, values)))
}

fn number(n: u16) -> Value<'static> {
    Value::Raw(Cow::Owned(n.to_string()))
}

/// `-` or one or more `[id param="value"...]` elements; `\]` and `\"` inside values do not end them.
fn structured_data<'a>(c: &mut Cursor<'a>) -> Result<Value<'a>, ParseError> {
    if c.eat(b"-") {
        return Ok(Value::Null);
    }
    let start = c.pos;
    while c.peek() == Some(b'[') {
        c.pos += 1;
        let mut in_quotes = false;
        loop {
            match c.peek() {
                None => return Err(c.fail("] closing the structured data")),
                Some(b'\\') => c.pos += 1,
                Some(b'"') => in_quotes = !in_quotes,
                Some(b']') if !in_quotes => break,
                Some(_) => {}
            }
            c.pos += 1;
        }
        c.pos += 1;
    }
    if c.pos == start {
        return Err(c.fail("structured data ('-' or '[...]')"));
    }
    Ok(Value::bytes(&c.line[start..c.pos]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_rfc_example() {
        let line = br#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event"#;
        let Parsed::Fields(f) = parse(line).unwrap() else {
            panic!()
        };
        assert_eq!(f[1].1, Value::Raw("20".into()));
        assert_eq!(f[2].1, Value::Raw("5".into()));
        assert_eq!(f[7].1, Value::Null);
        assert!(f[9].1.as_str().unwrap().ends_with("eventID=\"1011\"]"));
        assert_eq!(f[10].1, Value::Str("An application event".into()));
    }

    #[test]
    fn message_is_optional() {
        assert!(parse(b"<34>1 2003-10-11T22:14:15.003Z host su - ID47 -").is_ok());
        assert!(parse(b"<34>1 2003-10-11T22:14:15.003Z host su - ID47").is_err());
    }
}
