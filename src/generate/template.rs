//! `--format template`: text with Kinesis-Data-Generator-style placeholders, such as
//! `{{random.number(1,100)}}`, `{{random.arrayElement(["a","b"])}}`, `{{date.now}}`,
//! `{{internet.ip}}`. Arguments are written as JSON values (numbers, strings, arrays, the
//! `{"min":1,"max":100}` object the generator's faker syntax also takes).

use super::formats::{HOSTS, LEVELS, METHODS, WORDS, ip, pick, rfc3339_ms, sentence};
use fastrand::Rng;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Number {
        min: i64,
        max: i64,
    },
    Element(Vec<String>),
    AlphaNumeric(usize),
    Uuid,
    Boolean,
    Now,
    EpochMillis,
    EpochSecs,
    Ip,
    UserName,
    Host,
    Level,
    Method,
    Word,
    Sentence,
    /// `{{pad}}`: where `--line-bytes` filler goes (else at the end of the line).
    Pad,
}

pub const PLACEHOLDERS: &str = "random.number(max | min,max | {\"min\":..,\"max\":..}), random.arrayElement([...]), random.alphaNumeric(n), random.uuid, random.boolean, date.now, date.now(\"epoch_ms\"), date.now(\"epoch\"), internet.ip, internet.userName, internet.domainWord (a host name), log.level, http.method, lorem.word, lorem.sentence, pad (where --line-bytes filler goes; default: the end)";

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed {{{{ at {:?}", &rest[start..]))?;
            parts.push(placeholder(after[..end].trim())?);
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// One line; `pad` goes where `{{pad}}` is, or at the end.
    pub fn render(&self, rng: &mut Rng, time_ms: i64, pad: &str) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Pad => out.push_str(pad),
                Part::Text(text) => out.push_str(text),
                Part::Number { min, max } => out.push_str(&rng.i64(*min..=*max).to_string()),
                Part::Element(items) => out.push_str(&items[rng.usize(..items.len())]),
                Part::AlphaNumeric(n) => out.extend((0..*n).map(|_| rng.alphanumeric())),
                Part::Uuid => out.push_str(&uuid(rng)),
                Part::Boolean => out.push_str(if rng.bool() { "true" } else { "false" }),
                Part::Now => out.push_str(&rfc3339_ms(time_ms)),
                Part::EpochMillis => out.push_str(&time_ms.to_string()),
                Part::EpochSecs => out.push_str(&time_ms.div_euclid(1000).to_string()),
                Part::Ip => out.push_str(&ip(rng)),
                Part::UserName => out.push_str(&format!("user{}", rng.u32(1..10_000))),
                Part::Host => out.push_str(pick(rng, HOSTS)),
                Part::Level => out.push_str(pick(rng, LEVELS)),
                Part::Method => out.push_str(pick(rng, METHODS)),
                Part::Word => out.push_str(pick(rng, WORDS)),
                Part::Sentence => out.push_str(&sentence(rng)),
            }
        }
        if !self.parts.iter().any(|p| matches!(p, Part::Pad)) {
            out.push_str(pad);
        }
        out
    }
}

/// One `{{name(args)}}`.
fn placeholder(text: &str) -> Result<Part, String> {
    let (name, args) = match text.split_once('(') {
        Some((name, rest)) => {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("{{{{{text}}}}}: missing )"))?;
            let args: Vec<Value> = serde_json::from_str(&format!("[{inner}]"))
                .map_err(|e| format!("{{{{{text}}}}}: arguments are not JSON values: {e}"))?;
            (name.trim(), args)
        }
        None => (text, Vec::new()),
    };
    let bad = |why: &str| format!("{{{{{text}}}}}: {why}");
    Ok(match (name, args.as_slice()) {
        ("random.number", args) => number(args).ok_or_else(|| {
            bad("give max, min,max or {\"min\":..,\"max\":..} as integers, min <= max")
        })?,
        ("random.arrayElement", [Value::Array(items)]) if !items.is_empty() => {
            Part::Element(items.iter().map(plain).collect())
        }
        ("random.arrayElement", _) => return Err(bad("give one non-empty array")),
        ("random.alphaNumeric", [n]) => Part::AlphaNumeric(
            n.as_u64()
                .filter(|n| *n <= 4096)
                .ok_or_else(|| bad("give a length up to 4096"))? as usize,
        ),
        ("random.uuid", []) => Part::Uuid,
        ("random.boolean", []) => Part::Boolean,
        ("date.now", []) => Part::Now,
        ("date.now", [Value::String(f)]) if f == "epoch_ms" => Part::EpochMillis,
        ("date.now", [Value::String(f)]) if f == "epoch" => Part::EpochSecs,
        ("date.now", _) => return Err(bad("give no argument, \"epoch_ms\" or \"epoch\"")),
        ("internet.ip", []) => Part::Ip,
        ("internet.userName", []) => Part::UserName,
        ("internet.domainWord", []) => Part::Host,
        ("log.level", []) => Part::Level,
        ("http.method", []) => Part::Method,
        ("lorem.word", []) => Part::Word,
        ("lorem.sentence", []) => Part::Sentence,
        ("pad", []) => Part::Pad,
        _ => return Err(bad(&format!("unknown placeholder; known: {PLACEHOLDERS}"))),
    })
}

fn number(args: &[Value]) -> Option<Part> {
    let (min, max) = match args {
        [max] if max.is_i64() => (0, max.as_i64()?),
        [min, max] => (min.as_i64()?, max.as_i64()?),
        [Value::Object(o)] => (
            o.get("min").map_or(Some(0), Value::as_i64)?,
            o.get("max").map_or(Some(99_999), Value::as_i64)?,
        ),
        [] => (0, 99_999),
        _ => return None,
    };
    (min <= max).then_some(Part::Number { min, max })
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn uuid(rng: &mut Rng) -> String {
    let hex = format!("{:032x}", rng.u128(..));
    format!(
        "{}-{}-4{}-{:x}{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        8 + rng.u8(..4),
        &hex[17..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_render_within_their_ranges() {
        let t = Template::parse(
            r#"{"n":{{random.number(5,6)}},"o":{{random.number({"min":1,"max":1})}},"c":"{{random.arrayElement(["a","b"])}}","t":"{{date.now}}","e":{{date.now("epoch")}},"id":"{{random.uuid}}","ip":"{{internet.ip}}"}"#,
        )
        .unwrap();
        let mut rng = Rng::with_seed(3);
        for _ in 0..50 {
            let line = t.render(&mut rng, 1_000_500, "");
            let v: Value = serde_json::from_str(&line).unwrap();
            assert!((5..=6).contains(&v["n"].as_i64().unwrap()));
            assert_eq!(v["o"], 1);
            assert!(["a", "b"].contains(&v["c"].as_str().unwrap()));
            assert_eq!(v["t"], "1970-01-01T00:16:40.500Z");
            assert_eq!(v["e"], 1000);
            assert_eq!(v["id"].as_str().unwrap().len(), 36);
            assert_eq!(v["ip"].as_str().unwrap().split('.').count(), 4);
        }
    }

    #[test]
    fn template_errors_name_the_placeholder() {
        let cases = [
            ("{{random.nmber}}", "unknown placeholder"),
            ("{{random.number(9,1)}}", "min <= max"),
            ("{{random.arrayElement([])}}", "non-empty array"),
            ("{{random.number(1,)}}", "not JSON"),
            ("x {{date.now", "unclosed"),
        ];
        for (text, expected) in cases {
            let error = Template::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
