//! The per-worker event buffer: bounded, batched, one POST in flight, retries with
//! backoff, drops counted by cause. Pure state machine: the adapter calls `push_record`
//! from streams, `poll` from `on_tick`, and `complete` from the HTTP call callback.

use super::encode::{entry_into, Frame};
use super::record::Record;
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

/// The longest gap between two ticks, ms, whatever `flush_interval` says: how long a
/// full batch (`max_batch` records) may wait for its POST when none is in flight.
pub const MAX_TICK_MS: u64 = 100;
/// The shortest gap between two ticks, ms.
pub const MIN_TICK_MS: u64 = 50;

impl QueueConfig {
    /// The period of the worker's `on_tick`, ms: `flush_interval` within
    /// [`MIN_TICK_MS`]..=[`MAX_TICK_MS`]. A partial batch still waits for
    /// `flush_interval` ([`EventQueue::poll`]); a full one goes out at the next tick, so
    /// the backlog of a busy worker is what it logs in [`MAX_TICK_MS`], not in a whole
    /// `flush_interval` (in the memory soak, 1 s of records: 2.6 MiB more memory).
    pub fn tick_ms(&self) -> u64 {
        self.flush_interval_ms.clamp(MIN_TICK_MS, MAX_TICK_MS)
    }
}

/// A POST to make (its body stays in the queue for retries).
#[derive(Debug)]
pub struct Batch<'a> {
    /// Request body.
    pub body: &'a [u8],
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
    /// The POST body, kept whole for retries (the entries are not kept apart).
    body: Vec<u8>,
    records: usize,
    attempts: u32,
    /// When the current attempt started, or `None` while waiting for a retry.
    started_ms: Option<u64>,
    retry_at_ms: u64,
}

/// Bytes per chunk of the queue's buffer (see [`Chunks`]).
const CHUNK: usize = 64 * 1024;

/// Queued entries back to back in chunks of [`CHUNK`] bytes; an entry never spans two
/// chunks (a longer one gets a chunk of its own). Memory follows what is queued, to
/// within a chunk: no allocation per record (and its allocator slack), and none of the
/// doubling and copying of one growing buffer. One emptied chunk is kept for reuse.
#[derive(Debug, Default)]
struct Chunks {
    chunks: VecDeque<Vec<u8>>,
    /// Length of each queued entry in bytes, oldest first.
    lens: VecDeque<u32>,
    /// Bytes at the front of the first chunk already taken.
    head: usize,
    spare: Option<Vec<u8>>,
}

impl Chunks {
    fn len(&self) -> usize {
        self.lens.len()
    }

    /// Appends `entry`; `false` (nothing stored) for an entry of 4 GiB or more.
    fn push(&mut self, entry: &[u8]) -> bool {
        let Ok(len) = u32::try_from(entry.len()) else {
            return false;
        };
        let fits = self
            .chunks
            .back()
            .is_some_and(|c| c.capacity() - c.len() >= entry.len());
        if !fits {
            let chunk = match self.spare.take() {
                Some(c) if c.capacity() >= entry.len() => c,
                _ => Vec::with_capacity(entry.len().max(CHUNK)),
            };
            self.chunks.push_back(chunk);
        }
        if let Some(c) = self.chunks.back_mut() {
            c.extend_from_slice(entry);
            self.lens.push_back(len);
        }
        true
    }

    /// Walks `n` entries from the front: calls `f` with each, returns where the walk
    /// ended (chunk index, offset in it).
    fn walk<'a>(&'a self, n: usize, mut f: impl FnMut(&'a [u8])) -> (usize, usize) {
        let (mut ci, mut at) = (0, self.head);
        for &l in self.lens.iter().take(n) {
            let l = l as usize;
            while let Some(c) = self.chunks.get(ci) {
                if at + l <= c.len() {
                    f(c.get(at..at + l).unwrap_or_default());
                    at += l;
                    break;
                }
                ci += 1;
                at = 0;
            }
        }
        (ci, at)
    }

