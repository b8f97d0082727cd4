//! Idle-files benchmark: 10,000 matched files that nobody writes to. Runs the release
//! `edgeship` binary against a local null PutRecords endpoint and reports, after start-up, the
//! agent's CPU use while idle, the descriptors it holds (capped by `max_open_files`), its RSS,
//! and how long a line appended to an idle file takes to be shipped. The baseline, measured in
//! the same run, is the same agent with inotify off (`watch = "poll"`).
//!
//!   cargo bench --bench idle_files
//!   EDGESHIP_BENCH_FILES=20000 EDGESHIP_BENCH_IDLE_SECS=60 cargo bench --bench idle_files
//!
//! Absolute numbers on shared machines are noisy; compare the ratio to the baseline.

#[path = "support/null_kinesis.rs"]
mod null_kinesis;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const MAX_OPEN_FILES: usize = 256;

fn main() {
    let files: usize = env_or("EDGESHIP_BENCH_FILES", 10_000);
    let idle = Duration::from_secs(env_or("EDGESHIP_BENCH_IDLE_SECS", 20));
    let dir = tempfile::tempdir().unwrap();
    let paths = generate(dir.path(), files);
    let delivered = Arc::new(AtomicU64::new(0));
    let port = null_kinesis(delivered.clone());
    println!(
        "{files} files matched, max_open_files = {MAX_OPEN_FILES}, {}s idle window",
        idle.as_secs()
    );
    let results: Vec<(&str, Sample)> = ["poll", "auto"]
        .into_iter()
        .map(|watch| {
            (
                watch,
                measure(dir.path(), &paths, port, watch, idle, &delivered),
            )
        })
        .collect();
    report(&results);
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn generate(dir: &Path, files: usize) -> Vec<PathBuf> {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let paths = (0..files)
        .map(|n| {
            let path = logs.join(format!("app-{n:05}.log"));
            std::fs::write(&path, format!("first line of file {n}\n")).unwrap();
            path
        })
        .collect();
    // Idle files are old files: past the second a brand-new file settles (see README).
    std::thread::sleep(Duration::from_millis(1500));
    paths
}

struct Sample {
    startup: Duration,
    idle_cpu_percent: f64,
    fds: usize,
    rss_kib: u64,
    ship_latency: Duration,
}

fn measure(
    dir: &Path,
    paths: &[PathBuf],
    port: u16,
    watch: &str,
    idle: Duration,
    delivered: &AtomicU64,
) -> Sample {
    let state = dir.join(format!("state-{watch}"));
    let mut agent = start(dir, &state, port, watch);
    let start = Instant::now();
    // Started once every file is checkpointed (start_at = "end" marks each at its end).
    while checkpoint_entries(&state.join("checkpoints.json")) < paths.len() {
        std::thread::sleep(Duration::from_millis(50));
        assert!(agent.try_wait().unwrap().is_none(), "edgeship exited early");
    }
    let startup = start.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let cpu_before = cpu_seconds(agent.id());
    std::thread::sleep(idle);
    let idle_cpu = cpu_seconds(agent.id()) - cpu_before;
    let fds = std::fs::read_dir(format!("/proc/{}/fd", agent.id()))
        .unwrap()
        .count();
    let rss_kib = rss_kib(agent.id());
    // One line appended to each of 100 idle files, spread over the set.
    let before = delivered.load(Ordering::Relaxed);
    let appended = Instant::now();
    for path in paths.iter().step_by(paths.len() / 100) {
        let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        writeln!(file, "a new line").unwrap();
    }
    let target = before + paths.iter().step_by(paths.len() / 100).count() as u64;
    while delivered.load(Ordering::Relaxed) < target {
        assert!(
            appended.elapsed() < Duration::from_secs(120),
            "lines not shipped"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let ship_latency = appended.elapsed();
    Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    agent.wait().unwrap();
    Sample {
        startup,
        idle_cpu_percent: idle_cpu / idle.as_secs_f64() * 100.0,
        fds,
        rss_kib,
        ship_latency,
    }
}

fn start(dir: &Path, state: &Path, port: u16, watch: &str) -> Child {
    let config = dir.join(format!("edgeship-{watch}.toml"));
    std::fs::write(
        &config,
        format!(
            "state_dir = \"{}\"\ncheckpoint_interval = \"1s\"\n[aws]\nregion = \"us-east-1\"\n[[flow]]\nname = \"idle\"\npaths = [\"{}/logs/*.log\"]\nstart_at = \"end\"\nkinesis_stream = \"idle\"\nrate_limit = false\nwatch = \"{watch}\"\nmax_open_files = {MAX_OPEN_FILES}\n",
            state.display(),
            dir.display()
        ),
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_edgeship"))
        .args(["run", "--config"])
        .arg(&config)
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn report(results: &[(&str, Sample)]) {
    println!(
        "\n| watch | start-up | idle CPU | open fds | RSS | 100 appends shipped in |\n|---|---|---|---|---|---|"
    );
    for (watch, s) in results {
        println!(
            "| `{watch}` | {:.1} s | {:.2} % | {} | {:.1} MiB | {} ms |",
            s.startup.as_secs_f64(),
            s.idle_cpu_percent,
            s.fds,
            s.rss_kib as f64 / 1024.0,
            s.ship_latency.as_millis()
        );
    }
    let (poll, auto) = (&results[0].1, &results[1].1);
    println!(
        "\nidle CPU, inotify vs polling: {:.2}x (lower is better); open fds stay <= max_open_files + {} (sockets, state, inotify)",
        auto.idle_cpu_percent / poll.idle_cpu_percent.max(1e-9),
        auto.fds.saturating_sub(MAX_OPEN_FILES)
    );
    for (watch, s) in results {
        assert!(
            s.fds <= MAX_OPEN_FILES + 32,
            "{watch}: {} descriptors exceed the cap",
            s.fds
        );
    }
}

fn checkpoint_entries(path: &Path) -> usize {
    let Ok(text) = std::fs::read_to_string(path) else {
        return 0;
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["files"].as_array().map(Vec::len))
        .unwrap_or(0)
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The null endpoint, counting entries.
fn null_kinesis(delivered: Arc<AtomicU64>) -> u16 {
    null_kinesis::start(move |entries| {
        delivered.fetch_add(entries.len() as u64, Ordering::Relaxed);
    })
}
