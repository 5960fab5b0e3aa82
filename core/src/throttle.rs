//! Rate-limited warnings: an error a client can repeat at will (a wrong token, a refused
//! address) gets a log line each time until it floods, then a few lines per window, each
//! saying how many were left out.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lets `per_window` lines through per `window`.
#[derive(Debug)]
pub struct LogThrottle {
    per_window: u32,
    window: Duration,
    /// (window start, lines let through in it, lines suppressed since the last one let through)
    state: Mutex<(Option<Instant>, u32, u64)>,
}

impl LogThrottle {
    pub const fn new(per_window: u32, window: Duration) -> LogThrottle {
        LogThrottle { per_window, window, state: Mutex::new((None, 0, 0)) }
    }

    /// `Some(suppressed)` when a line may be written now (`suppressed`: lines left out
    /// since the last one written); `None` when this one is to be left out.
    pub fn allow(&self) -> Option<u64> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (start, written, suppressed) = &mut *state;
        if start.is_none_or(|s| now.duration_since(s) >= self.window) {
            *start = Some(now);
            *written = 0;
        }
        if *written < self.per_window {
            *written += 1;
            Some(std::mem::take(suppressed))
        } else {
            *suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lets_a_few_through_then_counts_the_rest() {
        let t = LogThrottle::new(2, Duration::from_secs(3600));
        assert_eq!(t.allow(), Some(0));
        assert_eq!(t.allow(), Some(0));
        assert_eq!(t.allow(), None);
        assert_eq!(t.allow(), None);
        // A new window: the next line says two were left out.
        t.state.lock().unwrap().0 = Some(Instant::now() - Duration::from_secs(3601));
        assert_eq!(t.allow(), Some(2));
    }
}
