//! Rotation matrix: the real `logrotate` rotates a file that a writer keeps appending to while
//! edgeship ships it to kinesalite; every line written must be read back exactly once. Also
//! rotation while the agent is stopped, delete and re-create, truncation in place, and a
//! symlink whose target changes.

mod common;

use common::*;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::thread::JoinHandle;
use std::time::Duration;

/// How the application writes its log.
#[derive(Clone, Copy, PartialEq)]
enum Writer {
    /// Opens the path for every line (follows `create` rotations at once, like an application
    /// signalled by a postrotate script).
    Reopens,
    /// Keeps one append handle (what copytruncate is for).
    KeepsOpen,
}

/// Appends `count` lines to `path`, one every `every`.
fn spawn_writer(
    path: &Path,
    tag: &'static str,
    count: usize,
    every: Duration,
    mode: Writer,
) -> JoinHandle<Vec<String>> {
    let path = path.to_owned();
    std::thread::spawn(move || {
        // Like an application that reopens its log after rotation: it waits for logrotate's
        // `create` instead of creating the file itself (logrotate would move such a file
        // aside as `app.log-<date>.backup`).
        let open = || loop {
            match std::fs::OpenOptions::new().append(true).open(&path) {
                Ok(file) => return file,
                Err(_) => std::thread::sleep(Duration::from_micros(200)),
            }
        };
        drop(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap(),
        );
        let mut kept = open();
        let mut lines = Vec::new();
        for n in 0..count {
            let line = format!("{tag}-{n:06} {}", "r".repeat(60));
            let mut file = if mode == Writer::Reopens {
                open()
            } else {
                kept.try_clone().unwrap()
            };
            // One write(2) per whole line: `writeln!` on a `File` writes the line and its
            // newline separately, and a copytruncate between the two leaves an empty line.
            file.write_all(format!("{line}\n").as_bytes()).unwrap();
            lines.push(line);
            std::thread::sleep(every);
        }
        kept.flush().unwrap();
        lines
    })
}

