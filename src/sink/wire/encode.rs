//! Request bodies for PutRecords (Kinesis, `awsJson1.1`) and PutRecordBatch (Firehose), written
//! in one pass into one buffer: record data are base64-encoded straight from the entries, never
//! copied into intermediate builders or blobs. Members are written in the order of the service
//! models (the order the SDK's serializer uses), so a body can be compared with the SDK's.

use crate::aggregate::{Entry, PartitionKey};

/// Bytes a request body for `entries` takes, to reserve the buffer once.
pub fn body_capacity<'a>(entries: impl IntoIterator<Item = &'a Entry>, name_len: usize) -> usize {
    let records: usize = entries.into_iter().map(record_capacity).sum();
    records + name_len + 64
}

/// Bytes one record takes in a body (a partition key that needs escaping takes more).
pub fn record_capacity(entry: &Entry) -> usize {
    const PER_RECORD: usize = r#"{"Data":"","ExplicitHashKey":"","PartitionKey":""},"#.len();
    entry.data.len().div_ceil(3) * 4
        + entry.partition_key.len()
        + entry.explicit_hash_key().map_or(0, str::len)
        + PER_RECORD
}

/// The body size of a request for the whole of `batch`, what the in-flight budget counts.
pub fn batch_body_bytes(batch: &crate::aggregate::Batch) -> u64 {
    body_capacity(&batch.entries, 0) as u64
}

/// `{"Records":[{"Data":…,"ExplicitHashKey":…,"PartitionKey":…},…],"StreamName":…}`
pub fn put_records(stream: &str, entries: &[&Entry], out: &mut Vec<u8>) {
    put_records_open(out);
    for (i, entry) in entries.iter().enumerate() {
        put_records_record(i == 0, entry, out);
    }
    put_records_close(stream, out);
}

/// The pieces of a PutRecords body, for bodies written in frames ([`super::body`]).
pub fn put_records_open(out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"Records":["#);
}

pub fn put_records_record(first: bool, entry: &Entry, out: &mut Vec<u8>) {
    record_with_data(first, entry, out);
    if let Some(hash_key) = entry.explicit_hash_key() {
        out.extend_from_slice(br#","ExplicitHashKey":"#);
        json_string(hash_key, out);
    }
    out.extend_from_slice(br#","PartitionKey":"#);
    match &entry.partition_key {
        // Hex digits: nothing to escape, and the check showed in profiles.
        PartitionKey::Random(_) => {
            out.push(b'"');
            out.extend_from_slice(entry.partition_key.as_bytes());
            out.push(b'"');
        }
        key => json_string(key, out),
    }
    out.push(b'}');
}

pub fn put_records_close(stream: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(br#"],"StreamName":"#);
    json_string(stream, out);
    out.push(b'}');
}

/// `{"DeliveryStreamName":…,"Records":[{"Data":…},…]}`
pub fn put_record_batch(stream: &str, entries: &[&Entry], out: &mut Vec<u8>) {
    put_record_batch_open(stream, out);
    for (i, entry) in entries.iter().enumerate() {
        put_record_batch_record(i == 0, entry, out);
    }
    put_record_batch_close(out);
}

/// The pieces of a PutRecordBatch body.
pub fn put_record_batch_open(stream: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"DeliveryStreamName":"#);
    json_string(stream, out);
    out.extend_from_slice(br#","Records":["#);
}

pub fn put_record_batch_record(first: bool, entry: &Entry, out: &mut Vec<u8>) {
    record_with_data(first, entry, out);
    out.push(b'}');
}

/// `,{"Data":"…"`, how a record starts in both bodies (no comma before the first).
fn record_with_data(first: bool, entry: &Entry, out: &mut Vec<u8>) {
    if !first {
        out.push(b',');
    }
    out.extend_from_slice(br#"{"Data":""#);
    base64_simd::STANDARD.encode_append(&entry.data, out);
    out.push(b'"');
}

pub fn put_record_batch_close(out: &mut Vec<u8>) {
    out.extend_from_slice(b"]}");
}

/// A JSON string literal. Keys are usually plain (random hex, paths): copied as they are;
/// anything with a quote, backslash or control character goes through serde_json's escaper.
fn json_string(text: &str, out: &mut Vec<u8>) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(out, text).expect("writing to a Vec cannot fail");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn entry(data: &[u8], key: &str, hash: Option<&str>) -> Entry {
        Entry::new(data.to_vec(), key.to_owned()).with_explicit_hash_key(hash.map(str::to_owned))
    }

    #[test]
    fn put_records_body_is_the_documented_json() {
        let a = entry(b"hello\n", "k\"1", None);
        let b = entry(&[0, 255, 10], "/var/log/app.log", Some("42"));
        let mut body = Vec::new();
        put_records("web \u{e9}", &[&a, &b], &mut body);
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value,
            json!({"Records": [
                {"Data": "aGVsbG8K", "PartitionKey": "k\"1"},
                {"Data": "AP8K", "ExplicitHashKey": "42", "PartitionKey": "/var/log/app.log"}
            ], "StreamName": "web \u{e9}"})
        );
        assert!(body.len() <= body_capacity([&a, &b], "web \u{e9}".len()));
    }

    #[test]
    fn put_record_batch_body_is_the_documented_json() {
        let a = entry(b"", "", None);
        let b = entry(b"line\n", "", None);
        let mut body = Vec::new();
        put_record_batch("archive", &[&a, &b], &mut body);
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value,
            json!({"DeliveryStreamName": "archive", "Records": [{"Data": ""}, {"Data": "bGluZQo="}]})
        );
    }
}
