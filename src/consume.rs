//! `edgeship consume`: reads every shard of a stream from its oldest record and prints each
//! record's data, one per line (a record that already ends in `\n`, as in `lines` mode, is
//! printed as is). Stops when every shard is caught up.

use aws_sdk_kinesis::error::DisplayErrorContext;
use aws_sdk_kinesis::types::ShardIteratorType;
use std::io::Write;

#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("{call} on stream {stream:?} failed: {message}")]
    Api {
        call: &'static str,
        stream: String,
        message: String,
    },
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// Prints every record of `stream`; returns how many were printed.
pub async fn consume(
    config: &aws_config::SdkConfig,
    stream: &str,
    out: &mut impl Write,
) -> Result<u64, ConsumeError> {
    let client = aws_sdk_kinesis::Client::new(config);
    let mut shards = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let request = match &next_token {
            Some(token) => client.list_shards().next_token(token),
            None => client.list_shards().stream_name(stream),
        };
        let page = request.send().await.map_err(|e| ConsumeError::Api {
            call: "ListShards",
            stream: stream.to_owned(),
            message: DisplayErrorContext(e).to_string(),
        })?;
        shards.extend(page.shards().iter().map(|s| s.shard_id().to_owned()));
        next_token = page.next_token().map(str::to_owned);
        if next_token.is_none() {
            break;
        }
    }
    let mut printed = 0;
    for shard in shards {
        printed += consume_shard(&client, stream, &shard, out).await?;
    }
    out.flush()?;
    Ok(printed)
}

async fn consume_shard(
    client: &aws_sdk_kinesis::Client,
    stream: &str,
    shard: &str,
    out: &mut impl Write,
) -> Result<u64, ConsumeError> {
    let error = |call: &'static str, message: String| ConsumeError::Api {
        call,
        stream: stream.to_owned(),
        message,
    };
    let iterator = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .map_err(|e| error("GetShardIterator", DisplayErrorContext(e).to_string()))?;
    let mut iterator = iterator.shard_iterator().map(str::to_owned);
    let mut printed = 0;
    while let Some(current) = iterator {
        let page = client
            .get_records()
            .shard_iterator(current)
            .limit(10_000)
            .send()
            .await
            .map_err(|e| error("GetRecords", DisplayErrorContext(e).to_string()))?;
        for record in page.records() {
            let data = record.data().as_ref();
            out.write_all(data)?;
            if data.last() != Some(&b'\n') {
                out.write_all(b"\n")?;
            }
            printed += 1;
        }
        let caught_up = page.records().is_empty() && page.millis_behind_latest().unwrap_or(0) == 0;
        iterator = if caught_up {
            None
        } else {
            page.next_shard_iterator().map(str::to_owned)
        };
    }
    Ok(printed)
}
