//! `syslog`: BSD syslog lines (RFC 3164 style, as in `/var/log/messages`), the Kinesis Agent's
//! `SYSLOG`: an optional `<PRI>`, `Mmm dd hh:mm:ss`, host, `program[pid]:` and the message.
//! Fields: timestamp, hostname, program, processid (`null` without `[pid]`), message. A `-` stays
//! a string, as in the Java agent.

use super::cursor::{Cursor, all_digits};
use super::{ParseError, Parsed, Value, named};

pub const FIELDS: [&str; 5] = ["timestamp", "hostname", "program", "processid", "message"];

pub fn parse(line: &[u8]) -> Result<Parsed<'_>, ParseError> {
    let mut c = Cursor::new(line);
    skip_priority(&mut c)?;
    let start = c.pos;
    let month = c.token("month")?;
    if month.len() != 3 || !month.iter().all(u8::is_ascii_alphabetic) {
        return Err(ParseError::new(
            "timestamp does not start with a month name (Mmm)",
        ));
    }
    c.spaces("space after month")?;
    let day = c.token("day")?;
    c.spaces("space after day")?;
    let time = c.token("time")?;
    if !all_digits(day) || day.len() > 2 || !is_clock(time) {
        return Err(ParseError::new("timestamp is not Mmm dd hh:mm:ss"));
    }
    let timestamp = &line[start..c.pos];
    c.spaces("space after timestamp")?;
    let rest = tail(&mut c)?;
    Ok(Parsed::Fields(named(
        &FIELDS,
        with_timestamp(timestamp, rest),
    )))
}

pub(crate) fn with_timestamp<'a>(timestamp: &'a [u8], mut rest: Vec<Value<'a>>) -> Vec<Value<'a>> {
    rest.insert(0, Value::bytes(timestamp));
    rest
}

pub(crate) fn skip_priority(c: &mut Cursor<'_>) -> Result<(), ParseError> {
    if c.peek() == Some(b'<') {
        c.pos += 1;
        let pri = c.until(b'>', "> closing the priority")?;
        if !all_digits(pri) || pri.len() > 3 {
            return Err(ParseError::new("priority is not <0-191>"));
        }
    }
    Ok(())
}

fn is_clock(t: &[u8]) -> bool {
    t.len() == 8
        && t[2] == b':'
        && t[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| t[i].is_ascii_digit())
}

/// `host program[pid]: message`, shared with `rfc3339_syslog`.
pub(crate) fn tail<'a>(c: &mut Cursor<'a>) -> Result<Vec<Value<'a>>, ParseError> {
    let host = c.token("hostname")?;
    c.spaces("space after hostname")?;
    let rest = c.rest();
    let end = memchr::memchr(b':', rest).ok_or_else(|| c.fail("program followed by ':'"))?;
    let tag = &rest[..end];
    let (program, pid) = match memchr::memchr(b'[', tag) {
        Some(i) if tag.ends_with(b"]") && all_digits(&tag[i + 1..tag.len() - 1]) => {
            (&tag[..i], Value::bytes(&tag[i + 1..tag.len() - 1]))
        }
        Some(_) => return Err(ParseError::new("program[pid] has no numeric pid")),
        None => (tag, Value::Null),
    };
    if program.is_empty() || program.contains(&b' ') {
        return Err(ParseError::new("program name is empty or contains a space"));
    }
    let mut message = &rest[end + 1..];
    while let [b' ' | b'\t', more @ ..] = message {
        message = more;
    }
    Ok(vec![
        Value::bytes(host),
        Value::bytes(program),
        pid,
        Value::bytes(message),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3164_example_with_priority_and_pid() {
        let Parsed::Fields(f) =
            parse(b"<34>Oct  1 22:14:15 mymachine su[230]: 'su root' failed").unwrap()
        else {
            panic!()
        };
        assert_eq!(f[0].1, Value::Str("Oct  1 22:14:15".into()));
        assert_eq!(f[1].1, Value::Str("mymachine".into()));
        assert_eq!(f[2].1, Value::Str("su".into()));
        assert_eq!(f[3].1, Value::Str("230".into()));
        assert_eq!(f[4].1, Value::Str("'su root' failed".into()));
    }

    #[test]
    fn pid_is_optional() {
        let Parsed::Fields(f) = parse(b"Jan 15 10:00:00 host kernel: eth0 up").unwrap() else {
            panic!()
        };
        assert_eq!(f[3].1, Value::Null);
    }
}
