//! Amazon Data Firehose `PutRecordBatch` (Direct PUT).

use super::aws::AwsClients;
use super::wire::{Service, Wire, encode, response};
use super::{EntryStatus, PutClient, SendError};
use crate::aggregate::Entry;
use std::sync::Arc;

pub struct FirehoseClient {
    wire: Arc<Wire>,
    stream: String,
    destination: String,
}

impl FirehoseClient {
    pub fn new(clients: &AwsClients, stream: &str) -> FirehoseClient {
        FirehoseClient {
            wire: clients.wire.clone(),
            stream: stream.to_owned(),
            destination: format!("firehose stream {stream:?}"),
        }
    }
}

impl PutClient for FirehoseClient {
    async fn put(&self, entries: &[&Entry]) -> Result<Vec<EntryStatus>, SendError> {
        let mut body = Vec::new();
        encode::put_record_batch(&self.stream, entries, &mut body);
        let answer = self.wire.call(Service::Firehose, body).await?;
        response::put_record_batch(&answer)
    }

    fn destination(&self) -> &str {
        &self.destination
    }
}
