//! The KPL aggregated-record envelope (as the KPL and `aws-kinesis-agg` write it): magic `F3 89 9A C2`, a proto2
//! `AggregatedRecord`, then the MD5 of the protobuf bytes. Hand-written: three tiny messages do
//! not justify protoc at build time.
//!
//! Encoding rules that consumers insist on: `partition_key_index` and `data` are proto2
//! *required*, so they are written even when 0 / empty (`08 00`, `1A 00`); key tables come
//! first, then records; tags are never written. Sizes are tracked exactly and incrementally,
//! counting the whole Kinesis record (envelope plus outer partition key), so an aggregate never
//! exceeds its target.

use md5::{Digest, Md5};
use std::collections::HashMap;

pub const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
const DIGEST_BYTES: usize = 16;
/// Magic plus MD5 trailer.
pub const FIXED_OVERHEAD: usize = MAGIC.len() + DIGEST_BYTES;

const TAG_PK_TABLE: u8 = 0x0A;
const TAG_RECORD: u8 = 0x1A;
const TAG_PK_INDEX: u8 = 0x08;
const TAG_EHK_INDEX: u8 = 0x10;
const TAG_DATA: u8 = 0x1A;

/// Bytes of `n` as a protobuf varint.
pub fn varint_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7F) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Size of a length-delimited field: tag + length varint + payload.
fn field_len(payload: usize) -> usize {
    1 + varint_len(payload as u64) + payload
}

/// Size of one `Record` message body with a partition key index and data.
fn record_body_len(pk_index: u64, data_len: usize) -> usize {
    1 + varint_len(pk_index) + field_len(data_len)
}

/// One aggregated Kinesis record being filled.
#[derive(Debug)]
pub struct KplAggregate {
    outer_key: String,
    keys: HashMap<String, u64>,
    /// The outer key's index once it is in the table: most aggregates hold only that key, and
    /// comparing it is cheaper than hashing every record's key.
    outer_index: Option<u64>,
    key_table: Vec<u8>,
    records: Vec<u8>,
    count: usize,
    /// Where the first record's data sits in `records`, to send a lone record un-aggregated.
    first_data: std::ops::Range<usize>,
}

impl KplAggregate {
    /// An empty aggregate sent with partition key `outer_key`.
    pub fn new(outer_key: String) -> KplAggregate {
        KplAggregate {
            outer_key,
            keys: HashMap::new(),
            outer_index: None,
            key_table: Vec::new(),
            records: Vec::new(),
            count: 0,
            first_data: 0..0,
        }
    }

    /// Makes room for `bytes` of records at once: an aggregate filled to its target never
    /// regrows (each regrowth copied it and left a hole in the heap).
    pub fn reserve(&mut self, bytes: usize) {
        self.records.reserve(bytes);
    }

    pub fn outer_key(&self) -> &str {
        &self.outer_key
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the finished Kinesis record counts against the service limits: envelope plus the
    /// outer partition key.
    pub fn size(&self) -> usize {
        FIXED_OVERHEAD + self.key_table.len() + self.records.len() + self.outer_key.len()
    }

    /// What [`size`](Self::size) would be after adding a record.
    pub fn size_with(&self, key: &str, data_len: usize) -> usize {
        let (index, table_growth) = match self.known_index(key) {
            Some(index) => (index, 0),
            None => (self.keys.len() as u64, field_len(key.len())),
        };
        self.size() + table_growth + field_len(record_body_len(index, data_len))
    }

    fn known_index(&self, key: &str) -> Option<u64> {
        if key == self.outer_key {
            return self.outer_index;
        }
        self.keys.get(key).copied()
    }

    /// Adds a user record keyed like the aggregate itself.
    pub fn push_outer(&mut self, data: &[u8]) {
        let index = match self.outer_index {
            Some(index) => index,
            None => {
                let key = std::mem::take(&mut self.outer_key);
                let index = self.add_key(&key);
                self.outer_key = key;
                self.outer_index = Some(index);
                index
            }
        };
        self.push_record(index, data);
    }

    /// Adds a user record with its own partition key (used for its hash key by consumers).
    pub fn push(&mut self, key: &str, data: &[u8]) {
        let index = match self.known_index(key) {
            Some(index) => index,
            None => {
                let index = self.add_key(key);
                if key == self.outer_key {
                    self.outer_index = Some(index);
                }
                index
            }
        };
        self.push_record(index, data);
    }

    fn add_key(&mut self, key: &str) -> u64 {
        let index = self.keys.len() as u64;
        self.keys.insert(key.to_owned(), index);
        self.key_table.push(TAG_PK_TABLE);
        put_varint(&mut self.key_table, key.len() as u64);
        self.key_table.extend_from_slice(key.as_bytes());
        index
    }

    fn push_record(&mut self, index: u64, data: &[u8]) {
        self.records.push(TAG_RECORD);
        put_varint(&mut self.records, record_body_len(index, data.len()) as u64);
        self.records.push(TAG_PK_INDEX);
        put_varint(&mut self.records, index);
        self.records.push(TAG_DATA);
        put_varint(&mut self.records, data.len() as u64);
        if self.count == 0 {
            self.first_data = self.records.len()..self.records.len() + data.len();
        }
        self.records.extend_from_slice(data);
        self.count += 1;
    }

    /// The data of the only record, if there is exactly one: like the KPL, a lone user record
    /// is sent un-aggregated (smaller, and readable by any consumer).
    pub fn single_record(&self) -> Option<&[u8]> {
        (self.count == 1).then(|| &self.records[self.first_data.clone()])
    }

    /// The envelope bytes: magic, protobuf, MD5 of the protobuf.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size() - self.outer_key.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.key_table);
        out.extend_from_slice(&self.records);
        let digest = Md5::new()
            .chain_update(&self.key_table)
            .chain_update(&self.records)
            .finalize();
        out.extend_from_slice(&digest);
        out
    }
}

