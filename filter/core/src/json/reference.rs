//! The walker as it was before its rewrite (2026-11-30), kept as the oracle of the
//! differential tests in `json.rs` (only the visibility of its items changed): the
//! rewrite must visit the same values with the same context and stop with the same
//! outcome on every input.

use super::{Kind, Outcome, Step, Value};

#[derive(Debug, Clone, Copy)]
struct Frame {
    array: bool,
    /// Start of this frame's own key area in the key arena.
    base: u32,
    /// The key that applies to values in this frame.
    key: Option<KeyRef>,
}

/// Where a key's text is: a key without escapes is its bytes in the body (no copy), an
/// escaped one its unescaped text in the key arena.
#[derive(Debug, Clone, Copy)]
struct KeyRef {
    in_arena: bool,
    start: usize,
    end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Value,
    ValueOrClose,
    Key,
    KeyOrClose,
    Colon,
    CommaOrClose,
    End,
}

/// The walker, with its reusable buffers. Keep one per worker and reuse it.
#[derive(Debug)]
pub(super) struct Walker {
    max_depth: usize,
    stack: Vec<Frame>,
    keys: Vec<u8>,
    buf: Vec<u8>,
}

/// Byte classes inside strings: 1 = stop (quote, backslash, control, non-ASCII).
pub(super) static STR_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i < 0x20 || i == b'"' as usize || i == b'\\' as usize || i >= 0x80;
        i += 1;
    }
    t
};

