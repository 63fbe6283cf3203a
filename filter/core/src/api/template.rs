//! Endpoint templates: the declared `apis.templates` first, then heuristics that turn
//! value-like path segments into `{int}`, `{uuid}`, `{hex}`, `{date}`, `{email}` and
//! `{id}`. The template, not the raw path, is what events, stats and rules see.
//!
//! # Declared templates
//!
//! When several declared templates fit a path, the **most specific** wins: templates
//! are compared segment by segment from the left and a literal beats a parameter at
//! the first difference (`/users/me` beats `/users/{id}` for `/users/me`, whatever the
//! methods); between templates of equal shape a method-qualified one (`GET /users/{id}`)
//! beats an any-method one (`/users/{uid}`); then the first declared wins. A trailing
//! `/` of the path is ignored (as in [`crate::matcher::Template::matches`]). The output
//! is the template as written in the configuration.
//!
//! # Heuristics
//!
//! Each segment of an undeclared path is classified by [`classify`], in this order:
//!
//! | segment | becomes |
//! |---|---|
//! | a placeholder already (`{name}`) | itself (templating is idempotent) |
//! | longer than 256 bytes | `{id}` |
//! | `YYYYMMDD` with a valid date (1900–2199) | `{date}` |
//! | digits only | `{int}` |
//! | `8-4-4-4-12` hex digits, any case | `{uuid}` |
//! | `YYYY-MM-DD`, optionally followed by `T` and a time | `{date}` |
//! | `local@domain.tld` | `{email}` |
//! | only hex digits: ≥ 16 of them, or ≥ 12 mixing digits and letters | `{hex}` |
//! | a version: `v1`, `V3`, `v2beta1`, `v1.2` | literal |
//! | a character outside `A-Za-z0-9-._~!$&'()*+,=:@` (non-ASCII text, spaces, kept escapes such as `%2F`) | `{id}` (free text and names are values, and must not reach events or stats in clear) |
//! | no letter but digits (`3.14`, `1-2`, `10.0.0.1`), except short versions (`1.0`, `2.1.3`) | `{id}` |
//! | ≥ 6 bytes with a digit, where a token between `-_.~:` etc. is not word-like | `{id}` |
//! | ≥ 20 bytes, both cases each ≥ ¼ of the letters (base64url-looking) | `{id}` |
//! | anything else (`users`, `orderItems`, `checkout-v2`, `oauth2`, `x86_64`) | literal |
//!
//! A token is word-like when it is a version (`v1beta1`), letters followed by at most
//! three digits (`sha256`, `ipv6`), at most three digits followed by letters (`2fa`), at
//! most two digits (`item-5`), or letter runs of three or more with digit runs of at
//! most three between them (`getV2Users`). So `a1b2c3`, `ord_9xk2p`, `INV-000123`, `user1234` and
//! `123.png` become `{id}`, while `user42` stays literal (documented limit: names,
//! slugs and short mixed words cannot be told from resources; declare a template).
//!
//! The output drops a trailing `/` (`/users/` → `/users`), skips empty segments, keeps
//! at most 32 segments and 512 bytes: what does not fit becomes one final `/{rest}`.
//! The output never holds a raw all-digit or hex-digest segment, and templating a
//! template yields itself.

use crate::config::ApisPolicy;
use crate::matcher::{Segment, Template};
use crate::text::is_uuid;
use std::cmp::Reverse;
use std::collections::BTreeMap;

/// At most this many segments are templated; the rest become `/{rest}`.
pub const MAX_SEGMENTS: usize = 32;
/// Longer segments are `{id}` without further inspection.
pub const MAX_SEGMENT_LEN: usize = 256;
/// Bound of a heuristic template's length.
pub const MAX_TEMPLATE_LEN: usize = 512;
/// At most this many parameter values are reported per match.
pub const MAX_PARAMS: usize = 4;
/// The placeholder of what is cut by the bounds.
pub const REST: &str = "{rest}";

/// What a templated segment looked like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ParamKind {
    /// Digits only.
    Int,
    /// A UUID.
    Uuid,
    /// A hex digest or hex id.
    Hex,
    /// A date (`2024-01-31`, `20240131`).
    Date,
    /// An e-mail address.
    Email,
    /// Another opaque identifier or free-text value.
    Id,
    /// A parameter of a declared template whose value the heuristics would keep.
    Declared,
}

