//! `apache_error`: Apache httpd error log lines, the Kinesis Agent's `APACHEERRORLOG`. Fields:
//! timestamp, module, severity, processid, threadid, client, message; absent parts are `null`.
//!
//! Both layouts are accepted:
//! `[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 1.2.3.4:80] msg`
//! (2.4) and `[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] msg` (2.2).

use super::cursor::{Cursor, all_digits};
use super::{ParseError, Parsed, Value, named};

pub const FIELDS: [&str; 7] = [
    "timestamp",
    "module",
    "severity",
    "processid",
    "threadid",
    "client",
    "message",
];

pub fn parse(line: &[u8]) -> Result<Parsed<'_>, ParseError> {
    let mut c = Cursor::new(line);
    let timestamp = c.bracketed("[timestamp]")?;
    c.spaces("space after [timestamp]")?;
    let level = c.bracketed("[module:severity]")?;
    let (module, severity) = match memchr::memchr(b':', level) {
        Some(i) => (Value::bytes(&level[..i]), &level[i + 1..]),
        None => (Value::Null, level),
    };
    if severity.is_empty() || !severity.iter().all(u8::is_ascii_alphanumeric) {
        return Err(ParseError::new("severity is not a word"));
    }
    let (mut pid, mut tid, mut client) = (Value::Null, Value::Null, Value::Null);
    skip_blanks(&mut c);
    if c.eat(b"[pid ") {
        let inside = c.until(b']', "] after pid")?;
        let (p, t) = match memchr::memchr(b':', inside) {
            Some(i) => (&inside[..i], inside[i + 1..].strip_prefix(b"tid ")),
            None => (inside, None),
        };
        if !all_digits(p) {
            return Err(ParseError::new("pid is not a number"));
        }
        pid = Value::bytes(p);
        tid = t.map_or(Value::Null, Value::bytes);
        skip_blanks(&mut c);
    }
    if c.eat(b"[client ") {
        client = Value::bytes(c.until(b']', "] after client")?);
        skip_blanks(&mut c);
    }
    let message = Value::bytes(c.rest());
    let values = vec![
        Value::bytes(timestamp),
        module,
        Value::bytes(severity),
        pid,
        tid,
        client,
        message,
    ];
    Ok(Parsed::Fields(named(&FIELDS, values)))
}

fn skip_blanks(c: &mut Cursor<'_>) {
    while matches!(c.peek(), Some(b' ' | b'\t')) {
        c.pos += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &str) -> Vec<Value<'_>> {
        match parse(line.as_bytes()).unwrap() {
            Parsed::Fields(f) => f.into_iter().map(|(_, v)| v).collect(),
            _ => panic!(),
        }
    }

    #[test]
    fn parses_httpd_2_4_lines() {
        let v = fields(
            "[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187] File does not exist: /usr/local/apache2/htdocs/favicon.ico",
        );
        assert_eq!(v[1], Value::Str("core".into()));
        assert_eq!(v[3], Value::Str("35708".into()));
        assert_eq!(v[4], Value::Str("4328636416".into()));
        assert_eq!(v[5], Value::Str("72.15.99.187".into()));
    }

    #[test]
    fn parses_httpd_2_2_lines() {
        let v = fields("[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] client denied");
        assert_eq!(v[1], Value::Null);
        assert_eq!(v[2], Value::Str("error".into()));
        assert_eq!(v[3], Value::Null);
        assert_eq!(v[6], Value::Str("client denied".into()));
    }
}
