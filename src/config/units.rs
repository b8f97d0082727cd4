//! Serde helpers for the human-friendly units used in the config file: humantime durations
//! (`"500ms"`, `"1m 30s"`) and byte sizes in binary units (`"5MiB"`, or a plain integer of bytes).

use serde::{Deserialize, Deserializer, de::Error as _};
use std::time::Duration;

/// Parses a byte size: an integer number of bytes or a string such as `"5MiB"` / `"512 KiB"`.
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    if let Ok(bytes) = trimmed.parse::<u64>() {
        return Ok(bytes);
    }
    trimmed
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|_| format!("invalid size {text:?}: use binary units such as \"512KiB\" or \"5MiB\", or a number of bytes"))
}

/// `#[serde(deserialize_with = "duration")]`
pub fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map_err(|err| {
        D::Error::custom(format!(
            "invalid duration {text:?}: {err} (use e.g. \"500ms\", \"1s\", \"2m\")"
        ))
    })
}

/// `#[serde(deserialize_with = "byte_size")]`: accepts an integer or a string with a unit.
pub fn byte_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(deserializer)? {
        Size::Bytes(bytes) => Ok(bytes),
        Size::Text(text) => parse_byte_size(&text).map_err(D::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(parse_byte_size("5MiB"), Ok(5 * 1024 * 1024));
        assert_eq!(parse_byte_size("512 KiB"), Ok(512 * 1024));
        assert_eq!(parse_byte_size("1000"), Ok(1000));
        assert!(parse_byte_size("lots").is_err());
    }
}