/// One user record found inside an aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
}

/// Splits a Kinesis record into its user records, as KCL does: `None` when the data is not a
/// valid aggregate (no magic, too short, MD5 mismatch, protobuf error), in which case the
/// record is a plain one and is used as is.
pub fn decode(data: &[u8]) -> Option<Vec<UserRecord>> {
    if data.len() <= FIXED_OVERHEAD || data[..4] != MAGIC {
        return None;
    }
    let (proto, digest) = data[4..].split_at(data.len() - FIXED_OVERHEAD);
    if Md5::digest(proto).as_slice() != digest {
        return None;
    }
    let mut reader = Reader { bytes: proto };
    let (mut keys, mut hash_keys, mut raw_records) = (Vec::new(), Vec::new(), Vec::new());
    while !reader.is_empty() {
        match reader.tag()? {
            TAG_PK_TABLE => keys.push(String::from_utf8(reader.bytes()?.to_vec()).ok()?),
            0x12 => hash_keys.push(String::from_utf8(reader.bytes()?.to_vec()).ok()?),
            TAG_RECORD => raw_records.push(reader.bytes()?),
            other => reader.skip(other)?,
        }
    }
    raw_records
        .into_iter()
        .map(|raw| decode_record(raw, &keys, &hash_keys))
        .collect()
}

fn decode_record(raw: &[u8], keys: &[String], hash_keys: &[String]) -> Option<UserRecord> {
    let mut reader = Reader { bytes: raw };
    let (mut pk_index, mut ehk_index, mut data) = (None, None, None);
    while !reader.is_empty() {
        match reader.tag()? {
            TAG_PK_INDEX => pk_index = Some(reader.varint()?),
            TAG_EHK_INDEX => ehk_index = Some(reader.varint()?),
            TAG_DATA => data = Some(reader.bytes()?.to_vec()),
            other => reader.skip(other)?,
        }
    }
    let explicit_hash_key = match ehk_index {
        Some(i) => Some(hash_keys.get(usize::try_from(i).ok()?)?.clone()),
        None => None,
    };
    Some(UserRecord {
        partition_key: keys.get(usize::try_from(pk_index?).ok()?)?.clone(),
        explicit_hash_key,
        data: data?,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for (i, &byte) in self.bytes.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7F) << (7 * i);
            if byte < 0x80 {
                self.bytes = &self.bytes[i + 1..];
                return Some(value);
            }
        }
        None
    }

    fn tag(&mut self) -> Option<u8> {
        u8::try_from(self.varint()?).ok()
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        let (head, rest) = (self.bytes.get(..len)?, self.bytes.get(len..)?);
        self.bytes = rest;
        Some(head)
    }

    /// Skips an unknown field by wire type.
    fn skip(&mut self, tag: u8) -> Option<()> {
        match tag & 0x07 {
            0 => self.varint().map(drop),
            2 => self.bytes().map(drop),
            1 => self.advance(8),
            5 => self.advance(4),
            _ => None,
        }
    }

    fn advance(&mut self, n: usize) -> Option<()> {
        self.bytes = self.bytes.get(n..)?;
        Some(())
    }
}

/// The 128-bit hash key Kinesis routes a partition key by: MD5 of its UTF-8 bytes, big-endian.
pub fn hash_key(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

#[cfg(test)]
mod tests;
