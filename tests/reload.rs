//! SIGHUP reloads the config: a changed flow restarts where it left off, an added flow starts,
//! a removed flow stops after delivering what it read, an unchanged flow keeps running, and an
//! invalid config is refused. Nothing is lost or repeated along the way.

mod common;

use common::*;
use std::time::Duration;

fn flow(name: &str, file: &str, extra: &str) -> String {
    format!(
        "[[flow]]\nname = \"{name}\"\npaths = [\"$LOGS/{file}\"]\nstart_at = \"beginning\"\nkinesis_stream = \"{name}\"\nscan_interval = \"200ms\"\n{extra}\n"
    )
}

fn reload(ws: &Workspace, agent: &Agent, flows: &str, expect: &str) {
    let before = agent.log().matches(expect).count();
    ws.config(flows);
    agent.signal("HUP");
    wait_for(Duration::from_secs(30), expect, || {
        agent.log().matches(expect).count() > before
    });
}

#[test]
fn sighup_applies_added_changed_and_removed_flows_without_loss_or_duplicates() {
    let kinesis = Emulator::kinesalite();
    for stream in ["ra", "rb", "rc"] {
        kinesis.create_stream(stream, 1);
    }
    let ws = Workspace::new();
    let (a, b, c) = (
        ws.logs().join("a.log"),
        ws.logs().join("b.log"),
        ws.logs().join("c.log"),
    );
    let mut want_a = write_lines(&a, "a1", 0..2_000, 20);
    let mut want_c = write_lines(&c, "c1", 0..2_000, 20);
    ws.config(&(flow("ra", "a.log", "") + &flow("rc", "c.log", "")));
    let agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(&[a.clone(), c.clone()], Duration::from_secs(60));

    // a changes, b is added, c stays: lines written around the reload must all arrive once.
    want_a.extend(write_lines(&a, "a2", 0..1_000, 20));
    reload(
        &ws,
        &agent,
        &(flow("ra", "a.log", "batch_max_records = 100")
            + &flow("rb", "b.log", "")
            + &flow("rc", "c.log", "")),
        "configuration reloaded",
    );
    want_a.extend(write_lines(&a, "a3", 0..1_000, 20));
    let mut want_b = write_lines(&b, "b1", 0..1_000, 20);
    want_c.extend(write_lines(&c, "c2", 0..1_000, 20));
    ws.wait_fully_checkpointed(&[a.clone(), b.clone(), c.clone()], Duration::from_secs(60));
    let log = agent.log();
    assert!(
        log.contains("flow unchanged, still running flow=rc"),
        "{log}"
    );
    assert_eq!(
        log.matches("shipping [").count(),
        4,
        "ra twice, rb once, rc once:\n{log}"
    );

    // b is removed: what it read is delivered, later lines are not shipped.
    reload(
        &ws,
        &agent,
        &(flow("ra", "a.log", "batch_max_records = 100") + &flow("rc", "c.log", "")),
        "configuration reloaded",
    );
    write_lines(&b, "b-after-removal", 0..100, 20);
    want_b.truncate(1_000);

    // An invalid config is refused; the running flows go on.
    reload(
        &ws,
        &agent,
        "[[flow]]\nname = \"ra\"\npathz = []\n",
        "reload rejected",
    );
    want_a.extend(write_lines(&a, "a4", 0..500, 20));
    ws.wait_fully_checkpointed(std::slice::from_ref(&a), Duration::from_secs(60));
    let mut agent = agent;
    assert!(agent.stop().0.success());

    assert_exactly_once(&want_a, &kinesis.read_lines("ra"));
    assert_exactly_once(&want_b, &kinesis.read_lines("rb"));
    assert_exactly_once(&want_c, &kinesis.read_lines("rc"));
}

/// `log_level` and `status_interval` take effect on SIGHUP, without restarting any flow.
#[test]
fn sighup_applies_log_level_and_status_interval() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("lv", 1);
    let ws = Workspace::new();
    let write = |level: &str, status: &str| {
        let text = format!(
            "state_dir = \"{}\"\nlog_level = \"{level}\"\nstatus_interval = \"{status}\"\n{}",
            ws.path("state").display(),
            flow("lv", "*.log", "").replace("$LOGS", &ws.logs().display().to_string())
        );
        std::fs::write(ws.path("edgeship.toml"), text).unwrap();
    };
    write("info", "1h");
    std::fs::write(ws.logs().join("a.log"), "x\n").unwrap();
    // An empty RUST_LOG leaves the level to the config.
    let agent = ws.start_with_env(&kinesis.url, &[("RUST_LOG", "")]);
    ws.wait_fully_checkpointed(&[ws.logs().join("a.log")], Duration::from_secs(60));
    write("debug", "1s");
    agent.signal("HUP");
    wait_for(Duration::from_secs(30), "the reload", || {
        agent.log().contains("configuration reloaded")
    });
    let log = agent.log();
    assert!(log.contains("log level changed"), "{log}");
    assert!(log.contains("flow unchanged, still running"), "{log}");
    // A debug line, from a matched path that is not a file, now shows; status lines follow
    // the new interval.
    std::fs::create_dir(ws.logs().join("dir.log")).unwrap();
    wait_for(
        Duration::from_secs(30),
        "a debug line and status lines",
        || {
            let log = agent.log();
            log.contains("is a directory, not a regular file")
                && log.matches("status: ").count() >= 2
        },
    );
}

/// A reload rejected because its `[aws]` settings cannot be used changes nothing, not even
/// the log level it asked for: the next SIGHUP is still logged at info.
#[test]
fn a_rejected_reload_keeps_the_log_level() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("kl", 1);
    let ws = Workspace::new();
    let write = |level: &str, aws: &str| {
        let text = format!(
            "state_dir = \"{}\"\nlog_level = \"{level}\"\n{aws}\n{}",
            ws.path("state").display(),
            flow("kl", "*.log", "").replace("$LOGS", &ws.logs().display().to_string())
        );
        std::fs::write(ws.path("edgeship.toml"), text).unwrap();
    };
    write("info", "");
    std::fs::write(ws.logs().join("a.log"), "x\n").unwrap();
    let agent = ws.start_with_env(&kinesis.url, &[("RUST_LOG", "")]);
    ws.wait_fully_checkpointed(&[ws.logs().join("a.log")], Duration::from_secs(60));
    write("warn", "[aws]\nendpoint_url = \"ftp://nowhere\"");
    for n in 1..=2 {
        agent.signal("HUP");
        wait_for(Duration::from_secs(30), "the reload to be rejected", || {
            agent.log().matches("reload rejected").count() >= n
        });
    }
    let log = agent.log();
    assert_eq!(
        log.matches("SIGHUP: reloading the configuration").count(),
        2,
        "the level stayed info: {log}"
    );
    assert!(!log.contains("log level changed"), "{log}");
}
