//! A small per-VM cache of decoded JWTs: a bearer token is presented again on every
//! call of a session, and decoding it (two base64url parts, two JSON documents) or
//! verifying its signature (RS256/ES256: tens of microseconds) is the same work each
//! time. The time claims are not cached: they are checked on every request.
//!
//! Bounded by construction: [`SLOTS`] direct-mapped entries, tokens longer than
//! [`MAX_CACHED_LEN`] bytes are not kept. Entries are looked up by the exact token
//! bytes (compared in constant time) and the source that decoded them, never by a hash
//! alone.

use std::rc::Rc;

use subtle::ConstantTimeEq as _;

use super::jwt::{Decoded, JwtError};

/// Entries per VM.
pub const SLOTS: usize = 64;
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
}

fn slot_of(source: usize, token: &[u8]) -> usize {
    let h = token.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3)
    });
    ((h ^ source as u64) as usize) % SLOTS
}

impl TokenCache {
    /// What is cached for `token` presented to source `source`.
    pub fn get(&self, source: usize, token: &[u8]) -> Option<Cached> {
        if token.len() > MAX_CACHED_LEN {
            return None;
        }
        let e = self.slots.get(slot_of(source, token))?.as_ref()?;
        let same = e.source == source
            && e.token.len() == token.len()
            && bool::from(e.token.as_ref().ct_eq(token));
        same.then(|| e.cached.clone())
    }

    /// Remembers `cached` for `token` under `source` (replacing whatever shared its slot).
    pub fn put(&mut self, source: usize, token: &[u8], cached: Cached) {
        if token.len() > MAX_CACHED_LEN {
            return;
        }
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS, || None);
        }
        if let Some(slot) = self.slots.get_mut(slot_of(source, token)) {
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
        assert!(c
            .slots
            .iter()
            .flatten()
            .all(|e| e.token.len() <= MAX_CACHED_LEN));
    }
}
