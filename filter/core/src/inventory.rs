//! Sets shared by the workers of one Envoy that say "first time on this pod": the
//! endpoint inventory (bounded by `apis.max_endpoints`) and the findings already
//! reported. Each is one shared-data value (a sorted list of 64-bit hashes) updated
//! with compare-and-swap, fronted by a per-VM cache so known items cost no host call.
//!
//! Proxy-wasm has no create-if-absent (a `cas` of 0 stores unconditionally), so two
//! workers that both find the value missing would both "insert first". The value is
//! therefore created at configure time (`prepare`, before traffic), and an insert that
//! still finds it missing only creates the empty value and retries with a real `cas`.

use crate::host::{CasOutcome, Host};
use crate::protect::slots::CAS_ATTEMPTS;
use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};

/// What `insert` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Already in the set (this VM or another worker put it there).
    Known,
    /// First sight on this pod: this caller inserted it. Carries the new size.
    New(u64),
    /// The set is full: not inserted.
    Overflow,
    /// Shared data failed or stayed contended: treated as known, counted by the caller.
    Error,
}

/// A bounded set of hashes shared by the workers.
#[derive(Debug)]
pub struct SharedSet {
    key: String,
    cap: usize,
    local: RefCell<HashSet<u64, Mixed>>,
    /// The shared set was seen full: new items are overflow without a host call.
    full: RefCell<bool>,
}

/// First 8 bytes of every stored set: makes the value non-empty from creation on
/// (an empty shared-data value reads back as absent through the SDK).
const HEADER: [u8; 8] = *b"mwset\0\0\x01";

fn decode(bytes: &[u8]) -> Vec<u64> {
    bytes
        .get(HEADER.len()..)
        .unwrap_or_default()
        .chunks_exact(8)
        .filter_map(|c| <[u8; 8]>::try_from(c).ok())
        .map(u64::from_le_bytes)
        .collect()
}

fn encode(items: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER.len() + items.len() * 8);
    out.extend_from_slice(&HEADER);
    for h in items {
        out.extend_from_slice(&h.to_le_bytes());
    }
    out
}

/// The hasher of the local cache: its items are already 64-bit hashes (FNV-1a of
/// what callers choose, paths among them), so SipHash over them (~200 Wasm
/// instructions per request) is more than needed. Here two per-VM random keys are
/// mixed in around the SplitMix64 finaliser (`mix(mix(item ^ k0) ^ k1)`): not a
/// keyed PRF like SipHash, but callers would have to learn the keys to aim items at
/// one bucket, and the cache holds at most the set's `cap` items either way.
#[derive(Debug, Clone, Copy)]
struct Mixed {
    keys: (u64, u64),
}

impl Mixed {
    fn new() -> Self {
        let r = RandomState::new();
        Self {
            keys: (r.hash_one(0x6d65_7368_u32), r.hash_one(0x7761_7264_u32)),
        }
    }
}

impl BuildHasher for Mixed {
    type Hasher = MixedHasher;

    fn build_hasher(&self) -> MixedHasher {
        MixedHasher {
            state: self.keys.0,
            k1: self.keys.1,
        }
    }
}

/// See [`Mixed`]; takes one `u64`.
#[derive(Debug)]
struct MixedHasher {
    state: u64,
    k1: u64,
}

