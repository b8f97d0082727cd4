//! Typed fields (`types = { bytes = "int" }`) and timestamp extraction to RFC 3339
//! (`timestamp_field`). Both are best effort: a value that does not convert stays the string it
//! was, so a record is never lost over a type.

use super::Value;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Int,
    Float,
    Bool,
}

impl FieldType {
    pub fn from_name(name: &str) -> Option<FieldType> {
        match name {
            "int" => Some(FieldType::Int),
            "float" => Some(FieldType::Float),
            "bool" => Some(FieldType::Bool),
            _ => None,
        }
    }

    /// The typed value, or `None` to keep the string.
    pub fn convert(self, text: &str) -> Option<Value<'static>> {
        let raw = |s: String| Some(Value::Raw(Cow::Owned(s)));
        match self {
            FieldType::Int => text
                .trim()
                .parse::<i64>()
                .ok()
                .and_then(|n| raw(n.to_string())),
            FieldType::Float => match text.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => raw(f.to_string()),
                _ => None,
            },
            FieldType::Bool => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "on" => raw("true".into()),
                "false" | "no" | "0" | "off" => raw("false".into()),
                _ => None,
            },
        }
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month(name: &str) -> Option<u32> {
    MONTHS.iter().position(|m| *m == name).map(|i| i as u32 + 1)
}

/// Rewrites a log timestamp as RFC 3339. Understood: RFC 3339 / ISO 8601 (a missing zone is
/// taken as UTC), Apache `10/Oct/2000:13:55:36 -0700`, syslog `Oct 11 22:14:15` (in `year`,
/// UTC), Apache error `Fri Sep 09 10:42:29.902022 2011` (UTC), and Unix epoch seconds (10
/// digits) or milliseconds (13 digits).
pub fn to_rfc3339(text: &str, year: i32) -> Option<String> {
    let t = text.trim();
    if super::rfc3339_syslog::looks_rfc3339(t.as_bytes()) {
        return Some(iso(t));
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return epoch(t);
    }
    apache(t)
        .or_else(|| syslog(t, year))
        .or_else(|| apache_error(t))
}

fn iso(t: &str) -> String {
    let mut out = t.replacen(' ', "T", 1);
    let has_zone = out.ends_with(['Z', 'z']) || out[19..].contains(['+', '-']);
    if !has_zone {
        out.push('Z');
    }
    out
}

fn epoch(t: &str) -> Option<String> {
    let (secs, millis) = match t.len() {
        10 => (t.parse::<i64>().ok()?, None),
        13 => {
            let ms = t.parse::<i64>().ok()?;
            (ms / 1000, Some(ms % 1000))
        }
        _ => return None,
    };
    Some(format_utc(secs, millis))
}

/// `YYYY-MM-DDThh:mm:ss[.mmm]Z` for Unix seconds.
pub fn format_utc(secs: i64, millis: Option<i64>) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let base = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    match millis {
        Some(ms) => format!("{base}.{ms:03}Z"),
        None => format!("{base}Z"),
    }
}

/// Howard Hinnant's `civil_from_days`.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `10/Oct/2000:13:55:36 -0700`.
fn apache(t: &str) -> Option<String> {
    let (date, zone) = t.split_once(' ')?;
    let mut parts = date.splitn(3, '/');
    let (d, m, rest) = (parts.next()?, parts.next()?, parts.next()?);
    let (y, time) = rest.split_once(':')?;
    let zone = zone.as_bytes();
    if zone.len() != 5 || !matches!(zone[0], b'+' | b'-') || time.len() != 8 {
        return None;
    }
    let zone = std::str::from_utf8(zone).ok()?;
    Some(format!(
        "{y}-{:02}-{:02}T{time}{}:{}",
        month(m)?,
        d.parse::<u32>().ok()?,
        &zone[..3],
        &zone[3..]
    ))
}

/// `Oct 11 22:14:15`.
fn syslog(t: &str, year: i32) -> Option<String> {
    let mut parts = t.split_whitespace();
    let (m, d, time) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || time.len() != 8 {
        return None;
    }
    Some(format!(
        "{year}-{:02}-{:02}T{time}Z",
        month(m)?,
        d.parse::<u32>().ok()?
    ))
}

/// `Fri Sep 09 10:42:29.902022 2011`.
fn apache_error(t: &str) -> Option<String> {
    let parts: Vec<&str> = t.split_whitespace().collect();
    let [_, m, d, time, y] = parts.as_slice() else {
        return None;
    };
    if time.len() < 8 || y.len() != 4 {
        return None;
    }
    Some(format!(
        "{y}-{:02}-{:02}T{time}Z",
        month(m)?,
        d.parse::<u32>().ok()?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_common_log_timestamps() {
        let cases = [
            ("10/Oct/2000:13:55:36 -0700", "2000-10-10T13:55:36-07:00"),
            ("Oct  1 22:14:15", "2026-10-01T22:14:15Z"),
            (
                "Fri Sep 09 10:42:29.902022 2011",
                "2011-09-09T10:42:29.902022Z",
            ),
            ("2026-11-28 14:02:03", "2026-11-28T14:02:03Z"),
            ("2026-11-28T14:02:03.5+01:00", "2026-11-28T14:02:03.5+01:00"),
            ("1700000000", "2023-11-14T22:13:20Z"),
            ("1700000000123", "2023-11-14T22:13:20.123Z"),
        ];
        for (input, want) in cases {
            assert_eq!(to_rfc3339(input, 2026).as_deref(), Some(want), "{input}");
        }
        assert_eq!(to_rfc3339("yesterday", 2026), None);
    }

    #[test]
    fn types_convert_or_keep_the_string() {
        assert_eq!(
            FieldType::Int.convert("2326"),
            Some(Value::Raw("2326".into()))
        );
        assert_eq!(FieldType::Int.convert("-"), None);
        assert_eq!(
            FieldType::Float.convert("0.25"),
            Some(Value::Raw("0.25".into()))
        );
        assert_eq!(FieldType::Float.convert("NaN"), None);
        assert_eq!(
            FieldType::Bool.convert("Yes"),
            Some(Value::Raw("true".into()))
        );
    }
}
