//! Small text helpers shared by the classifiers, detectors and templater:
//! percent-decoding and `application/x-www-form-urlencoded` pairs (query strings).

use std::borrow::Cow;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes once (`%41` → `A`); malformed escapes stay as they are. With
/// `plus_as_space`, `+` becomes a space (form encoding). Borrows when nothing changes.
pub fn percent_decode(input: &[u8], plus_as_space: bool) -> Cow<'_, [u8]> {
    let needs = input
        .iter()
        .any(|&b| b == b'%' || (plus_as_space && b == b'+'));
    if !needs {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                input.get(i + 1).copied().and_then(hex),
                input.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if plus_as_space && b == b'+' { b' ' } else { b });
        i += 1;
    }
    Cow::Owned(out)
}

/// Iterates the `key=value` pairs of a query string or form body, raw (not decoded).
/// Empty pieces (`a=1&&b=2`) are skipped; a piece without `=` has an empty value.
pub fn form_pairs(input: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    input
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|&b| b == b'=') {
            Some(i) => (&p[..i], &p[i + 1..]),
            None => (p, &p[p.len()..]),
        })
}

/// Splits a `:path` into the path and the query (without `?`).
pub fn split_query(path: &str) -> (&str, Option<&str>) {
    match split_once_ascii(path, b'?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    }
}

/// `str::split` at an ASCII byte, with a plain byte loop: the pieces of URL paths are
/// short, and `str::split(char)`'s searcher costs more to set up than the scan (~100
/// instructions per piece). `sep` must be ASCII (a non-ASCII byte ends the iteration at
/// the first piece that is not on a character boundary).
pub fn split_ascii(s: &str, sep: u8) -> SplitAscii<'_> {
    SplitAscii {
        s,
        pos: 0,
        sep,
        done: false,
    }
}

/// Iterator of [`split_ascii`].
#[derive(Debug, Clone)]
pub struct SplitAscii<'a> {
    s: &'a str,
    pos: usize,
    sep: u8,
    done: bool,
}

impl<'a> Iterator for SplitAscii<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        let rest = self.s.as_bytes().get(self.pos..)?;
        match rest.iter().position(|&b| b == self.sep) {
            Some(k) => {
                let piece = self.s.get(self.pos..self.pos + k);
                self.pos += k + 1;
                if piece.is_none() {
                    self.done = true;
                }
                piece
            }
            None => {
                self.done = true;
                self.s.get(self.pos..)
            }
        }
    }
}

/// `str::split_once` at an ASCII byte (see [`split_ascii`]).
pub fn split_once_ascii(s: &str, sep: u8) -> Option<(&str, &str)> {
    let k = s.as_bytes().iter().position(|&b| b == sep)?;
    Some((s.get(..k)?, s.get(k + 1..)?))
}

/// Byte tests eight bytes at a time in a `u64` ("SWAR"), shared by the scanners. Each
/// test gives the high bit of every byte that passes; a borrow only ever marks bytes
/// above a true one, so "any byte" and the lowest marked byte are exact.
pub mod swar {
    /// `0x01` in every byte.
    pub const ONES: u64 = 0x0101_0101_0101_0101;
    /// `0x80` in every byte.
    pub const HIGH: u64 = 0x8080_8080_8080_8080;

    /// The zero bytes of `y` (a byte equal to `b`: `zero_bytes(x ^ ONES * b)`).
    #[inline]
    pub fn zero_bytes(y: u64) -> u64 {
        y.wrapping_sub(ONES) & !y & HIGH
    }

    /// The bytes of `x` strictly between `m` and `n` (`n` ≤ 128), among those below
    /// 0x80; `low` is `x` with the high bits cleared (or case-folded from it).
    #[inline]
    pub fn between(low: u64, x: u64, m: u8, n: u8) -> u64 {
        (ONES * (127 + u64::from(n))).wrapping_sub(low)
            & !x
            & low.wrapping_add(ONES * (127 - u64::from(m)))
            & HIGH
    }

