//! The torture harness: a writer appending numbered lines of a fixed length, the real
//! `logrotate`, a network gate in front of kinesalite, and the faults a scenario asks for
//! (outage, SIGTERM restart, `kill -9` loop, corrupt checkpoint, full state disk). Each run counts
//! the lines written, delivered, duplicated and missing, and the bytes the agent reported lost.

use crate::common::gate::Gate;
use crate::common::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Every line is this long, newline included, so lost bytes convert to lost lines exactly.
pub const LINE_BYTES: usize = 100;

pub struct Scenario {
    pub name: &'static str,
    pub lines_per_sec: u64,
    /// Lines of random hex (compress about 2×) instead of padding (compresses ~50×).
    pub random_lines: bool,
    pub rotate_every: Duration,
    /// logrotate directives for the log.
    pub rotate: &'static str,
    /// Runs from the first checkpoint on.
    pub write_for: Duration,
    pub outage_after: Duration,
    /// Zero: no outage (the restart then happens `outage_after` + `restart_after` in).
    pub outage: Duration,
    /// SIGTERM and start again this long into the outage.
    pub restart_after: Option<Duration>,
    /// Done to the state directory while the agent is stopped for the restart.
    pub while_stopped: Option<fn(&Workspace)>,
    /// After the outage: `kill -9` this often, this many times, starting again after a pause
    /// (rotations happen while the agent is down).
    pub kill_loop: Option<KillLoop>,
    /// The state directory on a 1 MiB tmpfs, filled up for this long after the outage.
    pub full_state_disk: Option<Duration>,
    /// Extra top-level config (spool and hold limits).
    pub settings: &'static str,
    /// Extra `[[flow]]` keys.
    pub flow: &'static str,
}

#[derive(Clone, Copy)]
pub struct KillLoop {
    pub every: Duration,
    pub times: u32,
    pub down_for: Duration,
}

impl Scenario {
    pub fn long() -> bool {
        std::env::var_os("EDGESHIP_TORTURE_LONG").is_some()
    }
}

pub fn secs(short: u64, long: u64) -> Duration {
    Duration::from_secs(if Scenario::long() { long } else { short })
}

/// The measured scenario: 500 lines/s, `create` + `rotate 2` rotations, an outage from 2 s in.
pub fn outage(name: &'static str) -> Scenario {
    Scenario {
        name,
        lines_per_sec: 500,
        random_lines: false,
        rotate_every: secs(2, 5),
        rotate: "create\nrotate 2",
        write_for: secs(30, 80),
        outage_after: Duration::from_secs(2),
        outage: secs(20, 75),
        restart_after: None,
        while_stopped: None,
        kill_loop: None,
        full_state_disk: None,
        settings: "",
        flow: "",
    }
}

#[derive(Debug)]
pub struct Outcome {
    pub written: usize,
    pub delivered: usize,
    pub missing: usize,
    pub duplicated: usize,
    pub lost_bytes: u64,
    /// Most disk that deleted files held open by the agent pinned at once (sampled).
    pub peak_held: u64,
    /// Peak RSS of the agent processes (VmHWM), the largest of them.
    pub peak_rss: u64,
    pub spooled: bool,
    /// Line numbers missing, as ranges.
    pub missing_ranges: Vec<std::ops::Range<usize>>,
    pub log: String,
}

impl Outcome {
    fn print(&self, name: &str) {
        eprintln!(
            "[torture] {name}: written {} delivered {} missing {} duplicated {} reported lost {} bytes ({} lines), peak held {} bytes, peak RSS {:.1} MiB",
            self.written,
            self.delivered,
            self.missing,
            self.duplicated,
            self.lost_bytes,
            self.lost_bytes / LINE_BYTES as u64,
            self.peak_held,
            self.peak_rss as f64 / (1 << 20) as f64
        );
    }