fn logrotate(ws: &Workspace, directives: &str) {
    let conf = ws.path("logrotate.conf");
    std::fs::write(
        &conf,
        format!("{}/app.log {{\n{directives}\n}}\n", ws.logs().display()),
    )
    .unwrap();
    let output = Command::new("/usr/sbin/logrotate")
        .arg("-f")
        .arg("-s")
        .arg(ws.path("logrotate.state"))
        .arg(&conf)
        .output()
        .expect("logrotate is installed (.ci/setup)");
    assert!(
        output.status.success(),
        "logrotate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn flow(pattern: &str, stream: &str) -> String {
    format!(
        "[[flow]]\nname = \"rot\"\npaths = [\"$LOGS/{pattern}\"]\nstart_at = \"beginning\"\nkinesis_stream = \"{stream}\"\nscan_interval = \"300ms\"\npoll_interval = \"50ms\"\nbatch_max_age = \"200ms\"\n"
    )
}

/// A stream in a fresh kinesalite and a workspace whose flow matches `pattern` in `$LOGS`.
fn setup(stream: &str, pattern: &str) -> (Emulator, Workspace) {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream(stream, 1);
    let ws = Workspace::new();
    ws.config(&flow(pattern, stream));
    (kinesis, ws)
}

/// Writes `count` lines to `log`, starts the agent and waits until they are all checkpointed.
fn shipped(
    ws: &Workspace,
    kinesis: &Emulator,
    log: &Path,
    tag: &str,
    count: usize,
) -> (Agent, Vec<String>) {
    let expected = write_lines(log, tag, 0..count, 40);
    let agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(&[log.to_owned()], Duration::from_secs(30));
    (agent, expected)
}

/// Collects what arrived, records the matrix row, and checks exactly-once delivery.
fn exactly_once(
    kinesis: &Emulator,
    stream: &str,
    agent: &mut Agent,
    expected: &[String],
) -> Vec<String> {
    let got = collect(kinesis, stream, agent, expected.len());
    report(stream, expected, &got);
    assert_exactly_once(expected, &got);
    got
}

/// Waits until at least `count` lines arrived, stops the agent, returns what arrived.
fn collect(kinesis: &Emulator, stream: &str, agent: &mut Agent, count: usize) -> Vec<String> {
    // Until everything arrived, or nothing more arrives for a while (a copytruncate window).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (mut last, mut since) = (0, std::time::Instant::now());
    loop {
        let now = kinesis.read_lines(stream).len();
        if now != last {
            (last, since) = (now, std::time::Instant::now());
        }
        let quiet = since.elapsed() > Duration::from_secs(6);
        if now >= count || quiet || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(agent.stop().0.success(), "agent log:\n{}", agent.log());
    if std::env::var_os("ROTATION_DEBUG").is_some() {
        eprintln!("{}", agent.log());
    }
    kinesis.read_lines(stream)
}

/// Runs a writer, rotates `rotations` times while it writes, and checks exactly-once delivery.
fn rotation_case(stream: &str, pattern: &str, directives: &str, rotations: usize, mode: Writer) {
    let (kinesis, ws) = setup(stream, pattern);
    std::fs::create_dir_all(ws.logs().join("old")).unwrap();
    let log = ws.logs().join("app.log");
    let writer = spawn_writer(&log, "line", 1500, Duration::from_millis(2), mode);
    let mut agent = ws.start(&kinesis.url);
    for _ in 0..rotations {
        std::thread::sleep(Duration::from_millis(1100));
        logrotate(&ws, directives);
    }
    let expected = writer.join().unwrap();
    exactly_once(&kinesis, stream, &mut agent, &expected);
}

/// One row of the rotation matrix (visible with `--nocapture`).
fn report(case: &str, expected: &[String], got: &[String]) {
    let counts = tally(got);
    let missing = expected
        .iter()
        .filter(|l| !counts.contains_key(l.as_str()))
        .count();
    let duplicated = got.len() - counts.len();
    eprintln!(
        "rotation-matrix {case}: written {} delivered {} missing {missing} duplicated {duplicated}",
        expected.len(),
        got.len()
    );
}

#[test]
fn create_rotation_with_only_the_live_name_matched() {
    rotation_case(
        "r-create",
        "app.log",
        "rotate 3\ncreate",
        2,
        Writer::Reopens,
    );
}

#[test]
fn dateext_rotation_with_rotated_names_matched() {
    rotation_case(
        "r-dateext",
        "app.log*",
        "rotate 5\ncreate\ndateext\ndateformat .%s",
        2,
        Writer::Reopens,
    );
}

#[test]
fn compress_and_delaycompress_are_not_shipped_twice() {
    rotation_case(
        "r-delay",
        "app.log*",
        "rotate 5\ncreate\ncompress\ndelaycompress",
        3,
        Writer::Reopens,
    );
}

#[test]
fn compress_without_delay_drains_the_renamed_file_first() {
    rotation_case(
        "r-compress",
        "app.log*",
        "rotate 5\ncreate\ncompress",
        2,
        Writer::Reopens,
    );
}

#[test]
fn olddir_moves_rotations_out_of_the_matched_directory() {
    rotation_case(
        "r-olddir",
        "app.log",
        "rotate 3\ncreate\nolddir old",
        2,
        Writer::Reopens,
    );
}

#[test]
fn rotate_0_deletes_the_file_while_it_is_read() {
    rotation_case("r-zero", "app.log", "rotate 0\ncreate", 2, Writer::Reopens);
}

#[test]
fn copytruncate_reads_the_unread_rest_from_the_copy() {
    let (kinesis, ws) = setup("r-copy", "app.log*");
    let log = ws.logs().join("app.log");
    let writer = spawn_writer(
        &log,
        "line",
        1500,
        Duration::from_millis(2),
        Writer::KeepsOpen,
    );
    let mut agent = ws.start(&kinesis.url);
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(1100));
        logrotate(&ws, "rotate 3\ncopytruncate");
    }
    let expected = writer.join().unwrap();
    let got = collect(&kinesis, "r-copy", &mut agent, expected.len());
    report("r-copy", &expected, &got);
    let counts = tally(&got);
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        duplicated.is_empty(),
        "{} duplicated, e.g. {:?}; agent log:\n{}",
        duplicated.len(),
        &duplicated[..duplicated.len().min(3)],
        agent.log()
    );
    assert!(got.iter().all(|l| expected.contains(l)), "nothing invented");
    let missing = expected.len() - counts.len();
    // Only lines written between logrotate's copy and its truncate can be missing.
    assert!(missing <= 20, "{missing} lines missing");
    if missing > 0 {
        assert!(agent.log().contains("truncated"), "a loss is reported");
    }
}

#[test]
fn missingok_file_appearing_later_is_shipped() {
    let (kinesis, ws) = setup("r-missing", "app.log");
    let mut agent = ws.start(&kinesis.url);
    logrotate(&ws, "rotate 3\nmissingok\ncreate");
    std::thread::sleep(Duration::from_millis(500));
    let log = ws.logs().join("app.log");
    let expected = write_lines(&log, "late", 0..300, 40);
    exactly_once(&kinesis, "r-missing", &mut agent, &expected);
}

#[test]
fn rotation_while_stopped_finishes_the_rotated_file_first() {
    let (kinesis, ws) = setup("r-stopped", "app.log");
    let log = ws.logs().join("app.log");
    let (mut agent, mut expected) = shipped(&ws, &kinesis, &log, "before", 500);
    assert!(agent.stop().0.success());
    expected.extend(write_lines(&log, "unshipped", 0..400, 40));
    logrotate(&ws, "rotate 3\ncreate");
    expected.extend(write_lines(&log, "after", 0..300, 40));
    let mut agent = ws.start(&kinesis.url);
    let got = exactly_once(&kinesis, "r-stopped", &mut agent, &expected);
    let position = |tag: &str| got.iter().position(|l| l.starts_with(tag)).unwrap();
    assert!(
        got.iter()
            .rposition(|l| l.starts_with("unshipped"))
            .unwrap()
            < position("after"),
        "the rotated file is finished before the new one"
    );
    assert!(agent.log().contains("resuming from checkpoint"));
}

