//! Serialised forms of the Proxy-Wasm ABI, read and written without allocating per
//! item: header maps (the headers are borrowed from the one buffer the host wrote)
//! and property paths.
//!
//! Header map (`proxy_get_header_map_pairs`), integers little-endian u32: the number
//! of pairs `n`, then `n` (name length, value length) pairs, then every name and value
//! in order, each followed by a NUL byte. Property path (`proxy_get_property`): the
//! parts separated by NUL bytes.

use crate::exchange::Header;

/// Most headers read from one map (Envoy's default limit is 100 per request).
pub const MAX_HEADERS: usize = 1024;

/// Header maps of up to this many headers are read without an allocation (a
/// request through a mesh sidecar carries 10-20).
pub const INLINE_HEADERS: usize = 32;

/// The headers of one serialised map, borrowed from its buffer: on the stack up to
/// [`INLINE_HEADERS`], else in a `Vec`. Derefs to the slice of headers.
#[derive(Debug)]
pub struct HeaderMap<'a> {
    inline: [Header<'a>; INLINE_HEADERS],
    len: usize,
    spilled: Vec<Header<'a>>,
}

impl<'a> std::ops::Deref for HeaderMap<'a> {
    type Target = [Header<'a>];

    fn deref(&self) -> &[Header<'a>] {
        if self.spilled.is_empty() {
            self.inline.get(..self.len).unwrap_or_default()
        } else {
            &self.spilled
        }
    }
}

/// The headers of a serialised map, in order, borrowed from `buf`. Never panics: a
/// truncated or inconsistent buffer yields the headers before the fault, and at most
/// [`MAX_HEADERS`] are read. Names stay bytes: they are only compared with names
/// meshward knows (Envoy's codecs only pass token characters; a name of other bytes
/// matches none), which saves a UTF-8 check per header and request.
pub fn header_map(buf: &[u8]) -> HeaderMap<'_> {
    let empty: &[u8] = &[];
    let mut out = HeaderMap {
        inline: [(empty, empty); INLINE_HEADERS],
        len: 0,
        spilled: Vec::new(),
    };
    let Some((count, rest)) = buf.split_first_chunk::<4>() else {
        return out;
    };
    let count = usize::try_from(u32::from_le_bytes(*count))
        .unwrap_or(usize::MAX)
        .min(MAX_HEADERS);
    // The table of lengths, then the strings.
    let Some((table, mut strings)) = rest.split_at_checked(count * 8) else {
        return out;
    };
    if count > INLINE_HEADERS {
        out.spilled.reserve_exact(count);
    }
    for lens in table.chunks_exact(8) {
        let (Some(name_len), Some(value_len)) = (word(lens, 0), word(lens, 4)) else {
            break;
        };
        let Some((name, after)) = strings.split_at_checked(name_len) else {
            break;
        };
        let Some((value, after)) = after.get(1..).and_then(|a| a.split_at_checked(value_len))
        else {
            break;
        };
        match out.inline.get_mut(out.len) {
            Some(slot) if count <= INLINE_HEADERS => *slot = (name, value),
            _ => out.spilled.push((name, value)),
        }
        out.len += 1;
        strings = after.get(1..).unwrap_or_default();
    }
    out
}

/// The little-endian `u32` at `at` of `b` as a length.
fn word(b: &[u8], at: usize) -> Option<usize> {
    let w: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(w)).ok()
}

