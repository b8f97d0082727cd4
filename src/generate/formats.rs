//! One realistic log line per call, in each format edgeship parses, from a seeded generator.
//! Pure: the time of the line is given, so the same seed and times give the same bytes.
//! The `free` text (a `--numbered` line's number, `--line-bytes` filler) goes into a free-text
//! part of the line (the request's query, the message), where every parser accepts it.

use super::template::Template;
use fastrand::Rng;

/// `--format`.
#[derive(Debug, Clone)]
pub enum Format {
    ApacheCombined,
    ApacheCommon,
    Syslog,
    SyslogRfc5424,
    Json,
    Csv,
    Template(Template),
}

pub const FORMAT_NAMES: &str =
    "apache_combined, apache_common, syslog, syslog_rfc5424, json, csv, template";

impl Format {
    /// The format named `name`; `template` needs the template text.
    pub fn named(name: &str, template: Option<&str>) -> Result<Format, String> {
        Ok(match name {
            "apache_combined" => Format::ApacheCombined,
            "apache_common" => Format::ApacheCommon,
            "syslog" => Format::Syslog,
            "syslog_rfc5424" => Format::SyslogRfc5424,
            "json" => Format::Json,
            "csv" => Format::Csv,
            "template" => {
                let text = template.ok_or("--format template needs --template TEXT")?;
                Format::Template(Template::parse(text)?)
            }
            other => {
                return Err(format!(
                    "unknown format {other:?}: use one of {FORMAT_NAMES}"
                ));
            }
        })
    }

    /// `csv` writes a header line first, so the file says what its columns are.
    pub fn header(&self) -> Option<&'static str> {
        match self {
            Format::Csv => Some("timestamp,level,host,status,latency_ms,message"),
            _ => None,
        }
    }

    /// One line without its newline, for a time in Unix milliseconds; `free` must hold no
    /// spaces, quotes or separators (letters, digits, `.`).
    pub fn line(&self, rng: &mut Rng, time_ms: i64, free: &str) -> String {
        let pad = free;
        match self {
            Format::ApacheCommon => apache(rng, time_ms, pad, false),
            Format::ApacheCombined => apache(rng, time_ms, pad, true),
            Format::Syslog => {
                let (mon, day, clock) = syslog_time(time_ms);
                format!(
                    "{mon} {day:>2} {clock} {} {}[{}]: {}{pad}",
                    pick(rng, HOSTS),
                    pick(rng, PROGRAMS),
                    rng.u32(100..32768),
                    sentence(rng)
                )
            }
            Format::SyslogRfc5424 => format!(
                "<{}>1 {} {}.example.com {} {} ID{} - {}{pad}",
                rng.u32(0..192),
                rfc3339_ms(time_ms),
                pick(rng, HOSTS),
                pick(rng, PROGRAMS),
                rng.u32(100..32768),
                rng.u32(1..100),
                sentence(rng)
            ),
            Format::Json => format!(
                r#"{{"timestamp":"{}","level":"{}","host":"{}","user_id":"u{}","status":{},"latency_ms":{},"message":"{}{pad}"}}"#,
                rfc3339_ms(time_ms),
                pick(rng, LEVELS),
                pick(rng, HOSTS),
                rng.u32(1..5000),
                pick(rng, STATUSES),
                rng.u32(1..2000),
                sentence(rng)
            ),
            Format::Csv => format!(
                "{},{},{},{},{},{}{pad}",
                rfc3339_ms(time_ms),
                pick(rng, LEVELS),
                pick(rng, HOSTS),
                pick(rng, STATUSES),
                rng.u32(1..2000),
                sentence(rng)
            ),
            Format::Template(template) => template.render(rng, time_ms, pad),
        }
    }
}