impl ParamKind {
    /// The placeholder written into heuristic templates (`{int}`, ...); `{param}` for
    /// [`ParamKind::Declared`], which never appears in a heuristic template.
    pub const fn placeholder(self) -> &'static str {
        match self {
            ParamKind::Int => "{int}",
            ParamKind::Uuid => "{uuid}",
            ParamKind::Hex => "{hex}",
            ParamKind::Date => "{date}",
            ParamKind::Email => "{email}",
            ParamKind::Id => "{id}",
            ParamKind::Declared => "{param}",
        }
    }
}

/// One templated segment of a request: where it is and what it held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Param {
    /// Segment position, 0-based (`/users/7` → 1).
    pub position: u16,
    /// Byte range of the value in the normalised path given to
    /// [`Templater::template`].
    pub start: u32,
    /// End of the byte range (exclusive).
    pub end: u32,
    /// What the value looked like; `None` only for the unused slots.
    pub kind: Option<ParamKind>,
}

impl Param {
    /// The raw value, read back from the normalised path the match was made on.
    pub fn value<'a>(&self, path: &'a str) -> &'a str {
        path.get(self.start as usize..self.end as usize)
            .unwrap_or("")
    }
}

/// The result of templating one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Match {
    /// A declared template matched.
    pub declared: bool,
    /// Index of that template in `apis.templates` (configuration order).
    pub declared_index: Option<usize>,
    params: [Param; MAX_PARAMS],
    n_params: u8,
}

impl Match {
    /// The templated segments in path order (at most [`MAX_PARAMS`]).
    pub fn params(&self) -> &[Param] {
        self.params.get(..usize::from(self.n_params)).unwrap_or(&[])
    }

    /// The parameter to watch for enumeration (object walking): the first one that is
    /// not a date. `(position, value)` via [`Param::position`] and [`Param::value`].
    pub fn primary(&self) -> Option<&Param> {
        self.params()
            .iter()
            .find(|p| p.kind != Some(ParamKind::Date))
    }

    fn push(&mut self, position: usize, start: usize, end: usize, kind: ParamKind) {
        let n = usize::from(self.n_params);
        if let Some(slot) = self.params.get_mut(n) {
            *slot = Param {
                position: u16::try_from(position).unwrap_or(u16::MAX),
                start: u32::try_from(start).unwrap_or(u32::MAX),
                end: u32::try_from(end).unwrap_or(u32::MAX),
                kind: Some(kind),
            };
            self.n_params += 1;
        }
    }
}

#[derive(Debug, Clone)]
struct Declared {
    index: usize,
    method: Option<String>,
    template: Template,
}

#[derive(Debug, Clone, Default)]
struct Bucket {
    /// Templates whose first segment is this literal, most specific first.
    literal_first: BTreeMap<String, Vec<u32>>,
    /// Templates whose first segment is a parameter (or that have no segment).
    param_first: Vec<u32>,
}

/// Endpoint templater, compiled once per configuration.
#[derive(Debug, Clone, Default)]
pub struct Templater {
    declared: Vec<Declared>,
    /// By segment count (0..=MAX_SEGMENTS).
    buckets: Vec<Bucket>,
    /// Declared templates longer than [`MAX_SEGMENTS`], most specific first.
    long: Vec<u32>,
}

impl Templater {
    /// Compiles the declared templates of `apis`.
    pub fn new(apis: &ApisPolicy) -> Self {
        let mut order: Vec<usize> = (0..apis.templates.len()).collect();
        let key = |i: usize| {
            apis.templates.get(i).map(|(m, t)| {
                let shape: Vec<bool> = t
                    .segments()
                    .iter()
                    .map(|s| matches!(s, Segment::Literal(_)))
                    .collect();
                (Reverse(shape), m.is_none(), i)
            })
        };
        order.sort_by_key(|&i| key(i));
        let mut declared = Vec::with_capacity(order.len());
        let mut buckets = vec![Bucket::default(); MAX_SEGMENTS + 1];
        let mut long = Vec::new();
        for i in order {
            let Some((method, template)) = apis.templates.get(i) else {
                continue;
            };
            let id = u32::try_from(declared.len()).unwrap_or(u32::MAX);
            let segs = template.segments();
            match buckets.get_mut(segs.len()) {
                Some(b) => match segs.first() {
                    Some(Segment::Literal(l)) => {
                        b.literal_first.entry(l.clone()).or_default().push(id)
                    }
                    _ => b.param_first.push(id),
                },
                None => long.push(id),
            }
            declared.push(Declared {
                index: i,
                method: method.clone(),
                template: template.clone(),
            });
        }
        Self {
            declared,
            buckets,
            long,
        }
    }

    /// Whether any template is declared.
    pub fn has_declared(&self) -> bool {
        !self.declared.is_empty()
    }