    /// Removes the first `n` entries.
    fn take_front(&mut self, n: usize) {
        let (ci, at) = self.walk(n, |_| {});
        self.lens.drain(..n.min(self.lens.len()));
        // With everything taken, the last chunk goes too.
        let (done, head) = if self.lens.is_empty() {
            (self.chunks.len(), 0)
        } else {
            (ci, at)
        };
        for _ in 0..done {
            if let Some(mut c) = self.chunks.pop_front() {
                if c.capacity() == CHUNK && self.spare.is_none() {
                    c.clear();
                    self.spare = Some(c);
                }
            }
        }
        self.head = head;
    }
}

/// The bounded buffer of one worker: records encoded once into [`Chunks`]; the batch in
/// flight is its POST body alone, kept for retries.
#[derive(Debug)]
pub struct EventQueue {
    cfg: QueueConfig,
    frame: Frame,
    queued: Chunks,
    /// The entry being encoded (kept between records; as long as the longest record).
    stage: Vec<u8>,
    in_flight: Option<InFlight>,
    last_flush_ms: u64,
    dropped_full: u64,
    damaged: u64,
}

impl EventQueue {
    /// An empty queue.
    pub fn new(cfg: QueueConfig, frame: Frame, now_ms: u64) -> Self {
        Self {
            cfg,
            frame,
            queued: Chunks::default(),
            stage: Vec::new(),
            in_flight: None,
            last_flush_ms: now_ms,
            dropped_full: 0,
            damaged: 0,
        }
    }

