//! Kinesis Data Streams `PutRecords`.

use super::aws::send_error;
use super::{EntryStatus, PutClient, SendError};
use crate::aggregate::Entry;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

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
                None => EntryStatus::Delivered,
            })
            .collect())
    }

    fn destination(&self) -> &str {
        &self.destination
    }
}
