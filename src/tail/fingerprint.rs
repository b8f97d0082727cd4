//! Content identity of a file, on top of `(dev, inode)`:
//! - the **head**: a hash of the first bytes (up to [`HEAD_BYTES`]). It tells a reused inode or a
//!   file rewritten from scratch from the file we knew, and recognises a copy of a file
//!   (copytruncate, a compressed rotation) by its content;
//! - the **mark**: a hash of the bytes just before an offset (up to [`MARK_BYTES`]). When resuming
//!   at a checkpoint it proves the bytes before the offset are still the ones we shipped, so
//!   "truncated, then refilled past the old offset" is detected instead of silently skipped.
//!
//! A file shorter than `HEAD_BYTES` has a shorter head (its whole content); the length is part
//! of the fingerprint, so short files are never ignored and never confused with longer ones.

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use std::io;

/// Bytes hashed for the head fingerprint.
pub const HEAD_BYTES: u64 = 1024;
/// Bytes hashed before a checkpointed offset.
pub const MARK_BYTES: u64 = 256;

/// A hash of `len` bytes. Stored as `"<len>:<16 hex digits>"` (MD5, first 8 bytes), which is
/// stable across versions and readable in `checkpoints.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    pub len: u32,
    pub hash: u64,
}

impl Fingerprint {
    pub fn of(bytes: &[u8]) -> Fingerprint {
        let digest = Md5::digest(bytes);
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Fingerprint {
            len: bytes.len() as u32,
            hash: u64::from_be_bytes(first),
        }
    }

    /// The head of a file whose first bytes are `prefix` (it may be longer than needed).
    pub fn head(prefix: &[u8]) -> Fingerprint {
        Fingerprint::of(&prefix[..prefix.len().min(HEAD_BYTES as usize)])
    }

    /// Whether this head can still grow (the file was shorter than `HEAD_BYTES` when taken).
    pub fn is_partial_head(&self) -> bool {
        u64::from(self.len) < HEAD_BYTES
    }
}

/// The bytes just before `at`, as found when the data up to `at` was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub at: u64,
    pub before: Fingerprint,
    /// `at` was the end of the file when it was read.
    #[serde(default)]
    pub eof: bool,
}

impl Mark {
    /// The mark for offset `at`, given the bytes that end there (only the tail is used).
    pub fn ending(at: u64, bytes: &[u8]) -> Mark {
        let keep = bytes.len().min(MARK_BYTES as usize);
        Mark {
            at,
            before: Fingerprint::of(&bytes[bytes.len() - keep..]),
            eof: false,
        }
    }

    /// Where the hashed bytes start.
    pub fn start(&self) -> u64 {
        self.at - u64::from(self.before.len)
    }
}

/// Random access to a file's bytes (a plain file, or a decompressed stream read from its start).
pub trait ReadAt {
    /// Fills `buf` from `offset`; returns fewer bytes only at the end of the data.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

impl ReadAt for std::fs::File {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let mut filled = 0;
        while filled < buf.len() {
            match FileExt::read_at(self, &mut buf[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

/// The head of `file` as it is now (empty file: `None`).
pub fn head_of(file: &mut dyn ReadAt) -> io::Result<Option<Fingerprint>> {
    let mut buf = vec![0; HEAD_BYTES as usize];
    let n = file.read_at(0, &mut buf)?;
    Ok((n > 0).then(|| Fingerprint::of(&buf[..n])))
}

/// Whether the first `head.len` bytes of `file` are still the ones `head` was taken from.
pub fn head_matches(file: &mut dyn ReadAt, head: &Fingerprint) -> io::Result<bool> {
    range_matches(file, 0, head)
}

/// Whether the bytes before `mark.at` are still the ones the mark was taken from.
pub fn mark_matches(file: &mut dyn ReadAt, mark: &Mark) -> io::Result<bool> {
    range_matches(file, mark.start(), &mark.before)
}

fn range_matches(file: &mut dyn ReadAt, start: u64, expected: &Fingerprint) -> io::Result<bool> {
    let mut buf = vec![0; expected.len as usize];
    let n = file.read_at(start, &mut buf)?;
    Ok(n == buf.len() && Fingerprint::of(&buf) == *expected)
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}:{:016x}", self.len, self.hash))
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fingerprint, D::Error> {
        let text = String::deserialize(d)?;
        let parsed = text.split_once(':').and_then(|(len, hash)| {
            Some(Fingerprint {
                len: len.parse().ok()?,
                hash: u64::from_str_radix(hash, 16).ok()?,
            })
        });
        parsed.ok_or_else(|| serde::de::Error::custom(format!("bad fingerprint {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn short_files_have_short_heads_and_still_match() {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(b"hello\n").unwrap();
        let file = tmp.as_file_mut();
        let head = head_of(file).unwrap().unwrap();
        assert_eq!(head.len, 6);
        assert!(head.is_partial_head());
        tmp.write_all(b"more\n").unwrap();
        assert!(
            head_matches(tmp.as_file_mut(), &head).unwrap(),
            "growth keeps the head"
        );
    }

    #[test]
    fn rewritten_file_fails_the_head_and_the_mark() {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(b"first line\nsecond line\n").unwrap();
        let head = head_of(tmp.as_file_mut()).unwrap().unwrap();
        let mark = Mark::ending(23, b"first line\nsecond line\n");
        assert!(mark_matches(tmp.as_file_mut(), &mark).unwrap());
        tmp.as_file().set_len(0).unwrap();
        tmp.write_all(b"other content, longer than before\n")
            .unwrap();
        assert!(!head_matches(tmp.as_file_mut(), &head).unwrap());
        assert!(!mark_matches(tmp.as_file_mut(), &mark).unwrap());
    }

    #[test]
    fn fingerprint_round_trips_through_json() {
        let f = Fingerprint::of(b"abc");
        let json = serde_json::to_string(&f).unwrap();
        assert!(json.starts_with("\"3:"), "{json}");
        assert_eq!(serde_json::from_str::<Fingerprint>(&json).unwrap(), f);
    }

    #[test]
    fn mark_keeps_only_the_last_bytes() {
        let bytes = vec![b'x'; 1000];
        let mark = Mark::ending(5000, &bytes);
        assert_eq!(u64::from(mark.before.len), MARK_BYTES);
        assert_eq!(mark.start(), 5000 - MARK_BYTES);
    }
}
