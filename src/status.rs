//! `edgeship status`: a table of every file with its acknowledged offset, current size and lag,
//! from the checkpoint file (readable while the agent runs) and, when the metrics endpoint is
//! configured and the agent is up, a line per flow from the live counters.

use crate::checkpoint::store::{FileCheckpoint, read_checkpoints};
use crate::config::Config;
use crate::tail::FileKey;
use std::collections::{BTreeMap, HashSet};
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
    let mut shown = 0;
    for flow in &config.flows {
        let mine: Vec<&FileCheckpoint> =
            checkpoints.iter().filter(|c| c.flow == flow.name).collect();
        let present = present_files(flow);
        let rows = rows(&mine, &present);
        if rows.is_empty() {
            let _ = writeln!(
                out,
                "{:<16} no file matches {} and none is checkpointed yet",
                flow.name,
                flow.files.paths.join(", ")
            );
        }
        for row in &rows {
            write_row(&mut out, &flow.name, row);
        }
        shown += rows.len();
    }
    if shown == 0 {
        let _ = writeln!(
            out,
            "(no state in {}: the agent has not checkpointed anything with this state_dir, and no file matches yet)",
            path.display()
        );
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

/// One row of the table: a file, by identity (an old inode and the new file at its path are
/// two rows).
#[derive(Debug, PartialEq)]
struct Row {
    path: PathBuf,
    /// The checkpointed path, when the file has moved since.
    was: Option<PathBuf>,
    offset: Option<u64>,
    /// None: the checkpointed file is no longer among the matched files (deleted).
    size: Option<u64>,
}

/// The matched files as they are now: path, identity, size.
fn present_files(flow: &crate::config::Flow) -> Vec<(PathBuf, FileKey, u64)> {
    use std::os::unix::fs::MetadataExt;
    crate::tail::discovery::scan(&flow.files)
        .files
        .into_iter()
        .filter_map(|path| {
            let m = std::fs::metadata(&path).ok()?;
            let key = FileKey {
                dev: m.dev(),
                inode: m.ino(),
            };
            Some((path, key, m.len()))
        })
        .collect()
}

/// Checkpointed files matched to the present ones by identity, then present files without a
/// checkpoint, sorted by path.
fn rows(checkpoints: &[&FileCheckpoint], present: &[(PathBuf, FileKey, u64)]) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    for c in checkpoints {
        let key = c.key().1;
        let now = present.iter().find(|(_, k, _)| *k == key);
        seen.insert(key);
        rows.push(Row {
            path: now.map_or_else(|| c.path.clone(), |(p, _, _)| p.clone()),
            was: now.filter(|(p, _, _)| *p != c.path).map(|_| c.path.clone()),
            offset: Some(c.offset),
            size: now.map(|(_, _, size)| *size),
        });
    }
    for (path, key, size) in present {
        if !seen.contains(key) {
            rows.push(Row {
                path: path.clone(),
                was: None,
                offset: None,
                size: Some(*size),
            });
        }
    }
    rows.sort_by(|a, b| (&a.path, &a.was).cmp(&(&b.path, &b.was)));
    rows
}

fn write_row(out: &mut String, flow: &str, row: &Row) {
    let cell = |v: Option<u64>, missing: &str| v.map(human).unwrap_or_else(|| missing.to_owned());
    let lag = row.size.map(|s| s.saturating_sub(row.offset.unwrap_or(0)));
    let moved = match (&row.was, row.size) {
        (Some(was), _) => format!(" (was {})", was.display()),
        (None, None) => " (deleted or no longer matched)".to_owned(),
        (None, Some(_)) => String::new(),
    };
    let _ = writeln!(
        out,
        "{:<16} {:>12} {:>12} {:>12}  {}{moved}",
        flow,
        cell(row.offset, "-"),
        cell(row.size, "gone"),
        cell(lag, "-"),
        row.path.display()
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(path: &str, inode: u64, offset: u64) -> FileCheckpoint {
        FileCheckpoint {
            flow: "f".into(),
            path: path.into(),
            dev: 1,
            inode,
            offset,
            updated: String::new(),
            head: None,
            mark: None,
            cursor: None,
        }
    }

    fn key(inode: u64) -> FileKey {
        FileKey { dev: 1, inode }
    }

    #[test]
    fn rows_follow_identity_not_path() {
        let old = checkpoint("/l/app.log", 10, 500);
        let current = checkpoint("/l/app.log", 11, 20);
        let gone = checkpoint("/l/older.log", 9, 70);
        let present = vec![
            ("/l/app.log".into(), key(11), 30),
            ("/l/app.log.1".into(), key(10), 800),
            ("/l/new.log".into(), key(12), 5),
        ];
        let rows = rows(&[&old, &current, &gone], &present);
        let row = |path: &str, was: Option<&str>, offset: Option<u64>, size: Option<u64>| Row {
            path: path.into(),
            was: was.map(PathBuf::from),
            offset,
            size,
        };
        assert_eq!(
            rows,
            vec![
                row("/l/app.log", None, Some(20), Some(30)),
                row("/l/app.log.1", Some("/l/app.log"), Some(500), Some(800)),
                row("/l/new.log", None, None, Some(5)),
                row("/l/older.log", None, Some(70), None),
            ]
        );
    }

    #[test]
    fn no_state_and_no_match_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "state_dir = {:?}\n[[flow]]\nname = \"f\"\npaths = [\"{}/*.log\"]\nkinesis_stream = \"s\"\n",
            dir.path().join("state").display().to_string(),
            dir.path().display()
        );
        let config = crate::config::Config::parse(&text, std::path::Path::new("t.toml")).unwrap();
        let report = report(&config);
        assert!(report.contains("no file matches"), "{report}");
        assert!(report.contains("no state in"), "{report}");
    }
}
