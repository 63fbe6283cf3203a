//! A streaming JSON walker: visits every key and scalar of a body once, with its key
//! context, strings unescaped and numbers as their literal text, without building a
//! tree. Iterative (explicit stack, bounded depth), tolerant of bad input: it reports
//! how far the body was valid instead of failing.
//!
//! Shared by the sensitive-data classifier, masking and the injection detectors so a
//! body is walked once per purpose with no per-value allocation (buffers are reused).

/// Default nesting limit of [`Walker::default`].
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// What a walk found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// One complete, valid JSON value (and only whitespace after it).
    Complete,
    /// The whole body was walked, but it has errors the walker tolerated: invalid
    /// escapes, raw control characters or invalid UTF-8 inside strings. `at` is the
    /// first one. Not valid JSON (masking leaves such bodies alone).
    Lenient {
        /// Byte offset of the first tolerated error.
        at: usize,
    },
    /// The body ended inside a value (a cut body): every value complete before `at`
    /// was visited; the token starting at `at` was not.
    Truncated {
        /// Start of the incomplete token (or the body length).
        at: usize,
    },
    /// A syntax error at `at`; the walk stopped there.
    Invalid {
        /// Byte offset of the error.
        at: usize,
    },
    /// Nesting deeper than the limit at `at`; the walk stopped there.
    TooDeep {
        /// Byte offset of the opening bracket that went too deep.
        at: usize,
    },
    /// The visitor asked to stop at `at` (the end of the value it was given).
    Stopped {
        /// Byte offset where the walk stopped.
        at: usize,
    },
}

impl Outcome {
    /// A complete, valid document.
    pub fn is_complete(self) -> bool {
        self == Outcome::Complete
    }
    /// Where the walk stopped before the end of the body (truncation, error, depth,
    /// visitor), if it did.
    pub fn stopped_at(self) -> Option<usize> {
        match self {
            Outcome::Complete | Outcome::Lenient { .. } => None,
            Outcome::Truncated { at }
            | Outcome::Invalid { at }
            | Outcome::TooDeep { at }
            | Outcome::Stopped { at } => Some(at),
        }
    }
}

/// Kind of a visited item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An object key (its text is the unescaped key).
    Key,
    /// A string value.
    String,
    /// A number (its text is the literal, never converted).
    Number,
    /// `true`.
    True,
    /// `false`.
    False,
    /// `null`.
    Null,
}

/// One visited key or scalar.
#[derive(Debug, Clone, Copy)]
pub struct Value<'a> {
    /// What it is.
    pub kind: Kind,
    /// Unescaped text for strings and keys (bytes as found: invalid UTF-8 is passed
    /// through, see [`Value::text_lossy`]); the literal for numbers and literals.
    pub text: &'a [u8],
    /// Byte offset of the raw token in the body (the opening quote for strings).
    pub start: usize,
    /// Byte offset just past the raw token (past the closing quote).
    pub end: usize,
    /// Whether the string had escapes (so `text` differs from the raw bytes).
    pub escaped: bool,
    /// The nearest object key: for a value, the key it belongs to (for array
    /// elements, the key of the array); for a key, the key of its enclosing object.
    pub key: Option<&'a [u8]>,
    /// The key one level further up.
    pub parent_key: Option<&'a [u8]>,
    /// Nesting depth (0 for a top-level scalar).
    pub depth: usize,
    /// Directly inside an array.
    pub in_array: bool,
}

impl Value<'_> {
    /// Whether the nearest key equals `k`, ASCII case-insensitively.
    pub fn key_is(&self, k: &str) -> bool {
        self.key
            .is_some_and(|own| eq_ignore_case(own, k.as_bytes()))
    }
    /// The text as UTF-8, invalid sequences replaced.
    pub fn text_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.text)
    }
    /// The raw token in `body` (the bytes masking replaces).
    pub fn raw<'b>(&self, body: &'b [u8]) -> &'b [u8] {
        body.get(self.start..self.end).unwrap_or_default()
    }
}

/// ASCII case-insensitive equality of a key with a (lower- or mixed-case) name.
pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// What the visitor wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Go on.
    Continue,
    /// On a key: do not visit its value (the whole subtree is still checked for syntax).
    /// Same as `Continue` elsewhere.
    Skip,
    /// Stop the walk ([`Outcome::Stopped`]).
    Stop,
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    array: bool,
    /// Start of this frame's own key area in the key arena.
    base: u32,
    /// The key that applies to values in this frame.
    key: Option<KeyRef>,
    /// The key above the object that owns this frame (an array looks through to the
    /// object it is in). It cannot change while the frame is open, so it is set when
    /// the frame opens and no visit walks the stack.
    parent: Option<KeyRef>,
}

