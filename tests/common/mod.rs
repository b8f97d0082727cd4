//! Test harness: real emulators we did not write (kinesalite, moto), started on 127.0.0.1 with a
//! free port and stopped on drop; the real `edgeship` binary; an independent read-back client
//! (boto3, via tests/support/kinesis_tool.py); and a fault-injecting proxy ([`proxy`]).
//!
//! The emulators are installed by `.ci/setup` into `.emulators/` (override: EDGESHIP_EMULATORS).

#![allow(dead_code)]

pub mod gate;
pub mod proxy;
pub mod tls;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn emulators() -> PathBuf {
    let dir = std::env::var_os("EDGESHIP_EMULATORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".emulators"));
    assert!(
        dir.join("node_modules/kinesalite").is_dir() && dir.join("venv/bin/python").exists(),
        "emulators are not installed in {}: run `bash .ci/setup` (or the README's test command) first",
        dir.display()
    );
    dir
}

pub fn python() -> PathBuf {
    emulators().join("venv/bin/python")
}

/// A running emulator process; killed on drop.
pub struct Emulator {
    child: Child,
    pub url: String,
    pub port: u16,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Emulator {
    /// kinesalite (Kinesis Data Streams), in memory.
    pub fn kinesalite() -> Emulator {
        let mut child = Command::new("node")
            .arg(repo().join("tests/support/kinesalite.js"))
            .arg("0")
            .env("NODE_PATH", emulators().join("node_modules"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node (kinesalite)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("kinesalite output");
        let port: u16 = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("kinesalite did not start: {line:?}"));
        Emulator {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port,
        }
    }

    /// moto server (Firehose into S3, and S3 to read it back).
    pub fn moto() -> Emulator {
        let port = free_port();
        let child = Command::new(emulators().join("venv/bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        wait_for(Duration::from_secs(30), "moto_server to listen", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Emulator {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port,
        }
    }

    /// kinesis-mock (npm `kinesis-local`), the emulator that decodes Kinesis' CBOR protocol;
    /// plain HTTP on a free port (its TLS port on another), streams in memory.
    pub fn kinesis_mock() -> Emulator {
        let (port, tls_port) = (free_port(), free_port());
        let dir = emulators().join("node_modules/kinesis-local");
        assert!(
            dir.join("main.js").exists(),
            "kinesis-local is not installed in {}: run `bash .ci/setup`",
            dir.display()
        );
        let child = Command::new("node")
            .arg("-r")
            .arg(repo().join("tests/support/loopback.js"))
            .arg("main.js")
            .current_dir(&dir) // it reads its TLS certificate from server.json there
            .env("KINESIS_MOCK_PLAIN_PORT", port.to_string())
            .env("KINESIS_MOCK_TLS_PORT", tls_port.to_string())
            .env("CREATE_STREAM_DURATION", "0ms")
            .env("LOG_LEVEL", "WARN")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node (kinesis-mock)");
        wait_for(Duration::from_secs(60), "kinesis-mock to listen", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Emulator {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port,
        }
    }

    /// Runs the independent boto3 client against this emulator.
    pub fn tool(&self, args: &[&str]) -> Vec<u8> {
        self.tool_output(args).stdout
    }

    /// [`Emulator::tool`], with what it printed on stderr (summaries).
    pub fn tool_output(&self, args: &[&str]) -> Output {
        let output = Command::new(python())
            .arg(repo().join("tests/support/kinesis_tool.py"))
            .args(args)
            .envs(aws_env(&self.url))
            .output()
            .expect("run kinesis_tool.py");
        assert!(
            output.status.success(),
            "kinesis_tool {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    pub fn create_stream(&self, name: &str, shards: u32) {
        self.tool(&["create-stream", name, &shards.to_string()]);
    }

    /// Every record of the stream, read back with boto3, split into lines.
    pub fn read_lines(&self, stream: &str) -> Vec<String> {
        lines_of(&self.tool(&["read-stream", stream]))
    }
}

pub fn lines_of(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_owned)
        .collect()
}

pub fn aws_env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", url.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ]
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn edgeship() -> Command {
    Command::new(env!("CARGO_BIN_EXE_edgeship"))
}

/// A directory with logs/, state/ and a config; runs the agent against an endpoint.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        Workspace { dir }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn logs(&self) -> PathBuf {
        self.path("logs")
    }

    /// Writes `edgeship.toml` with `state_dir` and fast test intervals, plus `flows` (TOML).
    pub fn config(&self, flows: &str) -> PathBuf {
        let text = format!(
            "state_dir = \"{}\"\ncheckpoint_interval = \"200ms\"\nshutdown_timeout = \"20s\"\nstatus_interval = \"5s\"\nlog_level = \"info\"\n\n{}",
            self.path("state").display(),
            flows.replace("$LOGS", &self.logs().display().to_string())
        );
        let path = self.path("edgeship.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Starts `edgeship run`; stderr goes to `agent-N.log` in the workspace.
    pub fn start(&self, endpoint: &str) -> Agent {
        self.start_with_env(endpoint, &[])
    }

    /// Like [`start`](Self::start), with extra environment variables.
    pub fn start_with_env(&self, endpoint: &str, extra: &[(&str, &str)]) -> Agent {
        self.start_with_env_without(endpoint, extra, &[])
    }

    /// Like [`start_with_env`](Self::start_with_env), without the variables in `removed` (e.g.
    /// the test keys, to let another credential source answer).
    pub fn start_with_env_without(
        &self,
        endpoint: &str,
        extra: &[(&str, &str)],
        removed: &[&str],
    ) -> Agent {
        let n = (0..)
            .find(|n| !self.path(&format!("agent-{n}.log")).exists())
            .unwrap();
        let log_path = self.path(&format!("agent-{n}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut command = edgeship();
        command
            .args(["run", "--config"])
            .arg(self.path("edgeship.toml"))
            .envs(aws_env(endpoint))
            .env("RUST_LOG", "info")
            .envs(extra.iter().copied());
        for name in removed {
            command.env_remove(name);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start edgeship");
        Agent {
            child: Some(child),
            log_path,
        }
    }

    /// Checkpointed offsets by path.
    pub fn checkpoints(&self) -> BTreeMap<PathBuf, u64> {
        let Ok(text) = std::fs::read_to_string(self.path("state/checkpoints.json")) else {
            return BTreeMap::new();
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).expect("checkpoints.json is JSON");
        value["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    PathBuf::from(f["path"].as_str().unwrap()),
                    f["offset"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    /// Waits until every given file is checkpointed at its full size (everything acknowledged).
    pub fn wait_fully_checkpointed(&self, files: &[PathBuf], limit: Duration) {
        wait_for(limit, "all files to be checkpointed at their end", || {
            let checkpoints = self.checkpoints();
            files
                .iter()
                .all(|f| checkpoints.get(f) == Some(&std::fs::metadata(f).unwrap().len()))
        });
    }
}

/// Writes `count` numbered lines `"{tag}-{n:06} {padding}"` to `path` (appending).
pub fn write_lines(
    path: &Path,
    tag: &str,
    range: std::ops::Range<usize>,
    padding: usize,
) -> Vec<String> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let pad = "x".repeat(padding);
    let lines: Vec<String> = range.map(|n| format!("{tag}-{n:06} {pad}")).collect();
    let mut text = lines.join("\n");
    text.push('\n');
    file.write_all(text.as_bytes()).unwrap();
    lines
}

/// A running agent. Dropping it kills it.
pub struct Agent {
    child: Option<Child>,
    pub log_path: PathBuf,
}

impl Agent {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGTERM and wait; returns the exit status and how long it took.
    pub fn stop(&mut self) -> (std::process::ExitStatus, Duration) {
        let start = Instant::now();
        self.signal("TERM");
        let status = self.child.take().unwrap().wait().unwrap();
        (status, start.elapsed())
    }

    /// SIGKILL: a crash.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Reads a counter from the final summary line (`name=value`).
    pub fn final_counter(&self, name: &str) -> u64 {
        let log = self.log();
        let line = log
            .lines()
            .rev()
            .find(|l| l.contains("final: "))
            .unwrap_or_else(|| panic!("no final summary in agent log:\n{log}"));
        let needle = format!(" {name}=");
        let start = line
            .find(&needle)
            .unwrap_or_else(|| panic!("no {name} in {line}"))
            + needle.len();
        line[start..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `edgeship run` on the workspace's config and expects it to refuse to start: exit code
/// 1 and `message` on stderr.
pub fn assert_run_refused(ws: &Workspace, message: &str) {
    let output = edgeship()
        .args(["run", "--config"])
        .arg(ws.path("edgeship.toml"))
        .envs(aws_env("http://127.0.0.1:9"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(message),
        "expected {message:?} in: {stderr}"
    );
}

/// Runs `edgeship validate` on a config text.
pub fn validate(config_text: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edgeship.toml");
    std::fs::write(&path, config_text).unwrap();
    edgeship()
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .unwrap()
}

/// Counts how often each line occurs.
pub fn tally(lines: &[String]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for line in lines {
        *counts.entry(line.as_str()).or_insert(0) += 1;
    }
    counts
}

/// Asserts that `got` holds every expected line exactly once and nothing else.
pub fn assert_exactly_once(expected: &[String], got: &[String]) {
    let counts = tally(got);
    let missing: Vec<&String> = expected
        .iter()
        .filter(|l| !counts.contains_key(l.as_str()))
        .collect();
    let duplicated: Vec<(&&str, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        missing.is_empty(),
        "{} lines lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(3)]
    );
    assert!(
        duplicated.is_empty(),
        "{} lines duplicated, e.g. {:?}",
        duplicated.len(),
        &duplicated[..duplicated.len().min(3)]
    );
    assert_eq!(got.len(), expected.len(), "unexpected extra lines");
}