    /// Templates a normalised path: the most specific declared template first, else
    /// the heuristics. Writes the template into `out` (cleared first; no allocation
    /// when its capacity suffices, 512 bytes always do for heuristic templates).
    pub fn template(&self, method: &str, normalized_path: &str, out: &mut String) -> Match {
        out.clear();
        let path = normalized_path;
        if self.has_declared() {
            let mut ranges = [(0usize, 0usize); MAX_SEGMENTS + 1];
            let n = split_segments(path, &mut ranges);
            if let Some(m) = self.declared_match(method, path, &ranges, n, out) {
                return m;
            }
        }
        heuristic(path, out)
    }

    fn declared_match(
        &self,
        method: &str,
        path: &str,
        ranges: &[(usize, usize)],
        n: usize,
        out: &mut String,
    ) -> Option<Match> {
        let method_ok = |d: &Declared| d.method.as_deref().is_none_or(|m| m == method);
        let seg = |k: usize| {
            ranges
                .get(k)
                .and_then(|&(s, e)| path.get(s..e))
                .unwrap_or("")
        };
        if n > MAX_SEGMENTS {
            // Slow path for very long paths: full matcher, no parameter values.
            let d = self
                .long
                .iter()
                .filter_map(|&id| self.declared.get(id as usize))
                .find(|d| method_ok(d) && d.template.matches(path))?;
            out.push_str(d.template.as_str());
            return Some(Match {
                declared: true,
                declared_index: Some(d.index),
                ..Match::default()
            });
        }
        let bucket = self.buckets.get(n)?;
        let first = bucket
            .literal_first
            .get(seg(0))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let fits = |d: &Declared| {
            method_ok(d)
                && d.template
                    .segments()
                    .iter()
                    .enumerate()
                    .all(|(k, s)| match s {
                        Segment::Literal(l) => l == seg(k),
                        Segment::Param(_) => !seg(k).is_empty(),
                    })
        };
        let d = first
            .iter()
            .chain(bucket.param_first.iter())
            .filter_map(|&id| self.declared.get(id as usize))
            .find(|d| fits(d))?;
        out.push_str(d.template.as_str());
        let mut m = Match {
            declared: true,
            declared_index: Some(d.index),
            ..Match::default()
        };
        for (k, s) in d.template.segments().iter().enumerate() {
            if let (Segment::Param(_), Some(&(start, end))) = (s, ranges.get(k)) {
                let kind = path
                    .get(start..end)
                    .and_then(classify)
                    .unwrap_or(ParamKind::Declared);
                m.push(k, start, end, kind);
            }
        }
        Some(m)
    }
}

/// Splits a normalised path into segment byte ranges (one trailing `/` ignored).
/// Returns the segment count, which may exceed what `ranges` holds.
fn split_segments(path: &str, ranges: &mut [(usize, usize)]) -> usize {
    let body_start = usize::from(path.starts_with('/'));
    let body_end = if path.len() > body_start && path.ends_with('/') {
        path.len() - 1
    } else {
        path.len()
    };
    let Some(body) = path.get(body_start..body_end) else {
        return 0;
    };
    if body.is_empty() {
        return 0;
    }
    let mut n = 0;
    let mut start = body_start;
    for part in crate::text::split_ascii(body, b'/') {
        if let Some(r) = ranges.get_mut(n) {
            *r = (start, start + part.len());
        }
        start += part.len() + 1;
        n += 1;
    }
    n
}

/// Heuristic template of a normalised path (see the module documentation).
pub fn heuristic(path: &str, out: &mut String) -> Match {
    out.clear();
    let mut m = Match::default();
    let mut start = 0;
    let mut position = 0;
    for part in crate::text::split_ascii(path, b'/') {
        let s = start;
        start += part.len() + 1;
        if part.is_empty() {
            continue;
        }
        if position == MAX_SEGMENTS {
            out.push('/');
            out.push_str(REST);
            break;
        }
        let kind = classify(part);
        let piece: &str = match kind {
            Some(k) => k.placeholder(),
            None => part,
        };
        if out.len() + 1 + piece.len() + 1 + REST.len() > MAX_TEMPLATE_LEN {
            out.push('/');
            out.push_str(REST);
            break;
        }
        out.push('/');
        out.push_str(piece);
        if let Some(k) = kind {
            m.push(position, s, s + part.len(), k);
        }
        position += 1;
    }
    if out.is_empty() {
        out.push('/');
    }
    m
}

