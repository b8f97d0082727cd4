//! Kinesis Data Streams' CBOR protocol (`application/x-amz-cbor-1.1`, what the Java SDK sends by
//! default): the same operations and member names as `awsJson1.1`, with record data as CBOR byte
//! strings instead of base64 text, so a body is about a quarter smaller and no base64 is spent.
//! Encoding and the reading of the one response shape edgeship needs are written here (RFC 8949,
//! definite lengths out, definite or indefinite lengths in): small, specified and on the
//! per-record path.

use super::super::{EntryStatus, SendError};
use crate::aggregate::Entry;
use std::sync::Arc;

const MAP: u8 = 5;
const ARRAY: u8 = 4;
const TEXT: u8 = 3;
const BYTES: u8 = 2;

fn head(major: u8, len: u64, out: &mut Vec<u8>) {
    let major = major << 5;
    match len {
        0..=23 => out.push(major | len as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, len as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
}

fn text(value: &str, out: &mut Vec<u8>) {
    head(TEXT, value.len() as u64, out);
    out.extend_from_slice(value.as_bytes());
}

/// Bytes a CBOR PutRecords body for `entries` takes, to reserve it once.
pub fn body_capacity<'a>(entries: impl IntoIterator<Item = &'a Entry>, name_len: usize) -> usize {
    let records: usize = entries.into_iter().map(record_capacity).sum();
    records + name_len + 32
}

/// Bytes one record takes in a CBOR body, at most.
pub fn record_capacity(entry: &Entry) -> usize {
    const PER_RECORD: usize = 1 + 5 + 9 + 5 + 16 + 3 + 13 + 3;
    entry.data.len()
        + entry.partition_key.len()
        + entry.explicit_hash_key().map_or(0, str::len)
        + PER_RECORD
}

/// `{"Records": [{"Data": h'…', "ExplicitHashKey": …, "PartitionKey": …}, …], "StreamName": …}`
pub fn put_records(stream: &str, entries: &[&Entry], out: &mut Vec<u8>) {
    put_records_open(entries.len(), out);
    for entry in entries {
        put_records_record(entry, out);
    }
    put_records_close(stream, out);
}

/// The pieces of a CBOR PutRecords body, for bodies written in frames ([`super::body`]).
pub fn put_records_open(count: usize, out: &mut Vec<u8>) {
    head(MAP, 2, out);
    text("Records", out);
    head(ARRAY, count as u64, out);
}

pub fn put_records_record(entry: &Entry, out: &mut Vec<u8>) {
    let members = 2 + u64::from(entry.explicit_hash_key().is_some());
    head(MAP, members, out);
    text("Data", out);
    head(BYTES, entry.data.len() as u64, out);
    out.extend_from_slice(&entry.data);
    if let Some(hash_key) = entry.explicit_hash_key() {
        text("ExplicitHashKey", out);
        text(hash_key, out);
    }
    text("PartitionKey", out);
    text(&entry.partition_key, out);
}

pub fn put_records_close(stream: &str, out: &mut Vec<u8>) {
    text("StreamName", out);
    text(stream, out);
}

/// A CBOR data item as read, with strings borrowed from the body.
#[derive(Debug, PartialEq)]
enum Item<'a> {
    Uint(u64),
    Other,
    Bytes(&'a [u8]),
    Text(&'a str),
    /// `None`: indefinite length, items until a break.
    Array(Option<u64>),
    Map(Option<u64>),
    /// `null` or `undefined`.
    Null,
    Break,
}

/// Nesting deeper than this is refused rather than followed (a broken or hostile answer must
/// not exhaust the stack).
const MAX_DEPTH: u32 = 16;

struct Reader<'a> {
    body: &'a [u8],
    at: usize,
    depth: u32,
}

type Read<T> = Result<T, &'static str>;

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Read<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.body.len());
        let end = end.ok_or("truncated")?;
        let slice = &self.body[self.at..end];
        self.at = end;
        Ok(slice)
    }

    /// The argument of a head: `None` for an indefinite length.
    fn argument(&mut self, info: u8) -> Read<Option<u64>> {
        let bytes = match info {
            0..=23 => return Ok(Some(u64::from(info))),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            31 => return Ok(None),
            _ => return Err("reserved length"),
        };
        let raw = self.take(bytes)?;
        Ok(Some(raw.iter().fold(0u64, |n, &b| n << 8 | u64::from(b))))
    }

    fn next(&mut self) -> Read<Item<'a>> {
        let initial = self.take(1)?[0];
        let (major, info) = (initial >> 5, initial & 0x1f);
        if initial == 0xff {
            return Ok(Item::Break);
        }
        let argument = self.argument(info)?;
        let length = |n: Option<u64>| n.and_then(|n| usize::try_from(n).ok());
        Ok(match major {
            0 => Item::Uint(argument.ok_or("indefinite integer")?),
            7 if matches!(info, 22 | 23) => Item::Null,
            1 | 7 => Item::Other,
            6 => {
                // A tag: the tagged item follows.
                self.descend()?;
                let item = self.next();
                self.depth -= 1;
                return item;
            }
            2 | 3 if argument.is_none() => {
                self.skip_chunks()?;
                Item::Other
            }
            2 => Item::Bytes(self.take(length(argument).ok_or("length")?)?),
            3 => {
                let raw = self.take(length(argument).ok_or("length")?)?;
                Item::Text(std::str::from_utf8(raw).map_err(|_| "text is not UTF-8")?)
            }
            4 => Item::Array(argument),
            _ => Item::Map(argument),
        })
    }

    fn skip_chunks(&mut self) -> Read<()> {
        while self.next()? != Item::Break {}
        Ok(())
    }

    /// Skips one whole item (arrays and maps with everything in them).
    fn skip(&mut self) -> Read<()> {
        let item = self.next()?;
        self.skip_rest(item)
    }

    fn descend(&mut self) -> Read<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("nested too deeply");
        }
        Ok(())
    }

    fn skip_rest(&mut self, item: Item) -> Read<()> {
        let items = match item {
            Item::Array(Some(n)) => Some(n),
            Item::Map(Some(n)) => Some(n.checked_mul(2).ok_or("length")?),
            Item::Array(None) | Item::Map(None) => None,
            _ => return Ok(()),
        };
        self.descend()?;
        let result = match items {
            Some(n) => (0..n).try_for_each(|_| self.skip()),
            None => loop {
                match self.next()? {
                    Item::Break => break Ok(()),
                    inner => self.skip_rest(inner)?,
                }
            },
        };
        self.depth -= 1;
        result
    }

    /// Calls `member` with each key of the map that starts here; `member` reads or skips the
    /// value.
    fn map(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Read<()>) -> Read<()> {
        let count = match self.next()? {
            Item::Map(count) => count,
            _ => return Err("expected a map"),
        };
        let mut seen = 0;
        loop {
            if count.is_some_and(|n| seen == n) {
                return Ok(());
            }
            let key = match self.next()? {
                Item::Break if count.is_none() => return Ok(()),
                Item::Text(key) => key,
                _ => return Err("expected a text key"),
            };
            member(self, key)?;
            seen += 1;
        }
    }

    /// An entry's `ErrorCode`: any value but `null` means the entry failed, so a value that
    /// cannot be read (a chunked string, say) fails the entry rather than passing it.
    fn error_code(&mut self) -> Read<Option<String>> {
        match self.next()? {
            Item::Null => Ok(None),
            Item::Text(code) => Ok(Some(code.to_owned())),
            other => {
                self.skip_rest(other)?;
                Ok(Some("UnreadableErrorCode".to_owned()))
            }
        }
    }

    fn text(&mut self) -> Read<Option<&'a str>> {
        match self.next()? {
            Item::Text(text) => Ok(Some(text)),
            other => self.skip_rest(other).map(|()| None),
        }
    }
}

