//! Where reading starts in a newly found file, as a pure function of what is known about it
//! ([`Facts`], gathered by `start.rs`), in this order:
//! 1. its checkpoint, if the content still matches (else: inode reused, truncated or rewritten
//!    while edgeship was away: from the start, and the old file's unread rest is reported);
//! 2. where a file with the same head ended, if it is a copy of a file being read or finished
//!    (a copytruncate copy, a compressed rotation): nothing is shipped twice;
//! 3. on the first scan, `start_at`; later, the beginning.
//!
//! A checkpoint at offset 0 (the file was settling when edgeship stopped) says nothing was
//! shipped from it yet, so the file may still be a copy: step 2 goes first then.

use super::FileKey;
use super::identify::Checked;
use crate::config::StartAt;

/// What is known about a file whose start is being decided.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    pub first_scan: bool,
    pub start_at: StartAt,
    pub size: u64,
    pub compressed: bool,
    /// Its checkpoint's offset, and what its content says of the checkpoint.
    pub checkpoint: Option<(u64, Checked)>,
    /// The file whose head it starts with, if any.
    pub copy_of: Option<CopyOf>,
    /// Created after the flow's last checkpoint update (while edgeship was stopped).
    pub created_since_checkpoint: bool,
    /// The checkpoint file was unreadable at the start.
    pub checkpoints_unreadable: bool,
}