/// Classifies one (normalised) path segment: `Some(kind)` when it is a value to be
/// replaced by a placeholder, `None` when it stays literal. See the module table.
pub fn classify(seg: &str) -> Option<ParamKind> {
    let b = seg.as_bytes();
    let len = b.len();
    if len == 0 {
        return None;
    }
    if len > MAX_SEGMENT_LEN {
        return Some(ParamKind::Id);
    }
    // One pass: which kinds of bytes the segment holds, and how many digits. The
    // letter cases are only counted for the one rule that needs them (long segments).
    let (mut kinds, mut digits) = (0u8, 0usize);
    for &c in b {
        let k = CLASS[usize::from(c)];
        kinds |= k;
        // `C_DIGIT` is bit 0 (asserted below): the masked bit is the count (`!= 0`
        // costs an instruction per byte more in Wasm).
        digits += usize::from(k & C_DIGIT);
    }
    if digits == len {
        if len == 8 && is_compact_date(b) {
            return Some(ParamKind::Date);
        }
        return Some(ParamKind::Int);
    }
    if kinds & C_ODD != 0 {
        // `{name}` placeholders stay (idempotence); other text is a value.
        return (!is_placeholder(b)).then_some(ParamKind::Id);
    }
    if len == 36 && is_uuid(b) {
        return Some(ParamKind::Uuid);
    }
    if digits >= 8 && is_iso_date(b) {
        return Some(ParamKind::Date);
    }
    // `is_email` takes the first `@` and allows none in the domain: exactly one.
    if kinds & C_AT != 0 && is_email(b) {
        return Some(ParamKind::Email);
    }
    // `is_hex_digest` checks that every byte is a hex digit, and wants 12 at least.
    if len >= 12 && is_hex_digest(b) {
        return Some(ParamKind::Hex);
    }
    if digits > 0 && matches!(b.first(), Some(b'v' | b'V')) && is_version(b) {
        return None;
    }
    if kinds & (C_UPPER | C_LOWER) == 0 {
        return (digits > 0 && !is_numeric_version(b)).then_some(ParamKind::Id);
    }
    if digits > 0
        && len >= 6
        && !b
            .split(|&c| !c.is_ascii_alphanumeric())
            .all(|t| t.is_empty() || is_wordish(t) || is_version(t))
    {
        return Some(ParamKind::Id);
    }
    if len >= 20 && kinds & C_UPPER != 0 && kinds & C_LOWER != 0 {
        // Long, both cases heavily mixed: base64url-looking.
        let upper = b.iter().filter(|c| c.is_ascii_uppercase()).count();
        let lower = b.iter().filter(|c| c.is_ascii_lowercase()).count();
        let letters = upper + lower;
        if upper * 4 >= letters && lower * 4 >= letters {
            return Some(ParamKind::Id);
        }
    }
    None
}

const C_DIGIT: u8 = 1;
const _: () = assert!(C_DIGIT == 1, "`classify` adds `k & C_DIGIT` as a count");
const C_UPPER: u8 = 2;
const C_LOWER: u8 = 4;
const C_HEX_LETTER: u8 = 8;
const C_AT: u8 = 16;
/// Outside `A-Za-z0-9-._~!$&'()*+,=:@`.
const C_ODD: u8 = 32;

/// Byte classes for [`classify`].
static CLASS: [u8; 256] = {
    let mut t = [C_ODD; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        t[c] = match b {
            b'0'..=b'9' => C_DIGIT,
            b'a'..=b'f' => C_LOWER | C_HEX_LETTER,
            b'A'..=b'F' => C_UPPER | C_HEX_LETTER,
            b'g'..=b'z' => C_LOWER,
            b'G'..=b'Z' => C_UPPER,
            b'@' => C_AT,
            b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+'
            | b',' | b'=' | b':' => 0,
            _ => C_ODD,
        };
        c += 1;
    }
    t
};

/// Whether a heuristic classifier would turn this segment into a placeholder: the
/// "raw value" predicate used by tests and by detectors.
pub fn is_value_segment(seg: &str) -> bool {
    classify(seg).is_some()
}

/// `{name}` with a name of 1 to 64 of `[A-Za-z0-9_-]`.
fn is_placeholder(b: &[u8]) -> bool {
    match b {
        [b'{', inner @ .., b'}'] => {
            (1..=64).contains(&inner.len())
                && inner
                    .iter()
                    .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        }
        _ => false,
    }
}

fn digits_value(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        b.iter()
            .fold(0u32, |acc, &c| acc.saturating_mul(10) + u32::from(c - b'0')),
    )
}

fn valid_ymd(y: u32, m: u32, d: u32) -> bool {
    let max_day = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
        _ => return false,
    };
    (1900..=2199).contains(&y) && (1..=max_day).contains(&d)
}

