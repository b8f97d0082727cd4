//! Rotation decisions as a pure function: what happened to a file we are reading, given what we
//! knew and what `stat` (and a head check) says now. No I/O here, so every case is table-tested.

use std::ops::Range;

/// What the tailer knew about an open file.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    /// Offset up to which the file has been read.
    pub read_position: u64,
    /// The largest size seen for the file (it can be ahead of what was read).
    pub seen_size: u64,
}

/// Where the file is found now, among the paths the flow matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Under the path it was read from.
    AtPath,
    /// Under another matching path (renamed, e.g. `app.log` -> `app.log.1`).
    Renamed,
    /// Under no matching path: rotated away (another directory, another name) or deleted.
    Missing,
}

/// What `stat` and a head check say now.
#[derive(Debug, Clone, Copy)]
pub struct Observed {
    /// Size of the open handle.
    pub size: u64,
    /// The first bytes are still the ones the head fingerprint was taken from.
    pub head_matches: bool,
    pub presence: Presence,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Unchanged,
    Grown,
    Renamed,
    /// Rotated away or deleted: read it to its end through the open handle, then let it go.
    Gone,
    /// Shrunk below what was read (truncated in place, copytruncate). `lost` is the range that
    /// was seen to exist but not read before the truncation, if any.
    Truncated {
        lost: Option<Range<u64>>,
    },
    /// Truncated and written again past the old position before we noticed: the content is
    /// not the one we were reading. Start again from the beginning.
    Rewritten {
        lost: Option<Range<u64>>,
    },
}

pub fn classify(known: Known, now: Observed) -> Change {
    let unread =
        (known.seen_size > known.read_position).then_some(known.read_position..known.seen_size);
    if now.size < known.read_position {
        return Change::Truncated { lost: unread };
    }
    if !now.head_matches {
        return Change::Rewritten { lost: unread };
    }
    match now.presence {
        Presence::Missing => Change::Gone,
        Presence::Renamed => Change::Renamed,
        Presence::AtPath if now.size > known.read_position => Change::Grown,
        Presence::AtPath => Change::Unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Presence::*;

    fn case(read: u64, seen: u64, size: u64, head: bool, presence: Presence) -> Change {
        classify(
            Known {
                read_position: read,
                seen_size: seen,
            },
            Observed {
                size,
                head_matches: head,
                presence,
            },
        )
    }

    #[test]
    fn decision_table() {
        let table = [
            // (read, seen, size now, head ok, presence) -> change
            ((100, 100, 100, true, AtPath), Change::Unchanged),
            ((100, 100, 150, true, AtPath), Change::Grown),
            ((100, 100, 100, true, Renamed), Change::Renamed),
            ((100, 120, 120, true, Missing), Change::Gone),
            (
                (100, 100, 0, true, AtPath),
                Change::Truncated { lost: None },
            ),
            (
                (100, 180, 10, false, AtPath),
                Change::Truncated {
                    lost: Some(100..180),
                },
            ),
            // copytruncate then the writer refilled past our position before we looked
            (
                (100, 100, 400, false, AtPath),
                Change::Rewritten { lost: None },
            ),
            // a truncation wins over the path: a deleted file can be truncated too
            (
                (100, 100, 50, true, Missing),
                Change::Truncated { lost: None },
            ),
        ];
        for ((read, seen, size, head, presence), expected) in table {
            assert_eq!(
                case(read, seen, size, head, presence),
                expected,
                "read {read} seen {seen} size {size} head {head} {presence:?}"
            );
        }
    }
}