/// The file a new file is a copy of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyOf {
    /// A file being read (or checkpointed and not found yet): the copy waits until it is done.
    BeingRead(FileKey),
    /// A file read completely up to `offset`; `agrees`: whether the copy's bytes before
    /// `offset` are the original's (`None`: the copy is shorter than `offset`).
    Finished { offset: u64, agrees: Option<bool> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Resume at the checkpoint.
    Resume(u64),
    /// The checkpoint no longer describes the content: read from the start (after looking
    /// for the old content in a rotation, or reporting it).
    Stale(Checked),
    /// Wait until the original is finished, then decide with [`copy_start`].
    WaitFor(FileKey),
    /// Start at this offset.
    At(u64, &'static str),
    /// Read and drop everything (nothing in it is to be shipped).
    Discard(&'static str),
    /// Starting at the end while the checkpoints were unreadable: what is skipped is counted.
    SkipUnverified,
}

impl Decision {
    /// Whether the copy of a file already shipped is recognised (and reported as such).
    pub fn is_recognised_copy(&self) -> bool {
        matches!(
            self,
            Decision::At(_, COPY) | Decision::Discard(SHORTER_COPY)
        )
    }
}

const COPY: &str = "copy of a file already shipped";
const SHORTER_COPY: &str = "copy of a file already shipped, shorter than what was shipped";

pub fn decide(facts: &Facts) -> Decision {
    let copy = facts.copy_of.map(copy_start);
    match (facts.checkpoint, copy) {
        (Some((0, _)), Some(copy)) => copy,
        (Some((offset, Checked::Resume)), _) => Decision::Resume(offset),
        (Some((_, checked)), _) => Decision::Stale(checked),
        (None, Some(copy)) => copy,
        (None, None) => without_checkpoint(facts),
    }
}

/// A copy of `original` starts where the original ended, if the bytes before agree; a copy
/// shorter than that holds nothing new (the original got more lines after the copy was
/// made, and they were read from the original).
pub fn copy_start(original: CopyOf) -> Decision {
    match original {
        CopyOf::BeingRead(key) => Decision::WaitFor(key),
        CopyOf::Finished { offset, agrees } => match agrees {
            Some(true) => Decision::At(offset, COPY),
            None => Decision::Discard(SHORTER_COPY),
            Some(false) => Decision::At(0, "same head as a shipped file but different content"),
        },
    }
}

fn without_checkpoint(facts: &Facts) -> Decision {
    if !facts.first_scan {
        return Decision::At(0, "new file");
    }
    match facts.start_at {
        StartAt::Beginning => Decision::At(0, "no checkpoint, start_at = \"beginning\""),
        StartAt::End if facts.created_since_checkpoint => Decision::At(
            0,
            "no checkpoint, created while edgeship was stopped (read from the start)",
        ),
        StartAt::End if facts.checkpoints_unreadable => Decision::SkipUnverified,
        StartAt::End if facts.compressed => {
            Decision::Discard("no checkpoint, start_at = \"end\" (compressed file skipped)")
        }
        StartAt::End => Decision::At(facts.size, "no checkpoint, start_at = \"end\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: FileKey = FileKey { dev: 1, inode: 7 };

    fn facts() -> Facts {
        Facts {
            first_scan: true,
            start_at: StartAt::End,
            size: 500,
            compressed: false,
            checkpoint: None,
            copy_of: None,
            created_since_checkpoint: false,
            checkpoints_unreadable: false,
        }
    }

    #[test]
    fn the_start_of_every_kind_of_file() {
        use Decision::*;
        let being_read = Some(CopyOf::BeingRead(ORIGINAL));
        let finished = |agrees| {
            Some(CopyOf::Finished {
                offset: 300,
                agrees,
            })
        };
        let cases: Vec<(&str, Facts, Decision)> = vec![
            (
                "checkpoint matches",
                Facts {
                    checkpoint: Some((120, Checked::Resume)),
                    ..facts()
                },
                Resume(120),
            ),
            (
                "checkpoint wins over a copy",
                Facts {
                    checkpoint: Some((120, Checked::Resume)),
                    copy_of: being_read,
                    ..facts()
                },
                Resume(120),
            ),
            (
                "inode reused",
                Facts {
                    checkpoint: Some((120, Checked::Reused)),
                    ..facts()
                },
                Stale(Checked::Reused),
            ),
            (
                "truncated while stopped",
                Facts {
                    checkpoint: Some((120, Checked::Truncated)),
                    ..facts()
                },
                Stale(Checked::Truncated),
            ),
            (
                "rewritten while stopped",
                Facts {
                    checkpoint: Some((120, Checked::Rewritten)),
                    ..facts()
                },
                Stale(Checked::Rewritten),
            ),
            (
                "checkpoint at 0, a copy",
                Facts {
                    checkpoint: Some((0, Checked::Resume)),
                    copy_of: being_read,
                    ..facts()
                },
                WaitFor(ORIGINAL),
            ),
            (
                "checkpoint at 0, no copy",
                Facts {
                    checkpoint: Some((0, Checked::Resume)),
                    ..facts()
                },
                Resume(0),
            ),
            (
                "copy of a file being read",
                Facts {
                    copy_of: being_read,
                    ..facts()
                },
                WaitFor(ORIGINAL),
            ),
            (
                "copy of a finished file",
                Facts {
                    copy_of: finished(Some(true)),
                    ..facts()
                },
                At(300, COPY),
            ),
            (
                "shorter copy",
                Facts {
                    copy_of: finished(None),
                    ..facts()
                },
                Discard(SHORTER_COPY),
            ),
            (
                "same head, other content",
                Facts {
                    copy_of: finished(Some(false)),
                    ..facts()
                },
                At(0, "same head as a shipped file but different content"),
            ),
            (
                "new file after the first scan",
                Facts {
                    first_scan: false,
                    ..facts()
                },
                At(0, "new file"),
            ),
            (
                "start_at = beginning",
                Facts {
                    start_at: StartAt::Beginning,
                    ..facts()
                },
                At(0, "no checkpoint, start_at = \"beginning\""),
            ),
            (
                "start_at = end",
                facts(),
                At(500, "no checkpoint, start_at = \"end\""),
            ),
            (
                "start_at = end, created while stopped",
                Facts {
                    created_since_checkpoint: true,
                    ..facts()
                },
                At(
                    0,
                    "no checkpoint, created while edgeship was stopped (read from the start)",
                ),
            ),
            (
                "start_at = end, compressed",
                Facts {
                    compressed: true,
                    ..facts()
                },
                Discard("no checkpoint, start_at = \"end\" (compressed file skipped)"),
            ),
            (
                "start_at = end, checkpoints unreadable",
                Facts {
                    checkpoints_unreadable: true,
                    ..facts()
                },
                SkipUnverified,
            ),
            (
                "unreadable checkpoints, created since",
                Facts {
                    checkpoints_unreadable: true,
                    created_since_checkpoint: true,
                    ..facts()
                },
                At(
                    0,
                    "no checkpoint, created while edgeship was stopped (read from the start)",
                ),
            ),
            (
                "unreadable checkpoints, beginning",
                Facts {
                    checkpoints_unreadable: true,
                    start_at: StartAt::Beginning,
                    ..facts()
                },
                At(0, "no checkpoint, start_at = \"beginning\""),
            ),
        ];
        for (name, facts, expected) in cases {
            assert_eq!(decide(&facts), expected, "{name}");
        }
    }

    #[test]
    fn recognised_copies_are_told_apart() {
        assert!(
            copy_start(CopyOf::Finished {
                offset: 1,
                agrees: Some(true)
            })
            .is_recognised_copy()
        );
        assert!(
            copy_start(CopyOf::Finished {
                offset: 1,
                agrees: None
            })
            .is_recognised_copy()
        );
        assert!(
            !copy_start(CopyOf::Finished {
                offset: 1,
                agrees: Some(false)
            })
            .is_recognised_copy()
        );
        assert!(!Decision::At(0, "new file").is_recognised_copy());
    }
}
