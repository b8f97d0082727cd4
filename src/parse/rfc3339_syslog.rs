//! `rfc3339_syslog`: syslog lines with an RFC 3339 timestamp (rsyslog's
//! `RSYSLOG_FileFormat`), the Kinesis Agent's `RFC3339SYSLOG`. Same fields as [`super::syslog`]:
//! timestamp, hostname, program, processid, message.

use super::cursor::Cursor;
use super::syslog::{skip_priority, tail, with_timestamp};
use super::{ParseError, Parsed, named};

pub const FIELDS: [&str; 5] = super::syslog::FIELDS;

pub fn parse(line: &[u8]) -> Result<Parsed<'_>, ParseError> {
    let mut c = Cursor::new(line);
    skip_priority(&mut c)?;
    let timestamp = c.token("timestamp")?;
    if !looks_rfc3339(timestamp) {
        return Err(ParseError::new(
            "timestamp is not RFC 3339 (YYYY-MM-DDThh:mm:ss...)",
        ));
    }
    c.spaces("space after timestamp")?;
    let rest = tail(&mut c)?;
    Ok(Parsed::Fields(named(
        &FIELDS,
        with_timestamp(timestamp, rest),
    )))
}

/// `YYYY-MM-DDThh:mm:ss` followed by optional fraction and zone.
pub(crate) fn looks_rfc3339(t: &[u8]) -> bool {
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    t.len() >= 19
        && digits.iter().all(|&i| t[i].is_ascii_digit())
        && t[4] == b'-'
        && t[7] == b'-'
        && matches!(t[10], b'T' | b't' | b' ')
        && t[13] == b':'
        && t[16] == b':'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Value;

    #[test]
    fn parses_rsyslog_file_format() {
        let Parsed::Fields(f) =
            parse(b"2026-11-28T14:02:03.123456+00:00 web1 sshd[811]: Accepted publickey").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            f[0].1,
            Value::Str("2026-11-28T14:02:03.123456+00:00".into())
        );
        assert_eq!(f[2].1, Value::Str("sshd".into()));
    }
}
