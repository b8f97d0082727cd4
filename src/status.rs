//! `edgeship status`: a table of every file with its acknowledged offset, current size and lag,
//! from the checkpoint file (readable while the agent runs) and, when the metrics endpoint is
//! configured and the agent is up, a line per flow from the live counters.

use crate::checkpoint::store::{FileCheckpoint, read_checkpoints};
use crate::config::Config;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

/// Binary-unit size for humans.
fn human(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().iec().to_string()
}

/// Renders the status report.
pub fn report(config: &Config) -> String {
    let mut out = String::new();
    let path = config.state_dir.join("checkpoints.json");
    let checkpoints = match read_checkpoints(&path) {
        Ok(files) => files,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => {
            let _ = writeln!(out, "cannot read {}: {error}", path.display());
            Vec::new()
        }
    };
    let _ = writeln!(
        out,
        "{:<16} {:>12} {:>12} {:>12}  FILE",
        "FLOW", "OFFSET", "SIZE", "LAG"
    );
    for flow in &config.flows {
        let mut rows: BTreeMap<PathBuf, Option<&FileCheckpoint>> = BTreeMap::new();
        for checkpoint in checkpoints.iter().filter(|c| c.flow == flow.name) {
            rows.insert(checkpoint.path.clone(), Some(checkpoint));
        }
        for file in crate::tail::discovery::scan(flow).files {
            rows.entry(file).or_insert(None);
        }
        for (file, checkpoint) in rows {
            let size = std::fs::metadata(&file).map(|m| m.len()).ok();
            let offset = checkpoint.map(|c| c.offset);
            let cell =
                |v: Option<u64>, missing: &str| v.map(human).unwrap_or_else(|| missing.to_owned());
            let lag = size.map(|s| s.saturating_sub(offset.unwrap_or(0)));
            let _ = writeln!(
                out,
                "{:<16} {:>12} {:>12} {:>12}  {}",
                flow.name,
                cell(offset, "-"),
                cell(size, "gone"),
                cell(lag, "-"),
                file.display()
            );
        }
    }
    if let Some(listen) = config.metrics_listen {
        match crate::metrics::server::fetch(listen) {
            Ok(metrics) => live_summary(&mut out, &metrics),
            Err(error) => {
                let _ = writeln!(
                    out,
                    "\nagent not reachable at http://{listen}/metrics ({error})"
                );
            }
        }
    }
    out
}

/// One line per flow from the live metrics.
fn live_summary(out: &mut String, metrics: &str) {
    let mut flows: BTreeMap<String, BTreeMap<&str, f64>> = BTreeMap::new();
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Some((name, labels)) = series.split_once("{flow=\"") else {
            continue;
        };
        let Some(flow) = labels.strip_suffix("\"}") else {
            continue;
        };
        if let Ok(value) = value.parse() {
            flows
                .entry(flow.to_owned())
                .or_default()
                .insert(name, value);
        }
    }
    let _ = writeln!(out, "\nlive (from the metrics endpoint):");
    for (flow, values) in flows {
        let get = |name: &str| values.get(name).copied().unwrap_or(0.0);
        let _ = writeln!(
            out,
            "  {flow}: {} lines shipped, {} behind ({:.0} s), {} files, {} retried, {} throttled",
            get("edgeship_lines_delivered_total"),
            human(get("edgeship_lag_bytes") as u64),
            get("edgeship_lag_seconds"),
            get("edgeship_files_tracked"),
            get("edgeship_entries_retried_total"),
            get("edgeship_entries_throttled_total"),
        );
    }
}
