//! Keeping a stream's shard map (ListShards: shard ids and hash-key ranges) fresh: fetched at start,
//! refreshed periodically and on demand (a record landed on another shard than predicted, i.e.
//! the stream was resharded), with backoff on failure. The map itself is `kinesis::shard_map`.

use super::SendError;
pub use crate::kinesis::shard_map::{Shard, ShardMap, ShardMapCache};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Where shard lists come from (the Kinesis client; a fake in tests).
pub trait ShardSource: Send + Sync + 'static {
    /// The stream's open shards.
    fn open_shards(&self) -> impl Future<Output = Result<Vec<Shard>, SendError>> + Send;
}

/// One fetch, for start-up: shard-aware aggregation wants a map before the first lines
/// (without one lines are aggregated per key). Returns whether a map was loaded.
pub async fn load_once<S: ShardSource>(cache: &ShardMapCache, source: &S) -> bool {
    let result = source.open_shards().await;
    match result {
        Ok(shards) => {
            tracing::info!(shards = shards.len(), "shard map loaded");
            cache.set(ShardMap::new(shards));
            true
        }
        Err(error) => {
            // `keep_fresh` tries again at once, and says what it means.
            tracing::debug!(
                "cannot list the stream's shards yet ({})",
                hint_first(&error)
            );
            false
        }
    }
}

/// What to do about a failed ListShards: a missing stream is not a permission problem.
/// The error, with what to do first when the cause is missing credentials (the chain's own
/// account of what it tried is long).
fn hint_first(error: &SendError) -> String {
    match error.code.as_str() {
        "NoCredentials" => format!("{}. Details: {}", super::NO_CREDENTIALS_HINT, error.message),
        _ => error.to_string(),
    }
}

fn list_shards_hint(error: &SendError) -> &'static str {
    match error.code.as_str() {
        "ResourceNotFoundException" => {
            "; the stream does not exist in this account and region: create it or fix kinesis_stream"
        }
        code if code.starts_with("AccessDenied") || code == "UnauthorizedOperation" => {
            "; grant kinesis:ListShards on the stream"
        }
        _ => "; retrying",
    }
}

/// Keeps the map fresh until `stop`: every `period`, and soon after each refresh request.
/// Failures back off 1 s, x1.5, up to 30 s (the KPL's schedule); the old map stays in use.
pub async fn keep_fresh<S: ShardSource>(
    cache: ShardMapCache,
    source: Arc<S>,
    period: Duration,
    stop: tokio_util::sync::CancellationToken,
    flow: Arc<str>,
) {
    let mut failure_backoff = Duration::from_secs(1);
    let mut warned = false;
    if cache.get().is_some() {
        // Loaded before the flow started: the first refresh is a period away.
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
            _ = cache.refresh.notified() => {}
        }
    }
    loop {
        let result = source.open_shards().await;
        match result {
            Ok(shards) => {
                let map = ShardMap::new(shards);
                if cache.get().as_deref() != Some(&map) {
                    tracing::info!(flow = %flow, shards = map.len(), "shard map updated");
                }
                cache.set(map);
                failure_backoff = Duration::from_secs(1);
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(period) => {}
                    _ = cache.refresh.notified() => {}
                }
            }
            Err(error) => {
                if !warned {
                    tracing::warn!(flow = %flow, "cannot list the stream's shards ({}); the first requests wait up to 10 s for them, then requests are not paced per shard and shard-aware aggregation groups lines by key until they are known{}", hint_first(&error), list_shards_hint(&error));
                    warned = true;
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(failure_backoff) => {}
                }
                failure_backoff = (failure_backoff.mul_f64(1.5)).min(Duration::from_secs(30));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_shards_failures_say_what_to_fix() {
        for (code, hint) in [
            (
                "ResourceNotFoundException",
                "create it or fix kinesis_stream",
            ),
            ("AccessDeniedException", "grant kinesis:ListShards"),
            ("ConnectionError", "retrying"),
        ] {
            let error = SendError::new(code, "x", None);
            assert!(list_shards_hint(&error).contains(hint), "{code}");
        }
    }
}
