//! Rate limits (token buckets) and data limits (fixed-window quotas on sensitive values)
//! over the shared slot tables, so every worker of one Envoy sees the same state.
//! Limits are per pod: N replicas admit N times the limit. A busy key's tokens are
//! taken from the shared bucket a few at a time (see [`super::lease`]).

use super::lease::{self, Lease, LeaseTable};
use super::slots::{SlotError, SlotTable};
use crate::config::{DataLimitPolicy, RateLimitPolicy};
use crate::host::Host;
use std::cell::RefCell;

/// The outcome of taking a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Take {
    /// A token was available (and spent).
    pub allowed: bool,
    /// Whole tokens left.
    pub remaining: u64,
    /// Seconds until a token is available (0 when allowed).
    pub retry_after_s: u64,
    /// Seconds until the bucket is full again.
    pub reset_s: u64,
}

/// A token bucket per key, shared by the workers.
///
/// Tokens are kept scaled by the period: one token is `per_ms` units and every
/// elapsed millisecond adds `requests` units, so refills are exact integers whatever
/// the rate (no rounding loss however often the bucket is touched).
///
/// Each VM may hold a lease of up to [`lease::max_lease`] tokens per busy key (1/64 of
/// the burst, at most 64; none below a burst of 128), taken from the shared bucket in
/// one round trip. With `W` workers the pod admits at most `W * (max_lease - 1)`
/// tokens more than a strict bucket over any interval (tokens leased before it and
/// spent in it), and tokens leased but not spent within [`lease::LEASE_MS`] are
/// dropped, so it may admit as many fewer.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    table: SlotTable<2>,
    requests: u64,
    per_ms: u64,
    cap: u64,
    max_lease: u64,
    leases: RefCell<LeaseTable>,
}

impl RateLimiter {
    /// The limiter of one `rate_limits` entry, under the plugin's key prefix.
    pub fn new(plugin: &str, p: &RateLimitPolicy) -> Self {
        let per_ms = p.per_ms.max(1);
        let burst = u64::from(p.burst.max(1));
        Self {
            table: SlotTable::new(format!("{plugin}|mw|rl|{}", p.name), p.max_keys),
            requests: u64::from(p.requests.max(1)),
            per_ms,
            cap: burst.saturating_mul(per_ms),
            max_lease: lease::max_lease(burst),
            leases: RefCell::new(LeaseTable::default()),
        }
    }

    /// Milliseconds until `units` more units have been added.
    fn ms_for(&self, units: u64) -> u64 {
        units.div_ceil(self.requests)
    }

    /// Creates the shared sets before traffic (see `SlotTable::prepare`).
    pub fn prepare(&self, host: &dyn Host) -> Result<u64, SlotError> {
        self.table.prepare(host)
    }

    /// Takes one token for `key_hash` at `now_ms`: from this VM's lease of the key when
    /// it holds a live one, else from the shared bucket (with a lease of the next few
    /// tokens when the key is busy).
    pub fn take(&self, host: &dyn Host, key_hash: u64, now_ms: u64) -> Result<Take, SlotError> {
        let Ok(mut leases) = self.leases.try_borrow_mut() else {
            return self
                .take_shared(host, key_hash, now_ms, 1)
                .map(|(t, _, _)| t);
        };
        let mut previous = None;
        if let Some(l) = leases.get(key_hash) {
            // Refused, and the bucket has no token before then: tokens only come from
            // the refill, so nothing can be admitted earlier, whichever worker asks.
            // Answered here for at most a lease's life, so a refused key still touches
            // its shared entry once a second and is not evicted as idle (which would
            // refill it).
            if now_ms < l.next_token_at_ms && l.live(now_ms) {
                return Ok(Take {
                    allowed: false,
                    remaining: 0,
                    retry_after_s: (l.next_token_at_ms - now_ms).div_ceil(1000).max(1),
                    reset_s: l.reset_s,
                });
            }
            if l.tokens > 0 && l.live(now_ms) {
                l.tokens -= 1;
                return Ok(Take {
                    allowed: true,
                    remaining: l.bucket_remaining.saturating_add(l.tokens),
                    retry_after_s: 0,
                    reset_s: l.reset_s,
                });
            }
            previous = Some(*l);
        }
        let want = lease::want(previous.as_ref(), now_ms, self.max_lease);
        let (take, granted, next_token_ms) = self.take_shared(host, key_hash, now_ms, want)?;
        if granted > 0 {
            leases.put(Lease {
                key: key_hash,
                tokens: granted - 1,
                size: granted,
                granted_ms: now_ms,
                bucket_remaining: take.remaining.saturating_sub(granted - 1),
                reset_s: take.reset_s,
                next_token_at_ms: 0,
            });
        } else {
            // Refused: remember until when, and the next grant starts small again.
            leases.put(Lease {
                key: key_hash,
                granted_ms: now_ms,
                next_token_at_ms: now_ms.saturating_add(next_token_ms),
                reset_s: take.reset_s,
                ..Lease::default()
            });
        }
        Ok(take)
    }

