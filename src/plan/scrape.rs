//! `plan --metrics URL`: the rates from a running agent's Prometheus endpoint instead of the
//! files, from its `edgeship_lines_read_total` and `edgeship_read_bytes_total` counters read
//! once a second (what the agent really reads, whatever the paths match now).

use super::sample::Growth;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Per flow name, one interval per second of `duration`.
pub fn sample(url: &str, names: &[&str], duration: Duration) -> Result<Vec<Growth>, String> {
    let mut last = counters(&get(url)?);
    let mut growth = vec![Growth::default(); names.len()];
    let started = Instant::now();
    let mut at = started;
    while started.elapsed() < duration {
        let next = (at + Duration::from_secs(1)).min(started + duration);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let now_counters = counters(&get(url)?);
        let now = Instant::now();
        for (i, name) in names.iter().enumerate() {
            let (l0, b0) = last.get(*name).copied().unwrap_or_default();
            let (l1, b1) = now_counters.get(*name).copied().unwrap_or_default();
            // A restarted agent starts its counters again: count from zero.
            let (lines, bytes) = if l1 < l0 {
                (l1, b1)
            } else {
                (l1 - l0, b1.saturating_sub(b0))
            };
            growth[i]
                .intervals
                .push(((now - at).as_secs_f64(), lines, bytes));
        }
        last = now_counters;
        at = now;
    }
    Ok(growth)
}

/// `(lines read, bytes read)` per flow from a Prometheus text page.
pub fn counters(page: &str) -> HashMap<String, (u64, u64)> {
    let mut out: HashMap<String, (u64, u64)> = HashMap::new();
    for line in page.lines() {
        let (name, rest) = match line.split_once('{') {
            Some(split) => split,
            None => continue,
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let Some(flow) = labels
            .split_once("flow=\"")
            .and_then(|(_, v)| v.split_once('"'))
            .map(|(flow, _)| flow)
        else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let entry = out.entry(flow.to_owned()).or_default();
        match name {
            "edgeship_lines_read_total" => entry.0 = value as u64,
            "edgeship_read_bytes_total" => entry.1 = value as u64,
            _ => {}
        }
    }
    out
}

/// A plain HTTP/1.0 GET of `http://host:port/path` (the metrics endpoint has no TLS).
fn get(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("{url}: give an http:// URL such as http://127.0.0.1:9898/metrics")
    })?;
    let (host, path) = match rest.split_once('/') {
        Some((host, path)) => (host, format!("/{path}")),
        None => (rest, "/metrics".to_owned()),
    };
    let fail = |e: std::io::Error| format!("cannot read {url}: {e}");
    let mut stream = std::net::TcpStream::connect(host).map_err(fail)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(fail)?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").map_err(fail)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(fail)?;
    match response.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.") && head.contains(" 200 ") => {
            Ok(body.to_owned())
        }
        _ => Err(format!("{url} did not answer 200 with a metrics page")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_read_per_flow() {
        let page = "# HELP edgeship_lines_read_total Lines read from files.\n# TYPE edgeship_lines_read_total counter\nedgeship_lines_read_total{flow=\"web\"} 1200\nedgeship_lines_read_total{flow=\"a,b\"} 3\nedgeship_read_bytes_total{flow=\"web\"} 360000\nedgeship_lines_delivered_total{flow=\"web\"} 1100\n";
        let got = counters(page);
        assert_eq!(got["web"], (1200, 360_000));
        assert_eq!(got["a,b"].0, 3);
        assert!(get("https://x/metrics").unwrap_err().contains("http://"));
    }
}