/// Where a key's text is: a key without escapes is its bytes in the body (no copy), an
/// escaped one its unescaped text in the key arena.
#[derive(Debug, Clone, Copy)]
struct KeyRef {
    in_arena: bool,
    start: usize,
    end: usize,
}

/// What comes next between two tokens. A key's `:` is read in the key's turn of the
/// loop, so a key and its value take two turns and the `,` or closing bracket after
/// them a third.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// A value (at the start, after `:`, after `,` in an array).
    Value,
    /// A value or `]` (an array just opened).
    ValueOrClose,
    /// A key (after `,` in an object).
    Key,
    /// A key or `}` (an object just opened).
    KeyOrClose,
    /// A value ended: `,` or the container's closing bracket; at the top level, the end
    /// of the body.
    After,
}

/// The walker, with its reusable buffers. Keep one per worker and reuse it.
#[derive(Debug)]
pub struct Walker {
    max_depth: usize,
    stack: Vec<Frame>,
    keys: Vec<u8>,
    buf: Vec<u8>,
}

impl Default for Walker {
    fn default() -> Self {
        Walker::new(DEFAULT_MAX_DEPTH)
    }
}

/// The bytes of `x` (little-endian) that stop a plain string (`"`, `\\`, a control
/// character or a non-ASCII byte), as high bits: the usual SWAR tests. A borrow only
/// marks bytes above a true one, so "any" and the lowest marked byte are exact.
fn stop_mask(x: u64) -> u64 {
    use crate::text::swar::{zero_bytes, HIGH, ONES};
    let quote = zero_bytes(x ^ (ONES * u64::from(b'"')));
    let backslash = zero_bytes(x ^ (ONES * u64::from(b'\\')));
    let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    quote | backslash | control | (x & HIGH)
}

/// The first byte at or after `i` that stops a plain string (see [`stop_mask`]), or
/// the body's length: eight bytes at a time, the last word zero-padded (a zero byte
/// is a control character, so the padding stops the run at the end).
fn plain_run(body: &[u8], mut i: usize) -> usize {
    loop {
        let rest = body.get(i..).unwrap_or_default();
        let x = match rest.get(..8) {
            Some(w) => u64::from_le_bytes(w.try_into().unwrap_or_default()),
            None => crate::text::swar::word(rest),
        };
        let m = stop_mask(x);
        if m != 0 {
            return (i + (m.trailing_zeros() / 8) as usize).min(body.len());
        }
        i += 8;
    }
}

