//! Token leases: the rate-limit tokens one VM (one Envoy worker) took from the shared
//! bucket of a key ahead of use, so a busy key costs one shared-data round trip per
//! lease instead of one per request.
//!
//! A lease starts at one token (no lead at all) and doubles, up to the limiter's
//! maximum, only while the key spends every leased token within [`LEASE_MS`]; a key
//! seen now and then keeps leases of one token, so churn among many keys leaves no
//! tokens stranded in leases. Every leased token was taken from the shared bucket
//! first, so leases never admit more than the bucket gave out; what they change is
//! *when* a worker admits a token it already holds (see `RateLimiter::take`).

/// How long a lease's tokens stay usable, ms. Unused tokens are dropped after it.
pub const LEASE_MS: u64 = 1000;
/// Sets of the per-VM lease table of one limiter (two ways each).
const SETS: usize = 32;
/// Ways per set.
const WAYS: usize = 2;

/// One key's lease.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lease {
    /// Hash of the key (0: empty).
    pub key: u64,
    /// Tokens still held.
    pub tokens: u64,
    /// Tokens granted by the last take from the shared bucket.
    pub size: u64,
    /// When they were granted, ms.
    pub granted_ms: u64,
    /// Whole tokens the shared bucket held after that grant.
    pub bucket_remaining: u64,
    /// Seconds until the bucket was full again, as of that grant.
    pub reset_s: u64,
    /// The shared bucket refused the key at `granted_ms` and has no token before this
    /// time, ms (0: not refused). The VM refuses the key itself while the lease lives.
    pub next_token_at_ms: u64,
}

impl Lease {
    /// Whether the lease's tokens may still be used at `now_ms`.
    pub fn live(&self, now_ms: u64) -> bool {
        now_ms < self.granted_ms.saturating_add(LEASE_MS) && now_ms >= self.granted_ms
    }
}

/// The leases of one limiter in one VM: 64 keys at most (32 sets of 2 ways, the
/// oldest grant of a set evicted; its unused tokens are dropped).
#[derive(Debug, Clone)]
pub struct LeaseTable {
    ways: [[Lease; WAYS]; SETS],
}

impl Default for LeaseTable {
    fn default() -> Self {
        Self {
            ways: [[Lease::default(); WAYS]; SETS],
        }
    }
}

impl LeaseTable {
    fn set(&mut self, key: u64) -> Option<&mut [Lease; WAYS]> {
        // The key hash's low bits pick the shared set; the high bits pick this one.
        let i = usize::try_from(key >> 58).unwrap_or(0) % SETS;
        self.ways.get_mut(i)
    }

    /// The lease of `key`, if the table holds one.
    pub fn get(&mut self, key: u64) -> Option<&mut Lease> {
        self.set(key)?.iter_mut().find(|l| l.key == key && key != 0)
    }

    /// Stores `lease` (its key's old lease, else an empty way, else the oldest).
    pub fn put(&mut self, lease: Lease) {
        let Some(set) = self.set(lease.key) else {
            return;
        };
        let way = super::slots::way_for(set, lease.key, |l| (l.key, l.granted_ms));
        if let Some(slot) = set.get_mut(way) {
            *slot = lease;
        }
    }
}

/// The largest lease of a bucket of `burst` tokens: 1/64 of the burst, at most 64
/// tokens, at least 1 (a burst under 128 tokens is never leased ahead).
pub fn max_lease(burst: u64) -> u64 {
    (burst / 64).clamp(1, 64)
}

/// How many tokens to ask the shared bucket for, given the key's previous lease: twice
/// the last grant when all of it was spent while live, else one.
pub fn want(previous: Option<&Lease>, now_ms: u64, max: u64) -> u64 {
    match previous {
        Some(l) if l.tokens == 0 && l.live(now_ms) => l.size.saturating_mul(2).clamp(1, max),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn lease(key: u64, tokens: u64, size: u64, at: u64) -> Lease {
        Lease {
            key,
            tokens,
            size,
            granted_ms: at,
            ..Lease::default()
        }
    }

    #[test]
    fn leases_grow_only_while_spent_in_time() {
        assert_eq!(want(None, 0, 64), 1);
        let spent = lease(9, 0, 4, 1000);
        assert_eq!(want(Some(&spent), 1500, 64), 8, "spent while live: double");
        assert_eq!(want(Some(&spent), 1500, 6), 6, "capped by the maximum");
        assert_eq!(want(Some(&spent), 2000, 64), 1, "expired: start over");
        let unspent = lease(9, 1, 4, 1000);
        assert_eq!(want(Some(&unspent), 1500, 64), 1, "tokens left: not hot");
    }

    #[test]
    fn max_lease_is_a_sixty_fourth_of_the_burst_within_1_to_64() {
        assert_eq!(max_lease(1), 1);
        assert_eq!(max_lease(127), 1);
        assert_eq!(max_lease(128), 2);
        assert_eq!(max_lease(1000), 15);
        assert_eq!(max_lease(100_000_000), 64);
    }

    #[test]
    fn the_table_is_bounded_and_evicts_the_oldest_grant() {
        let mut t = LeaseTable::default();
        // Three keys of one set (same top 6 bits).
        let (a, b, c) = (1u64 << 58 | 1, 1u64 << 58 | 2, 1u64 << 58 | 3);
        t.put(lease(a, 5, 8, 100));
        t.put(lease(b, 5, 8, 200));
        assert!(t.get(a).is_some() && t.get(b).is_some());
        t.put(lease(c, 5, 8, 300));
        assert!(t.get(a).is_none(), "the oldest grant goes");
        assert!(t.get(b).is_some() && t.get(c).is_some());
        // Replacing a key's lease keeps one way per key.
        t.put(lease(c, 1, 2, 400));
        assert_eq!(t.get(c).map(|l| l.tokens), Some(1));
        assert!(t.get(b).is_some());
        assert!(t.get(0).is_none(), "0 is the empty key");
    }

    #[test]
    fn a_lease_lives_for_lease_ms_from_its_grant() {
        let l = lease(1, 3, 4, 5000);
        assert!(l.live(5000) && l.live(5000 + LEASE_MS - 1));
        assert!(!l.live(5000 + LEASE_MS));
        assert!(!l.live(4999), "a clock that went back does not extend it");
    }
}