    /// Up to eight bytes as a little-endian word, zero-padded. Fewer than eight are
    /// read by two overlapping loads (of four bytes, or of one) instead of a copy (a
    /// `memory.copy` call in Wasm); an overlapped byte is the same in both, so the `|`
    /// keeps it.
    #[inline]
    pub fn word(b: &[u8]) -> u64 {
        if let Some(w) = b.get(..8) {
            return u64::from_le_bytes(w.try_into().unwrap_or_default());
        }
        let n = b.len();
        let at = |i: usize| u64::from(b.get(i).copied().unwrap_or(0));
        if n >= 4 {
            let four = |i: usize| {
                let mut a = [0u8; 4];
                if let Some(s) = b.get(i..i + 4) {
                    a.copy_from_slice(s);
                }
                u64::from(u32::from_le_bytes(a))
            };
            four(0) | four(n - 4) << (8 * (n - 4))
        } else if n > 0 {
            at(0) | at(n / 2) << (8 * (n / 2)) | at(n - 1) << (8 * (n - 1))
        } else {
            0
        }
    }

    /// The bytes of `x` that a JSON string cannot hold as they are: `"`, `\\` and
    /// control characters (the lowest marked byte is exact).
    #[inline]
    pub fn json_special(x: u64) -> u64 {
        zero_bytes(x ^ (ONES * u64::from(b'"')))
            | zero_bytes(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH)
    }

    /// Whether `test` marks a byte of `hay`, eight bytes at a time; the padding of the
    /// last word never counts.
    #[inline]
    pub fn any(hay: &[u8], test: impl Fn(u64) -> u64) -> bool {
        let mut chunks = hay.chunks_exact(8);
        for c in &mut chunks {
            if test(word(c)) != 0 {
                return true;
            }
        }
        let rest = chunks.remainder();
        // The bytes that are there: the lowest `rest.len()`.
        !rest.is_empty() && test(word(rest)) & (HIGH >> (8 * (8 - rest.len()))) != 0
    }
}

/// Whether `hay` holds `needle`, eight bytes at a time: for short values, where
/// `memchr`'s set-up costs more than the search (in Wasm most of all).
pub fn has_byte(hay: &[u8], needle: u8) -> bool {
    let pattern = swar::ONES * u64::from(needle);
    swar::any(hay, |x| swar::zero_bytes(x ^ pattern))
}

/// `8-4-4-4-12` hexadecimal digits, either case (a UUID, any version): the path
/// templater's `{uuid}` and the scanner's never-sensitive shape. The 32 digits are
/// tested as four words.
pub fn is_uuid(b: &[u8]) -> bool {
    let Ok(s) = <&[u8; 36]>::try_from(b) else {
        return false;
    };
    if s[8] != b'-' || s[13] != b'-' || s[18] != b'-' || s[23] != b'-' {
        return false;
    }
    let w = |a: usize, b: usize| {
        let half = |k: usize| u64::from(u32::from_le_bytes([s[k], s[k + 1], s[k + 2], s[k + 3]]));
        half(a) | half(b) << 32
    };
    [w(0, 4), w(9, 14), w(19, 24), w(28, 32)]
        .into_iter()
        .all(|x| hex_bytes(x) == swar::HIGH)
}

