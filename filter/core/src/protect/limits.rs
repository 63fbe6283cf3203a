//! Rate limits (token buckets) and data limits (fixed-window quotas on sensitive values)
//! over the shared slot tables, so every worker of one Envoy sees the same state.
//! Limits are per pod: N replicas admit N times the limit.

use super::slots::{SlotError, SlotTable};
use crate::config::{DataLimitPolicy, RateLimitPolicy};
use crate::host::Host;

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
#[derive(Debug, Clone)]
pub struct RateLimiter {
    table: SlotTable<2>,
    requests: u64,
    per_ms: u64,
    cap: u64,
}

impl RateLimiter {
    /// The limiter of one `rate_limits` entry, under the plugin's key prefix.
    pub fn new(plugin: &str, p: &RateLimitPolicy) -> Self {
        let per_ms = p.per_ms.max(1);
        Self {
            table: SlotTable::new(format!("{plugin}|mw|rl|{}", p.name), p.max_keys),
            requests: u64::from(p.requests.max(1)),
            per_ms,
            cap: u64::from(p.burst.max(1)).saturating_mul(per_ms),
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

    /// Takes one token for `key_hash` at `now_ms`.
    pub fn take(&self, host: &dyn Host, key_hash: u64, now_ms: u64) -> Result<Take, SlotError> {
        self.table.update(host, key_hash, now_ms, |e| {
            let (units, last) = match e {
                Some(e) => (e.w[0], e.w[1]),
                None => (self.cap, now_ms),
            };
            let elapsed = now_ms.saturating_sub(last);
            let mut units = units
                .saturating_add(elapsed.saturating_mul(self.requests))
                .min(self.cap);
            let allowed = units >= self.per_ms;
            if allowed {
                units -= self.per_ms;
            }
            let retry_after_s = if allowed {
                0
            } else {
                self.ms_for(self.per_ms - units).div_ceil(1000).max(1)
            };
            let next = super::slots::Entry {
                w: [units, now_ms],
                ..Default::default()
            };
            (
                next,
                Take {
                    allowed,
                    remaining: units / self.per_ms,
                    retry_after_s,
                    reset_s: self.ms_for(self.cap - units).div_ceil(1000),
                },
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
