//! The per-worker event buffer: bounded, batched, one POST in flight, retries with
//! backoff, drops counted by cause. Pure state machine: the adapter calls `push` from
//! streams, `poll` from `on_tick`, and `complete` from the HTTP call callback.

use super::encode::Frame;
use crate::stats::DropCause;
use std::collections::VecDeque;

/// Attempts per batch (the first send and its retries).
pub const MAX_ATTEMPTS: u32 = 4;
/// First retry delay, ms; doubles per attempt.
pub const BACKOFF_BASE_MS: u64 = 500;
/// Longest retry delay, ms.
pub const BACKOFF_MAX_MS: u64 = 8_000;
/// Grace after the POST timeout before an unanswered call is given up locally, ms.
pub const CALLBACK_GRACE_MS: u64 = 5_000;

/// Queue settings.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Records per POST.
    pub max_batch: usize,
    /// Records held (queued and in flight).
    pub max_buffered: usize,
    /// Flush period, ms.
    pub flush_interval_ms: u64,
    /// POST timeout, ms.
    pub timeout_ms: u64,
}

/// A POST to make.
#[derive(Debug)]
pub struct Batch {
    /// Request body.
    pub body: Vec<u8>,
    /// Records in it.
    pub records: usize,
    /// Which attempt this is (1 = first).
    pub attempt: u32,
}

/// How a POST ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendResult {
    /// 2xx.
    Ok,
    /// Non-2xx answer or reset.
    Failed,
    /// No answer within the timeout.
    TimedOut,
    /// The cluster does not exist (dispatch refused).
    NoCluster,
}

/// What `complete` did, for the adapter to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Completion {
    /// Records delivered.
    pub sent: usize,
    /// Records given up, and why.
    pub dropped: Option<(DropCause, usize)>,
    /// The batch will be tried again.
    pub retrying: bool,
}

#[derive(Debug)]
struct InFlight {
    entries: Vec<Vec<u8>>,
    attempts: u32,
    /// When the current attempt started, or `None` while waiting for a retry.
    started_ms: Option<u64>,
    retry_at_ms: u64,
}

/// The bounded buffer of one worker.
#[derive(Debug)]
pub struct EventQueue {
    cfg: QueueConfig,
    frame: Frame,
    pending: VecDeque<Vec<u8>>,
    pending_bytes: usize,
    in_flight: Option<InFlight>,
    last_flush_ms: u64,
    dropped_full: u64,
}

impl EventQueue {
    /// An empty queue.
    pub fn new(cfg: QueueConfig, frame: Frame, now_ms: u64) -> Self {
        Self {
            cfg,
            frame,
            pending: VecDeque::new(),
            pending_bytes: 0,
            in_flight: None,
            last_flush_ms: now_ms,
            dropped_full: 0,
        }
    }

