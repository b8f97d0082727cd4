//! `apache_common`: the Common Log Format (`%h %l %u %t "%r" %>s %b`), the Kinesis Agent's
//! `COMMONAPACHELOG`. Fields: host, ident, authuser, datetime, request, response, bytes; a `-`
//! becomes `null`, as in the Java agent. The whole line must match.

use super::cursor::{Cursor, all_digits};
use super::{ParseError, Parsed, Value, named};

pub const FIELDS: [&str; 7] = [
    "host", "ident", "authuser", "datetime", "request", "response", "bytes",
];

pub fn parse(line: &[u8]) -> Result<Parsed<'_>, ParseError> {
    let mut cursor = Cursor::new(line);
    let values = common_part(&mut cursor)?;
    cursor.end()?;
    Ok(Parsed::Fields(named(&FIELDS, values)))
}

/// The seven common fields, leaving the cursor after `bytes` (combined continues from there).
pub(crate) fn common_part<'a>(c: &mut Cursor<'a>) -> Result<Vec<Value<'a>>, ParseError> {
    let host = c.token("host")?;
    c.spaces("space after host")?;
    let ident = c.token("ident")?;
    c.spaces("space after ident")?;
    let authuser = c.token("authuser")?;
    c.spaces("space after authuser")?;
    let datetime = c.bracketed("[datetime]")?;
    c.spaces("space after [datetime]")?;
    let request = c.quoted("\"request\"")?;
    c.spaces("space after \"request\"")?;
    let response = c.token("response status")?;
    if !(response.len() == 3 && all_digits(response)) && response != b"-" {
        return Err(ParseError::new("response status is not a 3-digit number"));
    }
    c.spaces("space after response status")?;
    let bytes = c.token("bytes")?;
    if !all_digits(bytes) && bytes != b"-" {
        return Err(ParseError::new("bytes is neither a number nor -"));
    }
    Ok([host, ident, authuser, datetime, request, response, bytes]
        .into_iter()
        .map(Value::dash_null)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_apache_documentation_example() {
        let line = br#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#;
        let Parsed::Fields(fields) = parse(line).unwrap() else {
            panic!()
        };
        assert_eq!(fields[0].1, Value::Str("127.0.0.1".into()));
        assert_eq!(fields[1].1, Value::Null);
        assert_eq!(fields[3].1, Value::Str("10/Oct/2000:13:55:36 -0700".into()));
        assert_eq!(
            fields[4].1,
            Value::Str("GET /apache_pb.gif HTTP/1.0".into())
        );
    }

    #[test]
    fn trailing_text_is_a_failure() {
        let line = br#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1 "x" "y""#;
        assert!(parse(line).is_err());
    }
}
