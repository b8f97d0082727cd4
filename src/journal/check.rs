//! What `edgeship validate` says about a journal flow: whether journalctl runs and whether this
//! user can read the journal (without the systemd-journal or adm group only its own entries).

use super::command;
use super::spec::JournalSpec;

/// Report lines (already indented) for one journal flow.
pub fn report(spec: &JournalSpec) -> Vec<String> {
    let mut lines = vec![format!(
        "  journal {} (journalctl {}, since {})",
        spec.label().display(),
        spec.journalctl.display(),
        match spec.since {
            super::spec::JournalSince::Beginning => "beginning",
            super::spec::JournalSince::End => "end",
        }
    )];
    let output = std::process::Command::new(&spec.journalctl)
        .args(command::newest(spec))
        .stdin(std::process::Stdio::null())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(error) => {
            lines.push(format!("  warning: cannot run {}: {error}; install systemd's journalctl, or set journal.journalctl to its path", spec.journalctl.display()));
            return lines;
        }
    };
    let said = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        lines.push(format!(
            "  warning: journalctl failed ({}): {}",
            output.status,
            said.trim()
        ));
        return lines;
    }
    if super::denies_access(&said) {
        lines.push("  warning: this user cannot read the whole journal: add the user edgeship runs as to the systemd-journal group (the packages do)".to_owned());
    }
    lines.push(match super::entry::first_cursor(&output.stdout) {
        Some(cursor) => match super::entry::cursor_time(cursor) {
            Some(time) => format!(
                "  readable; newest selected entry at {}",
                humantime::format_rfc3339_seconds(time)
            ),
            None => "  readable".to_owned(),
        },
        None => "  readable; no entry matches the filters yet".to_owned(),
    });
    lines
}
