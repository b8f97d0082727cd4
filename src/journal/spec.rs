//! `journal = { ... }` of a flow: the table as written ([`RawJournal`], the reference for its
//! keys) and its validated form ([`JournalSpec`]).

use serde::Deserialize;
use std::path::PathBuf;

/// `journal`: read the systemd journal instead of files (exactly one of `paths` / `journal`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawJournal {
    /// Only entries of these units (`journalctl --unit`), e.g. `["nginx.service"]`. Default: all.
    #[serde(default)]
    pub units: Vec<String>,
    /// Most verbose priority shipped, by name (`"emerg"` .. `"debug"`) or number (0-7), or a
    /// range `"err..info"` (`journalctl --priority`). Default: all.
    pub priority: Option<String>,
    /// Field matches, `"FIELD=value"` (`journalctl FIELD=value`): matches on one field are
    /// alternatives, on different fields all must hold. Default: none.
    #[serde(default)]
    pub matches: Vec<String>,
    /// `"end"` (default) or `"beginning"`: where a flow without a checkpoint starts. With a
    /// checkpoint it resumes after the last acknowledged entry either way.
    #[serde(default)]
    pub since: JournalSince,
    /// Read the journal files in this directory (`journalctl --directory`), e.g.
    /// `"/var/log/journal/remote"` for logs collected by systemd-journal-remote. Default: the
    /// system journal.
    pub directory: Option<PathBuf>,
    /// `"json"` (default): each entry becomes one JSON object with `MESSAGE`, `PRIORITY`,
    /// `_SYSTEMD_UNIT`, `_HOSTNAME`, `__REALTIME_TIMESTAMP` (as RFC 3339), `_PID` and
    /// `SYSLOG_IDENTIFIER` where present, plus `fields`. `"message"`: the message text alone.
    #[serde(default)]
    pub format: JournalFormat,
    /// `"json"` only: further journal fields to include, e.g. `["_COMM", "CONTAINER_NAME"]`;
    /// `["*"]` includes every field of the entry.
    #[serde(default)]
    pub fields: Vec<String>,
    /// Path of `journalctl`. Default `"journalctl"` (looked up in `PATH`).
    pub journalctl: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum JournalSince {
    Beginning,
    #[default]
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum JournalFormat {
    #[default]
    Json,
    Message,
}

/// Which fields a `"json"` record carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldSelection {
    /// The standard fields, then these.
    Standard(Vec<String>),
    /// Every field of the entry.
    All,
}

/// A validated `journal` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalSpec {
    pub units: Vec<String>,
    pub priority: Option<String>,
    pub matches: Vec<String>,
    pub since: JournalSince,
    pub directory: Option<PathBuf>,
    pub format: JournalFormat,
    pub fields: FieldSelection,
    pub journalctl: PathBuf,
}

/// A problem with one key of the `journal` table.
#[derive(Debug, PartialEq, Eq)]
pub struct JournalSpecError {
    /// The key under the flow, e.g. `journal.priority`.
    pub key: String,
    pub message: String,
    pub hint: String,
}

const PRIORITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

