//! Bounded per-key state in proxy-wasm shared data, shared by every worker of one
//! Envoy: a set-associative table (4 ways per set, least recently used way evicted)
//! whose sets are shared-data values updated with compare-and-swap. Shared data can
//! never shrink, so the table is bounded by construction: `ceil(max_keys / 4)` keys of
//! at most 4 entries each.

use crate::host::{CasOutcome, Host};

/// Ways per set.
pub const WAYS: usize = 4;
/// Compare-and-swap attempts before giving up (the caller fails open and counts it).
pub const CAS_ATTEMPTS: usize = 16;

/// 64-bit FNV-1a: stable across workers and restarts, cheap, no allocation.
pub fn hash64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    // 0 marks an empty way.
    h.max(1)
}

/// One way of a set: the key's hash, the last use, and `N` state words whose meaning
/// belongs to the table's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<const N: usize> {
    /// Hash of the key (0: empty).
    pub key: u64,
    /// Last use, ms.
    pub used_ms: u64,
    /// State words.
    pub w: [u64; N],
}

impl<const N: usize> Default for Entry<N> {
    fn default() -> Self {
        Self {
            key: 0,
            used_ms: 0,
            w: [0; N],
        }
    }
}

fn read_word(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..at + 8)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map_or(0, u64::from_le_bytes)
}

fn decode<const N: usize>(bytes: &[u8]) -> [Entry<N>; WAYS] {
    let size = (N + 2) * 8;
    let mut out = [Entry::<N>::default(); WAYS];
    for (i, e) in out.iter_mut().enumerate() {
        let base = i * size;
        if bytes.len() < base + size {
            break;
        }
        e.key = read_word(bytes, base);
        e.used_ms = read_word(bytes, base + 8);
        for (j, w) in e.w.iter_mut().enumerate() {
            *w = read_word(bytes, base + 16 + j * 8);
        }
    }
    out
}

