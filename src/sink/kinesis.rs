//! Kinesis Data Streams `PutRecords`.

use super::aws::{AwsClients, send_error};
use super::shard_map::{Shard, ShardSource};
use super::wire::body::{Body, Shape};
use super::wire::{Answer, Service, Wire, WireProtocol, cbor, response};
use super::{EntryStatus, PutClient, SendError};
use crate::aggregate::Entry;
use crate::metrics::FlowStats;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

pub struct KinesisClient {
    /// ListShards and everything but the data.
    client: aws_sdk_kinesis::Client,
    /// PutRecords.
    wire: Arc<Wire>,
    stream: String,
    destination: String,
    /// Shard ids seen in responses, shared so that a delivered entry allocates nothing.
    shard_ids: Mutex<Vec<Arc<str>>>,
    /// `wire_protocol = "cbor"` until the endpoint rejects it.
    cbor: AtomicBool,
    stats: Arc<FlowStats>,
}

impl KinesisClient {
    pub fn new(clients: &AwsClients, stream: &str, stats: Arc<FlowStats>) -> KinesisClient {
        KinesisClient {
            client: aws_sdk_kinesis::Client::new(&clients.sdk),
            wire: clients.wire.clone(),
            stream: stream.to_owned(),
            destination: format!("kinesis stream {stream:?}"),
            shard_ids: Mutex::default(),
            cbor: AtomicBool::new(clients.protocol == WireProtocol::Cbor),
            stats,
        }
    }
}

impl KinesisClient {
    /// The stream's `MaxRecordSizeInKiB` (DescribeStreamSummary); `None` if it reports none.
    pub async fn max_record_kib(&self) -> Result<Option<u64>, SendError> {
        let answer = self.wire.describe(Service::Kinesis, &self.stream).await?;
        let summary: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        Ok(summary["StreamDescriptionSummary"]["MaxRecordSizeInKiB"].as_u64())
    }

    /// One CBOR attempt; `CborUnsupported` when the endpoint does not speak CBOR: it rejects
    /// the content type, or answers in CBOR that cannot be read (kinesalite's CBOR responses
    /// carry a wrong length; the records may then be stored, and are resent in JSON:
    /// duplicates, never loss).
    async fn put_cbor(&self, entries: &[&Entry]) -> Result<Vec<EntryStatus>, SendError> {
        let body = Body::new(Shape::PutRecordsCbor, &self.stream, entries);
        self.stats.request_body_bytes.fetch_add(body.len(), Relaxed);
        let unsupported = |why: String| SendError::new("CborUnsupported", why, None);
        match self
            .wire
            .call(Service::Kinesis, WireProtocol::Cbor, body)
            .await
        {
            Err(error) if rejects_cbor(&error) => Err(unsupported(format!(
                "the endpoint does not accept CBOR ({error})"
            ))),
            Err(error) => Err(error),
            Ok(answer) => match self.statuses(&answer, entries.len()) {
                Err(error) if answer.cbor => Err(unsupported(format!(
                    "the endpoint's CBOR response could not be read ({error}); the records of that request are sent again in JSON"
                ))),
                result => result,
            },
        }
    }

    fn statuses(&self, answer: &Answer, entries: usize) -> Result<Vec<EntryStatus>, SendError> {
        let mut known = self.shard_ids.lock().expect("shard id lock");
        let shard = |id: &str| intern(&mut known, id);
        match answer.cbor {
            true => cbor::put_records_response(&answer.body, shard),
            false => response::put_records(&answer.body, entries, shard),
        }
    }
}

/// Whether a CBOR request failed because the endpoint does not speak CBOR (rather than for
/// what it carried): an unsupported media type, or a body it could not parse at all.
fn rejects_cbor(error: &SendError) -> bool {
    error.http_status == Some(415)
        || matches!(
            error.code.as_str(),
            "SerializationException"
                | "UnknownOperationException"
                | "UnsupportedMediaTypeException"
        )
}

/// The shared copy of `id`; a stream has few shards, a list is enough.
fn intern(known: &mut Vec<Arc<str>>, id: &str) -> Arc<str> {
    if let Some(shared) = known.iter().find(|k| &***k == id) {
        return shared.clone();
    }
    let shared: Arc<str> = Arc::from(id);
    known.push(shared.clone());
    shared
}

impl PutClient for KinesisClient {
    async fn put(&self, entries: &[&Entry]) -> Result<Vec<EntryStatus>, SendError> {
        if self.cbor.load(Relaxed) {
            match self.put_cbor(entries).await {
                // Requests already in flight in CBOR fall back too; one warning says it.
                Err(error) if error.code == "CborUnsupported" => {
                    if self.cbor.swap(false, Relaxed) {
                        tracing::warn!(
                            "{}: {}; sending JSON from now on (set [aws] wire_protocol = \"json\" to skip this)",
                            self.destination,
                            error.message
                        );
                    }
                }
                result => return result,
            }
        }
        let body = Body::new(Shape::PutRecords, &self.stream, entries);
        self.stats.request_body_bytes.fetch_add(body.len(), Relaxed);
        let answer = self
            .wire
            .call(Service::Kinesis, WireProtocol::Json, body)
            .await?;
        self.statuses(&answer, entries.len())
    }

    fn destination(&self) -> &str {
        &self.destination
    }
}

impl ShardSource for KinesisClient {
    async fn open_shards(&self) -> Result<Vec<Shard>, SendError> {
        let mut shards = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let request = match &next_token {
                Some(token) => self.client.list_shards().next_token(token),
                None => self.client.list_shards().stream_name(&self.stream),
            };
            let page = request.send().await.map_err(send_error)?;
            for shard in page.shards() {
                // Closed parents (after a split or merge) take no writes.
                let closed = shard
                    .sequence_number_range()
                    .and_then(|r| r.ending_sequence_number())
                    .is_some();
                let range = shard.hash_key_range();
                let start = range.and_then(|r| r.starting_hash_key().parse().ok());
                let end = range.and_then(|r| r.ending_hash_key().parse().ok());
                if let (false, Some(start), Some(end)) = (closed, start, end) {
                    shards.push(Shard {
                        id: Arc::from(shard.shard_id()),
                        start,
                        end,
                    });
                }
            }
            next_token = page.next_token().map(str::to_owned);
            if next_token.is_none() {
                return Ok(shards);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_protocol_rejections_switch_to_json() {
        let table = [
            ("SerializationException", Some(400), true),
            ("UnknownOperationException", Some(400), true),
            ("Http415", Some(415), true),
            ("ProvisionedThroughputExceededException", Some(400), false),
            ("ResourceNotFoundException", Some(400), false),
            ("ConnectionError", None, false),
        ];
        for (code, status, expected) in table {
            assert_eq!(
                rejects_cbor(&SendError::new(code, "", status)),
                expected,
                "{code}"
            );
        }
    }
}
