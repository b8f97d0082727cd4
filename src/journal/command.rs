//! The `journalctl` command lines the journal source runs (pure; the I/O is in `reader.rs`).
//!
//! Positions use `--cursor` (that entry included), never `--after-cursor`: journalctl skips one
//! entry after seeking an `--after-cursor` whether or not that cursor's entry still exists, so
//! after a vacuum the oldest surviving entry would be lost without a word. With `--cursor` the
//! first entry shown is the checkpointed one itself (dropped by the reader) or, when it is
//! gone, the first one after it: the gap is seen and reported.

use super::spec::JournalSpec;
use std::ffi::OsString;

/// Where reading starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// The oldest entry.
    Head,
    /// The entry with this cursor (already shipped) or, if it is gone, the next one.
    Cursor(String),
}

/// Follows the journal from `position`: one JSON object per line, fields in full.
pub fn follow(spec: &JournalSpec, position: &Position) -> Vec<OsString> {
    let mut args = common(spec);
    if let Position::Cursor(cursor) = position {
        args.push(format!("--cursor={cursor}").into());
    }
    // `--follow` alone shows only 10 entries before following, even after a `--cursor`.
    args.push("--lines=all".into());
    args.push("--follow".into());
    args.extend(filters(spec));
    args
}

/// Prints the newest entry that passes the flow's filters (where `since = "end"` starts).
pub fn newest(spec: &JournalSpec) -> Vec<OsString> {
    let mut args = common(spec);
    args.push("--lines=1".into());
    args.extend(filters(spec));
    args
}

/// Prints the entry at `cursor`, or the next one if it is gone, ignoring the flow's filters:
/// tells a vacuumed cursor from one whose entry no longer passes changed filters.
pub fn probe(spec: &JournalSpec, cursor: &str) -> Vec<OsString> {
    let mut args = common(spec);
    args.push(format!("--cursor={cursor}").into());
    args.push("--lines=1".into());
    args
}

fn common(spec: &JournalSpec) -> Vec<OsString> {
    // `--all`: without it, json output turns fields over 4,096 bytes into null.
    let mut args: Vec<OsString> = vec!["--output=json".into(), "--all".into(), "--no-pager".into()];
    if let Some(dir) = &spec.directory {
        let mut arg = OsString::from("--directory=");
        arg.push(dir);
        args.push(arg);
    }
    args
}

fn filters(spec: &JournalSpec) -> Vec<OsString> {
    let mut args: Vec<OsString> = spec
        .units
        .iter()
        .map(|u| format!("--unit={u}").into())
        .collect();
    if let Some(priority) = &spec.priority {
        args.push(format!("--priority={priority}").into());
    }
    // Matches go last: journalctl reads every argument after them as a match too.
    args.extend(spec.matches.iter().map(OsString::from));
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::spec::RawJournal;

    fn spec(raw: RawJournal) -> JournalSpec {
        JournalSpec::from_raw(&raw).unwrap()
    }

    fn text(args: Vec<OsString>) -> String {
        args.iter()
            .map(|a| a.to_str().unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn command_lines() {
        let plain = spec(RawJournal::default());
        let filtered = spec(RawJournal {
            units: vec!["nginx.service".into(), "ssh.service".into()],
            priority: Some("info".into()),
            matches: vec!["_TRANSPORT=kernel".into()],
            directory: Some("/var/log/journal/remote".into()),
            ..Default::default()
        });
        let base = "--output=json --all --no-pager";
        let remote = "--directory=/var/log/journal/remote";
        let filters = "--unit=nginx.service --unit=ssh.service --priority=info _TRANSPORT=kernel";
        let cases = [
            (
                follow(&plain, &Position::Head),
                format!("{base} --lines=all --follow"),
            ),
            (
                follow(&plain, &Position::Cursor("s=1;i=2".into())),
                format!("{base} --cursor=s=1;i=2 --lines=all --follow"),
            ),
            (
                follow(&filtered, &Position::Head),
                format!("{base} {remote} --lines=all --follow {filters}"),
            ),
            (
                newest(&filtered),
                format!("{base} {remote} --lines=1 {filters}"),
            ),
            (
                probe(&filtered, "s=1"),
                format!("{base} {remote} --cursor=s=1 --lines=1"),
            ),
        ];
        for (args, expected) in cases {
            assert_eq!(text(args), expected);
        }
    }
}
