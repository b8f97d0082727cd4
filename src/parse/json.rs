//! `json`: one JSON object per record. Validated; kept byte for byte unless `json_compact` is set
//! or fields are added (metadata), in which case it is re-serialised compactly. Anything but an
//! object (or invalid JSON, or invalid UTF-8) is a parse failure.

use super::{ParseError, Parsed};

#[derive(Debug, Clone)]
pub struct Json {
    pub compact: bool,
}

impl Json {
    /// `needs_object`: fields will be added, so the object must be materialised.
    pub fn parse<'a>(
        &self,
        record: &'a [u8],
        needs_object: bool,
    ) -> Result<Parsed<'a>, ParseError> {
        if let Err(e) = std::str::from_utf8(record) {
            return Err(ParseError::new(format!(
                "invalid UTF-8 at byte {}",
                e.valid_up_to()
            )));
        }
        let first = record.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(ParseError::new(
                "not a JSON object (does not start with '{')",
            ));
        }
        if self.compact || needs_object {
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(record)
                .map_err(|e| ParseError::new(format!("invalid JSON: {e}")))?;
            return Ok(Parsed::Object(map));
        }
        serde_json::from_slice::<serde::de::IgnoredAny>(record)
            .map_err(|e| ParseError::new(format!("invalid JSON: {e}")))?;
        Ok(Parsed::JsonText(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_arrays_trailing_garbage_and_bad_utf8() {
        let p = Json { compact: false };
        assert!(p.parse(b"[1]", false).is_err());
        assert!(p.parse(b"{\"a\":1} x", false).is_err());
        assert!(p.parse(b"{\"a\":\"\xff\"}", false).is_err());
        assert_eq!(
            p.parse(b"{\"a\": 1}", false).unwrap(),
            Parsed::JsonText(b"{\"a\": 1}")
        );
    }
}