/// The bytes of `x` that are ASCII hexadecimal digits (either case), as high bits.
fn hex_bytes(x: u64) -> u64 {
    use swar::{between, HIGH, ONES};
    let low = x & !HIGH;
    let digit = between(low, x, b'0' - 1, b'9' + 1);
    let letter = between(low | (ONES * 0x20), x, b'a' - 1, b'f' + 1);
    digit | letter
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The word test agrees with the byte-by-byte definition, on UUID-like input
        /// with any byte anywhere.
        #[test]
        fn is_uuid_is_the_byte_test(
            hex in "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            at in 0usize..37,
            b in any::<u8>(),
            cut in any::<bool>(),
        ) {
            let mut v = hex.into_bytes();
            if let Some(x) = v.get_mut(at) {
                *x = b;
            }
            if cut {
                v.pop();
            }
            let want = v.len() == 36
                && v.iter().enumerate().all(|(i, &c)| match i {
                    8 | 13 | 18 | 23 => c == b'-',
                    _ => c.is_ascii_hexdigit(),
                });
            prop_assert_eq!(is_uuid(&v), want, "{:?}", v);
        }

        #[test]
        fn has_byte_is_contains(
            hay in proptest::collection::vec(prop::sample::select(vec![0u8, b' ', b'a', b'!', 0x1f, 0x21, 0x80, 0xa0, 0xff]), 0..40),
            needle in prop::sample::select(vec![0u8, b' ', b'a', 0xff, 0x80]),
        ) {
            prop_assert_eq!(has_byte(&hay, needle), hay.contains(&needle));
        }

        /// `json_special` marks exactly what a JSON string must escape: `any` agrees with
        /// the byte test on any bytes, and in one word the lowest mark is the first such
        /// byte.
        #[test]
        fn json_special_is_the_byte_test(
            hay in proptest::collection::vec(prop::sample::select(vec![0u8, 1, 0x1f, b' ', b'!', b'"', b'#', b'[', b'\\', b']', b'a', 0x7f, 0x80, 0xc3, 0xff]), 0..40),
        ) {
            let special = |c: &u8| *c < 0x20 || *c == b'"' || *c == b'\\';
            prop_assert_eq!(swar::any(&hay, swar::json_special), hay.iter().any(special));
            if let Some(w) = hay.get(..8) {
                let marks = swar::json_special(swar::word(w));
                let first = w.iter().position(special);
                prop_assert_eq!((marks != 0).then(|| (marks.trailing_zeros() / 8) as usize), first);
            }
        }

        #[test]
        fn ascii_splits_agree_with_str_splits(s in "[a/?;é中]{0,12}", sep in proptest::sample::select(vec!['/', '?', ';'])) {
            let got: Vec<&str> = split_ascii(&s, sep as u8).collect();
            let want: Vec<&str> = s.split(sep).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(split_once_ascii(&s, sep as u8), s.split_once(sep));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn hex_bytes_is_the_byte_test() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut w = *b"0aF9c3E7";
                w[pos] = b;
                let want = w.iter().all(u8::is_ascii_hexdigit);
                assert_eq!(
                    hex_bytes(u64::from_le_bytes(w)) == swar::HIGH,
                    want,
                    "{b:#x} at {pos}"
                );
            }
        }
    }

    #[test]
    fn decodes_once_and_keeps_malformed() {
        assert_eq!(&*percent_decode(b"a%20b", false), b"a b");
        assert_eq!(&*percent_decode(b"%2e%2E%2f", false), b"../");
        assert_eq!(&*percent_decode(b"%252e", false), b"%2e", "one layer only");
        assert_eq!(&*percent_decode(b"100%", false), b"100%");
        assert_eq!(&*percent_decode(b"%zz%4", false), b"%zz%4");
        assert_eq!(&*percent_decode(b"a+b", true), b"a b");
        assert_eq!(&*percent_decode(b"a+b", false), b"a+b");
        assert!(matches!(percent_decode(b"plain", true), Cow::Borrowed(_)));
    }

    #[test]
    fn form_pairs_raw() {
        let pairs: Vec<_> = form_pairs(b"a=1&&b=&c&d=x%20y").collect();
        assert_eq!(
            pairs,
            vec![
                (&b"a"[..], &b"1"[..]),
                (&b"b"[..], &b""[..]),
                (&b"c"[..], &b""[..]),
                (&b"d"[..], &b"x%20y"[..])
            ]
        );
        assert_eq!(split_query("/a?b=1"), ("/a", Some("b=1")));
        assert_eq!(split_query("/a"), ("/a", None));
    }
}
