//! Kinesis Data Streams `PutRecords`.

use super::aws::{AwsClients, send_error};
use super::shard_map::{Shard, ShardSource};
use super::wire::{Service, Wire, encode, response};
use super::{EntryStatus, PutClient, SendError};
use crate::aggregate::Entry;
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
}

impl KinesisClient {
    pub fn new(clients: &AwsClients, stream: &str) -> KinesisClient {
        KinesisClient {
            client: aws_sdk_kinesis::Client::new(&clients.sdk),
            wire: clients.wire.clone(),
            stream: stream.to_owned(),
            destination: format!("kinesis stream {stream:?}"),
            shard_ids: Mutex::default(),
        }
    }
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
        let mut body = Vec::new();
        encode::put_records(&self.stream, entries, &mut body);
        let answer = self.wire.call(Service::Kinesis, body).await?;
        let mut known = self.shard_ids.lock().expect("shard id lock");
        response::put_records(&answer, |id| intern(&mut known, id))
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