    /// `content-type` of the POSTs.
    pub fn content_type(&self) -> &'static str {
        self.frame.content_type
    }

    /// Records held (queued and in flight).
    pub fn len(&self) -> usize {
        self.queued.len() + self.in_flight.as_ref().map_or(0, |f| f.records)
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues an encoded record. Returns `false` (and counts a `buffer_full` drop)
    /// when the buffer is full: the start of a burst is kept.
    pub fn push(&mut self, entry: &[u8]) -> bool {
        match self.push_with(|data| {
            data.extend_from_slice(entry);
            Ok::<(), std::convert::Infallible>(())
        }) {
            Ok(queued) => queued,
            Err(never) => match never {},
        }
    }

    /// Encodes `record` in the queue's format straight into its buffer. `Ok(false)` (and
    /// a counted `buffer_full` drop) when the buffer is full; an encoding error leaves
    /// the queue as it was and is returned.
    pub fn push_record<R: Record>(&mut self, record: &R) -> Result<bool, serde_json::Error> {
        let format = self.frame.format;
        self.push_with(|out| entry_into(format, record, out))
    }

    /// Queues the record that `encode` writes (into a buffer the queue keeps, then
    /// copied into its chunks: no allocation per record once warm). `Ok(false)` (and a counted `buffer_full` drop) when the
    /// buffer is full, before `encode` runs; an encoding error leaves the queue as it
    /// was and is returned.
    pub fn push_with<E>(
        &mut self,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<bool, E> {
        if self.len() >= self.cfg.max_buffered {
            self.dropped_full += 1;
            return Ok(false);
        }
        self.stage.clear();
        encode(&mut self.stage)?;
        if self.queued.push(&self.stage) {
            return Ok(true);
        }
        // A record of 4 GiB or more cannot happen (records are bounded): dropped and
        // counted rather than trusted.
        self.dropped_full += 1;
        Ok(false)
    }

    /// Drops counted by `push` since the last call (for the adapter's counter).
    pub fn take_buffer_full_drops(&mut self) -> u64 {
        std::mem::take(&mut self.dropped_full)
    }

    /// Queued entries that `poll` found damaged and left out of their batch since the
    /// last call (for the adapter's internal-error counter; not counted as sent).
    pub fn take_damaged(&mut self) -> u64 {
        std::mem::take(&mut self.damaged)
    }

    /// The next POST to make, if one is due: a retry whose time has come, or a new
    /// batch when the flush interval passed or a full batch is waiting. `force`
    /// flushes regardless of the interval (shutdown).
    pub fn poll(&mut self, now_ms: u64, force: bool) -> Option<Batch<'_>> {
        if let Some(f) = &mut self.in_flight {
            if f.started_ms.is_some() || now_ms < f.retry_at_ms {
                return None;
            }
            f.started_ms = Some(now_ms);
            f.attempts += 1;
            return self.in_flight_batch();
        }
        if self.queued.len() == 0 {
            self.last_flush_ms = now_ms;
            return None;
        }
        let due = force
            || self.queued.len() >= self.cfg.max_batch
            || now_ms.saturating_sub(self.last_flush_ms) >= self.cfg.flush_interval_ms;
        if !due {
            return None;
        }
        self.last_flush_ms = now_ms;
        let n = self.queued.len().min(self.cfg.max_batch);
        let size: usize = self.queued.lens.iter().take(n).map(|&l| l as usize).sum();
        // One slice per entry (a vector per batch, not per record).
        let mut parts = Vec::with_capacity(n);
        self.queued.walk(n, |e| parts.push(e));
        let (body, carried) = self.frame.body_counted(parts.into_iter(), size);
        self.queued.take_front(n);
        // Entries the batch left out (damaged: cannot happen with `push_record`) are
        // counted apart, never as sent.
        self.damaged += n.saturating_sub(carried) as u64;
        if carried == 0 {
            return None;
        }
        self.in_flight = Some(InFlight {
            body,
            records: carried,
            attempts: 1,
            started_ms: Some(now_ms),
            retry_at_ms: 0,
        });
        self.in_flight_batch()
    }

    fn in_flight_batch(&self) -> Option<Batch<'_>> {
        self.in_flight.as_ref().map(|f| Batch {
            body: &f.body,
            records: f.records,
            attempt: f.attempts,
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
        let n = f.records;
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
        q.push(&rec(1));
        assert!(q.poll(500, false).is_none(), "not due yet");
        let b = q.poll(1000, false).unwrap();
        assert_eq!(b.records, 1);
        assert_eq!(q.complete(SendResult::Ok, 1001).sent, 1);
        for i in 0..7 {
            q.push(&rec(i));
        }
        let b = q.poll(1002, false).unwrap();
        assert_eq!(b.records, 3, "a full batch goes at once");
        assert_eq!(std::str::from_utf8(b.body).unwrap().lines().count(), 3);
        assert!(q.poll(1003, false).is_none(), "one POST in flight");
        q.complete(SendResult::Ok, 1004);
        assert_eq!(q.poll(1005, false).unwrap().records, 3);
    }

    /// A damaged OTLP entry is left out of its batch, counted apart and never as sent;
    /// a batch of damaged entries alone is not sent at all.
    #[test]
    fn damaged_entries_are_counted_apart_not_sent() {
        let cfg = QueueConfig {
            max_batch: 3,
            max_buffered: 100,
            flush_interval_ms: 1000,
            timeout_ms: 2000,
        };
        let mut q = EventQueue::new(cfg, Frame::new(EventFormat::Otlp, "svc", "v"), 0);
        let call = crate::events::CallRecord {
            kind: "call",
            ..Default::default()
        };
        q.push_record(&call).unwrap();
        q.push(b"not a compact entry");
        q.push_record(&call).unwrap();
        let b = q.poll(1000, false).unwrap();
        assert_eq!(b.records, 2);
        let v: serde_json::Value = serde_json::from_slice(b.body).unwrap();
        let recs = &v["resourceLogs"][0]["scopeLogs"][0]["logRecords"];
        assert_eq!(recs.as_array().unwrap().len(), 2);
        assert_eq!(q.take_damaged(), 1);
        assert_eq!(q.take_damaged(), 0);
        assert_eq!(q.complete(SendResult::Ok, 1001).sent, 2);
        assert!(q.is_empty());
        q.push(b"damaged");
        q.push(b"");
        assert!(q.poll(2002, false).is_none(), "nothing left to send");
        assert_eq!(q.take_damaged(), 2);
        assert!(q.is_empty());
    }

    #[test]
    fn a_full_batch_waits_one_short_tick_a_partial_one_the_interval() {
        let cfg = |flush_interval_ms| QueueConfig {
            max_batch: 3,
            max_buffered: 100,
            flush_interval_ms,
            timeout_ms: 2000,
        };
        assert_eq!(cfg(10).tick_ms(), MIN_TICK_MS);
        assert_eq!(cfg(70).tick_ms(), 70);
        assert_eq!(cfg(60_000).tick_ms(), 100, "ms");
        let c = cfg(5_000);
        let tick = c.tick_ms();
        let mut q = EventQueue::new(c, Frame::new(EventFormat::Ndjson, "svc", "v"), 0);
        // The worker ticks every `tick` ms; when does a POST go out?
        let first_post = |q: &mut EventQueue, from: u64| {
            (1..=100)
                .map(|k| from + k * tick)
                .find(|&t| q.poll(t, false).is_some())
        };
        q.push(&rec(0));
        assert_eq!(
            first_post(&mut q, 0),
            Some(5_000),
            "a partial batch: the interval"
        );
        q.complete(SendResult::Ok, 5_001);
        for i in 0..3 {
            q.push(&rec(i));
        }
        let sent = first_post(&mut q, 5_000).unwrap();
        assert!(sent - 5_000 <= 100, "a full batch: the next tick ({sent})");
    }

    #[test]
    fn bounded_and_keeps_the_start_of_a_burst() {
        let mut q = q(2, 5);
        for i in 0..8 {
            q.push(&rec(i));
        }
        assert_eq!(q.len(), 5);
        assert_eq!(q.take_buffer_full_drops(), 3);
        assert_eq!(q.take_buffer_full_drops(), 0);
        let b = q.poll(2000, false).unwrap();
        assert!(std::str::from_utf8(b.body)
            .unwrap()
            .starts_with("{\"i\":0}"));
        // The in-flight batch still counts toward the bound.
        assert!(!q.push(&rec(99)));
    }

    #[test]
    fn retries_with_backoff_then_drops() {
        let mut q = q(10, 100);
        q.push(&rec(1));
        q.push(&rec(2));
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
        q.push(&rec(1));
        q.poll(1000, false).unwrap();
        q.complete(SendResult::Failed, 1000);
        let b = q.poll(1500, false).unwrap();
        assert_eq!(b.attempt, 2);
        assert_eq!(q.complete(SendResult::Ok, 1600).sent, 1);
        q.push(&rec(2));
        q.poll(3000, false).unwrap();
        let c = q.complete(SendResult::NoCluster, 3000);
        assert_eq!(c.dropped, Some((DropCause::NoCluster, 1)));
        assert!(!c.retrying);
    }

    #[test]
    fn overdue_and_force() {
        let mut q = q(10, 100);
        q.push(&rec(1));
        assert!(q.poll(10, true).is_some(), "force ignores the interval");
        assert!(!q.overdue(2000));
        assert!(q.overdue(2000 + CALLBACK_GRACE_MS + 11));
        assert!(q.complete(SendResult::Ok, 0).sent == 1);
        assert_eq!(q.complete(SendResult::Ok, 0), Completion::default());
    }

    #[test]
    fn a_retry_sends_the_same_body() {
        let mut q = q(10, 100);
        q.push(&rec(1));
        q.push(&rec(2));
        let first = q.poll(1000, false).unwrap().body.to_vec();
        q.complete(SendResult::Failed, 1000);
        q.push(&rec(3));
        let again = q.poll(1500, false).unwrap();
        assert_eq!(again.body, first.as_slice());
        assert_eq!((again.records, again.attempt), (2, 2));
        assert_eq!(q.len(), 3, "the record queued meanwhile waits");
    }

    #[test]
    fn an_encoding_error_leaves_the_queue_as_it_was() {
        let mut q = q(10, 100);
        q.push(&rec(1));
        let r = q.push_with(|out| {
            out.extend_from_slice(b"{\"half");
            Err("no")
        });
        assert_eq!(r, Err("no"));
        assert_eq!(
            q.push_with(|out| {
                out.extend_from_slice(&rec(2));
                Ok::<_, ()>(())
            }),
            Ok(true)
        );
        assert_eq!(q.len(), 2);
        let b = q.poll(1000, false).unwrap();
        assert_eq!(
            std::str::from_utf8(b.body).unwrap(),
            "{\"i\":1}\n{\"i\":2}\n"
        );
    }

    #[test]
    fn full_buffer_is_checked_before_encoding() {
        let mut q = q(2, 2);
        q.push(&rec(1));
        q.push(&rec(2));
        let mut ran = false;
        let r = q.push_with(|_| {
            ran = true;
            Ok::<_, ()>(())
        });
        assert_eq!(r, Ok(false));
        assert!(!ran);
        assert_eq!(q.take_buffer_full_drops(), 1);
    }

    /// Batches taken from the front while records keep arriving carry every record
    /// once, in order.
    #[test]
    fn records_come_out_in_order_while_more_arrive() {
        let mut q = q(3, 1000);
        let mut seen = Vec::new();
        let mut next = 0;
        for round in 0..50u64 {
            for _ in 0..(round % 5) {
                assert!(q.push(&rec(next)));
                next += 1;
            }
            if let Some(b) = q.poll(1000 * (round + 1), false) {
                let body = std::str::from_utf8(b.body).unwrap().to_string();
                for line in body.lines() {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    seen.push(v["i"].as_u64().unwrap() as usize);
                }
                q.complete(SendResult::Ok, 1000 * (round + 1));
            }
        }
        while let Some(b) = q.poll(u64::MAX / 2, true) {
            for line in std::str::from_utf8(b.body).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                seen.push(v["i"].as_u64().unwrap() as usize);
            }
            q.complete(SendResult::Ok, u64::MAX / 2);
        }
        assert_eq!(seen, (0..next).collect::<Vec<_>>());
        assert!(q.is_empty());
    }

    /// Takes every batch out of `q` (completing each), returning the NDJSON lines.
    fn drain_lines(q: &mut EventQueue, now: u64) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(b) = q.poll(now, true) {
            lines.extend(
                std::str::from_utf8(b.body)
                    .unwrap()
                    .lines()
                    .map(String::from),
            );
            q.complete(SendResult::Ok, now);
        }
        lines
    }

    /// Records larger than a chunk and runs of records across chunk boundaries come
    /// out whole and in order; memory is released as batches go.
    #[test]
    fn chunk_boundaries_and_long_records() {
        let mut q = q(70, 10_000);
        let mut sent = Vec::new();
        for i in 0..400 {
            let pad = if i == 123 { CHUNK + 5 } else { 900 + i % 300 };
            let line = format!("{{\"i\":{i},\"pad\":\"{}\"}}", "x".repeat(pad));
            assert!(q.push(line.as_bytes()));
            sent.push(line);
        }
        assert!(q.queued.chunks.len() >= 6, "{}", q.queued.chunks.len());
        assert_eq!(drain_lines(&mut q, 10_000), sent);
        assert!(q.queued.chunks.is_empty() && q.queued.head == 0);
        assert_eq!(q.queued.spare.as_ref().map(Vec::capacity), Some(CHUNK));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Whatever the record sizes and however pushes and batches interleave,
            /// every record is sent once, whole, in order.
            #[test]
            fn records_are_sent_once_in_order(
                steps in proptest::collection::vec((0usize..12, 0usize..4), 1..40),
                long in 0usize..3,
                max_batch in 1usize..9,
            ) {
                let mut q = q(max_batch, 1_000_000);
                let (mut sent, mut got) = (Vec::new(), Vec::new());
                let mut now = 0;
                for (k, (pushes, polls)) in steps.into_iter().enumerate() {
                    for p in 0..pushes {
                        let n = sent.len();
                        let pad = if (k + p) % 7 == long { CHUNK / 3 + n } else { n * 37 % 2000 };
                        let line = format!("{{\"i\":{n},\"p\":\"{}\"}}", "y".repeat(pad));
                        prop_assert!(q.push(line.as_bytes()));
                        sent.push(line);
                    }
                    for _ in 0..polls {
                        now += 1000;
                        if let Some(b) = q.poll(now, false) {
                            got.extend(std::str::from_utf8(b.body).unwrap().lines().map(String::from));
                            q.complete(SendResult::Ok, now);
                        }
                    }
                }
                got.extend(drain_lines(&mut q, now + 1000));
                prop_assert_eq!(got, sent);
            }
        }
    }
}
