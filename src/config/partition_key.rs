//! `partition_key`: a kind (`random`, `file`, `host`, `deterministic`) or a template of
//! `{host}`, `{file}` and `{field.NAME}` placeholders around literal text.

use super::validator::{KeyName, Validator};
use super::*;

/// How a Streams flow's records get their partition key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PartitionKey {
    /// A fresh random key per record (per aggregate in packed modes): spreads the load.
    #[default]
    Random,
    /// The file's path: a file's records stay on one shard, in order.
    File,
    /// The host name.
    Host,
    /// The MD5 (hex) of the record's data, as the Java agent's `DETERMINISTIC`: the same line
    /// always lands on the same shard.
    Deterministic,
    /// Literal text and placeholders, rendered per record.
    Template(Vec<KeyPart>),
}

/// One piece of a key template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    Text(String),
    Host,
    File,
    /// A field of the parsed record (a JSON object); dots descend into nested objects.
    Field(Vec<String>),
}

const HINT: &str = "use \"random\", \"file\", \"host\", \"deterministic\", or a template such as \"{host}-{file}\" or \"{field.user_id}\"";

impl PartitionKey {
    pub fn parse(text: &str) -> Result<PartitionKey, String> {
        match text {
            "random" => return Ok(PartitionKey::Random),
            "file" => return Ok(PartitionKey::File),
            "host" => return Ok(PartitionKey::Host),
            "deterministic" => return Ok(PartitionKey::Deterministic),
            _ => {}
        }
        if !text.contains('{') {
            return Err(format!("{text:?} is neither a key kind nor a template"));
        }
        parse_template(text).map(PartitionKey::Template)
    }

    /// Whether records of one file can have different keys (a hash, or a field's value).
    pub fn varies_per_record(&self) -> bool {
        *self == PartitionKey::Deterministic || self.reads_fields()
    }

    /// Whether the key is taken from fields of the parsed record.
    pub fn reads_fields(&self) -> bool {
        match self {
            PartitionKey::Template(parts) => parts.iter().any(|p| matches!(p, KeyPart::Field(_))),
            _ => false,
        }
    }
}

fn parse_template(text: &str) -> Result<Vec<KeyPart>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let Some(open) = rest.find('{') else {
            if rest.contains('}') {
                return Err(format!("{text:?}: a '}}' without its '{{'"));
            }
            parts.push(KeyPart::Text(rest.to_owned()));
            break;
        };
        if open > 0 {
            if rest[..open].contains('}') {
                return Err(format!("{text:?}: a '}}' without its '{{'"));
            }
            parts.push(KeyPart::Text(rest[..open].to_owned()));
        }
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("{text:?}: a '{{' without its '}}'"));
        };
        parts.push(placeholder(&rest[open + 1..open + close])?);
        rest = &rest[open + close + 1..];
    }
    Ok(parts)
}

fn placeholder(name: &str) -> Result<KeyPart, String> {
    match name {
        "host" => return Ok(KeyPart::Host),
        "file" => return Ok(KeyPart::File),
        _ => {}
    }
    let path: Option<Vec<String>> = name
        .strip_prefix("field.")
        .map(|p| p.split('.').map(str::to_owned).collect());
    match path {
        Some(path) if path.iter().all(|p| !p.is_empty() && !p.contains('{')) => {
            Ok(KeyPart::Field(path))
        }
        _ => Err(format!(
            "{{{name}}} is not a placeholder: use {{host}}, {{file}} or {{field.NAME}} (dots for nested fields, e.g. {{field.user.id}})"
        )),
    }
}

impl Validator<'_> {
    /// `partition_key`, which must leave a `kpl` flow something to aggregate.
    pub(super) fn partition_key(
        &self,
        raw: &RawFlow,
        aggregation: Aggregation,
        key: KeyName,
    ) -> Result<PartitionKey, ConfigError> {
        let Some(text) = &raw.partition_key else {
            return Ok(PartitionKey::default());
        };
        let parsed =
            PartitionKey::parse(text).map_err(|why| self.err(key("partition_key"), why, HINT))?;
        if parsed == PartitionKey::Deterministic
            && aggregation == Aggregation::Kpl
            && !raw.shard_aware
        {
            return Err(self.err(
                key("partition_key"),
                "\"deterministic\" gives every line its own key, and a KPL aggregate without shard_aware holds one key: nothing would be aggregated",
                "set shard_aware = true (lines are aggregated by the shard their key hashes to), or use aggregation = \"lines\"",
            ));
        }
        let format = raw.parse.as_ref().map(|p| p.format.as_str());
        let fields = raw.journal.is_some()
            || raw.host_metrics.is_some()
            || format.is_some_and(|f| f != "line" && f != "single_line");
        if parsed.reads_fields() && !fields {
            return Err(self.err(
                key("partition_key"),
                "{field.NAME} reads a field of the parsed record, and this flow sends lines as text",
                "add [flow.parse] with a format that yields fields (e.g. format = \"json\"), or key by \"file\" or \"host\"",
            ));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(path: &[&str]) -> KeyPart {
        KeyPart::Field(path.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn kinds_and_templates_parse() {
        let text = |t: &str| KeyPart::Text(t.to_owned());
        let cases: &[(&str, PartitionKey)] = &[
            ("random", PartitionKey::Random),
            ("file", PartitionKey::File),
            ("host", PartitionKey::Host),
            ("deterministic", PartitionKey::Deterministic),
            (
                "{host}-{file}",
                PartitionKey::Template(vec![KeyPart::Host, text("-"), KeyPart::File]),
            ),
            (
                "{field.user_id}",
                PartitionKey::Template(vec![field(&["user_id"])]),
            ),
            (
                "u:{field.user.id}/x",
                PartitionKey::Template(vec![text("u:"), field(&["user", "id"]), text("/x")]),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(PartitionKey::parse(input).as_ref(), Ok(expected), "{input}");
        }
    }

    #[test]
    fn mistakes_are_refused_with_what_to_write() {
        for (input, says) in [
            ("Random", "is neither a key kind nor a template"),
            ("shard", "is neither"),
            ("{hots}", "{hots} is not a placeholder"),
            ("{field.}", "is not a placeholder"),
            ("{field.a..b}", "is not a placeholder"),
            ("{host", "without its '}'"),
            ("host}-{file}", "without its '{'"),
            ("{file}}", "without its '{'"),
        ] {
            let error = PartitionKey::parse(input).unwrap_err();
            assert!(error.contains(says), "{input}: {error}");
        }
    }

    #[test]
    fn only_hashes_and_fields_vary_per_record() {
        let varies = |t: &str| PartitionKey::parse(t).unwrap().varies_per_record();
        assert!(varies("deterministic"));
        assert!(varies("{host}:{field.device}"));
        assert!(!varies("{host}-{file}"));
        assert!(!varies("file"));
        assert!(!varies("random"));
    }
}