/// `YYYYMMDD`.
fn is_compact_date(b: &[u8]) -> bool {
    match (
        b.get(0..4).and_then(digits_value),
        b.get(4..6).and_then(digits_value),
        b.get(6..8).and_then(digits_value),
    ) {
        (Some(y), Some(m), Some(d)) => b.len() == 8 && valid_ymd(y, m, d),
        _ => false,
    }
}

/// `YYYY-MM-DD`, optionally followed by `T` or `t` and a time of digits, `:`, `.`,
/// `+`, `-`, `Z`.
fn is_iso_date(b: &[u8]) -> bool {
    if b.len() < 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (
        b.get(0..4).and_then(digits_value),
        b.get(5..7).and_then(digits_value),
        b.get(8..10).and_then(digits_value),
    ) else {
        return false;
    };
    if !valid_ymd(y, m, d) {
        return false;
    }
    match b.get(10..) {
        None | Some([]) => true,
        Some([b'T' | b't', time @ ..]) => {
            time.first().is_some_and(u8::is_ascii_digit)
                && time
                    .iter()
                    .all(|&c| c.is_ascii_digit() || b":.+-Zz".contains(&c))
        }
        _ => false,
    }
}

/// Hex digits only: at least 16, or at least 12 mixing digits and letters.
fn is_hex_digest(b: &[u8]) -> bool {
    if !b.iter().all(u8::is_ascii_hexdigit) {
        return false;
    }
    let digit = b.iter().any(u8::is_ascii_digit);
    let letter = b.iter().any(u8::is_ascii_alphabetic);
    b.len() >= 16 || (b.len() >= 12 && digit && letter)
}

/// `local@domain.tld` with a plain local part and letter TLD.
fn is_email(b: &[u8]) -> bool {
    let Some(at) = b.iter().position(|&c| c == b'@') else {
        return false;
    };
    let (Some(local), Some(domain)) = (b.get(..at), b.get(at + 1..)) else {
        return false;
    };
    if local.is_empty()
        || local.len() > 64
        || !local
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"._+-".contains(&c))
    {
        return false;
    }
    let mut labels = 0;
    let mut tld: &[u8] = &[];
    for label in domain.split(|&c| c == b'.') {
        if label.is_empty()
            || !label
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        {
            return false;
        }
        labels += 1;
        tld = label;
    }
    labels >= 2 && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic)
}

/// `v1`, `V3`, `v2beta1`, `v1alpha`, `v1.2`, `v1.2.3`.
fn is_version(b: &[u8]) -> bool {
    let Some((&v, rest)) = b.split_first() else {
        return false;
    };
    if (v != b'v' && v != b'V') || b.len() > 16 {
        return false;
    }
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    let rest = rest.get(digits..).unwrap_or(&[]);
    let letters = rest.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    let rest = rest.get(letters..).unwrap_or(&[]);
    let digits2 = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    let rest = rest.get(digits2..).unwrap_or(&[]);
    if letters == 0 && digits2 > 0 {
        return false;
    }
    // Optional `.N` parts.
    rest.split(|&c| c == b'.')
        .skip(1)
        .all(|p| !p.is_empty() && p.len() <= 4 && p.iter().all(u8::is_ascii_digit))
        && rest.first().is_none_or(|&c| c == b'.')
}

/// `1.0`, `2.1.3`: short numeric versions (parts of at most two, then three digits).
fn is_numeric_version(b: &[u8]) -> bool {
    let mut parts = 0;
    for (i, p) in b.split(|&c| c == b'.').enumerate() {
        let max = if i == 0 { 2 } else { 3 };
        if p.is_empty() || p.len() > max || !p.iter().all(u8::is_ascii_digit) {
            return false;
        }
        parts += 1;
    }
    (2..=3).contains(&parts)
}

