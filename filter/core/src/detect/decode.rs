//! Normalisation of one inspected value before tokenizing: repeated decoding of the
//! encodings attackers layer (percent, `%uXXXX`, HTML entities, `\uXXXX`, `\xHH`,
//! overlong UTF-8, full-width look-alikes), NUL removal, ASCII lower-casing.

/// Bytes of one value that are inspected; the rest of a longer value is not looked at.
pub const MAX_INSPECT: usize = 16 * 1024;

/// Decoding passes at most (triple encodings and entity-inside-percent layers).
const MAX_PASSES: usize = 4;

/// A decoded, lower-cased value.
#[derive(Debug, Clone, Default)]
pub struct Normalized {
    /// Decoded text, ASCII lower-cased, NUL bytes removed.
    pub text: Vec<u8>,
    /// Whether the value held a NUL byte (raw or encoded).
    pub nul: bool,
}

/// Decodes `input` (its first [`MAX_INSPECT`] bytes) until nothing changes (at most a
/// few passes), then lower-cases ASCII letters. `plus_as_space` turns `+` into a space
/// in the first pass (form encoding).
pub fn normalize(input: &[u8], plus_as_space: bool) -> Normalized {
    let input = input.get(..MAX_INSPECT).unwrap_or(input);
    let mut nul = false;
    // Fast path: nothing to decode.
    if !needs_decoding(input, plus_as_space) {
        let mut text = input.to_vec();
        text.make_ascii_lowercase();
        return Normalized { text, nul };
    }
    let mut cur = Vec::with_capacity(input.len());
    let mut changed = decode_pass(input, plus_as_space, &mut cur, &mut nul);
    let mut passes = 1;
    if changed && passes < MAX_PASSES {
        let mut next = Vec::with_capacity(cur.len());
        while changed && passes < MAX_PASSES {
            next.clear();
            changed = decode_pass(&cur, false, &mut next, &mut nul);
            std::mem::swap(&mut cur, &mut next);
            passes += 1;
        }
    }
    cur.make_ascii_lowercase();
    Normalized { text: cur, nul }
}

/// Whether [`normalize`] would decode anything in `input`: without, its text is `input`
/// lower-cased and it holds no NUL byte. True for `%`, `&`, `\`, NUL, overlong-UTF-8 lead
/// bytes and three-byte UTF-8 sequences (full-width forms), and `+` when
/// `plus_as_space`.
pub fn needs_decoding(input: &[u8], plus_as_space: bool) -> bool {
    let mask = if plus_as_space {
        DECODES | PLUS
    } else {
        DECODES
    };
    input
        .iter()
        .any(|&b| DECODING.get(usize::from(b)).is_some_and(|&c| c & mask != 0))
}

/// [`DECODING`]: a byte that always starts a decoding.
const DECODES: u8 = 1;
/// [`DECODING`]: `+`, a space in form encoding.
const PLUS: u8 = 2;

/// What each byte means to [`needs_decoding`] (one lookup per byte; every value
/// inspected passes here).
static DECODING: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            b'%' | b'&' | b'\\' | 0 | 0xC0 | 0xC1 | 0xE0..=0xEF => DECODES,
            b'+' => PLUS,
            _ => 0,
        };
        b += 1;
    }
    t
};

/// Whether a header or body value looks `application/x-www-form-urlencoded` (no
/// literal whitespace, holds `+` or `%XX`), so that `+` stands for a space.
pub fn looks_form_encoded(v: &[u8]) -> bool {
    let v = v.get(..MAX_INSPECT).unwrap_or(v);
    !v.iter().any(|b| b.is_ascii_whitespace())
        && v.contains(&b'+')
        && v.windows(3)
            .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// Whether a normalised value holds only letters, digits, non-ASCII text and harmless
/// punctuation (no detector but SSRF's bare-host check can fire on it).
pub fn is_plain(t: &[u8]) -> bool {
    let mut prev = 0u8;
    for &b in t {
        let ok = b.is_ascii_alphanumeric()
            || b >= 0x80
            || matches!(b, b'-' | b'_' | b'@' | b',' | b':')
            || (b == b'.' && prev != b'.');
        if !ok {
            return false;
        }
        prev = b;
    }
    true
}

fn hex(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        b'a'..=b'f' => Some(u32::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u32::from(b - b'A' + 10)),
        _ => None,
    }
}