/// While the agent is stopped, two rotations: a file it never saw is created and rotated out of
/// `paths` (`app.log.1`), and a new live file appears. With `start_at = "end"`, both are still
/// shipped from their start (they were created after the last checkpoint), and nothing is
/// reported lost.
#[test]
fn files_created_while_stopped_are_shipped_even_with_start_at_end() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("r-unseen", 1);
    let ws = Workspace::new();
    ws.config(&flow("app.log", "r-unseen"));
    let log = ws.logs().join("app.log");
    let (mut agent, mut expected) = shipped(&ws, &kinesis, &log, "before", 500);
    assert!(agent.stop().0.success());
    ws.config(&flow("app.log", "r-unseen").replace("\"beginning\"", "\"end\""));
    expected.extend(write_lines(&log, "unshipped", 0..300, 40));
    logrotate(&ws, "rotate 3\ncreate");
    expected.extend(write_lines(&log, "unseen", 0..400, 40));
    logrotate(&ws, "rotate 3\ncreate");
    expected.extend(write_lines(&log, "after", 0..200, 40));
    let mut agent = ws.start(&kinesis.url);
    exactly_once(&kinesis, "r-unseen", &mut agent, &expected);
    assert!(!agent.log().contains("data lost"), "{}", agent.log());
}

#[test]
fn deleted_and_recreated_under_the_same_name() {
    let (kinesis, ws) = setup("r-recreate", "app.log");
    let log = ws.logs().join("app.log");
    let (mut agent, mut expected) = shipped(&ws, &kinesis, &log, "first", 400);
    std::fs::remove_file(&log).unwrap();
    expected.extend(write_lines(&log, "second", 0..400, 40));
    exactly_once(&kinesis, "r-recreate", &mut agent, &expected);
}

#[test]
fn truncated_in_place_is_read_again_from_the_start() {
    let (kinesis, ws) = setup("r-truncate", "app.log");
    let log = ws.logs().join("app.log");
    let (mut agent, mut expected) = shipped(&ws, &kinesis, &log, "first", 400);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    expected.extend(write_lines(&log, "second", 0..100, 40));
    exactly_once(&kinesis, "r-truncate", &mut agent, &expected);
    assert!(agent.log().contains("truncated"));
}

#[test]
fn symlink_whose_target_changes() {
    let (kinesis, ws) = setup("r-link", "current.log");
    let (a, b, link) = (
        ws.logs().join("a.log"),
        ws.logs().join("b.log"),
        ws.logs().join("current.log"),
    );
    let mut expected = write_lines(&a, "a", 0..300, 40);
    std::os::unix::fs::symlink(&a, &link).unwrap();
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(std::slice::from_ref(&link), Duration::from_secs(30));
    expected.extend(write_lines(&a, "a-more", 0..100, 40));
    let tmp_link = ws.logs().join("current.tmp");
    std::os::unix::fs::symlink(&b, &tmp_link).unwrap();
    expected.extend(write_lines(&b, "b", 0..300, 40));
    std::fs::rename(&tmp_link, &link).unwrap();
    exactly_once(&kinesis, "r-link", &mut agent, &expected);
}

#[test]
fn more_files_than_max_open_files_all_ship() {
    let (kinesis, ws) = setup("r-cap", "*.log");
    ws.config(&format!("{}max_open_files = 4\n", flow("*.log", "r-cap")));
    let mut expected = Vec::new();
    let paths: Vec<_> = (0..20)
        .map(|n| ws.logs().join(format!("f{n:02}.log")))
        .collect();
    for (n, path) in paths.iter().enumerate() {
        expected.extend(write_lines(path, &format!("f{n:02}"), 0..50, 40));
    }
    let mut agent = ws.start(&kinesis.url);
    // Every file read once (most are closed again under the cap): now they grow.
    ws.wait_fully_checkpointed(&paths, Duration::from_secs(60));
    for n in (0..20).step_by(3) {
        let path = ws.logs().join(format!("f{n:02}.log"));
        expected.extend(write_lines(&path, &format!("g{n:02}"), 0..20, 40));
    }
    exactly_once(&kinesis, "r-cap", &mut agent, &expected);
}

#[test]
fn truncation_while_stopped_is_reported_with_its_range() {
    let (kinesis, ws) = setup("r-loss", "app.log");
    let log = ws.logs().join("app.log");
    let (mut agent, mut expected) = shipped(&ws, &kinesis, &log, "first", 200);
    assert!(agent.stop().0.success());
    let checkpoint = std::fs::metadata(&log).unwrap().len();
    write_lines(&log, "unshipped", 0..100, 40);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    expected.extend(write_lines(&log, "second", 0..10, 40));
    let mut agent = ws.start(&kinesis.url);
    let got = collect(&kinesis, "r-loss", &mut agent, expected.len());
    assert_exactly_once(&expected, &got);
    let log_text = agent.log();
    assert!(
        log_text.contains("data lost")
            && log_text.contains("truncated_while_stopped")
            && log_text.contains(&format!("from={checkpoint}")),
        "{log_text}"
    );
}
