//! A private CA (tests/support/test_ca.py: a CA, a server certificate for localhost and
//! 127.0.0.1, a device certificate for the thing "gateway-7") and a TLS endpoint it signed in
//! front of kinesalite (tests/support/tls_relay.py).

use super::*;

/// A helper process, killed on drop with its process group if it leads one (proxy.py forks
/// workers that would outlive their parent).
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn venv_python() -> Command {
    Command::new(emulators().join("venv/bin/python"))
}

/// A private CA and a TLS endpoint it signed, in front of kinesalite.
pub struct PrivateEndpoint {
    pub kinesis: Emulator,
    _relay: Running,
    pub url: String,
    pub ca: PathBuf,
}

/// With `record`, the relay appends the access key id and region of each signed request to
/// that file (`AKID region` per line).
pub fn private_endpoint(dir: &Path, record: Option<&Path>) -> PrivateEndpoint {
    let status = venv_python()
        .arg(repo().join("tests/support/test_ca.py"))
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success(), "test_ca.py failed");
    another_endpoint(dir, record)
}

/// One more kinesalite behind a relay with the certificates `private_endpoint` wrote to `dir`.
pub fn another_endpoint(dir: &Path, record: Option<&Path>) -> PrivateEndpoint {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("s", 2);
    let mut relay = venv_python()
        .arg(repo().join("tests/support/tls_relay.py"))
        .arg(dir.join("server.pem"))
        .arg(dir.join("server.key"))
        .arg(kinesis.port.to_string())
        .args(record)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let port = listening_port(&mut relay);
    PrivateEndpoint {
        kinesis,
        _relay: Running(relay),
        url: format!("https://localhost:{port}"),
        ca: dir.join("ca.pem"),
    }
}

/// What a relay's record holds: (access key id, region) of each signed request, in order.
pub fn signed(record: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(record).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(key, region)| (key.to_owned(), region.to_owned()))
        .collect()
}

/// The port a helper announced with its first line, `LISTENING <port>`.
pub fn listening_port(child: &mut std::process::Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout piped"))
        .read_line(&mut line)
        .unwrap();
    match line.trim().strip_prefix("LISTENING ") {
        Some(port) => port.to_owned(),
        None => panic!("the helper did not announce its port: {line:?}"),
    }
}