/// `n` hex digits at `s[i..]`.
fn hex_n(s: &[u8], i: usize, n: usize) -> Option<u32> {
    let mut v = 0u32;
    for k in 0..n {
        v = v << 4 | hex(*s.get(i + k)?)?;
    }
    Some(v)
}

/// ASCII look-alike of a code point that attackers use to dodge filters.
fn confusable(cp: u32) -> Option<u8> {
    let b = match cp {
        0xFF0E | 0x2024 | 0xFE52 => b'.',
        0xFF0F | 0x2215 | 0x2044 => b'/',
        0xFF3C | 0x2216 | 0xFE68 => b'\\',
        0xFF1C | 0xFE64 => b'<',
        0xFF1E | 0xFE65 => b'>',
        0xFF07 => b'\'',
        0xFF02 => b'"',
        0xFF10..=0xFF19 => (cp - 0xFF10) as u8 + b'0',
        0xFF21..=0xFF3A => (cp - 0xFF21) as u8 + b'a',
        0xFF41..=0xFF5A => (cp - 0xFF41) as u8 + b'a',
        0x24B6..=0x24CF => (cp - 0x24B6) as u8 + b'a',
        0x24D0..=0x24E9 => (cp - 0x24D0) as u8 + b'a',
        0x2460..=0x2468 => (cp - 0x2460) as u8 + b'1',
        0x24EA => b'0',
        _ => return None,
    };
    Some(b)
}

/// Appends a code point: ASCII as is, look-alikes as their ASCII, the rest as UTF-8.
fn push_cp(out: &mut Vec<u8>, cp: u32, nul: &mut bool) {
    if cp == 0 {
        *nul = true;
        return;
    }
    if cp < 0x80 {
        out.push(cp as u8);
        return;
    }
    if let Some(b) = confusable(cp) {
        out.push(b);
        return;
    }
    match char::from_u32(cp) {
        Some(c) => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        None => out.push(b'?'),
    }
}

/// Named HTML entities worth decoding (those that hide syntax), without `&` and `;`.
const ENTITIES: &[(&[u8], u8)] = &[
    (b"lt", b'<'),
    (b"gt", b'>'),
    (b"amp", b'&'),
    (b"quot", b'"'),
    (b"apos", b'\''),
    (b"sol", b'/'),
    (b"bsol", b'\\'),
    (b"colon", b':'),
    (b"semi", b';'),
    (b"lpar", b'('),
    (b"rpar", b')'),
    (b"period", b'.'),
    (b"comma", b','),
    (b"tab", b'\t'),
    (b"newline", b'\n'),
    (b"nbsp", b' '),
    (b"grave", b'`'),
    (b"equals", b'='),
    (b"num", b'#'),
    (b"dollar", b'$'),
    (b"excl", b'!'),
    (b"lsqb", b'['),
    (b"rsqb", b']'),
    (b"lcub", b'{'),
    (b"rcub", b'}'),
    (b"lbrack", b'['),
    (b"rbrack", b']'),
    (b"lbrace", b'{'),
    (b"rbrace", b'}'),
    (b"vert", b'|'),
    (b"verbar", b'|'),
    (b"ast", b'*'),
    (b"plus", b'+'),
    (b"percnt", b'%'),
    (b"quest", b'?'),
    (b"commat", b'@'),
    (b"hyphen", b'-'),
    (b"dash", b'-'),
];

