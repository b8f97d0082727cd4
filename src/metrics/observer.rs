//! The tail observer: file events become log lines and counters.

use super::FlowStats;
use crate::tail::{FileKey, Loss, TailObserver};
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

impl TailObserver for FlowStats {
    fn file_added(&self, key: FileKey, path: &Path, offset: u64, reason: &str) {
        self.files_added.fetch_add(1, Relaxed);
        self.file_sizes
            .lock()
            .expect("stats lock")
            .entry(key)
            .or_insert(offset);
        tracing::info!(flow = %self.flow, file = %path.display(), offset, "tailing file: {reason}");
    }

    fn file_released(&self, key: FileKey, path: &Path, reason: &str) {
        self.files_released.fetch_add(1, Relaxed);
        self.file_sizes.lock().expect("stats lock").remove(&key);
        tracing::info!(flow = %self.flow, file = %path.display(), "released file: {reason}");
    }

    fn file_truncated(&self, path: &Path, old_offset: u64, new_size: u64) {
        tracing::warn!(flow = %self.flow, file = %path.display(), old_offset, new_size, "file was truncated in place; reading it again from the start");
    }

    fn data_lost(&self, path: &Path, loss: &Loss, detail: &str) {
        self.data_loss_events.fetch_add(1, Relaxed);
        self.count_lost(loss.reason, loss.bytes());
        let to = loss
            .to
            .map_or_else(|| "its end (size unknown)".to_owned(), |t| t.to_string());
        tracing::warn!(flow = %self.flow, file = %path.display(), from = loss.from, to = %to, bytes = loss.bytes(), reason = loss.reason, "data lost: bytes {}..{to}: {detail}", loss.from);
    }

    fn spooled(&self, path: &Path, from: u64, to: u64, stored: u64) {
        self.bytes_spooled.fetch_add(to - from, Relaxed);
        tracing::info!(flow = %self.flow, file = %path.display(), from, to, stored, "spooled bytes {from}..{to} of a deleted file still held open ({stored} bytes compressed); they are shipped after the restart");
    }

    fn hold_exceeded(&self, held: u64, limit: u64) {
        if let Some(suppressed) = self.limiter.allow_counting("hold_exceeded") {
            tracing::warn!(flow = %self.flow, held, limit, suppressed, "deleted files still to be shipped pin {held} bytes of disk, more than max_held_bytes ({limit}), and the spool is full: they stay open until AWS takes their lines; raise spool_max_bytes");
        }
    }

    fn copy_recognised(&self, path: &Path, original: &Path, offset: u64) {
        self.copies_recognised.fetch_add(1, Relaxed);
        tracing::info!(flow = %self.flow, file = %path.display(), original = %original.display(), offset, "file has the content of one already shipped (a copy or compressed rotation); shipping only what follows");
    }

    fn watch_degraded(&self, reason: &str) {
        tracing::warn!(flow = %self.flow, "file events unavailable, polling instead: {reason}; raise fs.inotify.max_user_watches, or set watch = \"poll\" to silence this");
    }

    fn line_truncated(&self, path: &Path, offset: u64, kept_bytes: usize) {
        self.lines_truncated.fetch_add(1, Relaxed);
        if self.limiter.allow("line_truncated") {
            tracing::warn!(flow = %self.flow, file = %path.display(), offset, kept_bytes, "line longer than the record limit was truncated (the rest up to its newline is skipped); raise record_max_bytes if the stream allows larger records");
        }
    }

    fn not_a_file(&self, path: &Path, kind: &'static str) {
        tracing::debug!(flow = %self.flow, file = %path.display(), "matches the flow's paths but is {kind}, not a regular file: skipped");
    }

    fn read_error(&self, path: &Path, error: &std::io::Error) {
        self.read_errors.fetch_add(1, Relaxed);
        if !self
            .limiter
            .allow(&format!("read_error:{}", path.display()))
        {
            return;
        }
        let hint = if error.kind() == std::io::ErrorKind::PermissionDenied {
            "; give the edgeship user read access (e.g. add it to the group that owns the logs, such as adm)"
        } else {
            ""
        };
        tracing::error!(flow = %self.flow, file = %path.display(), "cannot read: {error}{hint}; other files keep shipping");
    }

    fn alive(&self) {
        self.tailer_heartbeat_ms
            .store(self.started.elapsed().as_millis() as u64, Relaxed);
    }

    fn file_size(&self, key: FileKey, size: u64) {
        self.file_sizes
            .lock()
            .expect("stats lock")
            .insert(key, size);
    }

    fn bytes_lost(&self, path: &Path, reason: &'static str, bytes: u64) {
        self.count_lost(reason, bytes);
        tracing::debug!(flow = %self.flow, file = %path.display(), bytes, "bytes not shipped: {reason}");
    }

    fn skipped_unverified(&self, path: &Path, bytes: u64) {
        if bytes == 0 {
            return;
        }
        self.bytes_skipped_unverified.fetch_add(bytes, Relaxed);
        tracing::warn!(flow = %self.flow, file = %path.display(), from = 0, to = bytes, "bytes 0..{bytes} not shipped: the checkpoint file was unreadable, so whether they were delivered before is unknown, and start_at = \"end\" skips them; to ship them anyway (duplicates likely), stop edgeship and set start_at = \"beginning\" for this start");
    }

    fn lines_read(&self, lines: u64, bytes: u64) {
        if lines > 0 {
            self.note_read(lines);
        }
        self.bytes_read.fetch_add(bytes, Relaxed);
    }
}