/// The SplitMix64 finaliser (a bijection of `u64`).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Hasher for MixedHasher {
    fn finish(&self) -> u64 {
        mix(mix(self.state) ^ self.k1)
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` items are hashed (`write_u64`); other input still hashes.
        for &b in bytes {
            self.state = mix(self.state ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.state ^= v;
    }
}

impl SharedSet {
    /// A set of at most `cap` items under the shared-data key `key` (prefixed with the
    /// plugin name by the caller).
    pub fn new(key: String, cap: usize) -> Self {
        Self {
            key,
            cap: cap.max(1),
            local: RefCell::new(HashSet::with_hasher(Mixed::new())),
            full: RefCell::new(false),
        }
    }

    /// Items known to this VM (at most `cap`).
    pub fn local_len(&self) -> usize {
        self.local.borrow().len()
    }

    /// Creates the shared value if it does not exist yet (configure time, before
    /// traffic). Returns whether it was created. An existing value is kept.
    pub fn prepare(&self, host: &dyn Host) -> Result<bool, crate::host::HostError> {
        match host.shared_get(&self.key)? {
            Some(_) => Ok(false),
            None => {
                host.shared_set(&self.key, &HEADER, 0)?;
                Ok(true)
            }
        }
    }

    /// Inserts `item` unless present; says whether this call was the first.
    pub fn insert(&self, host: &dyn Host, item: u64) -> Seen {
        if self.local.borrow().contains(&item) {
            return Seen::Known;
        }
        if *self.full.borrow() {
            return Seen::Overflow;
        }
        for _ in 0..CAS_ATTEMPTS {
            let (mut items, cas) = match host.shared_get(&self.key) {
                Ok(Some((bytes, cas))) => (decode(&bytes), cas),
                Ok(None) => {
                    // Missing (not prepared): create it empty, then retry with its cas,
                    // so no insert is ever stored unconditionally.
                    if host.shared_set(&self.key, &HEADER, 0).is_err() {
                        return Seen::Error;
                    }
                    continue;
                }
                Err(_) => return Seen::Error,
            };
            match items.binary_search(&item) {
                Ok(_) => {
                    self.remember(item);
                    return Seen::Known;
                }
                Err(pos) => {
                    if items.len() >= self.cap {
                        *self.full.borrow_mut() = true;
                        return Seen::Overflow;
                    }
                    items.insert(pos, item);
                    match host.shared_set(&self.key, &encode(&items), cas) {
                        Ok(CasOutcome::Stored) => {
                            self.remember(item);
                            return Seen::New(items.len() as u64);
                        }
                        Ok(CasOutcome::Conflict) => continue,
                        Err(_) => return Seen::Error,
                    }
                }
            }
        }
        Seen::Error
    }

    fn remember(&self, item: u64) {
        let mut l = self.local.borrow_mut();
        if l.len() < self.cap {
            l.insert(item);
        }
    }

    /// Size of the shared set (for the `meshward_endpoints` gauge).
    pub fn shared_len(&self, host: &dyn Host) -> Option<u64> {
        match host.shared_get(&self.key) {
            Ok(Some((bytes, _))) => Some((bytes.len().saturating_sub(HEADER.len()) / 8) as u64),
            Ok(None) => Some(0),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::MemHost;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn local_cache_hash_is_keyed_and_spreads_items() {
        // Each set has keys of its own (where std has random keys, random ones).
        let (a, b) = (Mixed::new(), Mixed::new());
        assert_ne!(a.keys, b.keys);
        assert_ne!(a.hash_one(7u64), b.hash_one(7u64));
        // Items that differ only in their high bits (what an unkeyed identity hash
        // would put in one bucket) spread over the low bits buckets come from.
        let low: HashSet<u64> = (0..1024u64).map(|i| a.hash_one(i << 40) & 1023).collect();
        assert!(low.len() > 600, "{} of 1024 buckets", low.len());
        // The cache finds what it holds.
        let mut set = HashSet::with_hasher(a);
        set.extend((0..5000u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        assert!((0..5000u64).all(|i| set.contains(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15))));
        assert!(!set.contains(&1));
    }

    #[test]
    fn first_sight_once_across_vms_and_bounded() {
        let h = MemHost::default();
        let a = SharedSet::new("p|mw|ep".into(), 3);
        let b = SharedSet::new("p|mw|ep".into(), 3);
        assert_eq!(a.insert(&h, 10), Seen::New(1));
        assert_eq!(b.insert(&h, 10), Seen::Known, "another worker saw it first");
        assert_eq!(a.insert(&h, 10), Seen::Known);
        assert_eq!(b.insert(&h, 20), Seen::New(2));
        assert_eq!(a.insert(&h, 30), Seen::New(3));
        assert_eq!(b.insert(&h, 40), Seen::Overflow);
        assert_eq!(b.insert(&h, 50), Seen::Overflow);
        assert_eq!(a.shared_len(&h), Some(3));
        for i in 0..100_000u64 {
            a.insert(&h, 1000 + i);
        }
        assert!(h.shared_bytes() < 64, "{}", h.shared_bytes());
        assert!(a.local_len() <= 3);
    }

    #[test]
    fn prepare_creates_once_and_keeps_items() {
        let h = MemHost::default();
        let a = SharedSet::new("p|mw|fd".into(), 8);
        let b = SharedSet::new("p|mw|fd".into(), 8);
        assert_eq!(a.prepare(&h), Ok(true));
        assert_eq!(a.shared_len(&h), Some(0));
        assert_eq!(a.insert(&h, 7), Seen::New(1));
        assert_eq!(b.prepare(&h), Ok(false), "a later worker keeps the set");
        assert_eq!(b.insert(&h, 7), Seen::Known);
    }

    #[test]
    fn unprepared_insert_never_stores_unconditionally() {
        let h = MemHost::default();
        let a = SharedSet::new("p|mw|fd".into(), 8);
        assert_eq!(a.insert(&h, 1), Seen::New(1));
        // The first write created the empty value (cas 1), the insert used its cas.
        assert_eq!(
            h.shared_get("p|mw|fd").unwrap().map(|(_, cas)| cas),
            Some(2)
        );
    }

    #[test]
    fn contention_is_retried() {
        let h = MemHost::default();
        let a = SharedSet::new("k".into(), 10);
        h.conflicts.set(5);
        assert_eq!(a.insert(&h, 1), Seen::New(1));
        h.conflicts.set(CAS_ATTEMPTS as u32);
        assert_eq!(a.insert(&h, 2), Seen::Error);
    }
}