    /// Takes up to `want` tokens (at least one, or none when the bucket has none) from
    /// the shared bucket; returns the outcome for this request, the tokens granted and,
    /// when none, the ms until the bucket has one. `remaining` counts the granted
    /// tokens beyond the first as still available.
    fn take_shared(
        &self,
        host: &dyn Host,
        key_hash: u64,
        now_ms: u64,
        want: u64,
    ) -> Result<(Take, u64, u64), SlotError> {
        self.table.update(host, key_hash, now_ms, |e| {
            let (units, last) = match e {
                Some(e) => (e.w[0], e.w[1]),
                None => (self.cap, now_ms),
            };
            let elapsed = now_ms.saturating_sub(last);
            let mut units = units
                .saturating_add(elapsed.saturating_mul(self.requests))
                .min(self.cap);
            let granted = (units / self.per_ms).min(want.max(1));
            let allowed = granted > 0;
            units -= granted * self.per_ms;
            let next_token_ms = if allowed {
                0
            } else {
                self.ms_for(self.per_ms - units)
            };
            let retry_after_s = if allowed {
                0
            } else {
                next_token_ms.div_ceil(1000).max(1)
            };
            let next = super::slots::Entry {
                w: [units, now_ms],
                ..Default::default()
            };
            (
                next,
                (
                    Take {
                        allowed,
                        remaining: units / self.per_ms + granted.saturating_sub(1),
                        retry_after_s,
                        reset_s: self.ms_for(self.cap - units).div_ceil(1000),
                    },
                    granted,
                    next_token_ms,
                ),
            )
        })
    }
}

/// The outcome of adding values to a quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spend {
    /// Values counted in the current window, after this response.
    pub count: u64,
    /// This response crossed the alert threshold (`alert_at`): raise
    /// `sensitive_harvest` (exactly once per key and window).
    pub crossed_alert: bool,
    /// This response spent the quota.
    pub crossed_limit: bool,
}

/// A fixed-window quota on sensitive values per key, shared by the workers.
#[derive(Debug, Clone)]
pub struct DataLimiter {
    table: SlotTable<2>,
    values: u64,
    per_ms: u64,
    alert_at: u64,
}

impl DataLimiter {
    /// The limiter of one `data_limits` entry, under the plugin's key prefix.
    pub fn new(plugin: &str, p: &DataLimitPolicy) -> Self {
        // The threshold in values, rounded up, at least 1.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let alert_at = ((p.values as f64) * p.alert_at).ceil().max(1.0) as u64;
        Self {
            table: SlotTable::new(format!("{plugin}|mw|dl|{}", p.name), p.max_keys),
            values: p.values.max(1),
            per_ms: p.per_ms.max(1),
            alert_at,
        }
    }

    fn window(&self, now_ms: u64) -> u64 {
        now_ms - now_ms % self.per_ms
    }

    fn retry_after_s(&self, now_ms: u64) -> u64 {
        let end = self.window(now_ms) + self.per_ms;
        end.saturating_sub(now_ms).div_ceil(1000).max(1)
    }

    /// Creates the shared sets before traffic (see `SlotTable::prepare`).
    pub fn prepare(&self, host: &dyn Host) -> Result<u64, SlotError> {
        self.table.prepare(host)
    }

    /// Whether the key's quota is spent in the current window; `Some(retry_after_s)`
    /// when it is.
    pub fn spent(
        &self,
        host: &dyn Host,
        key_hash: u64,
        now_ms: u64,
    ) -> Result<Option<u64>, SlotError> {
        let e = self.table.get(host, key_hash)?;
        Ok(
            e.filter(|e| e.w[0] == self.window(now_ms) && e.w[1] >= self.values)
                .map(|_| self.retry_after_s(now_ms)),
        )
    }

