//! The journal observer: journal source events become log lines and counters.

use super::FlowStats;
use crate::journal::JournalObserver;
use crate::journal::entry::EntryError;
use crate::tail::TailObserver;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime};

const PERMISSION_HINT: &str =
    "add the edgeship user to the systemd-journal group (the packages do), or to adm";

impl JournalObserver for FlowStats {
    fn journal_started(&self, source: &str, position: &str) {
        tracing::info!(flow = %self.flow, source, "reading the journal from {position}");
    }

    fn entries_read(&self, entries: u64, bytes: u64) {
        TailObserver::lines_read(self, entries, bytes);
    }

    fn bad_entry(&self, error: &EntryError) {
        self.read_errors.fetch_add(1, Relaxed);
        if let Some(suppressed) = self.limiter.allow_counting("journal_bad_entry") {
            tracing::warn!(flow = %self.flow, suppressed, "skipped a line of journalctl's output: {error}");
        }
    }

    fn journalctl_said(&self, line: &str) {
        let Some(suppressed) = self.limiter.allow_counting(&format!("journalctl:{line}")) else {
            return;
        };
        let hint = if crate::journal::denies_access(line) {
            PERMISSION_HINT
        } else {
            ""
        };
        tracing::warn!(flow = %self.flow, suppressed, hint, "journalctl: {line}");
    }

    fn journalctl_failed(&self, what: &str, retry_in: Duration) {
        self.journal_restarts.fetch_add(1, Relaxed);
        if let Some(suppressed) = self.limiter.allow_counting("journalctl_failed") {
            tracing::error!(flow = %self.flow, suppressed, "{what}; starting journalctl again in {retry_in:?} from the last entry read (nothing is skipped)");
        }
    }

    fn journal_gap(&self, cursor: &str, from: Option<SystemTime>, to: Option<SystemTime>) {
        self.journal_gaps.fetch_add(1, Relaxed);
        self.data_loss_events.fetch_add(1, Relaxed);
        let time = |t: Option<SystemTime>| {
            t.map_or("an unknown time".to_owned(), |t| {
                humantime::format_rfc3339_micros(t).to_string()
            })
        };
        tracing::warn!(flow = %self.flow, cursor, from = %time(from), to = %time(to), "data lost: the last shipped journal entry is no longer in the journal (vacuumed, or the journal was replaced); entries written between {} and {} were removed before they could be shipped; resuming at the oldest entry after it. Raise SystemMaxUse/MaxRetentionSec in journald.conf if edgeship is often offline this long", time(from), time(to));
    }

    fn entry_truncated(&self, kept_bytes: usize) {
        self.lines_truncated.fetch_add(1, Relaxed);
        if self.limiter.allow("journal_entry_truncated") {
            tracing::warn!(flow = %self.flow, kept_bytes, "journal entry longer than the record limit was truncated; raise record_max_bytes if the stream allows larger records");
        }
    }

    fn alive(&self) {
        TailObserver::alive(self);
    }
}
