//! `apache_combined`: the Combined Log Format (common plus `"%{Referer}i" "%{User-agent}i"`),
//! the Kinesis Agent's `COMBINEDAPACHELOG`. Fields: host, ident, authuser, datetime, request,
//! response, bytes, referer, agent; `-` becomes `null`. The whole line must match.

use super::apache_common::common_part;
use super::cursor::Cursor;
use super::{ParseError, Parsed, Value, named};

pub const FIELDS: [&str; 9] = [
    "host", "ident", "authuser", "datetime", "request", "response", "bytes", "referer", "agent",
];

pub fn parse(line: &[u8]) -> Result<Parsed<'_>, ParseError> {
    let mut c = Cursor::new(line);
    let mut values = common_part(&mut c)?;
    c.spaces("space before \"referer\"")?;
    values.push(Value::dash_null(c.quoted("\"referer\"")?));
    c.spaces("space before \"agent\"")?;
    values.push(Value::dash_null(c.quoted("\"agent\"")?));
    c.end()?;
    Ok(Parsed::Fields(named(&FIELDS, values)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_quotes_stay_inside_the_agent() {
        let line =
            br#"::1 - - [01/Jan/2026:00:00:01 +0000] "GET /a HTTP/1.1" 404 - "-" "curl \"x\" 8""#;
        let Parsed::Fields(f) = parse(line).unwrap() else {
            panic!()
        };
        assert_eq!(f[6].1, Value::Null);
        assert_eq!(f[7].1, Value::Null);
        assert_eq!(f[8].1, Value::Str(r#"curl \"x\" 8"#.into()));
    }
}