fn encode<const N: usize>(set: &[Entry<N>; WAYS], out: &mut Vec<u8>) {
    out.clear();
    for e in set {
        out.extend_from_slice(&e.key.to_le_bytes());
        out.extend_from_slice(&e.used_ms.to_le_bytes());
        for w in &e.w {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
}

/// The way of a set for `key` (hash, 0 = empty): the key's own way, else an empty
/// way, else the least recently used one; `of` gives a way's key and last use.
pub(crate) fn way_for<T>(set: &[T], key: u64, of: impl Fn(&T) -> (u64, u64)) -> usize {
    set.iter()
        .position(|e| of(e).0 == key)
        .or_else(|| set.iter().position(|e| of(e).0 == 0))
        .or_else(|| {
            set.iter()
                .enumerate()
                .min_by_key(|(_, e)| of(e).1)
                .map(|(i, _)| i)
        })
        .unwrap_or(0)
}

/// Why an update did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotError {
    /// Too many concurrent writers: retries exhausted.
    Contended,
    /// A host call failed.
    Host,
}

/// A table of per-key state with `N` words per entry.
#[derive(Debug, Clone)]
pub struct SlotTable<const N: usize> {
    prefix: String,
    sets: u64,
}

impl<const N: usize> SlotTable<N> {
    /// A table for at most `max_keys` keys, under shared-data keys
    /// `<prefix>.<set number>`. The prefix must name the plugin and the rule, so other
    /// plugins and other rules never collide.
    pub fn new(prefix: String, max_keys: u32) -> Self {
        let sets = u64::from(max_keys.max(1)).div_ceil(WAYS as u64);
        Self { prefix, sets }
    }

    /// The shared-data key of set `set`: `<prefix>.<set>`.
    fn set_key(&self, set: u64) -> String {
        use std::fmt::Write;
        let mut key = String::with_capacity(self.prefix.len() + 21);
        key.push_str(&self.prefix);
        key.push('.');
        // Writing into a String cannot fail.
        let _ = write!(key, "{set}");
        key
    }

    /// Number of shared-data keys the table may create.
    pub fn set_count(&self) -> u64 {
        self.sets
    }

    /// Reads, changes and writes the entry of `key_hash` atomically. `update` gets the
    /// current entry (`None` when the key is new or was evicted) and returns the new
    /// entry (its `key` and `used_ms` are filled in) and a result. A new key takes an
    /// empty way, else the least recently used way of its set.
    pub fn update<R>(
        &self,
        host: &dyn Host,
        key_hash: u64,
        now_ms: u64,
        mut update: impl FnMut(Option<Entry<N>>) -> (Entry<N>, R),
    ) -> Result<R, SlotError> {
        let key = self.set_key(key_hash % self.sets);
        let mut buf = Vec::with_capacity(WAYS * (N + 2) * 8);
        for _ in 0..CAS_ATTEMPTS {
            let (mut set, cas) = match host.shared_get(&key) {
                Ok(Some((bytes, cas))) => (decode::<N>(&bytes), cas),
                Ok(None) => ([Entry::<N>::default(); WAYS], 0),
                Err(_) => return Err(SlotError::Host),
            };
            let way = way_for(&set, key_hash, |e| (e.key, e.used_ms));
            let current = set.get(way).copied().filter(|e| e.key == key_hash);
            let (mut next, result) = update(current);
            next.key = key_hash;
            next.used_ms = now_ms;
            if let Some(slot) = set.get_mut(way) {
                *slot = next;
            }
            encode(&set, &mut buf);
            match host.shared_set(&key, &buf, cas) {
                Ok(CasOutcome::Stored) => return Ok(result),
                Ok(CasOutcome::Conflict) => continue,
                Err(_) => return Err(SlotError::Host),
            }
        }
        Err(SlotError::Contended)
    }

    /// Creates every set that does not exist yet (at configure time). Proxy-wasm has no
    /// create-if-absent: two workers creating the same set at once could lose an
    /// update, so sets are made before traffic touches them. Existing sets are kept.
    pub fn prepare(&self, host: &dyn Host) -> Result<u64, SlotError> {
        let empty = {
            let mut buf = Vec::new();
            encode(&[Entry::<N>::default(); WAYS], &mut buf);
            buf
        };
        let mut created = 0;
        for set in 0..self.sets {
            let key = self.set_key(set);
            match host.shared_get(&key) {
                Ok(Some(_)) => {}
                Ok(None) => {
                    host.shared_set(&key, &empty, 0)
                        .map_err(|_| SlotError::Host)?;
                    created += 1;
                }
                Err(_) => return Err(SlotError::Host),
            }
        }
        Ok(created)
    }

    /// Reads the entry of `key_hash` without changing it.
    pub fn get(&self, host: &dyn Host, key_hash: u64) -> Result<Option<Entry<N>>, SlotError> {
        let key = self.set_key(key_hash % self.sets);
        match host.shared_get(&key) {
            Ok(Some((bytes, _))) => Ok(decode::<N>(&bytes).into_iter().find(|e| e.key == key_hash)),
            Ok(None) => Ok(None),
            Err(_) => Err(SlotError::Host),
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
    fn set_keys_are_prefix_dot_decimal() {
        let t = SlotTable::<2>::new("ns.plugin|mw|rl|r".into(), 8);
        for n in [0, 1, 9, 10, 99, 100, 123_456, u64::MAX] {
            assert_eq!(t.set_key(n), format!("ns.plugin|mw|rl|r.{n}"));
        }
    }

    fn bump(t: &SlotTable<2>, h: &MemHost, k: u64, now: u64) -> u64 {
        t.update(h, k, now, |e| {
            let mut e = e.unwrap_or_default();
            e.w[0] += 1;
            (e, e.w[0])
        })
        .unwrap()
    }

    #[test]
    fn counts_per_key_and_stays_bounded() {
        let h = MemHost::default();
        let t = SlotTable::new("p|rl|x".into(), 8);
        assert_eq!(t.set_count(), 2);
        assert_eq!(bump(&t, &h, 11, 1), 1);
        assert_eq!(bump(&t, &h, 11, 2), 2);
        assert_eq!(bump(&t, &h, 12, 3), 1);
        for k in 100..10_000u64 {
            bump(&t, &h, k, k);
        }
        assert!(h.shared_len() <= 2, "{} keys", h.shared_len());
        assert!(h.shared_bytes() <= 2 * (WAYS * 32 + 16));
    }

    #[test]
    fn evicts_the_least_recently_used_way() {
        let h = MemHost::default();
        let t = SlotTable::new("p".into(), 4); // one set of 4 ways
        for (k, now) in [(1u64, 10), (2, 20), (3, 30), (4, 40)] {
            bump(&t, &h, k, now);
        }
        bump(&t, &h, 1, 50); // 1 is now recent; 2 is the oldest
        bump(&t, &h, 5, 60);
        assert!(t.get(&h, 2).unwrap().is_none(), "2 evicted");
        assert!(t.get(&h, 1).unwrap().is_some());
        assert_eq!(bump(&t, &h, 2, 70), 1, "an evicted key starts afresh");
    }

    #[test]
    fn retries_on_cas_conflict_then_gives_up() {
        let h = MemHost::default();
        let t = SlotTable::new("p".into(), 4);
        h.conflicts.set(3);
        assert_eq!(bump(&t, &h, 1, 1), 1);
        h.conflicts.set(CAS_ATTEMPTS as u32);
        assert_eq!(
            t.update(&h, 1, 2, |e| (e.unwrap_or_default(), ())),
            Err(SlotError::Contended)
        );
    }

    #[test]
    fn prepare_creates_missing_sets_once() {
        let h = MemHost::default();
        let t = SlotTable::<2>::new("p".into(), 16);
        assert_eq!(t.prepare(&h).unwrap(), 4);
        bump(&t, &h, 3, 1);
        assert_eq!(t.prepare(&h).unwrap(), 0, "existing sets are kept");
        assert_eq!(bump(&t, &h, 3, 2), 2);
    }

    #[test]
    fn hashes_are_stable_and_part_aware() {
        assert_eq!(hash64(&[b"abc"]), hash64(&[b"abc"]));
        assert_ne!(hash64(&[b"ab", b"c"]), hash64(&[b"a", b"bc"]));
        assert_ne!(hash64(&[b""]), 0);
    }
}
