//! Amazon Data Firehose `PutRecordBatch` (Direct PUT).

use super::aws::AwsClients;
use super::wire::body::{Body, Shape};
use super::wire::{Service, Wire, WireProtocol, response};
use super::{EntryStatus, PutClient, SendError};
use crate::aggregate::Entry;
use crate::metrics::FlowStats;
use std::sync::Arc;

pub struct FirehoseClient {
    wire: Arc<Wire>,
    stats: Arc<FlowStats>,
    stream: String,
    destination: String,
}

impl FirehoseClient {
    pub fn new(clients: &AwsClients, stream: &str, stats: Arc<FlowStats>) -> FirehoseClient {
        FirehoseClient {
            wire: clients.wire.clone(),
            stats,
            stream: stream.to_owned(),
            destination: format!("firehose stream {stream:?}"),
        }
    }
}

impl PutClient for FirehoseClient {
    async fn put(&self, entries: &[&Entry]) -> Result<Vec<EntryStatus>, SendError> {
        let body = Body::new(Shape::PutRecordBatch, &self.stream, entries);
        let sent = body.len();
        self.stats
            .request_body_bytes
            .fetch_add(sent, std::sync::atomic::Ordering::Relaxed);
        let answer = self
            .wire
            .call(Service::Firehose, WireProtocol::Json, body)
            .await?;
        response::put_record_batch(&answer.body, entries.len())
    }

    fn destination(&self) -> &str {
        &self.destination
    }
}