    /// Missing lines are exactly the bytes reported lost: nothing lost silently, nothing
    /// reported lost that arrived.
    pub fn assert_accounted(&self) {
        assert_eq!(
            self.missing as u64 * LINE_BYTES as u64,
            self.lost_bytes,
            "{} lines missing ({:?}) but {} bytes reported lost; agent logs:\n{}",
            self.missing,
            self.missing_ranges,
            self.lost_bytes,
            tail(&self.log, 60)
        );
    }

    /// Nothing lost silently, and at most `unknowable` bytes reported lost that arrived: those
    /// of requests in flight when the connections were cut, which AWS may have stored without
    /// the agent ever hearing back.
    pub fn assert_accounted_within(&self, unknowable: u64) {
        let missing = self.missing as u64 * LINE_BYTES as u64;
        assert!(
            missing <= self.lost_bytes && self.lost_bytes <= missing + unknowable,
            "{} lines missing ({} bytes) but {} bytes reported lost; agent logs:\n{}",
            self.missing,
            missing,
            self.lost_bytes,
            tail(&self.log, 60)
        );
    }

    /// Every line arrives, and nothing is reported lost.
    pub fn assert_complete(&self) {
        self.assert_accounted();
        assert_eq!(self.missing, 0, "{}", tail(&self.log, 40));
    }
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn line(n: usize, random: bool) -> String {
    let body = if random {
        (0..LINE_BYTES - 11)
            .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap())
            .collect()
    } else {
        "t".repeat(LINE_BYTES - 11)
    };
    format!("w-{n:07} {body}")
}

/// Appends numbered lines of exactly `LINE_BYTES` at `per_sec`, reopening the path every 5 ms
/// (an application that follows `create` rotations), until `stop`.
fn spawn_writer(
    path: PathBuf,
    per_sec: u64,
    random: bool,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut lines = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            let due = (start.elapsed().as_secs_f64() * per_sec as f64) as usize;
            let first = lines.len();
            let mut text = String::new();
            while lines.len() < due {
                let line = line(lines.len(), random);
                text.push_str(&line);
                text.push('\n');
                lines.push(line);
            }
            if lines.len() > first {
                let mut file = loop {
                    match std::fs::OpenOptions::new().append(true).open(&path) {
                        Ok(file) => break file,
                        Err(_) => std::thread::sleep(Duration::from_micros(200)),
                    }
                };
                file.write_all(text.as_bytes()).unwrap();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        lines
    })
}

/// Runs the real logrotate every `every`.
fn spawn_rotator(
    ws: &Workspace,
    directives: &str,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> JoinHandle<u32> {
    let conf = ws.path("logrotate.conf");
    let state = ws.path("logrotate.state");
    let text = format!("{}/app.log {{\n{directives}\n}}\n", ws.logs().display());
    std::fs::write(&conf, text).unwrap();
    std::thread::spawn(move || {
        let mut rotations = 0;
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(every);
            let output = Command::new("/usr/sbin/logrotate")
                .arg("-f")
                .arg("-s")
                .arg(&state)
                .arg(&conf)
                .output()
                .expect("logrotate is installed (.ci/setup)");
            assert!(output.status.success(), "logrotate failed: {output:?}");
            rotations += 1;
        }
        rotations
    })
}

