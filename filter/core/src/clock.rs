//! Time, injected: the core never reads a clock itself, so limiters and windows are
//! tested with a fake clock.

use std::cell::Cell;

/// A source of wall-clock time.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// A clock for tests: starts where told and moves only when advanced.
#[derive(Debug, Default)]
pub struct FakeClock(Cell<u64>);

impl FakeClock {
    /// A clock reading `ms`.
    pub fn at(ms: u64) -> Self {
        Self(Cell::new(ms))
    }
    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.0.set(self.0.get().saturating_add(ms));
    }
    /// Sets the clock to `ms`.
    pub fn set(&self, ms: u64) {
        self.0.set(ms);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> u64 {
        self.0.get()
    }
}