impl JournalSpec {
    pub fn from_raw(raw: &RawJournal) -> Result<JournalSpec, JournalSpecError> {
        let error = |key: &str, message: String, hint: &str| JournalSpecError {
            key: format!("journal.{key}"),
            message,
            hint: hint.to_owned(),
        };
        if let Some(priority) = &raw.priority
            && !valid_priority(priority)
        {
            return Err(error(
                "priority",
                format!("{priority:?} is not a priority"),
                "use a name (emerg, alert, crit, err, warning, notice, info, debug), 0-7, or a range such as \"err..info\"",
            ));
        }
        for (i, m) in raw.matches.iter().enumerate() {
            if !valid_match(m) {
                return Err(error(
                    &format!("matches[{i}]"),
                    format!("{m:?} is not FIELD=value"),
                    "field names are upper case letters, digits and _, e.g. \"_TRANSPORT=kernel\"",
                ));
            }
        }
        if let Some((i, _)) = raw
            .units
            .iter()
            .enumerate()
            .find(|(_, u)| u.trim().is_empty())
        {
            return Err(error(
                &format!("units[{i}]"),
                "the unit name is empty".into(),
                "e.g. units = [\"nginx.service\"]",
            ));
        }
        if let Some(dir) = raw.directory.as_ref().filter(|d| !d.is_absolute()) {
            return Err(error(
                "directory",
                format!("{dir:?} is not an absolute path"),
                "e.g. directory = \"/var/log/journal/remote\"",
            ));
        }
        if raw.format == JournalFormat::Message && !raw.fields.is_empty() {
            return Err(error(
                "fields",
                "fields are only added to \"json\" records".into(),
                "remove fields, or set format = \"json\"",
            ));
        }
        let fields = if raw.fields.iter().any(|f| f == "*") {
            FieldSelection::All
        } else {
            FieldSelection::Standard(raw.fields.clone())
        };
        Ok(JournalSpec {
            units: raw.units.clone(),
            priority: raw.priority.clone(),
            matches: raw.matches.clone(),
            since: raw.since,
            directory: raw.directory.clone(),
            format: raw.format,
            fields,
            journalctl: raw
                .journalctl
                .clone()
                .unwrap_or_else(|| "journalctl".into()),
        })
    }

    /// How the journal shows up in checkpoints, metrics and messages.
    pub fn label(&self) -> PathBuf {
        match &self.directory {
            Some(dir) => PathBuf::from(format!("journal:{}", dir.display())),
            None => PathBuf::from("journal"),
        }
    }
}

fn valid_priority(text: &str) -> bool {
    let one = |p: &str| PRIORITIES.contains(&p) || matches!(p.parse::<u8>(), Ok(0..=7));
    match text.split_once("..") {
        Some((from, to)) => one(from) && one(to),
        None => one(text),
    }
}

fn valid_match(text: &str) -> bool {
    text.split_once('=').is_some_and(|(field, _)| {
        !field.is_empty()
            && field
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: RawJournal) -> Result<JournalSpec, String> {
        JournalSpec::from_raw(&raw).map_err(|e| e.key)
    }

    #[test]
    fn table() {
        let priority = |p: &str| RawJournal {
            priority: Some(p.into()),
            ..Default::default()
        };
        let matches = |m: &str| RawJournal {
            matches: vec![m.into()],
            ..Default::default()
        };
        for ok in ["info", "0", "7", "err..info", "3..6"] {
            assert!(check(priority(ok)).is_ok(), "{ok}");
        }
        for bad in ["information", "8", "err..", "..info", ""] {
            assert_eq!(
                check(priority(bad)),
                Err("journal.priority".into()),
                "{bad}"
            );
        }
        assert!(check(matches("_TRANSPORT=kernel")).is_ok());
        assert!(check(matches("_PID=")).is_ok(), "an empty value is a match");
        for bad in ["_transport=kernel", "=x", "MESSAGE"] {
            assert_eq!(
                check(matches(bad)),
                Err("journal.matches[0]".into()),
                "{bad}"
            );
        }
        let relative = RawJournal {
            directory: Some("log/journal".into()),
            ..Default::default()
        };
        assert_eq!(check(relative), Err("journal.directory".into()));
        let message_with_fields = RawJournal {
            format: JournalFormat::Message,
            fields: vec!["_COMM".into()],
            ..Default::default()
        };
        assert_eq!(check(message_with_fields), Err("journal.fields".into()));
        let all = RawJournal {
            fields: vec!["*".into()],
            ..Default::default()
        };
        assert_eq!(check(all).unwrap().fields, FieldSelection::All);
    }

    #[test]
    fn labels_name_the_directory() {
        let spec = JournalSpec::from_raw(&RawJournal::default()).unwrap();
        assert_eq!(spec.label(), PathBuf::from("journal"));
        assert_eq!(spec.journalctl, PathBuf::from("journalctl"));
        let remote = RawJournal {
            directory: Some("/var/log/journal/remote".into()),
            ..Default::default()
        };
        let spec = JournalSpec::from_raw(&remote).unwrap();
        assert_eq!(
            spec.label(),
            PathBuf::from("journal:/var/log/journal/remote")
        );
    }
}
