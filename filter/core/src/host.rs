//! The narrow host interface the core needs while deciding: time, metrics and the
//! proxy-wide shared data (compare-and-swap). The wasm adapter implements it with
//! proxy-wasm host calls; `MemHost` implements it in memory for tests and the CLI.

use crate::clock::Clock;
use crate::stats::MetricIdx;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// A host call failed (the adapter counts it as an internal error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostError;

/// Result of a compare-and-swap write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    /// Written.
    Stored,
    /// Someone else wrote first: read again and retry.
    Conflict,
}

/// What the core may ask of the proxy.
pub trait Host: Clock {
    /// Adds `n` to a counter.
    fn incr(&self, m: MetricIdx, n: u64);
    /// Sets a gauge.
    fn set_gauge(&self, m: MetricIdx, v: u64);
    /// Records a histogram sample.
    fn record(&self, m: MetricIdx, v: u64);
    /// Reads a shared-data value and its CAS token (`None`: absent).
    fn shared_get(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostError>;
    /// Writes a shared-data value if its CAS token is still `cas` (0: unconditional
    /// for a new key).
    fn shared_set(&self, key: &str, value: &[u8], cas: u32) -> Result<CasOutcome, HostError>;
}

/// An in-memory host: a fake clock, a shared-data map with CAS, and metric values.
#[derive(Debug, Default)]
pub struct MemHost {
    /// Current time, ms since the epoch.
    pub now: Cell<u64>,
    /// Metric values by layout index.
    pub metrics: RefCell<HashMap<u32, u64>>,
    /// Histogram samples by layout index.
    pub samples: RefCell<HashMap<u32, Vec<u64>>>,
    shared: RefCell<HashMap<String, (Vec<u8>, u32)>>,
    /// Makes the next N CAS writes fail with a conflict (to test retries).
    pub conflicts: Cell<u32>,
    writes: Cell<u64>,
}

impl MemHost {
    /// A host whose clock reads `ms`.
    pub fn at(ms: u64) -> Self {
        let h = Self::default();
        h.now.set(ms);
        h
    }
    /// Moves the clock forward.
    pub fn advance(&self, ms: u64) {
        self.now.set(self.now.get() + ms);
    }
    /// Value of a metric (0 when never touched).
    pub fn metric(&self, m: MetricIdx) -> u64 {
        self.metrics.borrow().get(&m.0).copied().unwrap_or(0)
    }
    /// Shared-data writes stored so far.
    pub fn shared_writes(&self) -> u64 {
        self.writes.get()
    }
    /// Number of shared-data keys.
    pub fn shared_len(&self) -> usize {
        self.shared.borrow().len()
    }
    /// Total bytes held in shared data (keys and values).
    pub fn shared_bytes(&self) -> usize {
        self.shared
            .borrow()
            .iter()
            .map(|(k, (v, _))| k.len() + v.len())
            .sum()
    }
}

impl Clock for MemHost {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }
}

impl Host for MemHost {
    fn incr(&self, m: MetricIdx, n: u64) {
        *self.metrics.borrow_mut().entry(m.0).or_insert(0) += n;
    }
    fn set_gauge(&self, m: MetricIdx, v: u64) {
        self.metrics.borrow_mut().insert(m.0, v);
    }
    fn record(&self, m: MetricIdx, v: u64) {
        self.samples.borrow_mut().entry(m.0).or_default().push(v);
    }
    fn shared_get(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostError> {
        Ok(self.shared.borrow().get(key).cloned())
    }
    fn shared_set(&self, key: &str, value: &[u8], cas: u32) -> Result<CasOutcome, HostError> {
        if self.conflicts.get() > 0 {
            self.conflicts.set(self.conflicts.get() - 1);
            return Ok(CasOutcome::Conflict);
        }
        let mut map = self.shared.borrow_mut();
        let current = map.get(key).map(|(_, c)| *c);
        match current {
            // Envoy's semantics: cas 0 writes unconditionally; a new key is always
            // stored.
            Some(c) if cas != 0 && c != cas => return Ok(CasOutcome::Conflict),
            _ => {}
        }
        let next = current.unwrap_or(0).wrapping_add(1).max(1);
        map.insert(key.to_string(), (value.to_vec(), next));
        self.writes.set(self.writes.get() + 1);
        Ok(CasOutcome::Stored)
    }
}
