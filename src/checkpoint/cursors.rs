//! Positions of a source that has no byte offsets of its own (the systemd journal): the source
//! numbers its records with offsets like a file's and notes, per record, the position that
//! follows it (its journal cursor). When an acknowledgement moves the checkpoint to an offset,
//! the tracker takes that offset's position from the book and checkpoints it; what is older is
//! forgotten. The book holds only records read but not yet acknowledged, which the pipeline's
//! bounds already limit.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct CursorBook(Mutex<VecDeque<(u64, Arc<str>)>>);

impl CursorBook {
    /// Everything before `offset` is the records up to and including the one at `cursor`.
    /// Offsets are noted in increasing order.
    pub fn note(&self, offset: u64, cursor: Arc<str>) {
        self.0
            .lock()
            .expect("cursor book")
            .push_back((offset, cursor));
    }

    /// The position for a checkpoint at `offset`, forgetting every older one. `None` when no
    /// new position was noted at or before `offset` (the checkpoint keeps its cursor).
    pub fn take(&self, offset: u64) -> Option<Arc<str>> {
        let mut book = self.0.lock().expect("cursor book");
        let mut found = None;
        while book.front().is_some_and(|(at, _)| *at <= offset) {
            found = book.pop_front().map(|(_, cursor)| cursor);
        }
        found
    }

    pub fn len(&self) -> usize {
        self.0.lock().expect("cursor book").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for CursorBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CursorBook({} pending)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_position_at_the_offset_and_forgets_older_ones() {
        let book = CursorBook::default();
        for (offset, cursor) in [(10, "a"), (25, "b"), (40, "c")] {
            book.note(offset, Arc::from(cursor));
        }
        assert_eq!(book.take(5), None, "nothing acknowledged yet");
        assert_eq!(book.take(25).as_deref(), Some("b"));
        assert_eq!(book.len(), 1);
        assert_eq!(book.take(25), None, "already taken");
        assert_eq!(book.take(100).as_deref(), Some("c"));
        assert!(book.is_empty());
    }
}