fn apache(rng: &mut Rng, time_ms: i64, pad: &str, combined: bool) -> String {
    let user = if rng.u8(..) < 200 {
        "-"
    } else {
        pick(rng, USERS)
    };
    let path = pick(rng, PATHS);
    let query = if pad.is_empty() {
        String::new()
    } else {
        format!("?q={pad}")
    };
    let common = format!(
        "{} - {user} [{}] \"{} {path}{query} HTTP/1.1\" {} {}",
        ip(rng),
        apache_time(time_ms),
        pick(rng, METHODS),
        pick(rng, STATUSES),
        rng.u32(200..50_000)
    );
    if !combined {
        return common;
    }
    format!(
        "{common} \"https://www.example.com{}\" \"{}\"",
        pick(rng, PATHS),
        pick(rng, AGENTS)
    )
}

pub fn ip(rng: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        rng.u8(1..224),
        rng.u8(..),
        rng.u8(..),
        rng.u8(1..255)
    )
}

pub fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

/// Three to eight words, without commas or quotes (so every format carries it as is).
pub fn sentence(rng: &mut Rng) -> String {
    let n = rng.usize(3..9);
    (0..n)
        .map(|_| pick(rng, WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn rfc3339_ms(time_ms: i64) -> String {
    crate::parse::timestamp::format_utc(time_ms.div_euclid(1000), Some(time_ms.rem_euclid(1000)))
}

/// `10/Oct/2026:13:55:36 +0000`.
fn apache_time(time_ms: i64) -> String {
    let (y, m, d, clock) = civil(time_ms);
    format!("{d:02}/{}/{y}:{clock} +0000", MONTHS[m as usize - 1])
}

/// `("Oct", 7, "13:55:36")`.
fn syslog_time(time_ms: i64) -> (&'static str, u32, String) {
    let (_, m, d, clock) = civil(time_ms);
    (MONTHS[m as usize - 1], d, clock)
}

fn civil(time_ms: i64) -> (i64, u32, u32, String) {
    let secs = time_ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::parse::timestamp::civil_from_days(days);
    let clock = format!("{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60);
    (y, m, d, clock)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
pub const HOSTS: &[&str] = &["web-1", "web-2", "api-7", "gateway-3", "db-1", "edge-12"];
const PROGRAMS: &[&str] = &["sshd", "cron", "nginx", "kernel", "systemd", "app"];
pub const LEVELS: &[&str] = &["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"];
const STATUSES: &[&str] = &["200", "200", "200", "200", "304", "404", "500", "201"];
pub const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];
const USERS: &[&str] = &["alice", "bob", "carol", "dave"];
const PATHS: &[&str] = &[
    "/",
    "/index.html",
    "/api/v1/orders",
    "/api/v1/users/42",
    "/static/app.js",
    "/login",
    "/healthz",
    "/images/logo.png",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148",
    "curl/8.5.0",
    "Go-http-client/1.1",
];
pub const WORDS: &[&str] = &[
    "request",
    "completed",
    "user",
    "session",
    "started",
    "cache",
    "miss",
    "timeout",
    "retry",
    "connection",
    "accepted",
    "closed",
    "order",
    "payment",
    "queued",
    "sent",
    "disk",
    "usage",
    "normal",
    "high",
    "token",
    "refreshed",
    "job",
    "finished",
    "in",
    "the",
    "for",
    "with",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_deterministic_per_seed_and_time_and_padded_where_text_goes() {
        let format = Format::named("apache_combined", None).unwrap();
        let a = format.line(&mut Rng::with_seed(7), 1_791_000_000_000, "");
        let b = format.line(&mut Rng::with_seed(7), 1_791_000_000_000, "");
        assert_eq!(a, b);
        assert!(a.contains("[03/Oct/2026:"), "{a}");
        let padded = format.line(&mut Rng::with_seed(7), 1_791_000_000_000, "xxxxx");
        assert!(padded.contains("?q=xxxxx HTTP/1.1"), "{padded}");
        let syslog = Format::Syslog.line(&mut Rng::with_seed(1), 1_791_000_000_000, "");
        assert!(syslog.starts_with("Oct  3 "), "{syslog}");
        assert!(
            Format::named("xml", None)
                .unwrap_err()
                .contains("apache_combined")
        );
        assert!(Format::named("template", None).is_err());
    }
}
