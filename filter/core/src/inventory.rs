//! Sets shared by the workers of one Envoy that say "first time on this pod": the
//! endpoint inventory (bounded by `apis.max_endpoints`) and the findings already
//! reported. Each is one shared-data value (a sorted list of 64-bit hashes) updated
//! with compare-and-swap, fronted by a per-VM cache so known items cost no host call.

use crate::host::{CasOutcome, Host};
use crate::protect::slots::CAS_ATTEMPTS;
use std::cell::RefCell;
use std::collections::HashSet;

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
    local: RefCell<HashSet<u64>>,
    /// The shared set was seen full: new items are overflow without a host call.
    full: RefCell<bool>,
}

fn decode(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .filter_map(|c| <[u8; 8]>::try_from(c).ok())
        .map(u64::from_le_bytes)
        .collect()
}

fn encode(items: &[u64]) -> Vec<u8> {
    items.iter().flat_map(|h| h.to_le_bytes()).collect()
}

impl SharedSet {
    /// A set of at most `cap` items under the shared-data key `key` (prefixed with the
    /// plugin name by the caller).
    pub fn new(key: String, cap: usize) -> Self {
        Self {
            key,
            cap: cap.max(1),
            local: RefCell::new(HashSet::new()),
            full: RefCell::new(false),
        }
    }

    /// Items known to this VM (at most `cap`).
    pub fn local_len(&self) -> usize {
        self.local.borrow().len()
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
                Ok(None) => (Vec::new(), 0),
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
            Ok(Some((bytes, _))) => Some((bytes.len() / 8) as u64),
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
    fn contention_is_retried() {
        let h = MemHost::default();
        let a = SharedSet::new("k".into(), 10);
        h.conflicts.set(5);
        assert_eq!(a.insert(&h, 1), Seen::New(1));
        h.conflicts.set(CAS_ATTEMPTS as u32);
        assert_eq!(a.insert(&h, 2), Seen::Error);
    }
}
