//! Request path normalisation: one canonical form of the path that rules, templates
//! and detectors see, plus the anomalies (bypass tricks) met on the way.
//!
//! # The canonical form
//!
//! [`normalize`] turns a raw `:path` (without the query) into a string that:
//!
//! - starts with `/`; has no empty segment (`//` is collapsed) except that one trailing
//!   `/` is kept (`/users/` stays `/users/`: Envoy routes it apart from `/users`);
//! - is percent-decoded **once**. Every escape is decoded except the bytes that would
//!   change the meaning of the path or of the output if written raw; those stay
//!   encoded, with upper-case hex:
//!   - `%2F` (an encoded `/`): kept and flagged [`PathFlags::ENCODED_SLASH`]. It is
//!     **not** a separator: APIs legitimately carry identifiers such as
//!     `group%2Fproject`, and Envoy forwards `%2F` unchanged by default. Use Envoy's
//!     `path_with_escaped_slashes_action` to reject or unescape them when upstreams
//!     decode them before routing. A `.`/`..` between encoded slashes
//!     (`..%2F..%2Fetc`) also raises [`PathFlags::DOT_SEGMENTS`];
//!   - `%00`: kept and flagged [`PathFlags::NULL_BYTE`]; other control bytes
//!     (`%0A`, `%7F`, ...) are kept and flagged [`PathFlags::CONTROL_CHARS`];
//!   - `%25` (an encoded `%`): kept, so the output never decodes twice; when the decoded
//!     `%` starts another escape (`%252e`) the request is flagged
//!     [`PathFlags::DOUBLE_ENCODING`]. A raw `%` that starts no valid escape is written
//!     `%25` as well;
//!   - `%3F` and `%23` (`?`, `#`): kept (they would read as a query or fragment);
//!   - bytes that are not valid UTF-8 once decoded: kept as escapes and flagged
//!     [`PathFlags::INVALID_UTF8`]; overlong encodings (`%c0%ae` for `.`, `%c0%af`
//!     for `/`, `%e0%80%ae`) are additionally flagged [`PathFlags::OVERLONG_UTF8`] and
//!     never decoded to what they pretend to be.
//! - A backslash, raw or `%5C`, is read as a `/` and flagged [`PathFlags::BACKSLASH`]:
//!   several servers (IIS, some Java and Node stacks) treat it as a separator, and
//!   reading it as one makes `deny` rules match `/admin\secret` and `allow` rules not
//!   match `/public\..\admin`, the safe side in both directions.
//! - Path parameters (`;jsessionid=...`, Tomcat/Jetty style, raw or `%3B`) are removed
//!   from every segment before dot segments are resolved, so `/public/..;/admin` is
//!   `/admin`; flagged [`PathFlags::PATH_PARAMS`].
//! - `.` and `..` segments (also when encoded, `%2e%2e`) are resolved as in RFC 3986
//!   §5.2.4 and never climb above the root; flagged [`PathFlags::DOT_SEGMENTS`]. A
//!   segment made only of three or more dots is treated as `.`.
//! - Trailing dots of a segment (`/admin.`, `/admin..;/`), which Windows servers drop,
//!   are removed; flagged [`PathFlags::TRAILING_DOTS`].
//! - Case is preserved: paths are case-sensitive. A case-insensitive upstream (IIS,
//!   some Spring setups) can be reached as `/ADMIN` past a rule written for `/admin`;
//!   rules for such upstreams must list both spellings (documented limit).
//! - IIS `%u002e` escapes are not decoded; they are flagged [`PathFlags::PERCENT_U`].
//!
//! The function is idempotent on its own output (flags aside) and never panics.

use std::fmt;

/// Bit set of the path anomalies met while normalising.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PathFlags(u16);

