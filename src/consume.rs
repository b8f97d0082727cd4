//! `edgeship consume`: reads every shard of a stream from its oldest record and prints each
//! record's data, one per line (a record that already ends in `\n`, as in `lines` mode, is
//! printed as is). Compressed records (gzip or zstd, by their magic) are inflated first. KPL aggregates are de-aggregated like KCL does it (magic, MD5, protobuf;
//! anything else passes through raw). Inner records whose hash key lies outside the hash range
//! of the shard that stored them are printed and **reported**: KCL 2.x/3.x would silently drop
//! the whole aggregate, which is the misconfiguration this command helps diagnose.
//! Stops when every shard is caught up.

use crate::aggregate::compress;
use crate::kinesis::kpl;
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

/// What was read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ConsumeSummary {
    /// Kinesis records fetched.
    pub records: u64,
    /// Records printed: user records of aggregates plus plain records.
    pub printed: u64,
    /// Aggregates among the Kinesis records.
    pub aggregates: u64,
    /// Compressed records among the Kinesis records.
    pub compressed: u64,
    /// Inner records outside their shard's hash range (KCL would drop their aggregate).
    pub outside_shard_range: u64,
}

struct Shard {
    id: String,
    hash_range: std::ops::RangeInclusive<u128>,
}

/// Prints every record of `stream`.
pub async fn consume(
    config: &aws_config::SdkConfig,
    stream: &str,
    out: &mut impl Write,
) -> Result<ConsumeSummary, ConsumeError> {
    let client = aws_sdk_kinesis::Client::new(config);
    let mut summary = ConsumeSummary::default();
    for shard in list_shards(&client, stream).await? {
        consume_shard(&client, stream, &shard, out, &mut summary).await?;
    }
    out.flush()?;
    Ok(summary)
}

async fn list_shards(
    client: &aws_sdk_kinesis::Client,
    stream: &str,
) -> Result<Vec<Shard>, ConsumeError> {
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
        for shard in page.shards() {
            let range = shard.hash_key_range();
            let parse = |text: Option<&str>, default: u128| {
                text.and_then(|t| t.parse().ok()).unwrap_or(default)
            };
            let low = parse(range.map(|r| r.starting_hash_key()), 0);
            let high = parse(range.map(|r| r.ending_hash_key()), u128::MAX);
            shards.push(Shard {
                id: shard.shard_id().to_owned(),
                hash_range: low..=high,
            });
        }
        next_token = page.next_token().map(str::to_owned);
        if next_token.is_none() {
            return Ok(shards);
        }
    }
}

async fn consume_shard(
    client: &aws_sdk_kinesis::Client,
    stream: &str,
    shard: &Shard,
    out: &mut impl Write,
    summary: &mut ConsumeSummary,
) -> Result<(), ConsumeError> {
    let error = |call: &'static str, message: String| ConsumeError::Api {
        call,
        stream: stream.to_owned(),
        message,
    };
    let iterator = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(&shard.id)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .map_err(|e| error("GetShardIterator", DisplayErrorContext(e).to_string()))?;
    let mut iterator = iterator.shard_iterator().map(str::to_owned);
    while let Some(current) = iterator {
        let page = client
            .get_records()
            .shard_iterator(current)
            .limit(10_000)
            .send()
            .await
            .map_err(|e| error("GetRecords", DisplayErrorContext(e).to_string()))?;
        for record in page.records() {
            summary.records += 1;
            print_record(record.data().as_ref(), shard, out, summary)?;
        }
        let caught_up = page.records().is_empty() && page.millis_behind_latest().unwrap_or(0) == 0;
        iterator = if caught_up {
            None
        } else {
            page.next_shard_iterator().map(str::to_owned)
        };
    }
    Ok(())
}

fn print_record(
    data: &[u8],
    shard: &Shard,
    out: &mut impl Write,
    summary: &mut ConsumeSummary,
) -> std::io::Result<()> {
    let inflated = compress::decompress(data);
    if inflated.is_some() {
        summary.compressed += 1;
    }
    let data = inflated.as_deref().unwrap_or(data);
    let Some(users) = kpl::decode(data) else {
        summary.printed += 1;
        return print_line(data, out);
    };
    summary.aggregates += 1;
    for user in users {
        let hash = match &user.explicit_hash_key {
            Some(key) => key.parse().unwrap_or(0),
            None => kpl::hash_key(&user.partition_key),
        };
        if !shard.hash_range.contains(&hash) {
            summary.outside_shard_range += 1;
        }
        summary.printed += 1;
        print_line(&user.data, out)?;
    }
    Ok(())
}

fn print_line(data: &[u8], out: &mut impl Write) -> std::io::Result<()> {
    out.write_all(data)?;
    if data.last() != Some(&b'\n') {
        out.write_all(b"\n")?;
    }
    Ok(())
}
