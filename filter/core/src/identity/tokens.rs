//! A small per-VM cache of decoded JWTs: a bearer token is presented again on every
//! call of a session, and decoding it (two base64url parts, two JSON documents) or
//! verifying its signature (RS256/ES256: tens of microseconds) is the same work each
//! time. The time claims are not cached: they are checked on every request.
//!
//! Bounded by construction: [`SLOTS`] entries (two-way set associative), tokens longer
//! than [`MAX_CACHED_LEN`] bytes are not kept. Entries are looked up by the exact token
//! bytes (compared in constant time) and the source that decoded them, never by a hash
//! alone.

use std::rc::Rc;

use super::jwt::{Decoded, JwtError};
use crate::protect::slots::hash64;

/// Entries per VM.
pub const SLOTS: usize = 256;
/// Longest token kept, bytes (at most `SLOTS` × this many token bytes are held).
pub const MAX_CACHED_LEN: usize = 2048;

/// What is remembered of one token under one source.
#[derive(Debug, Clone)]
pub struct Cached {
    /// The decoded token.
    pub decoded: Rc<Decoded>,
    /// The verdict of [`super::jwt::Verifier::verify_signature`], once computed.
    pub signature: Option<Result<(), JwtError>>,
}

#[derive(Debug, Clone)]
struct Entry {
    source: usize,
    token: Box<[u8]>,
    cached: Cached,
}

/// The cache (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct TokenCache {
    slots: Vec<Option<Entry>>,
    /// Per set, the way put last.
    recent: Vec<u8>,
}

/// The first way of the set of `token` under `source` (even slot numbers; the second
/// way is the odd one after).
fn set_of(source: usize, token: &[u8]) -> usize {
    let h = hash64(&[&(source as u64).to_le_bytes(), token]);
    ((h ^ (h >> 32)) as usize % (SLOTS / 2)) * 2
}

/// Equal bytes, in time that depends on the lengths only.
fn ct_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u64;
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        diff |= u64::from(x ^ y);
    }
    for (x, y) in ca.zip(cb) {
        let x = u64::from_le_bytes(x.try_into().unwrap_or_default());
        let y = u64::from_le_bytes(y.try_into().unwrap_or_default());
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

impl TokenCache {
    /// What is cached for `token` presented to source `source`.
    pub fn get(&self, source: usize, token: &[u8]) -> Option<Cached> {
        if token.len() > MAX_CACHED_LEN {
            return None;
        }
        let set = set_of(source, token);
        self.slots
            .get(set..set + 2)?
            .iter()
            .flatten()
            .find(|e| e.source == source && ct_equal(&e.token, token))
            .map(|e| e.cached.clone())
    }

    /// Remembers `cached` for `token` under `source` (replacing whatever shared its slot).
    pub fn put(&mut self, source: usize, token: &[u8], cached: Cached) {
        if token.len() > MAX_CACHED_LEN {
            return;
        }
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS, || None);
            self.recent = vec![0; SLOTS / 2];
        }
        let set = set_of(source, token);
        // An empty way, else the one not used last (`recent` names the way last put).
        let way = match self.slots.get(set..set + 2) {
            Some([None, _]) => 0,
            Some([_, None]) => 1,
            _ => usize::from(self.recent.get(set / 2).copied().unwrap_or(0) == 0),
        };
        if let Some(r) = self.recent.get_mut(set / 2) {
            *r = way as u8;
        }
        if let Some(slot) = self.slots.get_mut(set + way) {
            *slot = Some(Entry {
                source,
                token: token.into(),
                cached,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::identity::jwt::decode;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";

    fn cached(t: &str) -> Cached {
        Cached {
            decoded: Rc::new(decode(t).unwrap()),
            signature: Some(Err(JwtError::BadSignature)),
        }
    }

    #[test]
    fn hits_only_the_same_token_under_the_same_source() {
        let mut c = TokenCache::default();
        assert!(c.get(0, TOKEN.as_bytes()).is_none());
        c.put(0, TOKEN.as_bytes(), cached(TOKEN));
        let hit = c.get(0, TOKEN.as_bytes()).unwrap();
        assert_eq!(hit.signature, Some(Err(JwtError::BadSignature)));
        assert_eq!(hit.decoded.claims["sub"], "1234567890");
        assert!(c.get(1, TOKEN.as_bytes()).is_none(), "another source");
        let mut other = TOKEN.as_bytes().to_vec();
        *other.last_mut().unwrap() = b'V';
        assert!(c.get(0, &other).is_none(), "one byte differs");
        assert!(
            c.get(0, &TOKEN.as_bytes()[..TOKEN.len() - 1]).is_none(),
            "a prefix"
        );
    }

    #[test]
    fn constant_time_equality_is_equality() {
        for (a, b) in [
            ("", ""),
            ("a", "a"),
            ("abcdefgh", "abcdefgh"),
            ("abcdefghi", "abcdefghi"),
            ("abcdefghi", "abcdefghj"),
            ("bbcdefghi", "abcdefghi"),
            ("abcdefgh", "abcdefghi"),
            ("abcdefgxi", "abcdefghi"),
        ] {
            assert_eq!(ct_equal(a.as_bytes(), b.as_bytes()), a == b, "{a} {b}");
        }
    }

    #[test]
    fn two_tokens_of_one_set_are_both_kept() {
        let mut c = TokenCache::default();
        // Three tokens of one set (found by trying).
        let same: Vec<String> = (0..)
            .map(|i| format!("{i}{TOKEN}"))
            .filter(|t| set_of(0, t.as_bytes()) == set_of(0, TOKEN.as_bytes()))
            .take(3)
            .collect();
        let (a, b, d) = (&same[0], &same[1], &same[2]);
        c.put(0, a.as_bytes(), cached(TOKEN));
        c.put(0, b.as_bytes(), cached(TOKEN));
        assert!(c.get(0, a.as_bytes()).is_some());
        assert!(c.get(0, b.as_bytes()).is_some());
        // A third evicts the older of the two.
        c.put(0, d.as_bytes(), cached(TOKEN));
        assert!(c.get(0, a.as_bytes()).is_none());
        assert!(c.get(0, b.as_bytes()).is_some());
        assert!(c.get(0, d.as_bytes()).is_some());
    }

    #[test]
    fn tokens_that_differ_anywhere_spread_over_the_sets() {
        // Same header and signature, different payloads (as a benchmark's tokens).
        let sets: std::collections::HashSet<usize> = (0..100)
            .map(|i| {
                set_of(
                    0,
                    format!("eyJh.eyJzdWIiOiJ1c2VyLT{i:03}In0.c2lnbmF0dXJl").as_bytes(),
                )
            })
            .collect();
        assert!(sets.len() > 60, "{}", sets.len());
    }

    #[test]
    fn is_bounded() {
        let mut c = TokenCache::default();
        let long = format!("{TOKEN}{}", "A".repeat(MAX_CACHED_LEN));
        c.put(0, long.as_bytes(), cached(TOKEN));
        assert!(
            c.get(0, long.as_bytes()).is_none(),
            "long tokens are not kept"
        );
        for i in 0..10 * SLOTS {
            c.put(i, TOKEN.as_bytes(), cached(TOKEN));
        }
        assert_eq!(c.slots.len(), SLOTS);
        assert_eq!(c.recent.len(), SLOTS / 2);
        assert!(c
            .slots
            .iter()
            .flatten()
            .all(|e| e.token.len() <= MAX_CACHED_LEN));
    }
}