pub fn metrics(port: u16) -> String {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The agent has delivered everything it read and the live log is checkpointed at its end.
fn caught_up(ws: &Workspace, port: u16, log: &Path) -> bool {
    let text = metrics(port);
    let (Some(read), Some(delivered)) = (
        metric(&text, "edgeship_lines_read_total"),
        metric(&text, "edgeship_lines_delivered_total"),
    ) else {
        return false;
    };
    let size = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
    read == delivered && ws.checkpoints().get(log) == Some(&size)
}

/// Bytes of deleted files the process holds open.
fn deleted_held_bytes(pid: u32) -> u64 {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    fds.flatten()
        .filter(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| target.to_string_lossy().ends_with(" (deleted)"))
        })
        .filter_map(|fd| std::fs::metadata(fd.path()).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Samples the current agent until `stop`; returns the peaks of held bytes and RSS.
fn spawn_probe(pid: Arc<AtomicU32>, stop: Arc<AtomicBool>) -> JoinHandle<(u64, u64)> {
    std::thread::spawn(move || {
        let (mut held, mut rss) = (0, 0);
        while !stop.load(Ordering::SeqCst) {
            let pid = pid.load(Ordering::SeqCst);
            held = u64::max(held, deleted_held_bytes(pid));
            rss = u64::max(rss, peak_rss(pid));
            std::thread::sleep(Duration::from_millis(200));
        }
        (held, rss)
    })
}

fn missing_ranges(
    expected: &[String],
    counts: &std::collections::BTreeMap<&str, usize>,
) -> Vec<std::ops::Range<usize>> {
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
    for (n, line) in expected.iter().enumerate() {
        if counts.contains_key(line.as_str()) {
            continue;
        }
        match ranges.last_mut() {
            Some(last) if last.end == n => last.end = n + 1,
            _ => ranges.push(n..n + 1),
        }
    }
    ranges
}

fn lost_bytes(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("data lost"))
        .filter_map(|l| {
            let at = l.find(" bytes=")? + 7;
            l[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// A small tmpfs mounted over the workspace's state directory, unmounted on drop.
struct StateDisk(PathBuf);

impl StateDisk {
    fn mount(ws: &Workspace) -> StateDisk {
        let dir = ws.path("state");
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&dir)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "the full-disk scenario mounts a 1 MiB tmpfs as its state directory and needs root (CAP_SYS_ADMIN)"
        );
        StateDisk(dir)
    }

    /// Fills the disk to the last byte; returns the filler to delete.
    fn fill(&self) -> PathBuf {
        let filler = self.0.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 4096];
        while file.write_all(&block).is_ok() {}
        while file.write_all(&block[..1]).is_ok() {}
        filler
    }
}

impl Drop for StateDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The agent of a run, restarted as the scenario says; the logs of every instance.
struct Agents<'a> {
    ws: &'a Workspace,
    url: String,
    agent: Agent,
    pid: Arc<AtomicU32>,
    logs: String,
}

impl Agents<'_> {
    fn stop_and_start(
        &mut self,
        kill: bool,
        down_for: Duration,
        while_stopped: Option<fn(&Workspace)>,
    ) {
        if kill {
            self.agent.kill9();
        } else {
            let (status, took) = self.agent.stop();
            eprintln!("[torture] stopped (took {took:?})");
            assert!(
                status.success(),
                "agent exit: {status:?}\n{}",
                self.agent.log()
            );
        }
        self.logs.push_str(&self.agent.log());
        std::thread::sleep(down_for);
        if let Some(tamper) = while_stopped {
            tamper(self.ws);
        }
        self.agent = self.ws.start(&self.url);
        self.pid.store(self.agent.pid(), Ordering::SeqCst);
    }
}