/// An HTML entity at `s[i]` (`&`): the code point and its length.
fn entity(s: &[u8], i: usize) -> Option<(u32, usize)> {
    let mut j = i + 1;
    if s.get(j) == Some(&b'#') {
        j += 1;
        let hexa = matches!(s.get(j), Some(b'x' | b'X'));
        if hexa {
            j += 1;
        }
        let start = j;
        let mut v: u32 = 0;
        while let Some(&b) = s.get(j) {
            let d = if hexa {
                hex(b)
            } else {
                b.is_ascii_digit().then(|| u32::from(b - b'0'))
            };
            let Some(d) = d else { break };
            v = v
                .saturating_mul(if hexa { 16 } else { 10 })
                .saturating_add(d);
            j += 1;
            if j - start > 10 {
                return None;
            }
        }
        if j == start {
            return None;
        }
        if s.get(j) == Some(&b';') {
            j += 1;
        }
        return Some((v.min(0x10FFFF), j - i));
    }
    let start = j;
    while s.get(j).is_some_and(|b| b.is_ascii_alphabetic()) && j - start < 8 {
        j += 1;
    }
    let name = s.get(start..j)?;
    if name.is_empty() {
        return None;
    }
    let semi = s.get(j) == Some(&b';');
    let (_, b) = ENTITIES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))?;
    // Browsers accept a few legacy entities without `;`.
    if !semi
        && !matches!(
            name.to_ascii_lowercase().as_slice(),
            b"lt" | b"gt" | b"amp" | b"quot"
        )
    {
        return None;
    }
    Some((u32::from(*b), j - i + usize::from(semi)))
}

