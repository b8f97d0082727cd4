//! Per-shard limits enforced by a proxy in front of kinesalite (50 records/s and 50 KiB/s per
//! shard on a 2-shard stream): without rate limiting the agent is throttled a lot and still
//! loses nothing; with per-shard rate limiting just under the limits, throttling nearly stops.

mod common;

use common::proxy::{FaultPlan, FaultProxy};
use common::*;
use std::time::Duration;

const PLAN: FaultPlan = FaultPlan {
    fail_entry_every: 0,
    throttle_request_every: 0,
    error_500_every: 0,
    deny_all: false,
    reject_cbor: false,
    fail_list_shards_first: 0,
    shard_records_per_sec: 50,
    shard_bytes_per_sec: 50 * 1024,
};

/// Returns the proxy's counts, the agent's `entries_throttled` and its log.
fn ship(rate_limit: &str) -> (common::proxy::ProxyStats, u64, String) {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("paced", 2);
    let proxy = FaultProxy::start(kinesis.port, PLAN);
    let ws = Workspace::new();
    let file = ws.logs().join("app.log");
    let expected = write_lines(&file, "p", 0..4_000, 120);
    ws.config(&format!(
        "[[flow]]\nname = \"p\"\npaths = [\"$LOGS/app.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"paced\"\naggregation = \"kpl\"\nrecord_target_bytes = \"4KiB\"\n{rate_limit}"
    ));
    let mut agent = ws.start(&proxy.url);
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(120));
    assert!(agent.stop().0.success(), "{}", agent.log());
    assert_exactly_once(
        &expected,
        &lines_of(&kinesis.tool(&["read-deagg", "paced"])),
    );
    let stats = proxy.stats();
    // Only throttled entries were resent: every entry reached the stream once or was refused.
    assert_eq!(
        stats.entries_received,
        agent.final_counter("records_delivered") + stats.entries_failed,
        "{stats:?}"
    );
    (stats, agent.final_counter("entries_throttled"), agent.log())
}

#[test]
fn without_rate_limiting_throttling_is_survived_without_loss() {
    let (stats, throttled, _) = ship("rate_limit = false\n");
    let rate = stats.entries_failed as f64 / stats.entries_received as f64;
    assert!(
        rate > 0.10,
        "the proxy should throttle an unpaced agent: {stats:?}"
    );
    assert!(throttled > 0);
}

#[test]
fn per_shard_rate_limiting_nearly_stops_throttling() {
    let (stats, _, log) = ship("shard_records_per_sec = 45\nshard_bytes_per_sec = \"45KiB\"\n");
    let rate = stats.entries_failed as f64 / stats.entries_received as f64;
    assert!(
        rate < 0.02,
        "throttled {:.1}% of entries: {stats:?}",
        rate * 100.0
    );
    assert!(log.contains("shard map updated"), "{log}");
}

/// Pacing keeps requests whole: 7,500 one-line records for one shard at 980 records/s (the
/// default budget) leave in requests of up to 500 as the budget allows, not in thousands of
/// small ones cut as the budget trickles in (the demo once sent 2,188 requests for 7,500 lines).
#[test]
fn pacing_sends_whole_requests_not_fragments() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("whole", 1);
    let ws = Workspace::new();
    let file = ws.logs().join("app.log");
    let expected = write_lines(&file, "w", 0..7_500, 60);
    ws.config("[[flow]]\nname = \"w\"\npaths = [\"$LOGS/app.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"whole\"\n");
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(120));
    assert!(agent.stop().0.success(), "{}", agent.log());
    assert_exactly_once(&expected, &kinesis.read_lines("whole"));
    let requests = agent.final_counter("requests");
    eprintln!("pacing: {requests} requests for 7,500 lines");
    assert!(requests <= 30, "{requests} requests for 7,500 lines");
    assert_eq!(agent.final_counter("entries_throttled"), 0);
}

/// Two flows writing to one paced stream share its shards' budgets: together they stay under
/// the proxy's limits (50 records/s per shard), in every second, the first included, although
/// each is configured just under the limit on its own. Checked at the proxy's clock. The first
/// ListShards calls fail (as one did in a CI run, when a flow's whole backlog then went unpaced
/// and a third of its entries were throttled): the first requests wait for the retry.
#[test]
fn flows_writing_to_one_stream_share_its_budget_in_every_second() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("shared", 2);
    let plan = FaultPlan {
        fail_list_shards_first: 4, // two flows, two attempts each
        ..PLAN
    };
    let proxy = FaultProxy::start(kinesis.port, plan);
    let ws = Workspace::new();
    let files = [ws.logs().join("a.log"), ws.logs().join("b.log")];
    let mut expected = write_lines(&files[0], "a", 0..600, 80);
    expected.extend(write_lines(&files[1], "b", 0..600, 80));
    let flow = |name: &str| {
        format!(
            "[[flow]]\nname = \"{name}\"\npaths = [\"$LOGS/{name}.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"shared\"\nshard_records_per_sec = 45\nshard_bytes_per_sec = \"45KiB\"\n"
        )
    };
    ws.config(&format!("{}{}", flow("a"), flow("b")));
    let mut agent = ws.start(&proxy.url);
    ws.wait_fully_checkpointed(&files, Duration::from_secs(120));
    assert!(agent.stop().0.success(), "{}", agent.log());
    assert_exactly_once(&expected, &kinesis.read_lines("shared"));
    let (stats, log) = (proxy.stats(), agent.log());
    assert!(log.contains("cannot list the stream's shards"), "{log}");
    assert!(
        stats.entries_failed * 100 <= stats.entries_received,
        "the flows went over the shared budget: {stats:?}\n{log}"
    );
    // Records per shard within any 0.9 s, as they reached the proxy. Each flow alone may send
    // 45 a second, and a limiter that started full would let 90 through in the first second:
    // either shows as about 80 here. The 0.1 s below a second absorbs the jitter between the
    // agent admitting a request and the proxy reading it.
    let busiest = proxy.busiest(Duration::from_millis(900));
    assert!(
        busiest.iter().all(|&n| n <= 50),
        "records per shard in the busiest 0.9 s: {busiest:?}"
    );
    assert!(busiest.iter().all(|&n| n >= 20), "{busiest:?}");
}