    /// `content-type` of the POSTs.
    pub fn content_type(&self) -> &'static str {
        self.frame.content_type
    }

    /// Records held (queued and in flight).
    pub fn len(&self) -> usize {
        self.pending.len() + self.in_flight.as_ref().map_or(0, |f| f.entries.len())
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues an encoded record. Returns `false` (and counts a `buffer_full` drop)
    /// when the buffer is full: the start of a burst is kept.
    pub fn push(&mut self, entry: Vec<u8>) -> bool {
        if self.len() >= self.cfg.max_buffered {
            self.dropped_full += 1;
            return false;
        }
        self.pending_bytes += entry.len();
        self.pending.push_back(entry);
        true
    }

    /// Drops counted by `push` since the last call (for the adapter's counter).
    pub fn take_buffer_full_drops(&mut self) -> u64 {
        std::mem::take(&mut self.dropped_full)
    }

    /// The next POST to make, if one is due: a retry whose time has come, or a new
    /// batch when the flush interval passed or a full batch is waiting. `force`
    /// flushes regardless of the interval (shutdown).
    pub fn poll(&mut self, now_ms: u64, force: bool) -> Option<Batch> {
        if let Some(f) = &mut self.in_flight {
            if f.started_ms.is_some() || now_ms < f.retry_at_ms {
                return None;
            }
            f.started_ms = Some(now_ms);
            f.attempts += 1;
            let size = f.entries.iter().map(Vec::len).sum();
            return Some(Batch {
                body: self.frame.body(f.entries.iter().map(Vec::as_slice), size),
                records: f.entries.len(),
                attempt: f.attempts,
            });
        }
        if self.pending.is_empty() {
            self.last_flush_ms = now_ms;
            return None;
        }
        let due = force
            || self.pending.len() >= self.cfg.max_batch
            || now_ms.saturating_sub(self.last_flush_ms) >= self.cfg.flush_interval_ms;
        if !due {
            return None;
        }
        self.last_flush_ms = now_ms;
        let n = self.pending.len().min(self.cfg.max_batch);
        let entries: Vec<Vec<u8>> = self.pending.drain(..n).collect();
        let size: usize = entries.iter().map(Vec::len).sum();
        self.pending_bytes = self.pending_bytes.saturating_sub(size);
        let body = self.frame.body(entries.iter().map(Vec::as_slice), size);
        let records = entries.len();
        self.in_flight = Some(InFlight {
            entries,
            attempts: 1,
            started_ms: Some(now_ms),
            retry_at_ms: 0,
        });
        Some(Batch {
            body,
            records,
            attempt: 1,
        })
    }

    /// Whether the POST in flight has gone unanswered past its timeout plus a grace
    /// period (a lost callback); the adapter then completes it as timed out.
    pub fn overdue(&self, now_ms: u64) -> bool {
        self.in_flight
            .as_ref()
            .and_then(|f| f.started_ms)
            .is_some_and(|s| now_ms.saturating_sub(s) > self.cfg.timeout_ms + CALLBACK_GRACE_MS)
    }

    /// Settles the POST in flight.
    pub fn complete(&mut self, result: SendResult, now_ms: u64) -> Completion {
        let Some(mut f) = self.in_flight.take() else {
            return Completion::default();
        };
        let n = f.entries.len();
        let cause = match result {
            SendResult::Ok => {
                return Completion {
                    sent: n,
                    dropped: None,
                    retrying: false,
                }
            }
            SendResult::NoCluster => {
                // Retrying cannot help until the cluster appears; later batches try
                // again at the next flush.
                return Completion {
                    sent: 0,
                    dropped: Some((DropCause::NoCluster, n)),
                    retrying: false,
                };
            }
            SendResult::Failed => DropCause::CollectorError,
            SendResult::TimedOut => DropCause::Timeout,
        };
        if f.attempts >= MAX_ATTEMPTS {
            return Completion {
                sent: 0,
                dropped: Some((cause, n)),
                retrying: false,
            };
        }
        let shift = f.attempts.saturating_sub(1).min(16);
        let delay = (BACKOFF_BASE_MS << shift).min(BACKOFF_MAX_MS);
        f.started_ms = None;
        f.retry_at_ms = now_ms + delay;
        self.in_flight = Some(f);
        Completion {
            sent: 0,
            dropped: None,
            retrying: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::EventFormat;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn q(max_batch: usize, max_buffered: usize) -> EventQueue {
        EventQueue::new(
            QueueConfig {
                max_batch,
                max_buffered,
                flush_interval_ms: 1000,
                timeout_ms: 2000,
            },
            Frame::new(EventFormat::Ndjson, "svc", "v"),
            0,
        )
    }

    fn rec(i: usize) -> Vec<u8> {
        format!("{{\"i\":{i}}}").into_bytes()
    }

    #[test]
    fn flushes_on_interval_or_full_batch() {
        let mut q = q(3, 100);
        q.push(rec(1));
        assert!(q.poll(500, false).is_none(), "not due yet");
        let b = q.poll(1000, false).unwrap();
        assert_eq!(b.records, 1);
        assert_eq!(q.complete(SendResult::Ok, 1001).sent, 1);
        for i in 0..7 {
            q.push(rec(i));
        }
        let b = q.poll(1002, false).unwrap();
        assert_eq!(b.records, 3, "a full batch goes at once");
        assert_eq!(String::from_utf8(b.body).unwrap().lines().count(), 3);
        assert!(q.poll(1003, false).is_none(), "one POST in flight");
        q.complete(SendResult::Ok, 1004);
        assert_eq!(q.poll(1005, false).unwrap().records, 3);
    }

    #[test]
    fn bounded_and_keeps_the_start_of_a_burst() {
        let mut q = q(2, 5);
        for i in 0..8 {
            q.push(rec(i));
        }
        assert_eq!(q.len(), 5);
        assert_eq!(q.take_buffer_full_drops(), 3);
        assert_eq!(q.take_buffer_full_drops(), 0);
        let b = q.poll(2000, false).unwrap();
        assert!(String::from_utf8(b.body).unwrap().starts_with("{\"i\":0}"));
        // The in-flight batch still counts toward the bound.
        assert!(!q.push(rec(99)));
    }

    #[test]
    fn retries_with_backoff_then_drops() {
        let mut q = q(10, 100);
        q.push(rec(1));
        q.push(rec(2));
        let mut now = 1000;
        let b = q.poll(now, false).unwrap();
        assert_eq!(b.attempt, 1);
        let mut delays = Vec::new();
        for attempt in 1..MAX_ATTEMPTS {
            let c = q.complete(SendResult::Failed, now);
            assert!(c.retrying && c.dropped.is_none());
            let mut t = now + 1;
            while q.poll(t, false).is_none() {
                t += 1;
                assert!(t < now + 60_000);
            }
            delays.push(t - now);
            now = t;
            assert!(attempt < MAX_ATTEMPTS);
        }
        assert_eq!(delays, vec![500, 1000, 2000]);
        let c = q.complete(SendResult::TimedOut, now);
        assert_eq!(c.dropped, Some((DropCause::Timeout, 2)));
        assert!(q.is_empty());
    }

    #[test]
    fn retry_success_delivers_and_no_cluster_drops_at_once() {
        let mut q = q(10, 100);
        q.push(rec(1));
        q.poll(1000, false).unwrap();
        q.complete(SendResult::Failed, 1000);
        let b = q.poll(1500, false).unwrap();
        assert_eq!(b.attempt, 2);
        assert_eq!(q.complete(SendResult::Ok, 1600).sent, 1);
        q.push(rec(2));
        q.poll(3000, false).unwrap();
        let c = q.complete(SendResult::NoCluster, 3000);
        assert_eq!(c.dropped, Some((DropCause::NoCluster, 1)));
        assert!(!c.retrying);
    }

    #[test]
    fn overdue_and_force() {
        let mut q = q(10, 100);
        q.push(rec(1));
        assert!(q.poll(10, true).is_some(), "force ignores the interval");
        assert!(!q.overdue(2000));
        assert!(q.overdue(2000 + CALLBACK_GRACE_MS + 11));
        assert!(q.complete(SendResult::Ok, 0).sent == 1);
        assert_eq!(q.complete(SendResult::Ok, 0), Completion::default());
    }
}
