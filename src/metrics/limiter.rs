//! Keeps a repeated error from flooding the journal: the first occurrence of a kind is logged,
//! repeats within the window are only counted and reported with the next allowed line.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct LogLimiter {
    window: Duration,
    last: Mutex<HashMap<String, (Instant, u64)>>,
}

impl LogLimiter {
    pub fn new(window: Duration) -> LogLimiter {
        LogLimiter {
            window,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a message of this kind may be logged now.
    pub fn allow(&self, kind: &str) -> bool {
        self.allow_counting(kind).is_some()
    }

    /// Like [`allow`](Self::allow), returning how many were suppressed since the last one.
    pub fn allow_counting(&self, kind: &str) -> Option<u64> {
        let mut last = self.last.lock().expect("limiter lock");
        let now = Instant::now();
        match last.get_mut(kind) {
            Some((at, suppressed)) if now.duration_since(*at) < self.window => {
                *suppressed += 1;
                None
            }
            Some((at, suppressed)) => {
                let count = *suppressed;
                *at = now;
                *suppressed = 0;
                Some(count)
            }
            None => {
                last.insert(kind.to_owned(), (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_inside_the_window_are_suppressed() {
        let limiter = LogLimiter::new(Duration::from_secs(60));
        assert_eq!(limiter.allow_counting("a"), Some(0));
        assert_eq!(limiter.allow_counting("a"), None);
        assert_eq!(limiter.allow_counting("b"), Some(0));
    }
}