/// Writes the serialised property `path` into `buf`; the length written, or `None`
/// when it does not fit.
pub fn property_path(path: &[&str], buf: &mut [u8]) -> Option<usize> {
    let mut n = 0usize;
    for (i, part) in path.iter().enumerate() {
        if i > 0 {
            *buf.get_mut(n)? = 0;
            n += 1;
        }
        buf.get_mut(n..n.checked_add(part.len())?)?
            .copy_from_slice(part.as_bytes());
        n += part.len();
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The serialised form of `headers` (what the host writes).
    fn serialize_header_map(headers: &[Header<'_>]) -> Vec<u8> {
        let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
        let mut out = Vec::new();
        out.extend_from_slice(&len(headers.len()));
        for (n, v) in headers {
            out.extend_from_slice(&len(n.len()));
            out.extend_from_slice(&len(v.len()));
        }
        for (n, v) in headers {
            out.extend_from_slice(n);
            out.push(0);
            out.extend_from_slice(v);
            out.push(0);
        }
        out
    }

    #[test]
    fn reads_what_envoy_writes() {
        // Bytes as Envoy serialises `:method: GET`, `x-a: ` (empty), `cookie: a=1`.
        let mut buf = vec![3, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0];
        buf.extend_from_slice(&[6, 0, 0, 0, 3, 0, 0, 0]);
        buf.extend_from_slice(b":method\0GET\0x-a\0\0cookie\0a=1\0");
        let h = header_map(&buf).to_vec();
        assert_eq!(
            h,
            vec![
                (&b":method"[..], &b"GET"[..]),
                (&b"x-a"[..], &b""[..]),
                (&b"cookie"[..], &b"a=1"[..])
            ]
        );
        assert_eq!(serialize_header_map(&h), buf);
    }

    #[test]
    fn faults_end_the_list_without_panicking() {
        assert!(header_map(&[]).is_empty());
        assert!(header_map(&[1, 0]).is_empty());
        let full = serialize_header_map(&[(b"a", b"1"), (b"b", b"22")]);
        // Cut inside the second value: the first header survives.
        assert_eq!(
            header_map(&full[..full.len() - 2]).to_vec(),
            vec![(&b"a"[..], &b"1"[..])]
        );
        // A count far beyond the buffer.
        let mut huge = full.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(header_map(&huge).len() <= 2);
        // A name that is not UTF-8 is read as its bytes, and so is the rest.
        let mut bad = serialize_header_map(&[(b"a", b"1"), (b"b", b"2")]);
        let at = bad.len() - 4; // the name `b`
        bad[at] = 0xff;
        assert_eq!(
            header_map(&bad).to_vec(),
            vec![(&b"a"[..], &b"1"[..]), (&[0xff][..], &b"2"[..])]
        );
    }

    #[test]
    fn property_paths_as_the_sdk_writes_them() {
        let mut buf = [0u8; 32];
        let n = property_path(&["source", "address"], &mut buf);
        assert_eq!(n.and_then(|n| buf.get(..n)), Some(&b"source\0address"[..]));
        let n = property_path(&["metadata"], &mut buf);
        assert_eq!(n.and_then(|n| buf.get(..n)), Some(&b"metadata"[..]));
        assert_eq!(property_path(&[], &mut buf), Some(0));
        // Exactly full, then one byte over.
        let mut small = [0u8; 5];
        assert_eq!(property_path(&["ab", "cd"], &mut small), Some(5));
        assert_eq!(property_path(&["ab", "cde"], &mut small), None);
    }

    #[test]
    fn inline_and_spilled_maps_read_alike() {
        for n in [
            0,
            1,
            INLINE_HEADERS - 1,
            INLINE_HEADERS,
            INLINE_HEADERS + 1,
            100,
        ] {
            let names: Vec<String> = (0..n).map(|i| format!("h{i}")).collect();
            let list: Vec<Header<'_>> = names.iter().map(|n| (n.as_bytes(), &b"v"[..])).collect();
            let buf = serialize_header_map(&list);
            assert_eq!(header_map(&buf).to_vec(), list, "{n} headers");
            // Cut inside the last value: all but the last header.
            let cut = header_map(&buf[..buf.len().saturating_sub(2)]).to_vec();
            assert_eq!(cut, list[..n.saturating_sub(1)], "{n} headers, cut");
        }
    }

    #[test]
    fn at_most_max_headers() {
        let names: Vec<String> = (0..MAX_HEADERS + 5).map(|i| format!("h{i}")).collect();
        let list: Vec<Header<'_>> = names.iter().map(|n| (n.as_bytes(), &b"v"[..])).collect();
        let buf = serialize_header_map(&list);
        assert_eq!(header_map(&buf).len(), MAX_HEADERS);
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn round_trips(list in proptest::collection::vec(
                ("[a-z:-]{0,12}", proptest::collection::vec(any::<u8>(), 0..40)), 0..20)
            ) {
                let h: Vec<Header<'_>> = list.iter().map(|(n, v)| (n.as_bytes(), v.as_slice())).collect();
                let buf = serialize_header_map(&h);
                prop_assert_eq!(header_map(&buf).to_vec(), h);
            }

            #[test]
            fn any_bytes_are_safe(buf in proptest::collection::vec(any::<u8>(), 0..200)) {
                let h = header_map(&buf).to_vec();
                prop_assert!(h.len() <= MAX_HEADERS);
            }

            /// Damaged maps (a valid one with bytes changed or cut off) read as the
            /// reader by offsets read them, header for header.
            #[test]
            fn damaged_maps_read_as_by_offsets(
                list in proptest::collection::vec(
                    ("[a-z:-]{0,6}", proptest::collection::vec(any::<u8>(), 0..8)), 0..6),
                edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
                cut in any::<usize>(),
            ) {
                let h: Vec<Header<'_>> = list.iter().map(|(n, v)| (n.as_bytes(), v.as_slice())).collect();
                let mut buf = serialize_header_map(&h);
                for (at, b) in edits {
                    if !buf.is_empty() {
                        let i = at % buf.len();
                        buf[i] = b;
                    }
                }
                buf.truncate(cut % (buf.len() + 1));
                prop_assert_eq!(header_map(&buf).to_vec(), by_offsets(&buf));
            }
        }

        /// The reader before the twelfth pass (lengths by offset into the buffer),
        /// kept as the oracle.
        fn by_offsets(buf: &[u8]) -> Vec<Header<'_>> {
            let word = |at: usize| -> Option<usize> {
                let b: [u8; 4] = buf.get(at..at.checked_add(4)?)?.try_into().ok()?;
                usize::try_from(u32::from_le_bytes(b)).ok()
            };
            let Some(count) = word(0) else {
                return Vec::new();
            };
            let count = count.min(MAX_HEADERS);
            let mut out = Vec::new();
            let Some(mut p) = count.checked_mul(8).and_then(|t| t.checked_add(4)) else {
                return out;
            };
            for n in 0..count {
                let lens = 4 + n * 8;
                let (Some(name_len), Some(value_len)) = (word(lens), word(lens + 4)) else {
                    break;
                };
                let Some(name) = p.checked_add(name_len).and_then(|e| buf.get(p..e)) else {
                    break;
                };
                p += name_len + 1;
                let Some(value) = p.checked_add(value_len).and_then(|e| buf.get(p..e)) else {
                    break;
                };
                p += value_len + 1;
                out.push((name, value));
            }
            out
        }
    }
}
