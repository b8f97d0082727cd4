use super::*;
use crate::aggregate::Progress;
use crate::sink::{EntryStatus, SendError};
use std::collections::VecDeque;
use std::sync::Mutex;

type Response = Result<Vec<EntryStatus>, SendError>;

/// A client that answers from a script (then accepts everything) and records each call.
#[derive(Default)]
struct Scripted {
    script: Mutex<VecDeque<Response>>,
    calls: Mutex<Vec<Vec<Vec<u8>>>>,
}

impl Scripted {
    fn new(script: Vec<Response>) -> Scripted {
        Scripted {
            script: Mutex::new(script.into()),
            calls: Mutex::default(),
        }
    }
    fn calls(&self) -> Vec<Vec<Vec<u8>>> {
        self.calls.lock().unwrap().clone()
    }
}

impl PutClient for Scripted {
    async fn put(&self, entries: &[&Entry]) -> Result<Vec<EntryStatus>, SendError> {
        self.calls
            .lock()
            .unwrap()
            .push(entries.iter().map(|e| e.data.to_vec()).collect());
        let next = self.script.lock().unwrap().pop_front();
        next.unwrap_or_else(|| {
            Ok(vec![
                EntryStatus::Delivered { shard_id: None };
                entries.len()
            ])
        })
    }
    fn destination(&self) -> &str {
        "kinesis stream \"test\""
    }
}

fn batch(n: u8) -> Batch {
    let entries = (0..n).map(|i| Entry::new(vec![b'a' + i], "k")).collect();
    Batch {
        seq: 0,
        entries,
        progress: Progress::default(),
        lines: n as u64,
    }
}

fn failed(code: &str) -> EntryStatus {
    EntryStatus::Failed {
        code: code.into(),
        message: "m".into(),
    }
}

fn error(code: &str, status: u16) -> Response {
    Err(SendError::new(code, "message", Some(status)))
}

async fn run(client: &Scripted, mut batch: Batch) -> (Delivery, FlowStats) {
    let stats = FlowStats::new("t");
    let outcome = deliver(
        client,
        &mut batch,
        &RetryPolicy::default(),
        &CancellationToken::new(),
        &stats,
        None,
    )
    .await;
    (outcome, stats)
}

#[tokio::test(start_paused = true)]
async fn partial_failure_resends_only_the_failed_entries() {
    let client = Scripted::new(vec![Ok(vec![
        EntryStatus::Delivered { shard_id: None },
        failed("ProvisionedThroughputExceededException"),
        EntryStatus::Delivered { shard_id: None },
        failed("InternalFailure"),
    ])]);
    let (outcome, stats) = run(&client, batch(4)).await;
    assert_eq!(outcome, Delivery::Delivered { undeliverable: 0 });
    assert_eq!(
        client.calls(),
        vec![
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec()],
            vec![b"b".to_vec(), b"d".to_vec()]
        ]
    );
    assert_eq!(stats.entries_resent.load(Relaxed), 2);
    assert_eq!(
        stats.errors_by_code.lock().unwrap().get("InternalFailure"),
        Some(&1)
    );
}