    /// Counts `n` values returned to the key.
    pub fn add(
        &self,
        host: &dyn Host,
        key_hash: u64,
        n: u64,
        now_ms: u64,
    ) -> Result<Spend, SlotError> {
        let window = self.window(now_ms);
        self.table.update(host, key_hash, now_ms, |e| {
            let before = e.filter(|e| e.w[0] == window).map_or(0, |e| e.w[1]);
            let after = before.saturating_add(n);
            let next = super::slots::Entry {
                w: [window, after],
                ..Default::default()
            };
            (
                next,
                Spend {
                    count: after,
                    crossed_alert: before < self.alert_at && after >= self.alert_at,
                    crossed_limit: before < self.values && after >= self.values,
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_value;
    use crate::host::MemHost;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn rl(limit: serde_json::Value) -> RateLimiter {
        let p = load_value(json!({"rate_limits": [{"name": "r", "limit": limit}]}))
            .unwrap()
            .policy;
        RateLimiter::new("p", &p.rate_limits[0])
    }

    #[test]
    fn bucket_admits_burst_then_refills() {
        let h = MemHost::at(1_000_000);
        let l = rl(json!({"requests": 10, "per": "1m"}));
        for i in 0..10 {
            let t = l.take(&h, 7, h.now.get()).unwrap();
            assert!(t.allowed, "token {i}");
            assert_eq!(t.remaining, 9 - i);
        }
        let t = l.take(&h, 7, h.now.get()).unwrap();
        assert!(!t.allowed);
        assert_eq!(t.retry_after_s, 6, "one token per 6 s");
        assert_eq!(t.reset_s, 60);
        h.advance(5_999);
        assert!(
            !l.take(&h, 7, h.now.get()).unwrap().allowed,
            "window edge: not yet"
        );
        h.advance(1);
        assert!(
            l.take(&h, 7, h.now.get()).unwrap().allowed,
            "exactly at 6 s"
        );
        assert!(!l.take(&h, 7, h.now.get()).unwrap().allowed);
        // Another key has its own bucket.
        assert!(l.take(&h, 8, h.now.get()).unwrap().allowed);
    }

    #[test]
    fn two_workers_with_leases_admit_the_burst_give_or_take_their_leases() {
        // Two VMs (workers) of one Envoy share the bucket; a burst of 6400 leases up
        // to 100 tokens per key and VM.
        let h = MemHost::at(0);
        let (a, b) = (
            rl(json!({"requests": 6400, "per": "1h"})),
            rl(json!({"requests": 6400, "per": "1h"})),
        );
        assert_eq!(a.max_lease, 64);
        let mut admitted = 0u64;
        let mut shared_round_trips = 0u64;
        for i in 0..20_000u64 {
            let l = if i % 3 == 0 { &a } else { &b };
            let before = h.shared_writes();
            if l.take(&h, 7, i / 10).unwrap().allowed {
                admitted += 1;
            }
            shared_round_trips += h.shared_writes() - before;
        }
        // Never more than the bucket gave out (1 h at 6400/h refills ~3 tokens in 2 s).
        assert!(admitted <= 6400 + 4, "admitted {admitted}");
        // Never fewer than the burst less what two leases can strand.
        assert!(admitted >= 6400 - 2 * 63, "admitted {admitted}");
        // Busy keys take their tokens in leases: far fewer shared writes than requests.
        assert!(
            shared_round_trips < 2_000,
            "{shared_round_trips} shared writes"
        );
        // Spent: the VM refuses with the time to the bucket's next token.
        let t = a.take(&h, 7, 2_000).unwrap();
        assert!(!t.allowed && t.retry_after_s > 0);
    }

    #[test]
    fn keys_seen_now_and_then_take_one_token_at_a_time() {
        let h = MemHost::at(0);
        let l = rl(json!({"requests": 6400, "per": "1h"}));
        for i in 0..50u64 {
            let t = l.take(&h, 7, i * lease::LEASE_MS).unwrap();
            assert!(t.allowed);
            assert_eq!(t.remaining, 6399, "the bucket refills between the requests");
            let held = l.leases.borrow_mut().get(7).copied().unwrap();
            assert_eq!((held.size, held.tokens), (1, 0), "request {i}");
        }
    }

    #[test]
    fn a_busy_key_refused_starts_its_leases_small_again() {
        let h = MemHost::at(0);
        let l = rl(json!({"requests": 256, "per": "1h"}));
        assert_eq!(l.max_lease, 4);
        let admitted = (0..300)
            .filter(|_| l.take(&h, 1, 0).unwrap().allowed)
            .count();
        assert_eq!(admitted, 256, "one VM alone admits exactly the burst");
        let refused = l.leases.borrow_mut().get(1).copied().unwrap();
        assert_eq!((refused.tokens, refused.size), (0, 0));
        // Refused for up to a second without asking the shared bucket again, then
        // asked once a second (which keeps the key's shared entry in use).
        let writes = h.shared_writes();
        for ms in [0, 500, 999] {
            let t = l.take(&h, 1, ms).unwrap();
            assert!(!t.allowed, "at {ms} ms");
            assert_eq!(t.retry_after_s, (14_063 - ms).div_ceil(1000));
        }
        assert_eq!(h.shared_writes(), writes, "refusals answered by the VM");
        for ms in [1_000, 1_500, 14_062] {
            let t = l.take(&h, 1, ms).unwrap();
            assert!(!t.allowed, "at {ms} ms");
            assert_eq!(t.retry_after_s, (14_063 - ms).div_ceil(1000).max(1));
        }
        assert_eq!(
            h.shared_writes(),
            writes + 2,
            "one shared take per second refused"
        );
        // 1 h / 256 = 14,062.5 ms per token.
        assert!(l.take(&h, 1, 14_063).unwrap().allowed);
        assert!(!l.take(&h, 1, 14_063).unwrap().allowed, "no lead taken");
    }

    #[test]
    fn burst_caps_the_bucket_and_slow_refills_are_exact() {
        let h = MemHost::at(0);
        let l = rl(json!({"requests": 100, "per": "1m", "burst": 20}));
        let allowed = (0..50)
            .filter(|_| l.take(&h, 1, 0).unwrap().allowed)
            .count();
        assert_eq!(allowed, 20);
        // 100 per minute = one per 600 ms; refill in 1 ms steps must not lose tokens.
        let mut got = 0;
        for ms in 1..=6_000u64 {
            if l.take(&h, 1, ms).unwrap().allowed {
                got += 1;
            }
        }
        assert_eq!(got, 10, "6 s at 100/min");
        // Idle for long: back to the burst, not more.
        let allowed = (0..50)
            .filter(|_| l.take(&h, 1, 10_000_000).unwrap().allowed)
            .count();
        assert_eq!(allowed, 20);
    }

    #[test]
    fn evicted_keys_start_full() {
        let h = MemHost::at(0);
        let p = load_value(json!({"rate_limits": [{"name": "r", "max_keys": 4,
                                   "limit": {"requests": 1, "per": "1h"}}]}))
        .unwrap()
        .policy;
        let l = RateLimiter::new("p", &p.rate_limits[0]);
        assert!(l.take(&h, 1, 0).unwrap().allowed);
        assert!(!l.take(&h, 1, 1).unwrap().allowed);
        for k in 2..=5 {
            assert!(l.take(&h, k, 10 + k).unwrap().allowed);
        }
        assert!(l.take(&h, 1, 100).unwrap().allowed, "1 was evicted (LRU)");
    }

    fn dl(extra: serde_json::Value) -> DataLimiter {
        let mut d = json!({"name": "d", "min_level": 3, "limit": {"values": 10, "per": "1h"}});
        if let (Some(o), Some(e)) = (d.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                o.insert(k.clone(), v.clone());
            }
        }
        let p = load_value(json!({"data_limits": [d]})).unwrap().policy;
        DataLimiter::new("p", &p.data_limits[0])
    }

    #[test]
    fn quota_alerts_once_then_spends_in_fixed_windows() {
        let h = MemHost::default();
        let l = dl(json!({"alert_at": 0.5}));
        let t0 = 3_600_000 * 5 + 10;
        assert_eq!(l.spent(&h, 1, t0).unwrap(), None);
        let s = l.add(&h, 1, 4, t0).unwrap();
        assert!(!s.crossed_alert && !s.crossed_limit);
        let s = l.add(&h, 1, 3, t0 + 1).unwrap();
        assert!(s.crossed_alert, "7 >= 5");
        let s = l.add(&h, 1, 1, t0 + 2).unwrap();
        assert!(!s.crossed_alert, "only once per window");
        assert_eq!(l.spent(&h, 1, t0 + 3).unwrap(), None, "8 < 10");
        let s = l.add(&h, 1, 30, t0 + 4).unwrap();
        assert!(s.crossed_limit, "a response may overspend");
        assert_eq!(s.count, 38);
        let retry = l.spent(&h, 1, t0 + 5).unwrap().unwrap();
        assert_eq!(retry, 3600, "until the window ends");
        assert_eq!(
            l.spent(&h, 2, t0 + 5).unwrap(),
            None,
            "other keys unaffected"
        );
        // Next window: fresh.
        let t1 = 3_600_000 * 6;
        assert_eq!(l.spent(&h, 1, t1).unwrap(), None);
        assert!(!l.add(&h, 1, 1, t1).unwrap().crossed_alert);
    }
}