/// The offset of the first byte at or after `i` that is not JSON whitespace.
#[inline]
fn skip_ws(body: &[u8], mut i: usize) -> usize {
    while body
        .get(i)
        .is_some_and(|&b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
    {
        i += 1;
    }
    i
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

/// Length of a valid UTF-8 sequence at the start of `s`, or `None` (the table of the
/// Unicode standard, 3.9: no overlong forms, no surrogates, nothing above U+10FFFF).
fn utf8_len(s: &[u8]) -> Option<usize> {
    let cont = |k: usize| s.get(k).is_some_and(|&c| c & 0xC0 == 0x80);
    let second = |lo: u8, hi: u8| s.get(1).is_some_and(|&c| (lo..=hi).contains(&c));
    let ok = match *s.first()? {
        0xC2..=0xDF => return cont(1).then_some(2),
        0xE0 => second(0xA0, 0xBF),
        0xE1..=0xEC | 0xEE..=0xEF => cont(1),
        0xED => second(0x80, 0x9F),
        0xF0 => second(0x90, 0xBF) && cont(3),
        0xF1..=0xF3 => cont(1) && cont(3),
        0xF4 => second(0x80, 0x8F) && cont(3),
        _ => false,
    };
    let n = if s.first().is_some_and(|&b| b >= 0xF0) {
        4
    } else {
        3
    };
    (ok && cont(2)).then_some(n)
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
    pub fn new(max_depth: usize) -> Self {
        Walker {
            max_depth: max_depth.max(1),
            stack: Vec::new(),
            keys: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Scans a string whose opening quote is at `start`. Records the first tolerated
    /// error in `lenient`. A plain ASCII string (most keys and values) is one run of
    /// [`plain_run`]; anything else goes on in [`Walker::string_from`].
    #[inline]
    fn string(&mut self, body: &[u8], start: usize, lenient: &mut Option<usize>) -> Str {
        let i = plain_run(body, start + 1);
        if body.get(i) == Some(&b'"') {
            return Str::Plain(i);
        }
        self.string_from(body, start, i, lenient)
    }

    /// [`Walker::string`] from `i`, the first byte of the string that is not plain
    /// ASCII: valid UTF-8 goes on as plain text; an escape, or invalid UTF-8, switches
    /// to unescaping into the buffer.
    #[inline(never)]
    fn string_from(
        &mut self,
        body: &[u8],
        start: usize,
        mut i: usize,
        lenient: &mut Option<usize>,
    ) -> Str {
        loop {
            let Some(&b) = body.get(i) else {
                return Str::Unterminated;
            };
            if b == b'"' {
                return Str::Plain(i);
            }
            if b >= 0x80 {
                match utf8_len(body.get(i..).unwrap_or_default()) {
                    Some(n) => {
                        i = plain_run(body, i + n);
                        continue;
                    }
                    None => break,
                }
            }
            if b < 0x20 {
                lenient.get_or_insert(i);
                i = plain_run(body, i + 1);
                continue;
            }
            break; // backslash or invalid UTF-8: unescape
        }
        self.buf.clear();
        self.buf
            .extend_from_slice(body.get(start + 1..i).unwrap_or_default());
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
                0x80.. => {
                    let rest = body.get(i..).unwrap_or_default();
                    match utf8_len(rest) {
                        Some(n) => {
                            self.buf
                                .extend_from_slice(rest.get(..n).unwrap_or_default());
                            i += n;
                        }
                        None => {
                            // Invalid UTF-8 passes through as bytes; a cut sequence at
                            // the very end is a truncation.
                            if rest.len() < 4 && !rest.contains(&b'"') {
                                return Str::Unterminated;
                            }
                            lenient.get_or_insert(i);
                            self.buf.push(b);
                            i += 1;
                        }
                    }
                }
                _ => {
                    let end = plain_run(body, i);
                    self.buf
                        .extend_from_slice(body.get(i..end).unwrap_or_default());
                    i = end;
                }
            }
        }
    }

    #[inline(always)]
    fn text<'s>(&'s self, body: &'s [u8], k: KeyRef) -> Option<&'s [u8]> {
        if k.in_arena {
            self.keys.get(k.start..k.end)
        } else {
            body.get(k.start..k.end)
        }
    }

    /// The key that applies in `frame` (`None`: no frame) and the key above the object
    /// that owns it.
    #[inline(always)]
    fn keys_of<'s>(
        &'s self,
        body: &'s [u8],
        frame: Option<&Frame>,
    ) -> (Option<&'s [u8]>, Option<&'s [u8]>) {
        let Some(f) = frame else { return (None, None) };
        (
            f.key.and_then(|k| self.text(body, k)),
            f.parent.and_then(|k| self.text(body, k)),
        )
    }

    /// Walks `body`, calling `visit` for every key and scalar in document order.
    pub fn walk<F>(&mut self, body: &[u8], mut visit: F) -> Outcome
    where
        F: FnMut(&Value<'_>) -> Step,
    {
        self.stack.clear();
        self.keys.clear();
        let mut next = Next::Value;
        let mut lenient: Option<usize> = None;
        let mut skip: Option<usize> = None; // stack depth whose value is skipped
        let mut i = 0usize;
        let n = body.len();
        loop {
            i = skip_ws(body, i);
            let Some(&b) = body.get(i) else {
                return if next == Next::After && self.stack.is_empty() {
                    lenient.map_or(Outcome::Complete, |at| Outcome::Lenient { at })
                } else {
                    Outcome::Truncated { at: n }
                };
            };
            match next {
                Next::After => {
                    let Some(top) = self.stack.last() else {
                        return Outcome::Invalid { at: i };
                    };
                    match b {
                        b',' => {
                            next = if top.array { Next::Value } else { Next::Key };
                        }
                        b']' if top.array => self.close(&mut skip),
                        b'}' if !top.array => self.close(&mut skip),
                        _ => return Outcome::Invalid { at: i },
                    }
                    i += 1;
                }
                Next::Key | Next::KeyOrClose => {
                    if b == b'}' && next == Next::KeyOrClose {
                        i += 1;
                        self.close(&mut skip);
                        next = Next::After;
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
                    if skip.is_none() {
                        let text: &[u8] = if escaped {
                            &self.buf
                        } else {
                            body.get(start + 1..end).unwrap_or_default()
                        };
                        let below = depth.checked_sub(2).and_then(|f| self.stack.get(f));
                        let (key, parent_key) = self.keys_of(body, below);
                        let v = Value {
                            kind: Kind::Key,
                            text,
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
                    // The colon, in the same turn.
                    i = skip_ws(body, i);
                    match body.get(i) {
                        Some(b':') => {
                            i += 1;
                            next = Next::Value;
                        }
                        Some(_) => return Outcome::Invalid { at: i },
                        None => return Outcome::Truncated { at: n },
                    }
                }
                Next::Value | Next::ValueOrClose => {
                    if b == b']' && next == Next::ValueOrClose {
                        i += 1;
                        self.close(&mut skip);
                        next = Next::After;
                        continue;
                    }
                    if b == b'{' || b == b'[' {
                        if self.stack.len() >= self.max_depth {
                            return Outcome::TooDeep { at: i };
                        }
                        let array = b == b'[';
                        // An array inherits the key and the parent; an object's parent
                        // is the key it is the value of.
                        let (key, parent) = match self.stack.last() {
                            Some(top) if array => (top.key, top.parent),
                            Some(top) => (None, top.key),
                            None => (None, None),
                        };
                        self.stack.push(Frame {
                            array,
                            base: self.keys.len() as u32,
                            key,
                            parent,
                        });
                        i += 1;
                        next = if array {
                            Next::ValueOrClose
                        } else {
                            Next::KeyOrClose
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
                            let got = body
                                .get(start..n.min(start + lit.len()))
                                .unwrap_or_default();
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
                            Kind::String => body.get(start + 1..end - 1).unwrap_or_default(),
                            _ => body.get(start..end).unwrap_or_default(),
                        };
                        let top = self.stack.last();
                        let (key, parent_key) = self.keys_of(body, top);
                        let v = Value {
                            kind,
                            text,
                            start,
                            end,
                            escaped,
                            key,
                            parent_key,
                            depth: self.stack.len(),
                            in_array: top.is_some_and(|f| f.array),
                        };
                        if visit(&v) == Step::Stop {
                            return Outcome::Stopped { at: end };
                        }
                    }
                    self.value_ended(&mut skip);
                    next = Next::After;
                }
            }
        }
    }

    /// A value ended at the current depth: the skipped value, if it was this one, is
    /// over.
    fn value_ended(&self, skip: &mut Option<usize>) {
        if *skip == Some(self.stack.len()) {
            *skip = None;
        }
    }

    /// Closes the innermost container (the end of its value).
    fn close(&mut self, skip: &mut Option<usize>) {
        if let Some(f) = self.stack.pop() {
            self.keys.truncate(f.base as usize);
        }
        self.value_ended(skip);
    }
}

enum NumErr {
    Truncated,
    Invalid(usize),
}

/// Scans a JSON number starting at `i`; returns its end.
fn number(b: &[u8], mut i: usize) -> Result<usize, NumErr> {
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    // At least one digit (after `.` and after `e`): the end of them, or why there is
    // none.
    let required = |i: usize| match digits(i) {
        e if e > i => Ok(e),
        _ if i >= b.len() => Err(NumErr::Truncated),
        _ => Err(NumErr::Invalid(i)),
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    i = match b.get(i) {
        None => return Err(NumErr::Truncated),
        Some(b'0') => i + 1,
        Some(b'1'..=b'9') => digits(i + 1),
        Some(_) => return Err(NumErr::Invalid(i)),
    };
    if b.get(i) == Some(&b'.') {
        i = required(i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = required(i)?;
    }
    match b.get(i) {
        Some(c) if c.is_ascii_alphanumeric() || *c == b'.' => Err(NumErr::Invalid(i)),
        _ => Ok(i),
    }
}

/// Appends `s` to `out` as the inside of a JSON string (no quotes): `"`, `\` and
/// control characters escaped, invalid UTF-8 replaced by U+FFFD, everything else as is.
pub fn escape_into(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1F => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
            }
            0x80.. => {
                if let Some(n) = utf8_len(&s[i..]) {
                    out.extend_from_slice(&s[i..i + n]);
                    i += n;
                    continue;
                }
                out.extend_from_slice("\u{FFFD}".as_bytes());
            }
            _ => out.push(b),
        }
        i += 1;
    }
}

#[cfg(test)]
mod reference;

#[cfg(test)]
mod tests {
    use super::reference::STR_STOP;
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn eight_byte_test_finds_each_stop_byte_at_each_position() {
        for b in 0..=255u8 {
            for p in 0..8 {
                let mut w = *b"abcdefgh";
                w[p] = b;
                let m = stop_mask(u64::from_le_bytes(w));
                assert_eq!(m != 0, STR_STOP[b as usize], "{b} at {p}");
                if m != 0 {
                    assert_eq!(m.trailing_zeros() / 8, p as u32, "{b} at {p}");
                }
            }
        }
        // Long strings still end, unescape and validate at the right byte.
        let long = format!(
            "[\"{}\",\"{}\\n{}\",\"{}\u{e9}x\"]",
            "a".repeat(37),
            "b".repeat(16),
            "c".repeat(9),
            "d".repeat(8)
        );
        let (seen, out) = collect(long.as_bytes());
        assert_eq!(out, Outcome::Complete);
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(seen[0].contains(&"a".repeat(37)), "{seen:?}");
        assert!(
            seen[1].contains(&format!("{}\n{}", "b".repeat(16), "c".repeat(9))),
            "{seen:?}"
        );
        assert!(
            seen[2].contains(&format!("{}\u{e9}x", "d".repeat(8))),
            "{seen:?}"
        );
    }

    fn collect(body: &[u8]) -> (Vec<String>, Outcome) {
        let mut w = Walker::default();
        let mut seen = Vec::new();
        let out = w.walk(body, |v| {
            seen.push(format!(
                "{:?}:{}:{}:{}:{}-{}",
                v.kind,
                String::from_utf8_lossy(v.key.unwrap_or(b"-")),
                String::from_utf8_lossy(v.parent_key.unwrap_or(b"-")),
                String::from_utf8_lossy(v.text),
                v.start,
                v.end
            ));
            Step::Continue
        });
        (seen, out)
    }

    #[test]
    fn walks_keys_and_scalars_with_context() {
        let body = br#"{"user":{"name":"Li","phones":["138",139]},"ok":true,"n":null}"#;
        let (seen, out) = collect(body);
        assert_eq!(out, Outcome::Complete);
        assert_eq!(
            seen,
            vec![
                "Key:-:-:user:1-7",
                "Key:user:-:name:9-15",
                "String:name:user:Li:16-20",
                "Key:user:-:phones:21-29",
                "String:phones:user:138:31-36",
                "Number:phones:user:139:37-40",
                "Key:-:-:ok:43-47",
                "True:ok:-:true:48-52",
                "Key:-:-:n:53-56",
                "Null:n:-:null:57-61",
            ]
        );
    }

    #[test]
    fn unescapes_strings() {
        let body = br#"{"m":"\u0031\u0033\u0038 \"x\" \ud83d\ude00 \ud800 \q"}"#;
        let mut w = Walker::default();
        let mut got = Vec::new();
        let out = w.walk(body, |v| {
            if v.kind == Kind::String {
                got = v.text.to_vec();
                assert!(v.escaped);
                assert_eq!(v.raw(body).first(), Some(&b'"'));
            }
            Step::Continue
        });
        assert_eq!(String::from_utf8(got).unwrap(), "138 \"x\" 😀 \u{FFFD} \\q");
        assert!(matches!(out, Outcome::Lenient { .. }), "{out:?}");
    }

    #[test]
    fn numbers_are_literal() {
        let (seen, out) = collect(b"[12345678901234567890, -1.5e+3, 0]");
        assert_eq!(out, Outcome::Complete);
        assert!(seen[0].contains("12345678901234567890"));
        assert!(seen[1].contains("-1.5e+3"));
        assert_eq!(collect(b"42").1, Outcome::Complete);
        assert_eq!(collect(b"[01]").1, Outcome::Invalid { at: 2 });
        assert_eq!(collect(b"[1.]").1, Outcome::Invalid { at: 3 });
        assert_eq!(collect(b"[-]").1, Outcome::Invalid { at: 2 });
    }

    #[test]
    fn truncation_and_errors() {
        let (seen, out) = collect(br#"{"a":"x","b":"yy"#);
        assert_eq!(out, Outcome::Truncated { at: 13 });
        assert_eq!(seen.len(), 3, "a, x, b visited; the cut string not");
        assert_eq!(collect(br#"{"a":12"#).1, Outcome::Truncated { at: 5 });
        assert_eq!(collect(br#"{"a":tr"#).1, Outcome::Truncated { at: 5 });
        assert_eq!(collect(br#"{"a":"\u00"#).1, Outcome::Truncated { at: 5 });
        assert_eq!(collect(br#"{"a" 1}"#).1, Outcome::Invalid { at: 5 });
        assert_eq!(collect(br#"{"a":1]"#).1, Outcome::Invalid { at: 6 });
        assert_eq!(collect(br#"{"a":1} x"#).1, Outcome::Invalid { at: 8 });
        assert_eq!(collect(b"").1, Outcome::Truncated { at: 0 });
        assert_eq!(collect(b"nope").1, Outcome::Invalid { at: 0 });
        assert_eq!(collect(br#"{"a":1,}"#).1, Outcome::Invalid { at: 7 });
        // duplicate keys are fine
        let (seen, out) = collect(br#"{"a":1,"a":2}"#);
        assert_eq!(out, Outcome::Complete);
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn deep_nesting_stops_without_recursion() {
        let mut body = vec![b'['; 100_000];
        body.extend(std::iter::repeat_n(b']', 100_000));
        let mut w = Walker::default();
        assert_eq!(
            w.walk(&body, |_| Step::Continue),
            Outcome::TooDeep { at: 128 }
        );
        let mut w = Walker::new(200_000);
        assert_eq!(w.walk(&body, |_| Step::Continue), Outcome::Complete);
    }

    #[test]
    fn skip_and_stop() {
        let body = br#"{"trace":{"id":"x","n":[1,2]},"a":"y","b":"z"}"#;
        let mut w = Walker::default();
        let mut got = Vec::new();
        let out = w.walk(body, |v| {
            if v.kind == Kind::Key && eq_ignore_case(v.text, b"TRACE") {
                return Step::Skip;
            }
            got.push(v.text.to_vec());
            if v.text == b"y" {
                return Step::Stop;
            }
            Step::Continue
        });
        assert_eq!(got, vec![b"a".to_vec(), b"y".to_vec()]);
        assert_eq!(out, Outcome::Stopped { at: 37 });
        assert_eq!(out.stopped_at(), Some(37));
    }

    #[test]
    fn invalid_utf8_is_lenient() {
        let body = b"{\"a\":\"x\xffy\"}";
        let (seen, out) = collect(body);
        assert_eq!(out, Outcome::Lenient { at: 7 });
        assert_eq!(seen.len(), 2);
        let mut esc = Vec::new();
        escape_into(b"a\"b\\c\n\x01\xff\xe4\xb8\xad", &mut esc);
        assert_eq!(esc, "a\\\"b\\\\c\\n\\u0001\u{FFFD}中".as_bytes());
    }

    #[test]
    fn arrays_inherit_keys_and_reset_after_close() {
        let body = br#"{"a":{"b":[{"c":1}],"d":2},"e":[3]}"#;
        let (seen, _) = collect(body);
        assert!(seen.contains(&"Number:c:b:1:16-17".to_string()), "{seen:?}");
        assert!(seen.contains(&"Number:d:a:2:24-25".to_string()), "{seen:?}");
        assert!(seen.contains(&"Number:e:-:3:32-33".to_string()), "{seen:?}");
        assert!(seen.contains(&"Key:b:a:c:12-15".to_string()), "{seen:?}");
    }
}

/// The differential oracle's harness: a walk's visits (every field of each) and its
/// outcome, under a visitor that skips the values of keys starting with `s` and stops at
/// the `stop_at`-th visit.
#[cfg(test)]
mod differential {
    use super::*;

    /// What a walk did, field by field.
    pub(super) type Trace = (Vec<String>, Outcome);

    fn visitor(stop_at: usize) -> impl FnMut(&Value<'_>) -> Step {
        let mut seen = 0usize;
        move |_v: &Value<'_>| {
            seen += 1;
            if seen == stop_at {
                Step::Stop
            } else {
                Step::Continue
            }
        }
    }

    fn record(v: &Value<'_>, out: &mut Vec<String>) -> Step {
        out.push(format!(
            "{:?} {:?} {}-{} esc={} key={:?} parent={:?} depth={} arr={}",
            v.kind, v.text, v.start, v.end, v.escaped, v.key, v.parent_key, v.depth, v.in_array
        ));
        if v.kind == Kind::Key && v.text.first() == Some(&b's') {
            Step::Skip
        } else {
            Step::Continue
        }
    }

    /// The walker's trace. The walker has walked another body first (with escaped
    /// keys, nesting and a cut), as a reused walker in the filter has.
    pub(super) fn new(body: &[u8], depth: usize, stop_at: usize) -> Trace {
        let mut out = Vec::new();
        let mut stop = visitor(stop_at);
        let mut w = Walker::new(depth);
        let _ = w.walk(br#"{"k\u0065y":[{"a\"b":{"c":"\u00e9x"}}],"z":[1,"#, |_| {
            Step::Continue
        });
        let o = w.walk(body, |v| match stop(v) {
            Step::Stop => Step::Stop,
            _ => record(v, &mut out),
        });
        (out, o)
    }

    /// The reference walker's trace.
    pub(super) fn old(body: &[u8], depth: usize, stop_at: usize) -> Trace {
        let mut out = Vec::new();
        let mut stop = visitor(stop_at);
        let o = super::reference::Walker::new(depth).walk(body, |v| match stop(v) {
            Step::Stop => Step::Stop,
            _ => record(v, &mut out),
        });
        (out, o)
    }

    #[test]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn agrees_with_the_reference_walker_on_a_corpus() {
        let corpus: &[&[u8]] = &[
            br#"{"a":1,"b":[true,false,null],"c":{"d":"x\n\u00e9\ud83d\ude00","e":-1.5e+3}}"#,
            br#" [ {"k" : "v" } , [ [ 1 ] , { } ] , "" ] "#,
            br#"{"s":{"x":[1,{"y":2}]},"t":{"s":3,"u":[{"v":"w"}]}}"#,
            br#"{"a\"b":{"c\u0064":[{"e":"f"}]},"g":"h"}"#,
            b"{\"bio\":\"\xe7\x83\xad\xe7\x88\xb1 \xe3\x80\x82\",\"n\":\"\xff\xfe\",\"c\":\"\x01\"}",
            b"{\"a\":\"\xe4\xb8",
            br#"{"a":01}"#,
            br#"{"a":1.}"#,
            br#"{"a":1e}"#,
            br#"{"a":tru"#,
            br#"{"a":trux}"#,
            br#"{"a" 1}"#,
            br#"{"a":1 "b":2}"#,
            br#"{"a":1,}"#,
            br#"[1,]"#,
            br#"[1}"#,
            br#"{]"#,
            br#"1 2"#,
            br#"12"#,
            br#"[12"#,
            br#""\x""#,
            br#""\u12"#,
            br#""\ud800\u0041""#,
            b"",
            b"   ",
            br#"[[[[[[[[1]]]]]]]]"#,
            br#"{"a":{"b":{"c":{"d":{"e":1}}}}}"#,
        ];
        for body in corpus {
            for depth in [1, 2, 3, 128] {
                for stop_at in [0, 1, 2, 3, 5, 8, 13] {
                    assert_eq!(
                        new(body, depth, stop_at),
                        old(body, depth, stop_at),
                        "{:?} depth {depth} stop at {stop_at}",
                        String::from_utf8_lossy(body)
                    );
                }
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::reference::STR_STOP;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn eight_byte_test_agrees_with_the_table(x in any::<u64>()) {
            let first = x.to_le_bytes().iter().position(|&b| STR_STOP[b as usize]);
            let m = stop_mask(x);
            prop_assert_eq!(m != 0, first.is_some());
            if let Some(p) = first {
                prop_assert_eq!((m.trailing_zeros() / 8) as usize, p);
            }
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut w = Walker::new(16);
            let _ = w.walk(&body, |v| { assert!(v.start <= v.end && v.end <= body.len()); Step::Continue });
        }

        #[test]
        fn never_panics_on_json_like_bytes(body in "[\\[\\]{}\",:0-9a-z\\\\u. -]{0,200}") {
            let mut w = Walker::new(8);
            let _ = w.walk(body.as_bytes(), |_| Step::Continue);
        }

        #[test]
        fn agrees_with_serde_on_validity(v in arb_json()) {
            let body = serde_json::to_vec(&v).unwrap();
            let mut w = Walker::default();
            let mut strings = 0usize;
            let out = w.walk(&body, |x| { if x.kind == Kind::String { strings += 1; } Step::Continue });
            prop_assert_eq!(out, Outcome::Complete);
            // every prefix is truncated, never invalid
            for cut in 0..body.len() {
                let o = w.walk(&body[..cut], |_| Step::Continue);
                prop_assert!(matches!(o, Outcome::Truncated { .. }) || (o == Outcome::Complete && body[cut..].iter().all(|b| b.is_ascii_digit() || *b == b'.' || *b == b'e' || *b == b'-')), "{:?} at {}", o, cut);
            }
        }
    }

    /// Bytes that change a JSON text's structure or a string's reading: brackets,
    /// separators, quotes, escapes, digits, letters of literals, whitespace, control
    /// characters, the starts of valid and invalid UTF-8.
    const MUTANTS: &[u8] =
        b"{}[]:,\"\\u0123456789.eE+-tfnrl \n\x00\x1f\x7f\x80\xbf\xc3\xe4\xed\xf0\xf4\xff/sx";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]

        /// The single-pass walker visits what the reference walker visits, with the
        /// same context, and ends with the same outcome: on valid JSON (compact and
        /// pretty), cut anywhere, with bytes replaced, inserted or removed, under
        /// nesting limits, skips and stops.
        #[test]
        fn agrees_with_the_reference_walker(
            v in arb_json(),
            wraps in proptest::collection::vec(prop_oneof![Just(None), "[a-z]{1,3}".prop_map(Some)], 0..4),
            pretty in any::<bool>(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), prop::sample::select(MUTANTS), 0u8..3), 0..4),
            cut in any::<prop::sample::Index>(),
            do_cut in any::<bool>(),
            depth in prop_oneof![1usize..6, Just(DEFAULT_MAX_DEPTH)],
            stop_at in prop_oneof![3 => Just(0usize), 1 => 1usize..20],
        ) {
            // Containers around it, so values sit under keys and parents at every depth.
            let v = wraps.into_iter().fold(v, |v, w| match w {
                None => serde_json::json!([1, v]),
                Some(k) => serde_json::json!({ k: v, "z": 0 }),
            });
            let mut body = if pretty { serde_json::to_vec_pretty(&v).unwrap() } else { serde_json::to_vec(&v).unwrap() };
            for (at, b, op) in edits {
                if body.is_empty() {
                    body.push(b);
                    continue;
                }
                let at = at.index(body.len());
                match op {
                    0 => body[at] = b,
                    1 => body.insert(at, b),
                    _ => { body.remove(at); }
                }
            }
            if do_cut && !body.is_empty() {
                body.truncate(cut.index(body.len()));
            }
            prop_assert_eq!(
                differential::new(&body, depth, stop_at),
                differential::old(&body, depth, stop_at),
                "{:?}", String::from_utf8_lossy(&body)
            );
        }

        #[test]
        fn agrees_with_the_reference_walker_on_bytes(
            body in proptest::collection::vec(prop::sample::select(MUTANTS), 0..120),
            depth in prop_oneof![1usize..6, Just(DEFAULT_MAX_DEPTH)],
            stop_at in prop_oneof![3 => Just(0usize), 1 => 1usize..20],
        ) {
            prop_assert_eq!(
                differential::new(&body, depth, stop_at),
                differential::old(&body, depth, stop_at),
                "{:?}", String::from_utf8_lossy(&body)
            );
        }

        #[test]
        fn numbers_end_where_the_reference_says(
            body in proptest::collection::vec(prop::sample::select(b"-+0123456789.eEx ,".to_vec()), 0..16),
        ) {
            let got = match number(&body, 0) {
                Ok(e) => Ok(e),
                Err(NumErr::Truncated) => Err(None),
                Err(NumErr::Invalid(at)) => Err(Some(at)),
            };
            let want = match super::reference::number(&body, 0) {
                Ok(e) => Ok(e),
                Err(super::reference::NumErr::Truncated) => Err(None),
                Err(super::reference::NumErr::Invalid(at)) => Err(Some(at)),
            };
            prop_assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&body));
        }

        #[test]
        fn plain_run_is_the_byte_loop(body in proptest::collection::vec(prop::sample::select(MUTANTS), 0..40), from in 0usize..40) {
            let from = from.min(body.len());
            let want = from + body[from..].iter().take_while(|&&b| !STR_STOP[b as usize]).count();
            prop_assert_eq!(plain_run(&body, from), want);
        }
    }

    /// Every lead byte with every second byte, and the bytes around the continuation
    /// range after them, whole and cut: the UTF-8 test is the standard library's.
    #[test]
    fn utf8_test_is_the_reference() {
        let edges = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff];
        for lead in 0..=255u8 {
            for second in 0..=255u8 {
                for third in edges {
                    for fourth in edges {
                        let s = [lead, second, third, fourth];
                        for n in 0..=4 {
                            assert_eq!(
                                utf8_len(&s[..n]),
                                super::reference::utf8_len(&s[..n]),
                                "{:x?}",
                                &s[..n]
                            );
                        }
                    }
                }
            }
        }
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            "\\PC{0,12}".prop_map(serde_json::Value::String),
            "[a-z\"\\\\\n\t\u{1}\u{7f}é中😀/ ]{0,10}".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                proptest::collection::vec(
                    ("[a-z]{1,4}|e[a-z\"\\\\é]{0,3}|[a-z]{5,12}", inner),
                    0..4
                )
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
            ]
        })
    }
}
