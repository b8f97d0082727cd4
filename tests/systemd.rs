//! systemd integration: the unit passes `systemd-analyze verify` and rates OK or better in
//! `systemd-analyze security`; the agent speaks sd_notify to a fake NOTIFY_SOCKET (READY=1,
//! STATUS=, WATCHDOG=1 while alive, STOPPING=1 on SIGTERM).

mod common;

use common::*;
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The shipped unit with ExecStart pointing at the binary under test.
fn unit_under_test(dir: &std::path::Path) -> std::path::PathBuf {
    let unit = std::fs::read_to_string(repo().join("systemd/edgeship.service")).unwrap();
    let path = dir.join("edgeship.service");
    std::fs::write(
        &path,
        unit.replace("/usr/bin/edgeship", env!("CARGO_BIN_EXE_edgeship")),
    )
    .unwrap();
    path
}

#[test]
fn unit_verifies_and_is_hardened() {
    let unit = std::fs::read_to_string(repo().join("systemd/edgeship.service")).unwrap();
    assert!(
        unit.contains("RestartPreventExitStatus=78"),
        "a config error (exit 78) must not restart the unit every 5 s forever"
    );
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_under_test(dir.path());
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze (apt package systemd)");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let security = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&security.stdout).into_owned()
        + &String::from_utf8_lossy(&security.stderr);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("{text}"));
    eprintln!("{line}");
    let score: f64 = line
        .split(':')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        score <= 4.0 && (line.contains("OK") || line.contains("SAFE")),
        "{line}"
    );
}

/// A fake `NOTIFY_SOCKET` in the workspace: its path, and the messages it receives.
fn notify_socket(ws: &Workspace) -> (String, Arc<Mutex<Vec<String>>>) {
    let socket_path = ws.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let messages = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = messages.clone();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = socket.recv(&mut buffer) {
            sink.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buffer[..n]).into_owned());
        }
    });
    (socket_path.to_string_lossy().into_owned(), messages)
}

fn count_of(messages: &Mutex<Vec<String>>, wanted: &str) -> usize {
    messages
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains(wanted))
        .count()
}

/// A checkpoint write that does not return (its temp file made a FIFO nobody reads: `open`
/// blocks, as on a hung disk) stops the watchdog pings, so systemd would restart the agent;
/// the log says which stage is wedged. Once the write returns, the pings resume.
#[test]
fn a_wedged_checkpoint_write_withholds_the_watchdog_ping() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("wd", 1);
    let ws = Workspace::new();
    let file = ws.logs().join("a.log");
    write_lines(&file, "wd", 0..100, 10);
    ws.config("[[flow]]\nname = \"wd\"\npaths = [\"$LOGS/*.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"wd\"\n");
    let (socket_env, messages) = notify_socket(&ws);
    let mut agent = ws.start_with_env(
        &kinesis.url,
        &[("NOTIFY_SOCKET", &socket_env), ("WATCHDOG_USEC", "1000000")],
    );
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(30));
    let fifo = ws.path("state/checkpoints.json.tmp");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    write_lines(&file, "wedge", 0..10, 10);
    let wedged = |n: usize| {
        agent
            .log()
            .matches("the checkpoint write has not returned")
            .count()
            >= n
    };
    wait_for(
        Duration::from_secs(30),
        "the wedged write to be named",
        || wedged(1),
    );
    let pings = count_of(&messages, "WATCHDOG=1");
    wait_for(Duration::from_secs(30), "the next watchdog tick", || {
        wedged(2)
    });
    assert_eq!(
        count_of(&messages, "WATCHDOG=1"),
        pings,
        "no ping while wedged"
    );
    // Release the write (a reader opens the FIFO), and let the next one use a real file.
    let reader = std::thread::spawn(move || {
        let mut drained = Vec::new();
        std::io::Read::read_to_end(&mut std::fs::File::open(&fifo).unwrap(), &mut drained).unwrap();
        std::fs::remove_file(&fifo).unwrap();
    });
    reader.join().unwrap();
    wait_for(Duration::from_secs(30), "pings to resume", || {
        count_of(&messages, "WATCHDOG=1") > pings
    });
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(30));
    assert!(agent.stop().0.success());
}

#[test]
fn agent_notifies_ready_status_watchdog_and_stopping() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("sd", 1);
    let ws = Workspace::new();
    write_lines(&ws.logs().join("a.log"), "sd", 0..100, 10);
    ws.config("[[flow]]\nname = \"sd\"\npaths = [\"$LOGS/*.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"sd\"\n");
    let (socket_env, messages) = notify_socket(&ws);
    let mut agent = ws.start_with_env(
        &kinesis.url,
        &[("NOTIFY_SOCKET", &socket_env), ("WATCHDOG_USEC", "1000000")],
    );
    let has = |wanted: &str| messages.lock().unwrap().iter().any(|m| m.contains(wanted));
    let count = |wanted: &str| count_of(&messages, wanted);
    wait_for(Duration::from_secs(20), "READY=1", || has("READY=1"));
    wait_for(Duration::from_secs(20), "three watchdog pings", || {
        count("WATCHDOG=1") >= 3
    });
    wait_for(Duration::from_secs(20), "a progress status", || {
        has("STATUS=sd: 100 lines shipped")
    });
    assert!(!has("STOPPING=1"));
    assert!(agent.stop().0.success());
    wait_for(Duration::from_secs(5), "STOPPING=1", || has("STOPPING=1"));
}

#[test]
fn under_the_journal_lines_carry_syslog_priorities_and_no_colour() {
    let ws = Workspace::new();
    ws.config("[[flow]]\nname = \"j\"\npaths = [\"$LOGS/*.log\"]\nkinesis_stream = \"j\"\n");
    let mut agent = ws.start_with_env("http://127.0.0.1:9", &[("JOURNAL_STREAM", "8:12345")]);
    wait_for(Duration::from_secs(20), "start-up", || {
        agent.log().contains("edgeship is running")
    });
    assert!(agent.stop().0.success());
    let log = agent.log();
    assert!(
        log.lines()
            .all(|l| l.starts_with('<') && !l.contains('\u{1b}')),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("<6>") && l.contains("edgeship is running")),
        "{log}"
    );
}