pub fn run(s: &Scenario) -> Outcome {
    let stream = s.name;
    let kinesis = Emulator::kinesalite();
    // Two shards: 500 lines/s is half of one shard's record budget, and pacing holds every
    // second to the budget (no burst after a restart), so on one shard a kill loop down 45% of
    // the time would leave the agent behind by design, not by a fault of rotation handling.
    kinesis.create_stream(stream, 2);
    let gate = Gate::start(kinesis.port);
    let ws = Workspace::new();
    let disk = s.full_state_disk.map(|_| StateDisk::mount(&ws));
    let port = free_port();
    let log = ws.logs().join("app.log");
    std::fs::write(&log, "").unwrap();
    ws.config(&format!(
        "{}\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n[[flow]]\nname = \"t\"\npaths = [\"$LOGS/app.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"{stream}\"\nscan_interval = \"1s\"\npoll_interval = \"100ms\"\nbatch_max_age = \"200ms\"\n{}\n",
        s.settings, s.flow
    ));
    let agent = ws.start(&gate.url);
    let pid = Arc::new(AtomicU32::new(agent.pid()));
    let mut agents = Agents {
        ws: &ws,
        url: gate.url.clone(),
        agent,
        pid: pid.clone(),
        logs: String::new(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(log.clone(), s.lines_per_sec, s.random_lines, stop.clone());
    let rotator = spawn_rotator(&ws, s.rotate, s.rotate_every, stop.clone());
    let probe = spawn_probe(pid, stop.clone());
    wait_for(Duration::from_secs(30), "the first checkpoint", || {
        ws.checkpoints().get(&log).is_some_and(|o| *o > 0)
    });
    let started = Instant::now();
    inject_faults(s, &gate, &mut agents, disk.as_ref());
    std::thread::sleep(s.write_for.saturating_sub(started.elapsed()));
    stop.store(true, Ordering::SeqCst);
    let expected = writer.join().unwrap();
    let rotations = rotator.join().unwrap();
    let (peak_held, peak_rss) = probe.join().unwrap();
    wait_caught_up(&ws, port, &log, &agents.agent);
    let (status, _) = agents.agent.stop();
    assert!(
        status.success(),
        "agent exit: {status:?}\n{}",
        agents.agent.log()
    );
    agents.logs.push_str(&agents.agent.log());
    let logs = std::mem::take(&mut agents.logs);
    let _ = std::fs::write(
        std::env::temp_dir().join(format!("{}-agents.log", s.name)),
        &logs,
    );
    drop(agents);
    drop(disk);
    let got = if s.flow.contains("compression") {
        lines_of(&kinesis.tool(&["read-inflated", stream]))
    } else {
        kinesis.read_lines(stream)
    };
    let counts = tally(&got);
    assert!(
        counts.keys().all(|l| l.len() == LINE_BYTES - 1),
        "nothing invented"
    );
    let outcome = Outcome {
        written: expected.len(),
        delivered: counts.len(),
        missing: expected.len() - counts.len(),
        duplicated: counts.values().map(|n| n - 1).sum(),
        lost_bytes: lost_bytes(&logs),
        peak_held,
        peak_rss,
        spooled: logs.contains("spooled bytes"),
        missing_ranges: missing_ranges(&expected, &counts),
        log: logs,
    };
    eprintln!("[torture] {}: {rotations} rotations", s.name);
    outcome.print(s.name);
    outcome
}

/// The outage (with its restart), then the `kill -9` loop, then the full state disk.
fn inject_faults(s: &Scenario, gate: &Gate, agents: &mut Agents, disk: Option<&StateDisk>) {
    std::thread::sleep(s.outage_after);
    let outage = !s.outage.is_zero();
    if outage {
        gate.down();
        eprintln!("[torture] {}: network down", s.name);
    }
    if let Some(after) = s.restart_after {
        std::thread::sleep(after);
        agents.stop_and_start(false, Duration::ZERO, s.while_stopped);
        std::thread::sleep(s.outage.saturating_sub(after));
    } else {
        std::thread::sleep(s.outage);
    }
    if outage {
        gate.up();
        eprintln!("[torture] {}: network up", s.name);
    }
    if let Some(kills) = s.kill_loop {
        for _ in 0..kills.times {
            std::thread::sleep(kills.every);
            agents.stop_and_start(true, kills.down_for, None);
        }
        eprintln!("[torture] {}: killed {} times", s.name, kills.times);
    }
    if let (Some(full_for), Some(disk)) = (s.full_state_disk, disk) {
        let filler = disk.fill();
        eprintln!("[torture] {}: state disk full", s.name);
        std::thread::sleep(full_for);
        std::fs::remove_file(filler).unwrap();
        eprintln!("[torture] {}: state disk freed", s.name);
    }
}

fn wait_caught_up(ws: &Workspace, port: u16, log: &Path, agent: &Agent) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !caught_up(ws, port, log) {
        assert!(
            Instant::now() < deadline,
            "the agent did not catch up; checkpoints {:?}, size {:?}, metrics:\n{}\nagent log:\n{}",
            ws.checkpoints(),
            std::fs::metadata(log).map(|m| m.len()),
            metrics(port)
                .lines()
                .filter(|l| l.contains("lines") || l.contains("lost"))
                .collect::<Vec<_>>()
                .join("\n"),
            tail(&agent.log(), 40)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