#[tokio::test(start_paused = true)]
async fn http_200_with_failures_is_never_delivered_until_every_entry_succeeds() {
    let all_failed = || Ok(vec![failed("ProvisionedThroughputExceededException"); 2]);
    let client = Scripted::new(vec![all_failed(), all_failed(), all_failed()]);
    let (outcome, _) = run(&client, batch(2)).await;
    assert_eq!(outcome, Delivery::Delivered { undeliverable: 0 });
    assert_eq!(client.calls().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn throttling_and_5xx_are_retried_with_growing_backoff() {
    let client = Scripted::new(vec![
        error("ProvisionedThroughputExceededException", 400),
        error("InternalFailure", 500),
        error("Timeout", 0),
        error("KMSThrottlingException", 400),
    ]);
    let start = tokio::time::Instant::now();
    let (outcome, _) = run(&client, batch(3)).await;
    assert_eq!(outcome, Delivery::Delivered { undeliverable: 0 });
    assert_eq!(client.calls().len(), 5);
    // Equal jitter: at least half of 100 + 200 + 400 + 800 ms.
    assert!(
        start.elapsed() >= Duration::from_millis(750),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn permission_errors_wait_long_and_keep_the_data() {
    let client = Scripted::new(vec![
        error("AccessDeniedException", 400),
        error("ResourceNotFoundException", 400),
    ]);
    let start = tokio::time::Instant::now();
    let (outcome, stats) = run(&client, batch(2)).await;
    assert_eq!(outcome, Delivery::Delivered { undeliverable: 0 });
    assert!(
        start.elapsed() >= Duration::from_secs(60),
        "two long pauses: {:?}",
        start.elapsed()
    );
    assert_eq!(stats.records_undeliverable.load(Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn invalid_request_is_narrowed_to_the_bad_record_which_is_counted() {
    // Whole request invalid, then one at a time: the second record alone is invalid.
    let client = Scripted::new(vec![
        error("InvalidArgumentException", 400),
        Ok(vec![EntryStatus::Delivered { shard_id: None }]),
        error("InvalidArgumentException", 400),
    ]);
    let (outcome, stats) = run(&client, batch(3)).await;
    assert_eq!(outcome, Delivery::Delivered { undeliverable: 1 });
    assert_eq!(stats.records_undeliverable.load(Relaxed), 1);
    assert_eq!(
        client.calls().iter().map(Vec::len).collect::<Vec<_>>(),
        [3, 1, 1, 1]
    );
}

#[tokio::test(start_paused = true)]
async fn response_with_the_wrong_number_of_entries_resends_everything() {
    let client = Scripted::new(vec![Ok(vec![EntryStatus::Delivered { shard_id: None }])]);
    let (outcome, _) = run(&client, batch(2)).await;
    assert_eq!(outcome, Delivery::Delivered { undeliverable: 0 });
    assert_eq!(
        client.calls().iter().map(Vec::len).collect::<Vec<_>>(),
        [2, 2]
    );
}

/// A sender of flow "t" without shard pacing.
fn sender<C: PutClient>(
    client: Arc<C>,
    max_in_flight: usize,
    max_in_flight_bytes: u64,
    abort: CancellationToken,
) -> Sender<C> {
    Sender {
        client,
        flow: Arc::from("t"),
        instance: 0,
        max_in_flight,
        max_in_flight_bytes,
        policy: RetryPolicy::default(),
        abort,
        stats: Arc::new(FlowStats::new("t")),
        shards: None,
    }
}

#[tokio::test(start_paused = true)]
async fn abort_during_backoff_abandons_without_acknowledging() {
    let client = Scripted::new(
        (0..100)
            .map(|_| error("AccessDeniedException", 400))
            .collect(),
    );
    let abort = CancellationToken::new();
    let (batch_tx, batch_rx) = mpsc::channel(1);
    let (ack_tx, mut ack_rx) = mpsc::channel(4);
    let sender = sender(Arc::new(client), 2, 1 << 20, abort.clone());
    let task = tokio::spawn(sender.run(batch_rx, ack_tx));
    let mut ok = batch(1);
    ok.entries.clear();
    batch_tx.send(ok).await.unwrap();
    let mut stuck = batch(2);
    stuck.seq = 1;
    batch_tx.send(stuck).await.unwrap();
    drop(batch_tx);
    assert_eq!(
        ack_rx.recv().await.map(|m| match m {
            CheckpointMsg::Ack(a) => a.seq,
            CheckpointMsg::Offsets { .. } | CheckpointMsg::Follow { .. } => u64::MAX,
        }),
        Some(0),
        "an empty batch is acknowledged at once"
    );
    tokio::time::sleep(Duration::from_secs(300)).await;
    abort.cancel();
    task.await.unwrap();
    assert!(
        ack_rx.recv().await.is_none(),
        "the abandoned batch is never acknowledged"
    );
}

#[tokio::test(start_paused = true)]
async fn aggregate_landing_in_a_child_shard_that_splits_it_is_resplit_and_resent() {
    use crate::aggregate::shard_groups::ShardGroups;
    use crate::sink::shard_map::{Shard, ShardMap, ShardMapCache};
    use crate::sink::shards::Shards;
    let shard = |id: &str, start, end| Shard {
        id: Arc::from(id),
        start,
        end,
    };
    let parent = Arc::new(ShardMap::new(vec![shard("p", 0, u128::MAX)]));
    let children = ShardMap::new(vec![
        shard("c0", 0, u128::MAX / 2),
        shard("c1", u128::MAX / 2 + 1, u128::MAX),
    ]);
    let mut groups = ShardGroups::new(parent.clone());
    let p: Arc<str> = Arc::from("p");
    for i in 0..40 {
        groups.push(&p, &format!("key-{i}"), b"line");
    }
    let batch = Batch {
        seq: 0,
        entries: groups.drain(),
        progress: Progress::default(),
        lines: 40,
    };
    let map = ShardMapCache::default();
    map.set((*parent).clone());
    let refresher = map.clone();
    // The stream was split: the aggregate lands on c0, whose range misses half its records.
    let client = Scripted::new(vec![Ok(vec![EntryStatus::Delivered {
        shard_id: Some("c0".into()),
    }])]);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        refresher.set(children);
    });
    let shards = Shards {
        map,
        limiter: None,
        ordered: false,
    };
    let stats = FlowStats::new("t");
    let mut batch = batch;
    let outcome = deliver(
        &client,
        &mut batch,
        &RetryPolicy::default(),
        &CancellationToken::new(),
        &stats,
        Some(&shards),
    )
    .await;
    assert_eq!(outcome, Delivery::Delivered { undeliverable: 0 });
    assert_eq!(stats.entries_wrong_shard.load(Relaxed), 1);
    let calls = client.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[1].len(),
        2,
        "re-split into one aggregate per child shard"
    );
}

#[test]
fn settle_keeps_what_failed_and_what_was_not_sent() {
    let mut pending = vec![0, 1, 2, 3, 4, 5];
    settle(&mut pending, &[1, 2, 3, 4], &[3], 6);
    assert_eq!(pending, vec![0, 3, 5]);
    settle(&mut pending, &[0, 3, 5], &[], 6);
    assert!(pending.is_empty());
}

#[tokio::test(start_paused = true)]
async fn ordered_shards_send_one_record_per_shard_and_retries_first() {
    use crate::kinesis::kpl;
    use crate::sink::shard_map::{Shard, ShardMap, ShardMapCache};
    use crate::sink::shards::Shards;
    let shard = |id: &str, start, end| Shard {
        id: Arc::from(id),
        start,
        end,
    };
    let (left, right) = (u128::MAX / 2, u128::MAX / 2 + 1);
    let key_in = |range: std::ops::RangeInclusive<u128>| {
        (0..)
            .map(|i| format!("k{i}"))
            .find(|k| range.contains(&kpl::hash_key(k)))
            .unwrap()
    };
    let (a, b) = (key_in(0..=left), key_in(right..=u128::MAX));
    let entry = |data: &str, key: &str| Entry::new(data.as_bytes().to_vec(), key);
    let mut batch = Batch {
        seq: 0,
        entries: vec![
            entry("a1", &a),
            entry("b1", &b),
            entry("a2", &a),
            entry("b2", &b),
        ],
        progress: Progress::default(),
        lines: 4,
    };
    let map = ShardMapCache::default();
    map.set(ShardMap::new(vec![
        shard("s0", 0, left),
        shard("s1", right, u128::MAX),
    ]));
    let shards = Shards {
        map,
        limiter: None,
        ordered: true,
    };
    // a1 fails at first: it must go again before a2.
    let client = Scripted::new(vec![Ok(vec![
        failed("ProvisionedThroughputExceededException"),
        EntryStatus::Delivered { shard_id: None },
    ])]);
    let stats = FlowStats::new("t");
    let token = CancellationToken::new();
    let outcome = deliver(
        &client,
        &mut batch,
        &RetryPolicy::default(),
        &token,
        &stats,
        Some(&shards),
    )
    .await;
    assert_eq!(outcome, Delivery::Delivered { undeliverable: 0 });
    let calls: Vec<Vec<String>> = client
        .calls()
        .into_iter()
        .map(|call| {
            call.into_iter()
                .map(|d| String::from_utf8(d).unwrap())
                .collect()
        })
        .collect();
    assert_eq!(calls, [vec!["a1", "b1"], vec!["a1", "b2"], vec!["a2"]]);
}

/// A client that accepts everything, one call per permit added to `gate`.
struct Gated {
    gate: tokio::sync::Semaphore,
}

impl PutClient for Gated {
    async fn put(&self, entries: &[&Entry]) -> Result<Vec<EntryStatus>, SendError> {
        self.gate.acquire().await.unwrap().forget();
        Ok(vec![
            EntryStatus::Delivered { shard_id: None };
            entries.len()
        ])
    }
    fn destination(&self) -> &str {
        "kinesis stream \"test\""
    }
}

#[tokio::test(start_paused = true)]
async fn a_batch_waiting_for_the_byte_budget_waits_in_the_channel_not_in_memory() {
    let client = Arc::new(Gated {
        gate: tokio::sync::Semaphore::new(0),
    });
    let (batch_tx, batch_rx) = mpsc::channel(1);
    let (ack_tx, mut ack_rx) = mpsc::channel(4);
    let sender = sender(client.clone(), 4, 1024, CancellationToken::new());
    let task = tokio::spawn(sender.run(batch_rx, ack_tx));
    let mut big = Batch {
        entries: vec![Entry::new(vec![b'x'; 2048], "k")],
        ..batch(0)
    };
    big.lines = 1;
    batch_tx.send(big).await.unwrap();
    let mut next = batch(1);
    next.seq = 1;
    batch_tx.send(next).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        batch_tx.capacity(),
        0,
        "the second batch is not taken while the first holds the whole budget"
    );
    client.gate.add_permits(2);
    let mut acked = Vec::new();
    for _ in 0..2 {
        match ack_rx.recv().await {
            Some(CheckpointMsg::Ack(ack)) => acked.push(ack.seq),
            _ => panic!("expected an acknowledgement"),
        }
    }
    assert_eq!(acked, [0, 1]);
    assert_eq!(batch_tx.capacity(), 1);
    drop(batch_tx);
    task.await.unwrap();
}

#[tokio::test]
async fn budget_permits_are_resized_to_the_batch_both_ways() {
    let budget = Budget::new(10 * 1024);
    let small = budget.take(3).await;
    let grown = budget.fit(small, 7).await;
    assert_eq!(grown.num_permits(), 7);
    assert_eq!(budget.semaphore.available_permits(), 3);
    let shrunk = budget.fit(grown, 2).await;
    assert_eq!(shrunk.num_permits(), 2);
    assert_eq!(budget.semaphore.available_permits(), 8);
    drop(shrunk);
    assert_eq!(budget.semaphore.available_permits(), 10);
}
