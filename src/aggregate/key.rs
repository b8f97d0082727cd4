//! A record's partition key, without a heap allocation per record: a random key is 16 hex
//! digits held inline, a file or host key one string shared by every record that has it.

use std::sync::Arc;

#[derive(Clone, Default, PartialEq, Eq)]
pub enum PartitionKey {
    /// Firehose records have no key.
    #[default]
    None,
    Random(RandomKey),
    Shared(Arc<str>),
}

/// 16 lowercase hex digits; built only by [`PartitionKey::random`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RandomKey([u8; 16]);

impl PartitionKey {
    /// A fresh random key: spreads records over the shards like the KPL's random keys.
    pub fn random() -> PartitionKey {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut value = fastrand::u64(..);
        let mut digits = [0u8; 16];
        for digit in digits.iter_mut().rev() {
            *digit = HEX[(value & 0xf) as usize];
            value >>= 4;
        }
        PartitionKey::Random(RandomKey(digits))
    }

    pub fn as_str(&self) -> &str {
        match self {
            PartitionKey::None => "",
            // SAFETY: `random()` is the only constructor of a `RandomKey` and writes ASCII hex
            // digits; this is on the per-record path, where validating them showed in profiles.
            PartitionKey::Random(RandomKey(digits)) => unsafe {
                std::str::from_utf8_unchecked(digits)
            },
            PartitionKey::Shared(key) => key,
        }
    }
}

impl std::ops::Deref for PartitionKey {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for PartitionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<String> for PartitionKey {
    fn from(key: String) -> PartitionKey {
        match key.is_empty() {
            true => PartitionKey::None,
            false => PartitionKey::Shared(Arc::from(key)),
        }
    }
}

impl From<&str> for PartitionKey {
    fn from(key: &str) -> PartitionKey {
        PartitionKey::from(key.to_owned())
    }
}

impl From<Arc<str>> for PartitionKey {
    fn from(key: Arc<str>) -> PartitionKey {
        PartitionKey::Shared(key)
    }
}

impl PartialEq<str> for PartitionKey {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for PartitionKey {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_as_strings() {
        let random = PartitionKey::random();
        assert_eq!(random.len(), 16);
        assert!(random.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(random, PartitionKey::random());
        assert_eq!(PartitionKey::from("/var/log/a.log"), "/var/log/a.log");
        assert_eq!(PartitionKey::from(String::new()), PartitionKey::None);
        assert_eq!(format!("{:?}", PartitionKey::from("k")), "\"k\"");
    }
}
