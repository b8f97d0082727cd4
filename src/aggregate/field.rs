//! One field of a JSON record, read without building the record: the other fields are skipped
//! as the parser passes them.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The text of the field at `path` (names, outermost first) in the JSON object `record`:
/// strings as they are, numbers and booleans as written. `None` if the record is not a JSON
/// object, lacks the field, or the field is null, an object or an array.
pub fn text_of(record: &[u8], path: &[String]) -> Option<String> {
    let mut reader = serde_json::Deserializer::from_slice(record);
    Field { path }.deserialize(&mut reader).ok().flatten()
}

struct Field<'p> {
    path: &'p [String],
}

impl<'de> DeserializeSeed<'de> for Field<'_> {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Field<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let wanted = self.path.split_first();
        let name = NameIs(wanted.map(|(name, _)| name.as_str()));
        while let Some(matches) = map.next_key_seed(name)? {
            match wanted {
                Some((_, rest)) if matches && found.is_none() => {
                    found = map.next_value_seed(Field { path: rest })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(self.path.is_empty().then(|| value.to_owned()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(self.path.is_empty().then(|| value.to_string()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(self.path.is_empty().then(|| value.to_string()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(self.path.is_empty().then(|| value.to_string()))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(self.path.is_empty().then(|| value.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Whether a field's name is the wanted one (compared where it lies in the input, no copy).
#[derive(Clone, Copy)]
struct NameIs<'a>(Option<&'a str>);

impl<'de> DeserializeSeed<'de> for NameIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NameIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<bool, E> {
        Ok(self.0 == Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(record: &str, path: &str) -> Option<String> {
        let path: Vec<String> = path.split('.').map(str::to_owned).collect();
        text_of(record.as_bytes(), &path)
    }

    #[test]
    fn fields_are_found_at_any_depth_and_in_any_type() {
        let record = r#"{"a":[1,{"x":2}],"user":{"id":"u-1","n":7,"ok":true},"f":1.5,"s":"t\"q","nil":null}"#;
        assert_eq!(at(record, "user.id").as_deref(), Some("u-1"));
        assert_eq!(at(record, "user.n").as_deref(), Some("7"));
        assert_eq!(at(record, "user.ok").as_deref(), Some("true"));
        assert_eq!(at(record, "f").as_deref(), Some("1.5"));
        assert_eq!(at(record, "s").as_deref(), Some("t\"q"));
        for missing in ["nil", "user", "a", "user.id.deeper", "nope", "a.x"] {
            assert_eq!(at(record, missing), None, "{missing}");
        }
        assert_eq!(at("plain text", "a"), None);
        assert_eq!(at(r#"{"a":1"#, "a"), None, "a broken record has no fields");
    }
}