impl PathFlags {
    /// `.` or `..` segments, plain or encoded (`%2e%2e`), or between encoded slashes.
    pub const DOT_SEGMENTS: Self = Self(1);
    /// An encoded `%` that starts another escape (`%252e`): double encoding.
    pub const DOUBLE_ENCODING: Self = Self(1 << 1);
    /// `%2F`: an encoded slash (kept encoded).
    pub const ENCODED_SLASH: Self = Self(1 << 2);
    /// `%00`: a null byte (kept encoded).
    pub const NULL_BYTE: Self = Self(1 << 3);
    /// Overlong UTF-8 (`%c0%ae`), never decoded.
    pub const OVERLONG_UTF8: Self = Self(1 << 4);
    /// A backslash, raw or `%5C`, read as `/`.
    pub const BACKSLASH: Self = Self(1 << 5);
    /// `;params` removed from a segment.
    pub const PATH_PARAMS: Self = Self(1 << 6);
    /// Empty segments (`//`) collapsed.
    pub const EMPTY_SEGMENTS: Self = Self(1 << 7);
    /// Decoded bytes that are not valid UTF-8 (kept encoded).
    pub const INVALID_UTF8: Self = Self(1 << 8);
    /// Trailing dots removed from a segment (`/admin.`).
    pub const TRAILING_DOTS: Self = Self(1 << 9);
    /// Control characters other than NUL (`%0d%0a`), kept encoded.
    pub const CONTROL_CHARS: Self = Self(1 << 10);
    /// IIS-style `%uXXXX` escapes (not decoded).
    pub const PERCENT_U: Self = Self(1 << 11);

    const NAMES: [(Self, &'static str); 12] = [
        (Self::DOT_SEGMENTS, "dot_segments"),
        (Self::DOUBLE_ENCODING, "double_encoding"),
        (Self::ENCODED_SLASH, "encoded_slash"),
        (Self::NULL_BYTE, "null_byte"),
        (Self::OVERLONG_UTF8, "overlong_utf8"),
        (Self::BACKSLASH, "backslash"),
        (Self::PATH_PARAMS, "path_params"),
        (Self::EMPTY_SEGMENTS, "empty_segments"),
        (Self::INVALID_UTF8, "invalid_utf8"),
        (Self::TRAILING_DOTS, "trailing_dots"),
        (Self::CONTROL_CHARS, "control_chars"),
        (Self::PERCENT_U, "percent_u"),
    ];

    /// No flag.
    pub const fn empty() -> Self {
        Self(0)
    }
    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Whether every flag of `other` is set (true for an empty `other`).
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
    /// Whether any flag of `other` is set.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }
    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: Self) {
        self.0 |= other.0;
    }
    /// The raw bits.
    pub const fn bits(self) -> u16 {
        self.0
    }
    /// The union of two sets.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
    /// The names of the set flags (`dot_segments`, ...), in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| n)
    }
    /// Whether a flag that is a bypass trick rather than a sloppy client is set: dot
    /// segments, double encoding, encoded slash, null byte, overlong UTF-8, backslash,
    /// path parameters, `%u` escapes (not empty segments, trailing dots, control or
    /// invalid UTF-8 bytes alone).
    pub const fn suspicious(self) -> bool {
        self.intersects(Self(
            Self::DOT_SEGMENTS.0
                | Self::DOUBLE_ENCODING.0
                | Self::ENCODED_SLASH.0
                | Self::NULL_BYTE.0
                | Self::OVERLONG_UTF8.0
                | Self::BACKSLASH.0
                | Self::PATH_PARAMS.0
                | Self::PERCENT_U.0,
        ))
    }
}

impl std::ops::BitOr for PathFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl std::ops::BitOrAssign for PathFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        self.insert(rhs);
    }
}

impl fmt::Display for PathFlags {
    /// Comma-separated names, e.g. `dot_segments,encoded_slash`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.names().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(n)?;
        }
        Ok(())
    }
}

/// A normalised path and the anomalies met on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalized {
    /// The canonical path (see the module documentation).
    pub path: String,
    /// Anomalies seen in the raw path.
    pub flags: PathFlags,
}

/// Normalises a raw request path (no query; see the module documentation for the
/// canonical form). Never panics; linear in the input.
pub fn normalize(raw: &str) -> Normalized {
    let mut path = String::new();
    let flags = normalize_into(raw, &mut path);
    Normalized { path, flags }
}

