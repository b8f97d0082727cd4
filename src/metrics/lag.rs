//! When the lines still waiting were read, for `edgeship_lag_seconds`: the age of the oldest
//! line read and not yet delivered. Lines are counted, not identified: the `n`-th line read is
//! taken to be waiting while fewer than `n` are delivered (or absorbed), which holds exactly
//! for one file and approximately when batches of several files finish out of order.
//!
//! Reads are remembered in slots of [`SLOT_MS`]; a slot keeps the time of its first read, so
//! the age shown is never less than the true one by more than a slot. At most [`MAX_SLOTS`]
//! are kept: when full, new reads join the newest slot (the oldest line's time stays right).

use std::collections::VecDeque;

/// Reads this close together share one slot.
const SLOT_MS: u64 = 100;
/// Slots kept: with reads every slot, about seven minutes of waiting lines at full precision.
const MAX_SLOTS: usize = 4096;

#[derive(Debug, Default)]
pub struct ReadTimes {
    /// (lines read in all once this slot's reads are counted, time of the slot's first read).
    slots: VecDeque<(u64, u64)>,
}

impl ReadTimes {
    /// `read_total` lines have been read in all, the latest at `now_ms`.
    pub fn read(&mut self, read_total: u64, now_ms: u64) {
        let full = self.slots.len() >= MAX_SLOTS;
        match self.slots.back_mut() {
            Some((total, first)) if full || now_ms < *first + SLOT_MS => *total = read_total,
            _ => self.slots.push_back((read_total, now_ms)),
        }
    }

    /// `done_total` lines have been delivered or absorbed in all: forget their slots.
    pub fn done(&mut self, done_total: u64) {
        while self
            .slots
            .front()
            .is_some_and(|(total, _)| *total <= done_total)
        {
            self.slots.pop_front();
        }
    }

    /// When the oldest line still waiting was read, if any waits.
    pub fn oldest_waiting(&self, done_total: u64) -> Option<u64> {
        self.slots
            .iter()
            .find(|(total, _)| *total > done_total)
            .map(|(_, first)| *first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_waiting_line_moves_with_deliveries() {
        let mut times = ReadTimes::default();
        assert_eq!(times.oldest_waiting(0), None);
        times.read(10, 1_000);
        times.read(20, 1_050); // same slot
        times.read(30, 2_000);
        times.read(40, 3_000);
        // (done, oldest waiting read at)
        let cases = [
            (0, Some(1_000)),
            (19, Some(1_000)),
            (20, Some(2_000)),
            (35, Some(3_000)),
            (40, None),
        ];
        for (done, expected) in cases {
            assert_eq!(times.oldest_waiting(done), expected, "done {done}");
        }
        times.done(25);
        assert_eq!(times.slots.len(), 2);
        assert_eq!(times.oldest_waiting(25), Some(2_000));
        times.done(40);
        assert!(times.slots.is_empty());
    }

    #[test]
    fn a_busy_log_never_delivered_in_full_still_shows_a_small_lag() {
        // Reading and delivering keep pace, always a few lines behind: the lag stays the age
        // of those few lines, it does not climb.
        let mut times = ReadTimes::default();
        for second in 1..=600u64 {
            times.read(second * 100, second * 1_000);
            let delivered = second * 100 - 50;
            times.done(delivered);
            assert_eq!(times.oldest_waiting(delivered), Some(second * 1_000));
        }
        assert_eq!(times.slots.len(), 1);
    }

    #[test]
    fn slots_are_bounded_and_the_oldest_time_survives() {
        let mut times = ReadTimes::default();
        for i in 0..(MAX_SLOTS as u64 + 500) {
            times.read(i + 1, i * SLOT_MS);
        }
        assert_eq!(times.slots.len(), MAX_SLOTS);
        assert_eq!(times.oldest_waiting(0), Some(0));
        assert_eq!(times.slots.back().unwrap().0, MAX_SLOTS as u64 + 500);
    }
}