/// One decoding pass of `src` into `out`; returns whether anything was decoded.
fn decode_pass(src: &[u8], plus: bool, out: &mut Vec<u8>, nul: &mut bool) -> bool {
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = src.get(i) {
        match b {
            b'%' => {
                if let Some(v) = hex_n(src, i + 1, 2) {
                    if v == 0 {
                        *nul = true;
                    } else {
                        out.push(v as u8);
                    }
                    i += 3;
                    changed = true;
                    continue;
                }
                if matches!(src.get(i + 1), Some(b'u' | b'U')) {
                    if let Some(v) = hex_n(src, i + 2, 4) {
                        push_cp(out, v, nul);
                        i += 6;
                        changed = true;
                        continue;
                    }
                }
                out.push(b);
                i += 1;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
                changed = true;
            }
            b'&' => {
                if let Some((cp, len)) = entity(src, i) {
                    push_cp(out, cp, nul);
                    i += len;
                    changed = true;
                } else {
                    out.push(b);
                    i += 1;
                }
            }
            b'\\' => {
                let esc = match src.get(i + 1) {
                    Some(b'u') if src.get(i + 2) == Some(&b'{') => {
                        let mut j = i + 3;
                        let mut v = 0u32;
                        while let Some(d) = src.get(j).copied().and_then(hex) {
                            v = v.saturating_mul(16).saturating_add(d);
                            j += 1;
                            if j - i > 10 {
                                break;
                            }
                        }
                        (src.get(j) == Some(&b'}') && j > i + 3)
                            .then(|| (v.min(0x10FFFF), j + 1 - i))
                    }
                    Some(b'u' | b'U') => hex_n(src, i + 2, 4).map(|v| (v, 6)),
                    Some(b'x' | b'X') => hex_n(src, i + 2, 2).map(|v| (v, 4)),
                    _ => None,
                };
                if let Some((cp, len)) = esc {
                    push_cp(out, cp, nul);
                    i += len;
                    changed = true;
                } else {
                    out.push(b);
                    i += 1;
                }
            }
            0 => {
                *nul = true;
                i += 1;
                changed = true;
            }
            0xC0 | 0xC1 => {
                // Overlong 2-byte form of an ASCII byte (`%c0%ae` is `.`).
                match src.get(i + 1) {
                    Some(&c) if c & 0xC0 == 0x80 => {
                        push_cp(out, u32::from(b & 0x1F) << 6 | u32::from(c & 0x3F), nul);
                        i += 2;
                        changed = true;
                    }
                    _ => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            0xE0..=0xEF => {
                match (src.get(i + 1), src.get(i + 2)) {
                    (Some(&c1), Some(&c2)) if c1 & 0xC0 == 0x80 && c2 & 0xC0 == 0x80 => {
                        let cp = u32::from(b & 0x0F) << 12
                            | u32::from(c1 & 0x3F) << 6
                            | u32::from(c2 & 0x3F);
                        if cp < 0x80 || confusable(cp).is_some() {
                            // Overlong 3-byte form, or a look-alike.
                            push_cp(out, cp, nul);
                            changed = true;
                        } else {
                            out.extend_from_slice(src.get(i..i + 3).unwrap_or_default());
                        }
                        i += 3;
                    }
                    _ => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn n(s: &[u8]) -> Vec<u8> {
        normalize(s, false).text
    }

    #[test]
    fn the_decoding_table_is_the_byte_test() {
        for b in 0..=255u8 {
            for plus in [false, true] {
                let by_bytes = matches!(b, b'%' | b'&' | b'\\' | 0 | 0xC0 | 0xC1 | 0xE0..=0xEF)
                    || (plus && b == b'+');
                assert_eq!(
                    needs_decoding(&[b'a', b, b'z'], plus),
                    by_bytes,
                    "{b:#04x} {plus}"
                );
            }
        }
        assert!(!needs_decoding(b"", true));
    }

    #[test]
    fn layers_are_peeled() {
        assert_eq!(n(b"%252e%252E%252f"), b"../");
        assert_eq!(n(b"%25252e"), b".");
        assert_eq!(n(b"%c0%ae%c0%af"), b"./");
        assert_eq!(n(b"%e0%80%ae"), b".");
        assert_eq!(n(b"%uff0e%u2215"), b"./");
        assert_eq!(n(b"&#x3C;ScRiPt&gt;"), b"<script>");
        assert_eq!(n(b"&#0000106&#0000097"), b"ja");
        assert_eq!(n(b"java&Tab;script&colon;"), b"java\tscript:");
        assert_eq!(n(b"\\u003cimg\\x3e"), b"<img>");
        assert_eq!(n(b"\\u{3c}"), b"<");
        assert_eq!(n(b"%26lt%3B"), b"<");
        assert_eq!(n("＜ＳＣＲＩＰＴ＞".as_bytes()), b"<script>");
        assert_eq!(normalize(b"a+b%2B", true).text, b"a b+");
    }

    #[test]
    fn text_is_kept() {
        assert_eq!(n("Café 你好".as_bytes()), "café 你好".as_bytes());
        assert_eq!(n(b"100% sure & more"), b"100% sure & more");
        assert_eq!(n(b"Tom &amp; Jerry"), b"tom & jerry");
        assert_eq!(n(b"&unknown; &#"), b"&unknown; &#");
        assert_eq!(n(b"c:\\windows\\x"), b"c:\\windows\\x");
        assert_eq!(n("（，）".as_bytes()), "（，）".as_bytes());
    }

    #[test]
    fn nul_is_flagged_and_removed() {
        let r = normalize(b"a%00b", false);
        assert!(r.nul);
        assert_eq!(r.text, b"ab");
        let r = normalize(b"a\0b", false);
        assert!(r.nul);
        assert!(!normalize(b"ab", false).nul);
    }

    #[test]
    fn bounded() {
        let big = vec![b'a'; MAX_INSPECT * 2];
        assert_eq!(normalize(&big, false).text.len(), MAX_INSPECT);
        assert!(looks_form_encoded(b"a+b%27"));
        assert!(!looks_form_encoded(b"'+alert(1)+'"));
        assert!(!looks_form_encoded(b"a b+c"));
        assert!(is_plain(b"hello-world_1.2@x,y:z"));
        assert!(!is_plain(b"a b"));
    }
}