/// [`normalize`] into a reused buffer (cleared first): no allocation when its capacity
/// suffices. Returns the flags.
pub fn normalize_into(raw: &str, out: &mut String) -> PathFlags {
    out.clear();
    if is_canonical(raw.as_bytes()) {
        out.push_str(raw);
        return PathFlags::empty();
    }
    out.reserve(raw.len() + 1);
    let mut flags = PathFlags::empty();
    let b = raw.as_bytes();
    out.push('/');
    let mut i = 0;
    // A leading separator is the root, not an empty segment.
    match b.first() {
        Some(b'/') => i = 1,
        Some(b'\\') => {
            flags |= PathFlags::BACKSLASH;
            i = 1;
        }
        _ => {
            if let Some((b'\\', 3)) = unit(b, 0) {
                flags |= PathFlags::BACKSLASH;
                i = 3;
            }
        }
    }
    let mut seg_start = out.len();
    while i < b.len() {
        // Copy the run of bytes that need no decision in one go.
        let run = b
            .get(i..)
            .and_then(|r| r.iter().position(|&c| special(c)))
            .unwrap_or(b.len() - i);
        if run > 0 {
            out.push_str(raw.get(i..i + run).unwrap_or(""));
            i += run;
            continue;
        }
        let Some(&c) = b.get(i) else { break };
        if c == b'/' || c == b'\\' {
            if c == b'\\' {
                flags |= PathFlags::BACKSLASH;
            }
            finish_segment(out, seg_start, false, &mut flags);
            seg_start = out.len();
            i += 1;
            continue;
        }
        if c == b'%' {
            match unit(b, i) {
                Some((v, 3)) => {
                    i += 3;
                    match v {
                        b'/' => {
                            flags |= PathFlags::ENCODED_SLASH;
                            out.push_str("%2F");
                        }
                        b'\\' => {
                            flags |= PathFlags::BACKSLASH;
                            finish_segment(out, seg_start, false, &mut flags);
                            seg_start = out.len();
                        }
                        b'%' => {
                            // `%25` followed by what decodes to two hex digits.
                            if is_escape_start(b, i) {
                                flags |= PathFlags::DOUBLE_ENCODING;
                            }
                            out.push_str("%25");
                        }
                        0x80..=0xff => i = utf8_sequence(b, i - 3, out, &mut flags),
                        _ => push_byte(out, v, &mut flags),
                    }
                }
                _ => {
                    // A `%` that starts no escape.
                    if b.get(i + 1).is_some_and(|&u| u == b'u' || u == b'U')
                        && b.get(i + 2..i + 6)
                            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
                    {
                        flags |= PathFlags::PERCENT_U;
                    }
                    out.push_str("%25");
                    i += 1;
                }
            }
            continue;
        }
        push_byte(out, c, &mut flags);
        i += 1;
    }
    finish_segment(out, seg_start, true, &mut flags);
    flags
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Bytes the decoding loop must look at: separators, escapes, and what is written
/// encoded. Raw non-ASCII bytes are copied as they are: the input is a `str`, so they
/// form valid UTF-8 by themselves (an escaped lead byte never completes with them).
fn special(c: u8) -> bool {
    matches!(c, b'/' | b'\\' | b'%' | b'?' | b'#' | 0x00..=0x1f | 0x7f)
}

/// Whether `raw` is already in canonical form (the common case): no byte to decode
/// or encode, no `;`, no empty, dot or trailing-dot segment.
fn is_canonical(b: &[u8]) -> bool {
    if b.first() != Some(&b'/') {
        return false;
    }
    let mut prev = b'/';
    for &c in b.get(1..).unwrap_or(&[]) {
        if c == b'/' {
            if prev == b'/' || prev == b'.' {
                return false;
            }
        } else if c == b';' || special(c) {
            return false;
        }
        prev = c;
    }
    prev != b'.'
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One decoded unit at `i`: an escape `%XX` (3 bytes) or a raw byte (1 byte).
fn unit(b: &[u8], i: usize) -> Option<(u8, usize)> {
    let c = *b.get(i)?;
    if c == b'%' {
        if let (Some(h), Some(l)) = (
            b.get(i + 1).copied().and_then(hex_val),
            b.get(i + 2).copied().and_then(hex_val),
        ) {
            return Some((h << 4 | l, 3));
        }
    }
    Some((c, 1))
}

/// Whether the units from `i` decode to `XX` (two hex digits): after a decoded `%`,
/// that is a second layer of encoding.
fn is_escape_start(b: &[u8], i: usize) -> bool {
    let Some((h, n)) = unit(b, i) else {
        return false;
    };
    let Some((l, _)) = unit(b, i + n) else {
        return false;
    };
    h.is_ascii_hexdigit() && l.is_ascii_hexdigit()
}

fn push_escaped(out: &mut String, v: u8) {
    out.push('%');
    out.push(char::from(HEX_UPPER[usize::from(v >> 4)]));
    out.push(char::from(HEX_UPPER[usize::from(v & 0xf)]));
}

/// Writes one decoded ASCII byte: as itself, or kept encoded when it would change the
/// meaning of the output.
fn push_byte(out: &mut String, v: u8, flags: &mut PathFlags) {
    match v {
        0 => {
            *flags |= PathFlags::NULL_BYTE;
            push_escaped(out, v);
        }
        0x01..=0x1f | 0x7f => {
            *flags |= PathFlags::CONTROL_CHARS;
            push_escaped(out, v);
        }
        b'?' | b'#' | b'%' | b'/' => push_escaped(out, v),
        b'\\' => {
            // Unreachable through the callers (a backslash is a separator); written
            // encoded rather than raw to keep the output canonical.
            *flags |= PathFlags::BACKSLASH;
            push_escaped(out, v);
        }
        _ => out.push(char::from(v)),
    }
}

/// Decodes a UTF-8 sequence whose lead unit (raw or escaped) is at `i`; writes the
/// character when the sequence is valid, else the lead byte encoded. Returns the index
/// after what was consumed.
fn utf8_sequence(b: &[u8], i: usize, out: &mut String, flags: &mut PathFlags) -> usize {
    let Some((lead, lead_len)) = unit(b, i) else {
        return i + 1;
    };
    let want = match lead {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    };
    let mut buf = [lead, 0, 0, 0];
    let mut j = i + lead_len;
    let mut got = 1;
    while got < want {
        match unit(b, j) {
            Some((v, n)) if (0x80..=0xbf).contains(&v) => {
                if let Some(slot) = buf.get_mut(got) {
                    *slot = v;
                }
                got += 1;
                j += n;
            }
            _ => break,
        }
    }
    if want > 0 && got == want {
        if let Some(s) = buf.get(..want).and_then(|s| std::str::from_utf8(s).ok()) {
            out.push_str(s);
            return j;
        }
    }
    // Invalid: overlong forms are recognised but never decoded.
    let second = unit(b, i + lead_len).map(|(v, _)| v);
    let overlong = match lead {
        0xc0 | 0xc1 => true,
        0xe0 => second.is_some_and(|s| (0x80..=0x9f).contains(&s)),
        0xf0 => second.is_some_and(|s| (0x80..=0x8f).contains(&s)),
        _ => false,
    };
    if overlong {
        *flags |= PathFlags::OVERLONG_UTF8;
    }
    *flags |= PathFlags::INVALID_UTF8;
    push_escaped(out, lead);
    i + lead_len
}

/// Finishes the segment written at `out[start..]`: strips `;params`, resolves dot
/// segments, strips trailing dots, drops empty segments, and writes the separator.
fn finish_segment(out: &mut String, start: usize, last: bool, flags: &mut PathFlags) {
    let Some(seg) = out.get(start..) else {
        return;
    };
    if let Some(p) = seg.find(';') {
        *flags |= PathFlags::PATH_PARAMS;
        out.truncate(start + p);
    }
    let seg = out.get(start..).unwrap_or("");
    if !seg.is_empty() && seg.bytes().all(|c| c == b'.') {
        let dots = seg.len();
        *flags |= PathFlags::DOT_SEGMENTS;
        out.truncate(start);
        if dots == 2 && start > 1 {
            // `out` is "/a/b/": drop "b/", never the root.
            let prev = out.get(..start - 1).and_then(|s| s.rfind('/')).unwrap_or(0);
            out.truncate(prev + 1);
        }
        return;
    }
    if seg.ends_with('.') {
        *flags |= PathFlags::TRAILING_DOTS;
        let kept = seg.trim_end_matches('.').len();
        out.truncate(start + kept);
    }
    let seg = out.get(start..).unwrap_or("");
    if seg.contains("%2F") && seg.split("%2F").any(|p| p == "." || p == "..") {
        *flags |= PathFlags::DOT_SEGMENTS;
    }
    if seg.is_empty() {
        if !last {
            *flags |= PathFlags::EMPTY_SEGMENTS;
        }
        return;
    }
    if !last {
        out.push('/');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn n(raw: &str) -> (String, String) {
        let r = normalize(raw);
        (r.path, r.flags.to_string())
    }

    #[test]
    fn plain_paths_are_unchanged() {
        assert_eq!(n("/users/123"), ("/users/123".into(), "".into()));
        assert_eq!(n("/"), ("/".into(), "".into()));
        assert_eq!(n(""), ("/".into(), "".into()));
        assert_eq!(n("/users/"), ("/users/".into(), "".into()));
        assert_eq!(n("/Users/ABC"), ("/Users/ABC".into(), "".into()));
        assert_eq!(n("users"), ("/users".into(), "".into()));
        assert_eq!(n("/a/b.json"), ("/a/b.json".into(), "".into()));
        assert_eq!(n("/.well-known/x"), ("/.well-known/x".into(), "".into()));
    }

    #[test]
    fn dot_segments() {
        assert_eq!(n("/a/./b"), ("/a/b".into(), "dot_segments".into()));
        assert_eq!(n("/a/b/../c"), ("/a/c".into(), "dot_segments".into()));
        assert_eq!(n("/../../etc/passwd").0, "/etc/passwd");
        assert_eq!(n("/a/b/.."), ("/a/".into(), "dot_segments".into()));
        assert_eq!(n("/a/b/."), ("/a/b/".into(), "dot_segments".into()));
        assert_eq!(n("/.."), ("/".into(), "dot_segments".into()));
        assert_eq!(n("/a/%2e%2e/b"), ("/b".into(), "dot_segments".into()));
        assert_eq!(n("/a/%2E/b").0, "/a/b");
        assert_eq!(n("/a/.%2e/b").0, "/b");
        assert_eq!(n("/a/.../b"), ("/a/b".into(), "dot_segments".into()));
    }

    #[test]
    fn empty_segments_and_backslashes() {
        assert_eq!(n("//a///b"), ("/a/b".into(), "empty_segments".into()));
        assert_eq!(n("/a//"), ("/a/".into(), "empty_segments".into()));
        assert_eq!(
            n("/admin\\secret"),
            ("/admin/secret".into(), "backslash".into())
        );
        assert_eq!(
            n("/public\\..\\admin"),
            ("/admin".into(), "dot_segments,backslash".into())
        );
        assert_eq!(n("/a%5c..%5Cb").0, "/b");
        assert_eq!(n("\\a").0, "/a");
    }

    #[test]
    fn path_params() {
        assert_eq!(
            n("/users;jsessionid=ABC123/7"),
            ("/users/7".into(), "path_params".into())
        );
        assert_eq!(
            n("/public/..;/admin"),
            ("/admin".into(), "dot_segments,path_params".into())
        );
        assert_eq!(n("/a/b;x=1").0, "/a/b");
        assert_eq!(n("/a/%3Bx/b").0, "/a/b");
    }

    #[test]
    fn trailing_dots() {
        assert_eq!(n("/admin."), ("/admin".into(), "trailing_dots".into()));
        assert_eq!(n("/admin../x").0, "/admin/x");
        assert_eq!(n("/v1.2/x").0, "/v1.2/x");
    }

    #[test]
    fn encodings() {
        assert_eq!(n("/a%20b/%41"), ("/a b/A".into(), "".into()));
        assert_eq!(n("/a%2fb"), ("/a%2Fb".into(), "encoded_slash".into()));
        assert_eq!(
            n("/x/..%2f..%2fetc"),
            (
                "/x/..%2F..%2Fetc".into(),
                "dot_segments,encoded_slash".into()
            )
        );
        assert_eq!(n("/a%00.jpg"), ("/a%00.jpg".into(), "null_byte".into()));
        assert_eq!(
            n("/%252e%252e/x"),
            ("/%252e%252e/x".into(), "double_encoding".into())
        );
        assert_eq!(n("/%25%32%65").1, "double_encoding");
        assert_eq!(n("/100%"), ("/100%25".into(), "".into()));
        assert_eq!(n("/100%25"), ("/100%25".into(), "".into()));
        assert_eq!(n("/a%3Fb%23c"), ("/a%3Fb%23c".into(), "".into()));
        assert_eq!(n("/a%0d%0a"), ("/a%0D%0A".into(), "control_chars".into()));
        assert_eq!(n("/caf%C3%A9/中文"), ("/café/中文".into(), "".into()));
        assert_eq!(
            n("/%c0%ae%c0%ae/etc"),
            (
                "/%C0%AE%C0%AE/etc".into(),
                "overlong_utf8,invalid_utf8".into()
            )
        );
        assert_eq!(n("/%e0%80%ae").1, "overlong_utf8,invalid_utf8");
        assert_eq!(n("/%ff"), ("/%FF".into(), "invalid_utf8".into()));
        assert_eq!(n("/%C3"), ("/%C3".into(), "invalid_utf8".into()));
        assert_eq!(n("/%u002e").1, "percent_u");
    }

    #[test]
    fn idempotent_examples() {
        for raw in [
            "/a/%2e%2e/b",
            "/%252e",
            "/a%2fb/..%2F",
            "/%c0%ae/x",
            "/x%%414",
            "/a/b;c/../d.",
            "/é%C3/%E2%82",
            "%5c%5c",
            "/a?b",
        ] {
            let once = normalize(raw).path;
            assert_eq!(normalize(&once).path, once, "{raw}");
        }
    }

    #[test]
    fn buffer_reuse() {
        let mut s = String::with_capacity(64);
        let f = normalize_into("/a/../b", &mut s);
        assert_eq!(s, "/b");
        assert!(f.contains(PathFlags::DOT_SEGMENTS));
        assert!(f.suspicious());
        let f = normalize_into("/c", &mut s);
        assert_eq!(s, "/c");
        assert!(f.is_empty());
        assert!(!f.suspicious());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn pathish() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                Just("/".to_string()),
                Just(".".to_string()),
                Just("..".to_string()),
                Just("%".to_string()),
                Just("%2e".to_string()),
                Just("%2F".to_string()),
                Just("%25".to_string()),
                Just("%c0".to_string()),
                Just("%ae".to_string()),
                Just("%C3%A9".to_string()),
                Just("\\".to_string()),
                Just(";".to_string()),
                "[a-z0-9]{1,4}",
                "[0-9a-fA-F]{1,2}",
                any::<char>().prop_map(String::from),
            ],
            0..24,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn idempotent(raw in pathish()) {
            let once = normalize(&raw).path;
            prop_assert_eq!(normalize(&once).path, once.clone());
            prop_assert!(once.starts_with('/'));
            prop_assert!(!once.contains("//"));
        }

        #[test]
        fn never_panics(raw in any::<String>()) {
            let once = normalize(&raw).path;
            prop_assert_eq!(normalize(&once).path, once);
        }
    }
}