/// The bytes of `x` (little-endian) that are in [`STR_STOP`] (`"`, `\\`, a control
/// character or a non-ASCII byte), as high bits: the usual SWAR tests. A borrow only
/// marks bytes above a true one, so "any" and the lowest marked byte are exact.
fn stop_mask(x: u64) -> u64 {
    use crate::text::swar::{zero_bytes, HIGH, ONES};
    let quote = zero_bytes(x ^ (ONES * u64::from(b'"')));
    let backslash = zero_bytes(x ^ (ONES * u64::from(b'\\')));
    let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    quote | backslash | control | (x & HIGH)
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

fn hex4(s: &[u8]) -> Option<u32> {
    if s.len() < 4 {
        return None;
    }
    let mut v = 0u32;
    for &b in &s[..4] {
        let d = (b as char).to_digit(16)?;
        v = v * 16 + d;
    }
    Some(v)
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut tmp = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
}

/// Length of a valid UTF-8 sequence at the start of `s`, or `None`.
pub(super) fn utf8_len(s: &[u8]) -> Option<usize> {
    let b = *s.first()?;
    let n = match b {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return None,
    };
    let seq = s.get(..n)?;
    std::str::from_utf8(seq).ok().map(|_| n)
}

enum Str {
    /// Closing quote at this offset; text is body[start+1..close].
    Plain(usize),
    /// Closing quote at this offset; text is in the buffer.
    Escaped(usize),
    /// No closing quote.
    Unterminated,
}

impl Walker {
    /// A walker with a nesting limit (containers deeper than `max_depth` stop the walk).
    pub(super) fn new(max_depth: usize) -> Self {
        Walker {
            max_depth: max_depth.max(1),
            stack: Vec::new(),
            keys: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Scans a string whose opening quote is at `start`. Records the first tolerated
    /// error in `lenient`.
    fn string(&mut self, body: &[u8], start: usize, lenient: &mut Option<usize>) -> Str {
        let mut i = start + 1;
        // Fast path: plain ASCII/UTF-8 without escapes.
        loop {
            // Eight bytes at a time up to the first byte that stops the fast path.
            while let Some(w) = body.get(i..i + 8) {
                let m = stop_mask(u64::from_le_bytes(w.try_into().unwrap_or([b'"'; 8])));
                if m != 0 {
                    i += (m.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            let Some(&b) = body.get(i) else {
                return Str::Unterminated;
            };
            if !STR_STOP[b as usize] {
                i += 1;
                continue;
            }
            if b == b'"' {
                return Str::Plain(i);
            }
            if b >= 0x80 {
                match utf8_len(&body[i..]) {
                    Some(n) => {
                        i += n;
                        continue;
                    }
                    None => break,
                }
            }
            if b < 0x20 {
                lenient.get_or_insert(i);
                i += 1;
                continue;
            }
            break; // backslash or invalid UTF-8: slow path
        }
        self.buf.clear();
        self.buf.extend_from_slice(&body[start + 1..i]);
        loop {
            let Some(&b) = body.get(i) else {
                return Str::Unterminated;
            };
            match b {
                b'"' => return Str::Escaped(i),
                b'\\' => {
                    let Some(&e) = body.get(i + 1) else {
                        return Str::Unterminated;
                    };
                    let simple = match e {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(8),
                        b'f' => Some(12),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        _ => None,
                    };
                    if let Some(c) = simple {
                        self.buf.push(c);
                        i += 2;
                    } else if e == b'u' {
                        let tail = body.get(i + 2..).unwrap_or_default();
                        if tail.len() < 4 && !tail.contains(&b'"') {
                            return Str::Unterminated;
                        }
                        match hex4(tail) {
                            Some(hi @ 0xD800..=0xDBFF) => {
                                let lo = body
                                    .get(i + 6..i + 8)
                                    .filter(|p| *p == b"\\u")
                                    .and_then(|_| hex4(body.get(i + 8..).unwrap_or_default()))
                                    .filter(|lo| (0xDC00..=0xDFFF).contains(lo));
                                if let Some(lo) = lo {
                                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                    push_char(
                                        &mut self.buf,
                                        char::from_u32(c).unwrap_or('\u{FFFD}'),
                                    );
                                    i += 12;
                                } else {
                                    push_char(&mut self.buf, '\u{FFFD}');
                                    i += 6;
                                }
                            }
                            Some(0xDC00..=0xDFFF) => {
                                push_char(&mut self.buf, '\u{FFFD}');
                                i += 6;
                            }
                            Some(c) => {
                                push_char(&mut self.buf, char::from_u32(c).unwrap_or('\u{FFFD}'));
                                i += 6;
                            }
                            None => {
                                lenient.get_or_insert(i);
                                self.buf.extend_from_slice(b"\\u");
                                i += 2;
                            }
                        }
                    } else {
                        // Invalid escape: keep it literally.
                        lenient.get_or_insert(i);
                        self.buf.push(b'\\');
                        i += 1;
                    }
                }
                0..=0x1F => {
                    lenient.get_or_insert(i);
                    self.buf.push(b);
                    i += 1;
                }
                0x80.. => match utf8_len(&body[i..]) {
                    Some(n) => {
                        self.buf.extend_from_slice(&body[i..i + n]);
                        i += n;
                    }
                    None => {
                        // Invalid UTF-8 passes through as bytes; a cut sequence at the
                        // very end is a truncation.
                        if body.len() - i < 4 && !body[i..].contains(&b'"') {
                            return Str::Unterminated;
                        }
                        lenient.get_or_insert(i);
                        self.buf.push(b);
                        i += 1;
                    }
                },
                _ => {
                    let run = body[i..]
                        .iter()
                        .take_while(|&&c| !STR_STOP[c as usize])
                        .count();
                    self.buf.extend_from_slice(&body[i..i + run]);
                    i += run;
                }
            }
        }
    }

    fn text<'s>(&'s self, body: &'s [u8], k: KeyRef) -> Option<&'s [u8]> {
        if k.in_arena {
            self.keys.get(k.start..k.end)
        } else {
            body.get(k.start..k.end)
        }
    }

    fn range<'s>(&'s self, body: &'s [u8], f: usize) -> Option<&'s [u8]> {
        self.text(body, self.stack.get(f)?.key?)
    }

    /// The key that applies in frame `f` (`None`: no frame) and the key above the
    /// object that owns it (arrays inherit their key, so they are looked through).
    fn keys_from<'s>(
        &'s self,
        body: &'s [u8],
        f: Option<usize>,
    ) -> (Option<&'s [u8]>, Option<&'s [u8]>) {
        let Some(f) = f else { return (None, None) };
        let mut owner = f;
        while owner > 0 && self.stack.get(owner).is_some_and(|fr| fr.array) {
            owner -= 1;
        }
        let parent = owner.checked_sub(1).and_then(|p| self.range(body, p));
        (self.range(body, f), parent)
    }

    /// Walks `body`, calling `visit` for every key and scalar in document order.
    pub(super) fn walk<F>(&mut self, body: &[u8], mut visit: F) -> Outcome
    where
        F: FnMut(&Value<'_>) -> Step,
    {
        self.stack.clear();
        self.keys.clear();
        let mut expect = Expect::Value;
        let mut lenient: Option<usize> = None;
        let mut skip: Option<usize> = None; // stack depth whose value is skipped
        let mut i = 0usize;
        let n = body.len();
        loop {
            while i < n && is_ws(body[i]) {
                i += 1;
            }
            let Some(&b) = body.get(i) else {
                return match expect {
                    Expect::End => lenient.map_or(Outcome::Complete, |at| Outcome::Lenient { at }),
                    _ => Outcome::Truncated { at: n },
                };
            };
            match expect {
                Expect::End => return Outcome::Invalid { at: i },
                Expect::Colon => {
                    if b != b':' {
                        return Outcome::Invalid { at: i };
                    }
                    i += 1;
                    expect = Expect::Value;
                }
                Expect::CommaOrClose => {
                    let top_array = self.stack.last().is_some_and(|f| f.array);
                    match b {
                        b',' => {
                            i += 1;
                            expect = if top_array {
                                Expect::Value
                            } else {
                                Expect::Key
                            };
                        }
                        b']' if top_array => {
                            i += 1;
                            expect = self.close(&mut skip);
                        }
                        b'}' if !top_array => {
                            i += 1;
                            expect = self.close(&mut skip);
                        }
                        _ => return Outcome::Invalid { at: i },
                    }
                }
                Expect::Key | Expect::KeyOrClose => {
                    if b == b'}' && expect == Expect::KeyOrClose {
                        i += 1;
                        expect = self.close(&mut skip);
                        continue;
                    }
                    if b != b'"' {
                        return Outcome::Invalid { at: i };
                    }
                    let start = i;
                    let (end, escaped) = match self.string(body, start, &mut lenient) {
                        Str::Plain(q) => (q, false),
                        Str::Escaped(q) => (q, true),
                        Str::Unterminated => return Outcome::Truncated { at: start },
                    };
                    // Store the key in the arena at this frame's base.
                    let depth = self.stack.len();
                    if let Some(top) = self.stack.last_mut() {
                        self.keys.truncate(top.base as usize);
                        top.key = Some(if escaped {
                            let ks = self.keys.len();
                            self.keys.extend_from_slice(&self.buf);
                            KeyRef {
                                in_arena: true,
                                start: ks,
                                end: self.keys.len(),
                            }
                        } else {
                            KeyRef {
                                in_arena: false,
                                start: start + 1,
                                end,
                            }
                        });
                    }
                    i = end + 1;
                    expect = Expect::Colon;
                    if skip.is_none() {
                        let text = match self.stack.last().and_then(|f| f.key) {
                            Some(k) => self.text(body, k),
                            None => None,
                        };
                        let (key, parent_key) = self.keys_from(body, depth.checked_sub(2));
                        let v = Value {
                            kind: Kind::Key,
                            text: text.unwrap_or_default(),
                            start,
                            end: i,
                            escaped,
                            key,
                            parent_key,
                            depth,
                            in_array: false,
                        };
                        match visit(&v) {
                            Step::Continue => {}
                            Step::Skip => skip = Some(depth),
                            Step::Stop => return Outcome::Stopped { at: i },
                        }
                    }
                }
                Expect::Value | Expect::ValueOrClose => {
                    if b == b']' && expect == Expect::ValueOrClose {
                        i += 1;
                        expect = self.close(&mut skip);
                        continue;
                    }
                    if b == b'{' || b == b'[' {
                        if self.stack.len() >= self.max_depth {
                            return Outcome::TooDeep { at: i };
                        }
                        let inherited = if b == b'[' {
                            self.stack.last().and_then(|f| f.key)
                        } else {
                            None
                        };
                        self.stack.push(Frame {
                            array: b == b'[',
                            base: self.keys.len() as u32,
                            key: inherited,
                        });
                        i += 1;
                        expect = if b == b'[' {
                            Expect::ValueOrClose
                        } else {
                            Expect::KeyOrClose
                        };
                        continue;
                    }
                    let start = i;
                    let (kind, end, escaped) = match b {
                        b'"' => match self.string(body, start, &mut lenient) {
                            Str::Plain(q) => (Kind::String, q + 1, false),
                            Str::Escaped(q) => (Kind::String, q + 1, true),
                            Str::Unterminated => return Outcome::Truncated { at: start },
                        },
                        b'-' | b'0'..=b'9' => match number(body, start) {
                            Ok(e) => {
                                if e == n && !self.stack.is_empty() {
                                    // More digits may follow in the rest of the body.
                                    return Outcome::Truncated { at: start };
                                }
                                (Kind::Number, e, false)
                            }
                            Err(NumErr::Truncated) => return Outcome::Truncated { at: start },
                            Err(NumErr::Invalid(at)) => return Outcome::Invalid { at },
                        },
                        b't' | b'f' | b'n' => {
                            let (lit, kind): (&[u8], Kind) = match b {
                                b't' => (b"true", Kind::True),
                                b'f' => (b"false", Kind::False),
                                _ => (b"null", Kind::Null),
                            };
                            let got = &body[start..n.min(start + lit.len())];
                            if got.len() < lit.len() {
                                if lit.starts_with(got) {
                                    return Outcome::Truncated { at: start };
                                }
                                return Outcome::Invalid { at: start };
                            }
                            if got != lit {
                                return Outcome::Invalid { at: start };
                            }
                            (kind, start + lit.len(), false)
                        }
                        _ => return Outcome::Invalid { at: i },
                    };
                    i = end;
                    if skip.is_none() {
                        let text: &[u8] = match kind {
                            Kind::String if escaped => &self.buf,
                            Kind::String => &body[start + 1..end - 1],
                            _ => &body[start..end],
                        };
                        let (key, parent_key) =
                            self.keys_from(body, self.stack.len().checked_sub(1));
                        let v = Value {
                            kind,
                            text,
                            start,
                            end,
                            escaped,
                            key,
                            parent_key,
                            depth: self.stack.len(),
                            in_array: self.stack.last().is_some_and(|f| f.array),
                        };
                        if visit(&v) == Step::Stop {
                            return Outcome::Stopped { at: end };
                        }
                    }
                    expect = self.after_value(&mut skip);
                }
            }
        }
    }

    fn after_value(&self, skip: &mut Option<usize>) -> Expect {
        if *skip == Some(self.stack.len()) {
            *skip = None;
        }
        if self.stack.is_empty() {
            Expect::End
        } else {
            Expect::CommaOrClose
        }
    }

    fn close(&mut self, skip: &mut Option<usize>) -> Expect {
        if let Some(f) = self.stack.pop() {
            self.keys.truncate(f.base as usize);
        }
        self.after_value(skip)
    }
}

pub(super) enum NumErr {
    Truncated,
    Invalid(usize),
}

/// Scans a JSON number starting at `i`; returns its end.
pub(super) fn number(b: &[u8], mut i: usize) -> Result<usize, NumErr> {
    let digits = |b: &[u8], i: usize| {
        b.get(i..)
            .map_or(0, |s| s.iter().take_while(|c| c.is_ascii_digit()).count())
    };
    // At least one digit (after `.` and after `e`): their count, or why there is none.
    let required = |b: &[u8], i: usize| match digits(b, i) {
        0 if i >= b.len() => Err(NumErr::Truncated),
        0 => Err(NumErr::Invalid(i)),
        d => Ok(d),
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        None => return Err(NumErr::Truncated),
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i += digits(b, i),
        Some(_) => return Err(NumErr::Invalid(i)),
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        i += required(b, i)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i += required(b, i)?;
    }
    match b.get(i) {
        Some(c) if c.is_ascii_alphanumeric() || *c == b'.' => Err(NumErr::Invalid(i)),
        _ => Ok(i),
    }
}
