//! Kinesis Data Streams `PutRecords`.

use super::aws::send_error;
use super::shard_map::{Shard, ShardSource};
use super::{EntryStatus, PutClient, SendError};
use crate::aggregate::Entry;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use std::sync::Arc;

pub struct KinesisClient {
    client: aws_sdk_kinesis::Client,
    stream: String,
    destination: String,
}

impl KinesisClient {
    pub fn new(config: &aws_config::SdkConfig, stream: &str) -> KinesisClient {
        KinesisClient {
            client: aws_sdk_kinesis::Client::new(config),
            stream: stream.to_owned(),
            destination: format!("kinesis stream {stream:?}"),
        }
    }
}

impl PutClient for KinesisClient {
    async fn put(&self, entries: &[&Entry]) -> Result<Vec<EntryStatus>, SendError> {
        let records = entries
            .iter()
            .map(|entry| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(entry.data.clone()))
                    .partition_key(&entry.partition_key)
                    .set_explicit_hash_key(entry.explicit_hash_key.clone())
                    .build()
                    .map_err(|e| SendError::new("InvalidArgumentException", e.to_string(), None))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .put_records()
            .stream_name(&self.stream)
            .set_records(Some(records))
            .send()
            .await
            .map_err(send_error)?;
        Ok(output
            .records()
            .iter()
            .map(|record| match record.error_code() {
                Some(code) => EntryStatus::Failed {
                    code: code.to_owned(),
                    message: record.error_message().unwrap_or_default().to_owned(),
                },
                None => EntryStatus::Delivered {
                    shard_id: record.shard_id().map(str::to_owned),
                },
            })
            .collect())
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
