//! Amazon Data Firehose `PutRecordBatch` (Direct PUT).

use super::aws::send_error;
use super::{EntryStatus, PutClient, SendError};
use crate::aggregate::Entry;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;

pub struct FirehoseClient {
    client: aws_sdk_firehose::Client,
    stream: String,
    destination: String,
}

impl FirehoseClient {
    pub fn new(config: &aws_config::SdkConfig, stream: &str) -> FirehoseClient {
        FirehoseClient {
            client: aws_sdk_firehose::Client::new(config),
            stream: stream.to_owned(),
            destination: format!("firehose stream {stream:?}"),
        }
    }
}

impl PutClient for FirehoseClient {
    async fn put(&self, entries: &[&Entry]) -> Result<Vec<EntryStatus>, SendError> {
        let records = entries
            .iter()
            .map(|entry| {
                Record::builder()
                    .data(Blob::new(entry.data.clone()))
                    .build()
                    .map_err(|e| SendError::new("InvalidArgumentException", e.to_string(), None))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .put_record_batch()
            .delivery_stream_name(&self.stream)
            .set_records(Some(records))
            .send()
            .await
            .map_err(send_error)?;
        Ok(output
            .request_responses()
            .iter()
            .map(|response| match response.error_code() {
                Some(code) => EntryStatus::Failed {
                    code: code.to_owned(),
                    message: response.error_message().unwrap_or_default().to_owned(),
                },
                None => EntryStatus::Delivered { shard_id: None },
            })
            .collect())
    }

    fn destination(&self) -> &str {
        &self.destination
    }
}
