//! `regex`: a user pattern that must match the whole record (the Java agent's `matchPattern`
//! uses `Matcher.matches()`). Named captures `(?P<name>...)` become fields; with `field_names`
//! set, the numbered groups are named in order instead (the agent's `customFieldNames`). A group
//! that did not take part in the match is `null`.

use super::{Fields, ParseError, Parsed, Value};
use regex::bytes::Regex;
use std::borrow::Cow;

#[derive(Debug, Clone)]
pub struct RegexFormat {
    /// The user's pattern wrapped in `^(?:...)$`.
    pub regex: Regex,
    /// Output name of each capture group (index 0, the whole match, is unused).
    pub names: Vec<Option<String>>,
}

impl RegexFormat {
    /// Fails with a message for the user when the pattern does not compile or names nothing.
    pub fn new(pattern: &str, field_names: &[String]) -> Result<RegexFormat, String> {
        let regex = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| e.to_string())?;
        let groups = regex.captures_len() - 1;
        let names: Vec<Option<String>> = if field_names.is_empty() {
            regex
                .capture_names()
                .map(|n| n.map(str::to_owned))
                .collect()
        } else if field_names.len() == groups {
            std::iter::once(None)
                .chain(field_names.iter().cloned().map(Some))
                .collect()
        } else {
            return Err(format!(
                "the pattern has {groups} capture groups but field_names lists {} names",
                field_names.len()
            ));
        };
        if names.iter().all(Option::is_none) {
            return Err(
                "the pattern has no named capture group (?P<name>...) and field_names is empty"
                    .into(),
            );
        }
        Ok(RegexFormat { regex, names })
    }

    pub fn parse<'a>(&'a self, record: &'a [u8]) -> Result<Parsed<'a>, ParseError> {
        let caps = self
            .regex
            .captures(record)
            .ok_or_else(|| ParseError::new("the regex does not match the whole line"))?;
        let mut fields: Fields<'a> = Vec::with_capacity(self.names.len());
        for (i, name) in self.names.iter().enumerate() {
            if let Some(name) = name {
                let value = caps
                    .get(i)
                    .map_or(Value::Null, |m| Value::bytes(m.as_bytes()));
                fields.push((Cow::Borrowed(name.as_str()), value));
            }
        }
        Ok(Parsed::Fields(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_groups_become_fields_and_the_match_is_whole_line() {
        let f = RegexFormat::new(r"(?P<level>\w+) (?P<msg>.*)", &[]).unwrap();
        let Parsed::Fields(fields) = f.parse(b"INFO started").unwrap() else {
            panic!()
        };
        assert_eq!(
            fields[0],
            (Cow::Borrowed("level"), Value::Str("INFO".into()))
        );
        let g = RegexFormat::new(r"(?P<n>\d+)", &[]).unwrap();
        assert!(g.parse(b"12 trailing").is_err());
    }

    #[test]
    fn field_names_must_match_the_group_count() {
        assert!(RegexFormat::new(r"(\d+) (\w+)", &["a".into()]).is_err());
        assert!(RegexFormat::new(r"(\d+) (\w+)", &["a".into(), "b".into()]).is_ok());
        assert!(RegexFormat::new(r"\d+", &[]).is_err());
    }
}