/// A word-like alphanumeric token (see the module documentation).
fn is_wordish(t: &[u8]) -> bool {
    let letters = t.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    let tail = t.get(letters..).unwrap_or(&[]);
    if tail.iter().all(u8::is_ascii_digit) {
        // letters then digits: `sha256`, `ipv6`, `64`.
        return if letters == 0 {
            tail.len() <= 2
        } else {
            tail.len() <= 3
        };
    }
    let digits = t.iter().take_while(|c| c.is_ascii_digit()).count();
    let tail = t.get(digits..).unwrap_or(&[]);
    if digits > 0 && digits <= 3 && tail.iter().all(u8::is_ascii_alphabetic) {
        return true; // `2fa`, `3d`
    }
    // Runs: letters ≥ 3, digits ≤ 3 (`getV2Users`).
    let mut run_alpha = None;
    let mut run = 0usize;
    for &c in t {
        let alpha = c.is_ascii_alphabetic();
        if run_alpha == Some(alpha) {
            run += 1;
            continue;
        }
        if let Some(prev) = run_alpha {
            if (prev && run < 3) || (!prev && run > 3) {
                return false;
            }
        }
        run_alpha = Some(alpha);
        run = 1;
    }
    match run_alpha {
        Some(true) => run >= 3,
        Some(false) => run <= 3,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn templater(templates: &[&str]) -> Templater {
        let policy = crate::config::load_value(serde_json::json!({
            "apis": { "templates": templates }
        }))
        .unwrap()
        .policy;
        Templater::new(&policy.apis)
    }

    fn t(path: &str) -> String {
        let mut out = String::new();
        heuristic(path, &mut out);
        out
    }

    #[test]
    fn integers() {
        assert_eq!(t("/users/123"), "/users/{int}");
        assert_eq!(t("/users/456"), "/users/{int}");
        assert_eq!(t("/users/1/orders/2"), "/users/{int}/orders/{int}");
        assert_eq!(t("/page/0"), "/page/{int}");
        assert_eq!(
            t("/tweets/1790412345678901234"),
            "/tweets/{int}",
            "snowflake"
        );
    }

    #[test]
    fn uuids_hex_dates_emails() {
        assert_eq!(
            t("/orders/3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
            "/orders/{uuid}"
        );
        assert_eq!(
            t("/orders/3F2504E0-4F89-11D3-9A0C-0305E82C3301/items"),
            "/orders/{uuid}/items"
        );
        assert_eq!(
            t("/blobs/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            "/blobs/{hex}"
        );
        assert_eq!(t("/commits/5d41402abc4b"), "/commits/{hex}");
        assert_eq!(t("/objects/507f1f77bcf86cd799439011"), "/objects/{hex}");
        assert_eq!(t("/reports/2024-01-31"), "/reports/{date}");
        assert_eq!(t("/reports/20240131"), "/reports/{date}");
        assert_eq!(t("/reports/20241331"), "/reports/{int}", "month 13");
        assert_eq!(t("/reports/2024-02-30"), "/reports/{id}", "no such day");
        assert_eq!(t("/events/2024-01-31T10:00:00Z"), "/events/{date}");
        assert_eq!(t("/users/jane.doe@example.com"), "/users/{email}");
        assert_eq!(t("/users/a@b"), "/users/a@b");
    }

    #[test]
    fn mixed_ids() {
        assert_eq!(t("/x/a1b2c3"), "/x/{id}");
        assert_eq!(t("/orders/ord_9xk2p"), "/orders/{id}");
        assert_eq!(t("/invoices/INV-000123"), "/invoices/{id}");
        assert_eq!(t("/u/user1234"), "/u/{id}");
        assert_eq!(t("/avatars/123.png"), "/avatars/{id}");
        assert_eq!(t("/t/dGhpcyBpcyBhIHRlc3Q"), "/t/{id}");
        assert_eq!(
            t("/t/AbCdEfGhIjKlMnOpQrStUv"),
            "/t/{id}",
            "opaque, no digit"
        );
        assert_eq!(t("/files/my%2Fdoc"), "/files/{id}");
        assert_eq!(t("/people/张三"), "/people/{id}");
        assert_eq!(t("/search/two words"), "/search/{id}");
        assert_eq!(t("/ips/10.0.0.1"), "/ips/{id}");
        assert_eq!(t("/x/ab12"), "/x/ab12", "short mixed stays");
        assert_eq!(t(&format!("/x/{}", "a".repeat(300))), "/x/{id}");
    }

    #[test]
    fn literals_stay() {
        for p in [
            "/users",
            "/api/v1/orderItems",
            "/v2beta1/things",
            "/V3/x",
            "/v1.2/x",
            "/checkout-v2",
            "/oauth2/token",
            "/hash/sha256",
            "/arch/x86_64",
            "/api/getV2Users",
            "/.well-known/openid-configuration",
            "/api/2.0/items",
            "/user42",
            "/2fa/verify",
            "/cafe/deadbeef",
            "/healthz",
            "/XMLHttp",
            "/acme.payments.v1beta1.Payments/Charge",
            "/grpc.health.v1.Health/Check",
        ] {
            assert_eq!(t(p), p, "{p}");
        }
        assert_eq!(t("/"), "/");
        assert_eq!(t(""), "/");
        assert_eq!(t("/users/"), "/users");
    }

    #[test]
    fn bounds() {
        let long: String = (0..40).map(|i| format!("/s{i}x")).collect();
        let out = t(&long);
        assert_eq!(out.split('/').count(), MAX_SEGMENTS + 2);
        assert!(out.ends_with("/{rest}"));
        assert_eq!(t(&out), out);
        let wide: String = (0..10).map(|_| format!("/{}", "w".repeat(200))).collect();
        let out = t(&wide);
        assert!(out.len() <= MAX_TEMPLATE_LEN, "{}", out.len());
        assert!(out.ends_with("/{rest}"));
        assert_eq!(t(&out), out);
    }

    #[test]
    fn params_report_values() {
        let path = "/users/42/orders/2024-01-02/ord_9xk2p";
        let mut out = String::new();
        let m = heuristic(path, &mut out);
        assert!(!m.declared);
        let got: Vec<_> = m
            .params()
            .iter()
            .map(|p| (p.position, p.value(path), p.kind))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, "42", Some(ParamKind::Int)),
                (3, "2024-01-02", Some(ParamKind::Date)),
                (4, "ord_9xk2p", Some(ParamKind::Id)),
            ]
        );
        assert_eq!(m.primary().map(|p| p.value(path)), Some("42"));
    }

    #[test]
    fn declared_templates_win() {
        let tp = templater(&[
            "/users/{id}",
            "GET /users/{uid}",
            "/users/me",
            "POST /orders/{order_id}/items",
            "/",
        ]);
        let mut out = String::with_capacity(64);
        let m = tp.template("GET", "/users/123", &mut out);
        assert_eq!(out, "/users/{uid}", "method-qualified beats any-method");
        assert_eq!(m.declared_index, Some(1));
        assert!(m.declared);
        assert_eq!(m.primary().map(|p| p.value("/users/123")), Some("123"));
        assert_eq!(m.primary().and_then(|p| p.kind), Some(ParamKind::Int));

        let m = tp.template("DELETE", "/users/123", &mut out);
        assert_eq!((out.as_str(), m.declared_index), ("/users/{id}", Some(0)));

        let m = tp.template("GET", "/users/me/", &mut out);
        assert_eq!((out.as_str(), m.declared_index), ("/users/me", Some(2)));
        assert!(m.params().is_empty());

        let m = tp.template("POST", "/orders/abc/items", &mut out);
        assert_eq!(out, "/orders/{order_id}/items");
        assert_eq!(m.params()[0].kind, Some(ParamKind::Declared));

        let m = tp.template("GET", "/orders/7/items", &mut out);
        assert_eq!((out.as_str(), m.declared), ("/orders/{int}/items", false));

        let m = tp.template("GET", "/", &mut out);
        assert_eq!((out.as_str(), m.declared_index), ("/", Some(4)));

        let m = tp.template("GET", "/users/123/x", &mut out);
        assert_eq!((out.as_str(), m.declared), ("/users/{int}/x", false));
    }

    #[test]
    fn literal_beats_param_left_to_right() {
        let tp = templater(&["/{a}/b/{c}", "/{a}/{b}/c", "/x/{b}/{c}"]);
        let mut out = String::new();
        tp.template("GET", "/x/b/c", &mut out);
        assert_eq!(out, "/x/{b}/{c}");
        tp.template("GET", "/y/b/c", &mut out);
        assert_eq!(out, "/{a}/b/{c}");
        tp.template("GET", "/y/z/c", &mut out);
        assert_eq!(out, "/{a}/{b}/c");
    }

    #[test]
    fn no_declared_uses_heuristics() {
        let tp = templater(&[]);
        let mut out = String::new();
        let m = tp.template("GET", "/v1/users/123", &mut out);
        assert_eq!(out, "/v1/users/{int}");
        assert_eq!(m.declared_index, None);
    }

    #[test]
    fn idempotent_examples() {
        for p in ["/users/{int}", "/a/{id}/b", "/{uuid}", "/x/{custom_name}"] {
            assert_eq!(t(p), p);
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{1,20}",
            "[0-9a-f]{8,40}",
            "[0-9A-F]{12,20}",
            "[a-z]{1,12}",
            "[a-zA-Z0-9_-]{1,30}",
            "v[0-9]{1,2}",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}",
            "[a-z]{1,5}@[a-z]{1,5}\\.[a-z]{2,3}",
            "\\{[a-z]{1,6}\\}",
            "[0-9.]{1,8}",
            "\\PC{1,8}",
        ]
    }

    fn path() -> impl Strategy<Value = String> {
        prop::collection::vec(segment(), 0..40).prop_map(|v| {
            let mut s = String::new();
            for seg in v {
                s.push('/');
                s.push_str(&seg);
            }
            s
        })
    }

    /// The classifier as it was before it stopped counting letter cases per byte (every
    /// count taken in one pass): the reference the faster one must agree with.
    fn classify_by_counts(seg: &str) -> Option<ParamKind> {
        let b = seg.as_bytes();
        let len = b.len();
        if len == 0 {
            return None;
        }
        if len > MAX_SEGMENT_LEN {
            return Some(ParamKind::Id);
        }
        let (mut digits, mut upper, mut lower, mut hex_letters, mut at, mut odd) =
            (0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
        for &c in b {
            let k = CLASS[usize::from(c)];
            // `C_DIGIT` is bit 0 (asserted below): the masked bit is the count (`!= 0`
            // costs an instruction per byte more in Wasm).
            digits += usize::from(k & C_DIGIT);
            upper += usize::from(k & C_UPPER != 0);
            lower += usize::from(k & C_LOWER != 0);
            hex_letters += usize::from(k & C_HEX_LETTER != 0);
            at += usize::from(k & C_AT != 0);
            odd += usize::from(k & C_ODD != 0);
        }
        let letters = upper + lower;
        if digits == len {
            if len == 8 && is_compact_date(b) {
                return Some(ParamKind::Date);
            }
            return Some(ParamKind::Int);
        }
        if odd > 0 {
            return (!is_placeholder(b)).then_some(ParamKind::Id);
        }
        if len == 36 && is_uuid(b) {
            return Some(ParamKind::Uuid);
        }
        if digits >= 8 && is_iso_date(b) {
            return Some(ParamKind::Date);
        }
        if at == 1 && is_email(b) {
            return Some(ParamKind::Email);
        }
        if digits + hex_letters == len && is_hex_digest(b) {
            return Some(ParamKind::Hex);
        }
        if digits > 0 && matches!(b.first(), Some(b'v' | b'V')) && is_version(b) {
            return None;
        }
        if letters == 0 {
            return (digits > 0 && !is_numeric_version(b)).then_some(ParamKind::Id);
        }
        if digits > 0
            && len >= 6
            && !b
                .split(|&c| !c.is_ascii_alphanumeric())
                .all(|t| t.is_empty() || is_wordish(t) || is_version(t))
        {
            return Some(ParamKind::Id);
        }
        if len >= 20 && upper * 4 >= letters && lower * 4 >= letters {
            return Some(ParamKind::Id);
        }
        None
    }

    /// Segments near every rule's edges: two `@`, hex of 11 to 17, mixed case around
    /// 20 bytes, dates, versions, placeholders.
    fn edge_segment() -> impl Strategy<Value = String> {
        prop_oneof![
            segment(),
            "[a-z0-9]{0,6}@[a-z0-9@.]{0,10}",
            "[0-9a-fA-F]{10,18}",
            "[a-zA-Z0-9]{18,24}",
            "[A-Z]{1,8}[a-z]{10,20}[0-9]{0,3}",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt]?[0-9:.Z+-]{0,10}",
            "[vV][0-9]{1,3}[a-z]{0,5}[0-9.]{0,6}",
            "[0-9]{8}",
            "[a-z0-9._~!$&'()*+,=:-]{1,30}",
        ]
    }

    proptest! {
        #[test]
        fn idempotent(p in path()) {
            let mut a = String::new();
            let mut b = String::new();
            heuristic(&p, &mut a);
            heuristic(&a, &mut b);
            prop_assert_eq!(a, b);
        }

        #[test]
        fn classify_agrees_with_the_counting_classifier(seg in edge_segment()) {
            prop_assert_eq!(classify(&seg), classify_by_counts(&seg), "{}", seg);
        }

        #[test]
        fn never_raw_numbers_or_digests(p in path()) {
            let mut a = String::new();
            heuristic(&p, &mut a);
            prop_assert!(a.len() <= MAX_TEMPLATE_LEN);
            for seg in a.split('/').filter(|s| !s.is_empty()) {
                prop_assert!(!seg.bytes().all(|c| c.is_ascii_digit()), "{}", seg);
                prop_assert!(!is_hex_digest(seg.as_bytes()), "{}", seg);
                prop_assert!(!is_uuid(seg.as_bytes()), "{}", seg);
            }
        }

        #[test]
        fn normalised_then_templated(raw in any::<String>()) {
            let n = crate::api::normalize(&raw);
            let mut a = String::new();
            let m = heuristic(&n.path, &mut a);
            for p in m.params() {
                prop_assert!(!p.value(&n.path).is_empty());
            }
            let mut b = String::new();
            heuristic(&a, &mut b);
            prop_assert_eq!(a, b);
        }
    }
}
