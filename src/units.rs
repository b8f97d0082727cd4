//! Serde helpers for the human-friendly units used in the config file: humantime durations
//! (`"500ms"`, `"1m 30s"`) and byte sizes in binary units (`"5MiB"`, or a plain integer of bytes).
//! Both say what was expected when a value has the wrong type (`batch_max_age = 5`).

use serde::de::{self, Deserializer, Visitor};
use std::fmt;
use std::time::Duration;

/// Binary units only: `"5MB"` would be read as 5,000,000 by some tools and 5 MiB by others, so
/// it is refused with the spelling to use.
const UNITS: [(&str, u64); 5] = [
    ("b", 1),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
];

/// Parses a byte size: an integer number of bytes or a string such as `"5MiB"` / `"512 KiB"`
/// (`"1.5MiB"` is allowed; the result is rounded down to whole bytes).
/// A size as the config would write it: `"1MiB"` when whole, else bytes (`"1500B"`).
pub fn show_size(bytes: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("\"{}{unit}\"", bytes / size);
        }
    }
    format!("\"{bytes}B\"")
}

pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = (&trimmed[..split], trimmed[split..].trim());
    let bad = || {
        let suggestion = match unit.to_ascii_lowercase().as_str() {
            "k" | "kb" => format!(" (did you mean \"{number}KiB\"?)"),
            "m" | "mb" => format!(" (did you mean \"{number}MiB\"?)"),
            "g" | "gb" => format!(" (did you mean \"{number}GiB\"?)"),
            _ => String::new(),
        };
        format!(
            "invalid size {text:?}{suggestion}: use binary units B, KiB, MiB, GiB (\"512KiB\", \"5MiB\") or a number of bytes"
        )
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    let unit = unit.to_ascii_lowercase();
    let scale = match unit.as_str() {
        "" => 1,
        _ => {
            UNITS
                .iter()
                .find(|(name, _)| *name == unit)
                .ok_or_else(bad)?
                .1
        }
    };
    let bytes = value * scale as f64;
    if !bytes.is_finite() || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// `#[serde(deserialize_with = "duration")]`
pub fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration such as \"500ms\", \"5s\" or \"2m\" (a quoted string with a unit)")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        humantime::parse_duration(text).map_err(|err| {
            E::custom(format!(
                "invalid duration {text:?}: {err} (use e.g. \"500ms\", \"1s\", \"2m\")"
            ))
        })
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Duration, E> {
        Err(E::custom(format!(
            "{n} has no unit: write a duration as a quoted string, e.g. \"{n}s\" or \"{n}ms\""
        )))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Duration, E> {
        self.visit_i64(n as i64)
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Duration, E> {
        Err(E::custom(format!(
            "{n} has no unit: write a duration as a quoted string, e.g. \"{}ms\"",
            (n * 1000.0).round()
        )))
    }
}

/// `#[serde(default, deserialize_with = "optional_duration")]`
pub fn optional_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

/// `#[serde(deserialize_with = "byte_size")]`: accepts an integer or a string with a unit.
pub fn byte_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(SizeVisitor)
}

/// `#[serde(default, deserialize_with = "optional_byte_size")]`
pub fn optional_byte_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    byte_size(d).map(Some)
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a size such as \"512KiB\" or \"5MiB\", or a number of bytes")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<u64, E> {
        parse_byte_size(text).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<u64, E> {
        u64::try_from(n)
            .map_err(|_| E::custom(format!("{n} is not a size: sizes are not negative")))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<u64, E> {
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_shown_as_the_config_writes_them() {
        for (bytes, shown) in [
            (1 << 20, "\"1MiB\""),
            (5 << 20, "\"5MiB\""),
            (16384, "\"16KiB\""),
            (1500, "\"1500B\""),
            (1 << 30, "\"1GiB\""),
        ] {
            assert_eq!(show_size(bytes), shown);
        }
    }

    #[test]
    fn sizes_use_binary_units() {
        for (text, bytes) in [
            ("5MiB", 5 << 20),
            ("512 KiB", 512 << 10),
            ("1000", 1000),
            ("1.5KiB", 1536),
            ("10b", 10),
            ("2gib", 2 << 30),
        ] {
            assert_eq!(parse_byte_size(text), Ok(bytes), "{text}");
        }
        for text in ["lots", "5MB", "5 kb", "1e3", "MiB", "5PiB"] {
            assert!(parse_byte_size(text).is_err(), "{text}");
        }
        assert!(
            parse_byte_size("5MB")
                .unwrap_err()
                .contains("did you mean \"5MiB\"")
        );
    }

    #[derive(serde::Deserialize, Debug)]
    struct Keys {
        #[serde(deserialize_with = "duration")]
        age: Duration,
    }

    #[test]
    fn a_duration_without_unit_says_how_to_write_one() {
        let error = toml::from_str::<Keys>("age = 5").unwrap_err().to_string();
        assert!(
            error.contains("write a duration as a quoted string, e.g. \"5s\""),
            "{error}"
        );
        let keys: Keys = toml::from_str("age = \"1m 30s\"").unwrap();
        assert_eq!(keys.age, Duration::from_secs(90));
    }
}
