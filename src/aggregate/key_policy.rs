//! How records get their partition key: the flow's `partition_key` made ready for the batcher
//! (the host name filled in, templates split into what is fixed per file and what is read from
//! each record).

use super::field;
use crate::config::{self, Flow, KeyPart};
use crate::kinesis::limits::KINESIS_MAX_PARTITION_KEY_BYTES;
use crate::tail::FileRef;
use md5::{Digest, Md5};
use std::sync::Arc;

/// How records get their partition key (Firehose: none).
#[derive(Debug, Clone)]
pub enum KeyPolicy {
    None,
    Random,
    File,
    Fixed(Arc<str>),
    /// The MD5 (hex) of the record's data.
    Deterministic,
    /// A template without fields: one key per file.
    PerFile(Arc<[KeyPart]>),
    /// A template with fields: one key per record, read from it.
    PerRecord(Arc<[KeyPart]>),
}

impl KeyPolicy {
    pub fn for_flow(flow: &Flow, host: &str) -> KeyPolicy {
        if flow.destination.is_firehose() {
            return KeyPolicy::None;
        }
        match &flow.partition_key {
            config::PartitionKey::Random => KeyPolicy::Random,
            config::PartitionKey::File => KeyPolicy::File,
            config::PartitionKey::Host => KeyPolicy::Fixed(Arc::from(clip_key(host))),
            config::PartitionKey::Deterministic => KeyPolicy::Deterministic,
            config::PartitionKey::Template(parts) => {
                let parts: Arc<[KeyPart]> = parts
                    .iter()
                    .map(|part| match part {
                        KeyPart::Host => KeyPart::Text(host.to_owned()),
                        other => other.clone(),
                    })
                    .collect();
                match flow.partition_key.reads_fields() {
                    true => KeyPolicy::PerRecord(parts),
                    false => KeyPolicy::PerFile(parts),
                }
            }
        }
    }

    /// Whether the lines of one file can have different keys.
    pub fn varies_per_record(&self) -> bool {
        matches!(self, KeyPolicy::Deterministic | KeyPolicy::PerRecord(_))
    }

    /// Whether the key of a file's records is the same for all of them (and worth caching).
    pub fn is_per_file(&self) -> bool {
        matches!(self, KeyPolicy::File | KeyPolicy::PerFile(_))
    }

    /// The key an aggregate must have for a line of `file`; `None` when any key will do
    /// (random keys: a fresh one per aggregate spreads the load over the shards).
    pub fn aggregate_key(&self, file: &FileRef) -> Option<String> {
        match self {
            KeyPolicy::File | KeyPolicy::Fixed(_) | KeyPolicy::PerFile(_) => {
                Some(self.key_for(file))
            }
            _ => None,
        }
    }

    /// The key of a record of `file` that is not read from the record (random for the kinds
    /// that are).
    pub fn key_for(&self, file: &FileRef) -> String {
        match self {
            KeyPolicy::None => String::new(),
            KeyPolicy::File => clip_key(&file.path.to_string_lossy()).to_owned(),
            KeyPolicy::Fixed(key) => key.to_string(),
            KeyPolicy::PerFile(parts) => {
                render(parts, file, b"").unwrap_or_else(|| clip_key("").to_owned())
            }
            KeyPolicy::Random | KeyPolicy::Deterministic | KeyPolicy::PerRecord(_) => {
                format!("{:016x}", fastrand::u64(..))
            }
        }
    }

    /// Bytes the key of a record of `file` takes at most.
    pub fn key_bytes(&self, file: &FileRef) -> usize {
        match self {
            KeyPolicy::None => 0,
            KeyPolicy::Random => 16,
            KeyPolicy::Deterministic => 32,
            KeyPolicy::PerRecord(_) => KINESIS_MAX_PARTITION_KEY_BYTES,
            _ => self.key_for(file).len(),
        }
    }

    /// The key of the record `data` of `file`; `None` if a field the key is made of is missing
    /// from it (the caller falls back to a random key and counts it).
    pub fn record_key(&self, file: &FileRef, data: &[u8]) -> Option<String> {
        match self {
            KeyPolicy::Deterministic => Some(md5_hex(data)),
            KeyPolicy::PerRecord(parts) => render(parts, file, data),
            _ => Some(self.key_for(file)),
        }
    }
}

fn render(parts: &[KeyPart], file: &FileRef, data: &[u8]) -> Option<String> {
    let mut key = String::new();
    for part in parts {
        match part {
            KeyPart::Text(text) => key.push_str(text),
            KeyPart::File => key.push_str(&file.path.to_string_lossy()),
            KeyPart::Field(path) => key.push_str(&field::text_of(data, path)?),
            KeyPart::Host => unreachable!("filled in by KeyPolicy::for_flow"),
        }
    }
    match key.is_empty() {
        true => None,
        false => Some(clip_key(&key).to_owned()),
    }
}

fn md5_hex(data: &[u8]) -> String {
    use std::fmt::Write;
    let digest = Md5::digest(data);
    let mut hex = String::with_capacity(32);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Kinesis partition keys are 1-256 characters: keep the last 256 bytes (the informative end of
/// a path), cut at a character boundary.
pub fn clip_key(key: &str) -> &str {
    if key.is_empty() {
        return "-";
    }
    let mut start = key.len().saturating_sub(KINESIS_MAX_PARTITION_KEY_BYTES);
    while !key.is_char_boundary(start) {
        start += 1;
    }
    &key[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tail::FileKey;

    fn file() -> FileRef {
        FileRef {
            key: FileKey { dev: 1, inode: 2 },
            path: "/var/log/app.log".into(),
            head: None,
        }
    }

    fn template(text: &str) -> Arc<[KeyPart]> {
        match config::PartitionKey::parse(text).unwrap() {
            config::PartitionKey::Template(parts) => parts.into(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deterministic_keys_are_the_md5_of_the_data() {
        let key = KeyPolicy::Deterministic
            .record_key(&file(), b"hello")
            .unwrap();
        assert_eq!(key, "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn templates_render_files_and_fields_and_miss_absent_fields() {
        let per_file = KeyPolicy::PerFile(template("web-{file}"));
        assert_eq!(per_file.key_for(&file()), "web-/var/log/app.log");
        let per_record = KeyPolicy::PerRecord(template("{field.user.id}@{file}"));
        let line = br#"{"user":{"id":42},"msg":"x"}"#;
        assert_eq!(
            per_record.record_key(&file(), line).as_deref(),
            Some("42@/var/log/app.log")
        );
        assert_eq!(per_record.record_key(&file(), br#"{"msg":"x"}"#), None);
        assert_eq!(per_record.record_key(&file(), b"not json"), None);
        let only_field = KeyPolicy::PerRecord(template("{field.u}"));
        assert_eq!(only_field.record_key(&file(), br#"{"u":""}"#), None);
    }
}