/// One status per entry of a successful PutRecords response.
pub fn put_records_response(
    body: &[u8],
    mut shard: impl FnMut(&str) -> Arc<str>,
) -> Result<Vec<EntryStatus>, SendError> {
    let mut reader = Reader {
        body,
        at: 0,
        depth: 0,
    };
    let mut statuses = Vec::new();
    reader
        .map(|r, key| match key {
            "Records" => records(r, &mut shard, &mut statuses),
            _ => r.skip(),
        })
        .map_err(|why| {
            let message = format!("the CBOR response could not be read: {why}");
            SendError::new("ResponseError", message, Some(200))
        })?;
    Ok(statuses)
}

fn records<'a>(
    reader: &mut Reader<'a>,
    shard: &mut impl FnMut(&str) -> Arc<str>,
    statuses: &mut Vec<EntryStatus>,
) -> Read<()> {
    let count = match reader.next()? {
        Item::Array(count) => count,
        _ => return Err("Records is not an array"),
    };
    let mut index = 0u64;
    while count.is_none_or(|n| index < n) {
        if count.is_none() && reader.body.get(reader.at) == Some(&0xff) {
            reader.at += 1;
            break;
        }
        let (mut shard_id, mut code, mut message) = (None, None, None);
        reader.map(|r, key| {
            match key {
                "ShardId" => shard_id = r.text()?,
                "ErrorCode" => code = r.error_code()?,
                "ErrorMessage" => message = r.text()?,
                _ => r.skip()?,
            }
            Ok(())
        })?;
        statuses.push(match code {
            Some(code) => EntryStatus::Failed {
                code,
                message: message.unwrap_or_default().to_owned(),
            },
            None => EntryStatus::Delivered {
                shard_id: shard_id.map(&mut *shard),
            },
        });
        index += 1;
    }
    Ok(())
}

/// `__type` and `message` of a CBOR error body, if it is one.
pub fn error_fields(body: &[u8]) -> (Option<String>, Option<String>) {
    let mut reader = Reader {
        body,
        at: 0,
        depth: 0,
    };
    let (mut kind, mut message) = (None, None);
    let _ = reader.map(|r, key| {
        match key {
            "__type" => kind = r.text()?.map(str::to_owned),
            "message" | "Message" => message = r.text()?.map(str::to_owned),
            _ => r.skip()?,
        }
        Ok(())
    });
    (kind, message)
}

#[cfg(test)]
mod tests;
