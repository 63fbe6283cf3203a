//! The classifier: finds validated sensitive values in one value, a JSON body, a form
//! or free text. One pass over the bytes with cheap triggers (token starts, digit runs,
//! `@`, `eyJ`, `AKIA`, `-----BEGIN`, Han province characters) before any validation;
//! regex only for custom types. Key context pushes both ways (see `keys`).

use super::catalog::Builtin as B;
use super::keys::{classify, KeyCache, KeyCtx};
use super::validate::{self as v, Date};
use crate::config::SensitivePolicy;
use crate::json::{Kind, Outcome, Step, Walker};

const NONE: u16 = u16::MAX;

/// One match inside a value: type index and byte range in the (unescaped) value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Match {
    pub idx: u16,
    pub start: u32,
    pub end: u32,
    pub builtin: Option<B>,
}

/// A match handed to callers that need the values (events, tests).
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    /// Type index (see [`Classifier::type_id`]).
    pub type_idx: usize,
    /// The matched text (unescaped for JSON strings).
    pub text: &'a [u8],
    /// The whole value the match was found in.
    pub value: &'a [u8],
    /// The key of the value, when known.
    pub key: Option<&'a [u8]>,
}

/// Where a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Src {
    /// A string (JSON string, form value, header, text).
    Text,
    /// A JSON number literal.
    Number,
}

#[derive(Debug, Clone)]
struct CustomType {
    idx: u16,
    re: regex_lite::Regex,
    keys: Vec<String>,
    validator: String,
}

/// The compiled classifier of one configuration.
#[derive(Debug, Clone)]
pub struct Classifier {
    ids: Vec<String>,
    levels: Vec<u8>,
    slot: [u16; 25],
    custom: Vec<CustomType>,
    ignore_keys: Vec<String>,
}

/// Reusable results and scratch space of scans: counts per type index, the highest
/// level, the total. Keep one per worker/request and `clear()` it; buffers are reused,
/// so the hot path does not allocate per value.
#[derive(Debug, Default)]
pub struct Hits {
    counts: Vec<u32>,
    total: u32,
    max_level: u8,
    pub(crate) scratch: Scratch,
}

/// Buffers reused across values.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub walker: Walker,
    pub matches: Vec<Match>,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub tmp: Vec<u8>,
    pub keys: KeyCache,
}

impl Hits {
    /// Empty hits.
    pub fn new() -> Self {
        Hits::default()
    }
    /// Forgets the counts (keeps the buffers).
    pub fn clear(&mut self) {
        // Every count is 0 while the total is (each match adds to both).
        if self.total != 0 {
            self.counts.fill(0);
        }
        self.total = 0;
        self.max_level = 0;
    }
    /// Matches of type `idx`.
    pub fn count(&self, idx: usize) -> u32 {
        self.counts.get(idx).copied().unwrap_or(0)
    }
    /// Matches per type index (may be shorter than the type count when nothing matched).
    pub fn counts(&self) -> &[u32] {
        &self.counts
    }
    /// All matches.
    pub fn total(&self) -> u32 {
        self.total
    }
    /// Highest level seen (0 = none).
    pub fn max_level(&self) -> u8 {
        self.max_level
    }
    /// Nothing matched.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
    /// `(type index, count)` of the types that matched.
    pub fn types(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        let n = if self.total == 0 {
            0
        } else {
            self.counts.len()
        };
        self.counts
            .get(..n)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (i, *c))
    }
}

/// Counts `matches`. Inline: most values match nothing, and a call costs more than the
/// empty loop.
#[inline(always)]
pub(crate) fn tally(c: &Classifier, counts: &mut Counts, matches: &[Match]) {
    for m in matches {
        counts.add(c, m.idx);
    }
}

/// The counting half of [`Hits`], split off so the scratch can be borrowed at once.
#[derive(Debug)]
pub(crate) struct Counts {
    counts: Vec<u32>,
    total: u32,
    max_level: u8,
}

impl Counts {
    fn add(&mut self, c: &Classifier, idx: u16) {
        let i = idx as usize;
        if self.counts.len() < c.ids.len() {
            self.counts.resize(c.ids.len(), 0);
        }
        if let Some(n) = self.counts.get_mut(i) {
            *n = n.saturating_add(1);
        }
        self.total = self.total.saturating_add(1);
        self.max_level = self.max_level.max(c.level(i));
    }
}

impl Hits {
    /// Moves the counts out (so the scratch can be borrowed alongside), then back.
    pub(crate) fn with_split<R>(&mut self, f: impl FnOnce(&mut Counts, &mut Scratch) -> R) -> R {
        let mut counts = Counts {
            counts: std::mem::take(&mut self.counts),
            total: self.total,
            max_level: self.max_level,
        };
        let r = f(&mut counts, &mut self.scratch);
        self.counts = counts.counts;
        self.total = counts.total;
        self.max_level = counts.max_level;
        r
    }
}

impl Classifier {
    /// Compiles the classifier of a configuration.
    pub fn new(policy: &SensitivePolicy) -> Self {
        let mut ids = Vec::new();
        let mut levels = Vec::new();
        let mut slot = [NONE; 25];
        for (id, level) in &policy.builtins {
            if let Some(b) = B::from_id(id) {
                if let Some(s) = slot.get_mut(b.index()) {
                    *s = ids.len() as u16;
                }
            }
            ids.push((*id).to_string());
            levels.push(*level);
        }
        let mut custom = Vec::new();
        for c in &policy.custom {
            custom.push(CustomType {
                idx: ids.len() as u16,
                re: c.pattern.clone(),
                keys: c.keys.clone(),
                validator: c.validator.clone(),
            });
            ids.push(c.id.clone());
            levels.push(c.level);
        }
        Classifier {
            ids,
            levels,
            slot,
            custom,
            ignore_keys: policy.ignore_keys.clone(),
        }
    }

    /// Number of enabled types (built-ins, then custom types).
    pub fn type_count(&self) -> usize {
        self.ids.len()
    }
    /// Id of type `idx` (`""` out of range).
    pub fn type_id(&self, idx: usize) -> &str {
        self.ids.get(idx).map_or("", String::as_str)
    }
    /// Level of type `idx` (0 out of range).
    pub fn level(&self, idx: usize) -> u8 {
        self.levels.get(idx).copied().unwrap_or(0)
    }
    /// Index of a type id.
    pub fn type_index(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|i| i == id)
    }
    /// The built-in type of an index, if it is one.
    pub fn builtin_of(&self, idx: usize) -> Option<B> {
        B::ALL
            .iter()
            .copied()
            .find(|b| self.slot.get(b.index()).is_some_and(|&s| s as usize == idx))
    }

    pub(crate) fn ignored(&self, key: &[u8]) -> bool {
        !self.ignore_keys.is_empty()
            && self
                .ignore_keys
                .iter()
                .any(|k| k.as_bytes().eq_ignore_ascii_case(key))
    }

    /// Scans one value with its key (JSON key, form field, header name, query
    /// parameter; any case). Ignored keys are skipped.
    pub fn scan_value(&self, key: Option<&str>, value: &[u8], today: Date, hits: &mut Hits) {
        self.scan_value_with(key, value, today, hits, |_| {});
    }

    /// [`Classifier::scan_value`], also handing every match to `on_match`.
    pub fn scan_value_with(
        &self,
        key: Option<&str>,
        value: &[u8],
        today: Date,
        hits: &mut Hits,
        mut on_match: impl FnMut(Found<'_>),
    ) {
        let key = key.map(str::as_bytes);
        if key.is_some_and(|k| self.ignored(k)) {
            return;
        }
        // Header names repeat on every request: the key cache holds them.
        let kc = key
            .map(|k| hits.scratch.keys.get(k, None))
            .unwrap_or_default();
        if self.matches_nothing(&kc, value) {
            return;
        }
        hits.with_split(|counts, s| {
            self.detect(&kc, key, Src::Text, value, today, &mut s.matches);
            tally(self, counts, &s.matches);
            report(&s.matches, value, key, &mut on_match);
        });
    }

    /// Scans a JSON body value by value (strings unescaped, numbers as literals, keys
    /// too), skipping `ignore_keys` subtrees. What the walker could not parse (after a
    /// syntax error, beyond the depth limit, a cut tail) is scanned as text, so a body
    /// that is not JSON after all is still classified.
    pub fn scan_json(&self, body: &[u8], today: Date, hits: &mut Hits) -> Outcome {
        self.scan_json_with(body, today, hits, |_| {})
    }

    /// [`Classifier::scan_json`], also handing every match to `on_match`.
    pub fn scan_json_with(
        &self,
        body: &[u8],
        today: Date,
        hits: &mut Hits,
        on_match: impl FnMut(Found<'_>),
    ) -> Outcome {
        self.scan_json_visiting(body, today, hits, on_match, |_| {})
    }

    /// [`Classifier::scan_json`] that also hands every string value (unescaped, in
    /// order, `ignore_keys` subtrees included) to `on_string`: the injection detectors'
    /// input, so that one walk of a request body serves both. With `ignore_keys` set,
    /// the classification walk skips their subtrees, so a second walk hands out the
    /// strings. The outcome is the walk's (skipping changes what is visited, not how
    /// far the body is valid).
    pub fn scan_json_and_strings(
        &self,
        body: &[u8],
        today: Date,
        hits: &mut Hits,
        mut on_string: impl FnMut(&[u8]),
    ) -> Outcome {
        if self.ignore_keys.is_empty() {
            return self.scan_json_visiting(body, today, hits, |_| {}, on_string);
        }
        let outcome = self.scan_json(body, today, hits);
        hits.scratch.walker.walk(body, |v| {
            if v.kind == Kind::String {
                on_string(v.text);
            }
            Step::Continue
        });
        outcome
    }

    /// The walk of [`Classifier::scan_json_with`]; `on_string` sees every string value
    /// the walk visits (not those under an ignored key).
    fn scan_json_visiting(
        &self,
        body: &[u8],
        today: Date,
        hits: &mut Hits,
        mut on_match: impl FnMut(Found<'_>),
        mut on_string: impl FnMut(&[u8]),
    ) -> Outcome {
        let outcome = hits.with_split(|counts, s| {
            let Scratch {
                walker,
                matches,
                keys,
                ..
            } = s;
            walker.walk(body, |val| {
                if val.kind == Kind::Key
                    && (self.ignored(val.text) || !worth_scanning_key(val.text))
                {
                    return if self.ignored(val.text) {
                        Step::Skip
                    } else {
                        Step::Continue
                    };
                }
                let src = match val.kind {
                    Kind::String => {
                        on_string(val.text);
                        Src::Text
                    }
                    Kind::Key => Src::Text,
                    Kind::Number => Src::Number,
                    _ => return Step::Continue,
                };
                let kc = match (val.kind, val.key) {
                    (Kind::Key, k) => k.map(|k| keys.get(k, None)).unwrap_or_default(),
                    (_, Some(k)) => keys.get(k, val.parent_key),
                    _ => KeyCtx::default(),
                };
                let key = if val.kind == Kind::Key { None } else { val.key };
                self.detect(&kc, key, src, val.text, today, matches);
                tally(self, counts, matches);
                report(matches, val.text, val.key, &mut on_match);
                Step::Continue
            })
        });
        if let Some(at) = outcome.stopped_at() {
            let mut tail = body.get(at..).unwrap_or_default();
            if matches!(outcome, Outcome::Truncated { .. }) {
                // Drop the last, possibly cut word.
                let keep = tail
                    .iter()
                    .rposition(|b| {
                        !b.is_ascii_alphanumeric()
                            && !matches!(b, b'.' | b'-' | b'_' | b'@' | b'+' | b'/' | b'=' | b':')
                    })
                    .unwrap_or(0);
                tail = tail.get(..keep).unwrap_or_default();
            }
            self.scan_text_with(tail, today, hits, on_match);
        }
        outcome
    }

    /// Scans a query string or an `application/x-www-form-urlencoded` body: each value
    /// percent-decoded (`+` as space) with its decoded name as key.
    pub fn scan_form(&self, body: &[u8], today: Date, hits: &mut Hits) {
        self.scan_form_with(body, today, hits, |_| {});
    }

    /// [`Classifier::scan_form`], also handing every match to `on_match`.
    pub fn scan_form_with(
        &self,
        body: &[u8],
        today: Date,
        hits: &mut Hits,
        mut on_match: impl FnMut(Found<'_>),
    ) {
        hits.with_split(|counts, s| {
            let Scratch {
                matches,
                key,
                value,
                keys,
                ..
            } = s;
            for (k, val) in crate::text::form_pairs(body) {
                decode_into(k, key);
                if self.ignored(key) {
                    continue;
                }
                decode_into(val, value);
                let kc = keys.get(key, None);
                self.detect(&kc, Some(key), Src::Text, value, today, matches);
                tally(self, counts, matches);
                report(matches, value, Some(key), &mut on_match);
            }
        });
    }

    /// Scans free text (text/plain, XML, multipart fallback): `key=value`, `key: value`
    /// and `<key>value</key>` pairs give key context; elsewhere context words nearby.
    pub fn scan_text(&self, text: &[u8], today: Date, hits: &mut Hits) {
        self.scan_text_with(text, today, hits, |_| {});
    }

    /// [`Classifier::scan_text`], also handing every match to `on_match`.
    pub fn scan_text_with(
        &self,
        text: &[u8],
        today: Date,
        hits: &mut Hits,
        mut on_match: impl FnMut(Found<'_>),
    ) {
        hits.with_split(|counts, s| {
            self.detect_text(text, today, &mut s.matches);
            tally(self, counts, &s.matches);
            report(&s.matches, text, None, &mut on_match);
        });
    }

    /// Text detection: keyed pairs first, then the generic pass; generic matches
    /// overlapping a keyed one are dropped. Matches sorted by start.
    pub(crate) fn detect_text(&self, text: &[u8], today: Date, out: &mut Vec<Match>) {
        out.clear();
        keyed_pairs(text, |k, s, e| {
            let kc = classify(k, None);
            if kc.pos & WHOLE != 0 {
                let mut d = Det {
                    c: self,
                    v: text.get(..e).unwrap_or_default(),
                    key: &kc,
                    number: false,
                    today,
                    out: &mut *out,
                };
                d.whole(s, e);
            }
        });
        let keyed = out.len();
        let mut d = Det {
            c: self,
            v: text,
            key: &KeyCtx::default(),
            number: false,
            today,
            out: &mut *out,
        };
        d.run();
        // Drop generic matches inside keyed ones.
        let mut i = keyed;
        while i < out.len() {
            let m = out[i];
            let overlaps = out[..keyed]
                .iter()
                .any(|k| m.start < k.end && k.start < m.end);
            if overlaps {
                out.remove(i);
            } else {
                i += 1;
            }
        }
        self.custom_scan(None, text, today, out);
        out.sort_by_key(|m| (m.start, std::cmp::Reverse(m.end)));
    }

    /// Finds the matches of one value. Matches are sorted by start.
    pub(crate) fn detect(
        &self,
        kc: &KeyCtx,
        key: Option<&[u8]>,
        src: Src,
        value: &[u8],
        today: Date,
        out: &mut Vec<Match>,
    ) {
        if self.matches_nothing(kc, value) {
            out.clear();
            return;
        }
        self.detect_all(kc, key, src, value, today, out);
    }

    /// True when `value` under a key of context `kc` can match no type, known without
    /// the token pass: short ASCII words and numbers (path segments, ids, enums, counts)
    /// match no built-in type but the key-based ones (`whole`): the shortest other
    /// pattern is 9 characters (`us_ssn`), and every type under 9 needs a key, a
    /// separator or a non-ASCII character. Custom types may match anything, so they
    /// never skip. (`short_plain_values_match_nothing` checks this against the full
    /// pass.)
    ///
    /// Longer values skip when they are prose ([`is_prose`]): every built-in type but
    /// the key-based ones needs a digit, a separator other than a space, comma or full
    /// stop, a non-ASCII character, or two upper-case letters in a row (`AKIA…`,
    /// `AIza…`, `LTAI…`) or one inside a word (`eyJ…`). (`prose_matches_nothing` checks
    /// this against the full pass.)
    fn matches_nothing(&self, kc: &KeyCtx, value: &[u8]) -> bool {
        kc.pos & WHOLE == 0
            && !kc.name_weak
            && self.custom.is_empty()
            && if value.len() <= SHORT_PLAIN {
                value.iter().all(u8::is_ascii_alphanumeric)
            } else {
                is_prose(value)
            }
    }

    /// [`Classifier::detect`] without the short-value shortcut.
    fn detect_all(
        &self,
        kc: &KeyCtx,
        key: Option<&[u8]>,
        src: Src,
        value: &[u8],
        today: Date,
        out: &mut Vec<Match>,
    ) {
        out.clear();
        if value.is_empty() {
            return;
        }
        // An id-like key voids weak matches in id-like values, not in free text.
        let text_kc;
        let kc = if kc.neg && crate::text::has_byte(value, b' ') {
            text_kc = KeyCtx { neg: false, ..*kc };
            &text_kc
        } else {
            kc
        };
        let mut d = Det {
            c: self,
            v: value,
            key: kc,
            number: src == Src::Number,
            today,
            out: &mut *out,
        };
        if (kc.pos & WHOLE != 0 || kc.name_weak) && d.whole(0, value.len()) {
            return;
        }
        d.run();
        if !self.custom.is_empty() {
            self.custom_scan(key, value, today, out);
        }
        if out.len() > 1 {
            out.sort_by_key(|m| (m.start, std::cmp::Reverse(m.end)));
        }
    }

    fn custom_scan(&self, key: Option<&[u8]>, value: &[u8], today: Date, out: &mut Vec<Match>) {
        if self.custom.is_empty() {
            return;
        }
        for c in &self.custom {
            let keyed = key.is_some_and(|k| {
                c.keys
                    .iter()
                    .any(|ck| ck.as_bytes().eq_ignore_ascii_case(k))
            });
            // Patterns run on each valid UTF-8 run of the value, so match offsets are
            // offsets in the raw bytes (invalid bytes, say Latin-1 text, never make a
            // match cover more than what the pattern matched).
            let mut base = 0usize;
            for chunk in value.utf8_chunks() {
                let text = chunk.valid();
                for m in c.re.find_iter(text) {
                    if keyed || v::by_name(&c.validator, m.as_str().as_bytes(), today) {
                        out.push(Match {
                            idx: c.idx,
                            start: (base + m.start()) as u32,
                            end: (base + m.end()) as u32,
                            builtin: None,
                        });
                    }
                }
                base += text.len() + chunk.invalid().len();
            }
        }
    }
}

/// Keys are scanned only when they could hold a value (digits, `@`, non-ASCII): plain
/// identifiers never match a type without a key of their own.
pub(crate) fn worth_scanning_key(k: &[u8]) -> bool {
    // Eight bytes at a time: every JSON key of a body passes here.
    use crate::text::swar::{between, zero_bytes, HIGH, ONES};
    crate::text::swar::any(k, |x| {
        let digit = between(x & !HIGH, x, b'0' - 1, b'9' + 1);
        let at = zero_bytes(x ^ (ONES * u64::from(b'@')));
        digit | at | (x & HIGH)
    })
}

fn report(
    matches: &[Match],
    value: &[u8],
    key: Option<&[u8]>,
    on_match: &mut impl FnMut(Found<'_>),
) {
    for m in matches {
        on_match(Found {
            type_idx: m.idx as usize,
            text: value
                .get(m.start as usize..m.end as usize)
                .unwrap_or_default(),
            value,
            key,
        });
    }
}

/// Percent-decodes (`+` as space) into a reused buffer.
fn decode_into(src: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < src.len() {
        let b = src[i];
        if b == b'%' {
            let h = src.get(i + 1).and_then(|c| (*c as char).to_digit(16));
            let l = src.get(i + 2).and_then(|c| (*c as char).to_digit(16));
            if let (Some(h), Some(l)) = (h, l) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if b == b'+' { b' ' } else { b });
        i += 1;
    }
}

/// Finds `key=value`, `key: value`, `"key": "value"` and `<key>value<` pairs in text;
/// calls `f(key, value_start, value_end)`.
fn keyed_pairs(t: &[u8], mut f: impl FnMut(&[u8], usize, usize)) {
    let n = t.len();
    let mut i = 0;
    while i < n {
        let b = t[i];
        let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c >= 0x80;
        if !ident(b) || (i > 0 && ident(t[i - 1])) {
            i += 1;
            continue;
        }
        let ks = i;
        while i < n && ident(t[i]) {
            i += 1;
        }
        let ke = i;
        if ke - ks > 40 {
            continue;
        }
        let mut j = ke;
        if t.get(j) == Some(&b'"') || t.get(j) == Some(&b'\'') {
            j += 1;
        }
        while t.get(j) == Some(&b' ') {
            j += 1;
        }
        let sep = t.get(j).copied().unwrap_or(0);
        let tag = sep == b'>' && ks > 0 && t[ks - 1] == b'<';
        let fullwidth = t.get(j..j + 3) == Some("：".as_bytes());
        if !(sep == b'=' || sep == b':' || tag || fullwidth) {
            continue;
        }
        j += if fullwidth { 3 } else { 1 };
        while matches!(t.get(j), Some(b' ' | b'"' | b'\'')) {
            j += 1;
        }
        let vs = j;
        let stop: &[u8] = if tag { b"<" } else { b"&\n\r<,;\"'" };
        while j < n && !stop.contains(&t[j]) {
            j += 1;
        }
        let mut ve = j;
        while ve > vs && t[ve - 1] == b' ' {
            ve -= 1;
        }
        if ve > vs {
            f(&t[ks..ke], vs, ve);
        }
        i = ke;
    }
}

/// Whether `v` is ASCII words of letters separated by spaces, commas and full stops,
/// each word lower-case or capitalised (an upper-case letter only after a byte that is
/// not a letter). Eight bytes at a time (every value longer than [`SHORT_PLAIN`] passes
/// here; the range tests are exact per byte as bytes with the high bit set are excluded
/// first); stops at the first eight-byte chunk with another byte.
fn is_prose(v: &[u8]) -> bool {
    use crate::text::swar::{between, HIGH};
    let mut letter_before = false;
    let mut i = 0;
    while let Some(chunk) = v.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let low = x & !HIGH;
        let lower = between(low, x, b'a' - 1, b'z' + 1);
        let upper = between(low, x, b'A' - 1, b'Z' + 1);
        let sep = between(low, x, b' ' - 1, b' ' + 1)
            | between(low, x, b',' - 1, b',' + 1)
            | between(low, x, b'.' - 1, b'.' + 1);
        let letters = lower | upper;
        if !(letters | sep) & HIGH != 0 {
            return false;
        }
        let after_letter = letters << 8 | if letter_before { 0x80 } else { 0 };
        if upper & after_letter != 0 {
            return false;
        }
        letter_before = letters >> 63 != 0;
        i += 8;
    }
    prose_bytes(v.get(i..).unwrap_or_default(), letter_before)
}

/// [`is_prose`] byte by byte, `letter_before` telling whether a letter came before `v`.
fn prose_bytes(v: &[u8], mut letter_before: bool) -> bool {
    for &b in v {
        match b {
            b'a'..=b'z' => letter_before = true,
            b'A'..=b'Z' if !letter_before => letter_before = true,
            b' ' | b',' | b'.' => letter_before = false,
            _ => return false,
        }
    }
    true
}

/// Longest value that [`Classifier::detect`] skips when it is ASCII letters and digits
/// only and no key-based type applies, in bytes.
const SHORT_PLAIN: usize = 8;

/// Types decided by the key on the whole value.
const WHOLE: u32 = B::Password.bit()
    | B::CardSecurityCode.bit()
    | B::DateOfBirth.bit()
    | B::CnName.bit()
    | B::Address.bit();

/// Context words that may stand in for a key, looked for shortly before a candidate.
fn context_words(t: B) -> &'static [&'static str] {
    match t {
        B::CnPassport => &["passport", "护照"],
        B::CnHkMacauPermit => &["permit", "港澳", "通行证", "hkmacau", "hk/macau"],
        B::Imei => &["imei", "meid"],
        B::CnResidentId => &[
            "身份证",
            "id card",
            "idcard",
            "id_card",
            "id no",
            "identity",
            "sfz",
            "证件",
        ],
        B::UsSsn => &["ssn", "social security"],
        B::CnLandline => &["tel", "电话", "座机", "phone", "fax", "传真", "landline"],
        _ => &[],
    }
}

fn window_has(v: &[u8], pos: usize, words: &[&str]) -> bool {
    let w = v.get(pos.saturating_sub(40)..pos).unwrap_or_default();
    words.iter().any(|word| {
        let p = word.as_bytes();
        p.len() <= w.len() && w.windows(p.len()).any(|x| x.eq_ignore_ascii_case(p))
    })
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// Byte classes of [`Det::run`]: where a token starts, and what it starts with.
const SKIP: u8 = 0;
const ALNUM: u8 = 1;
const SPECIAL: u8 = 2;
static RUN_CLASS: [u8; 256] = {
    let mut t = [SKIP; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_alphanumeric() {
            ALNUM
        } else if matches!(b, b'@' | b'-' | b':' | 0xE4..=0xE9) {
            SPECIAL
        } else {
            SKIP
        };
        i += 1;
    }
    t
};

/// Whether a token `t` of letters and digits (not all digits) followed by the byte
/// `next` is sure to match nothing in [`Det::mixed`], known from its first byte and
/// length alone: every type there needs an upper-case first letter (IBAN, passports,
/// permits, `AKIA`/`AIza`/`LTAI` keys), `eyJ` (JWT), `g`/`x`/`s` (token prefixes), a
/// `b` and 14+ characters (bech32), a `1`/`3` and 26 to 35 (base58), 18 characters
/// (USCC), or a short hex group before `:` or `-` (IPv6, MAC).
/// Most words of prose, URLs and hex ids are none of these (`mixed_shortcut_is_sound`
/// checks the claim against the full pass).
fn mixed_cannot_match(t: &[u8], next: u8) -> bool {
    let n = t.len();
    let Some(&first) = t.first() else {
        return true;
    };
    if n == 18 || (n <= 4 && matches!(next, b':' | b'-')) {
        return false;
    }
    match first {
        b'e' => !t.starts_with(b"eyJ"),
        b'b' => n < 14,
        b'g' | b'x' | b's' => false,
        b'a'..=b'z' | b'0' | b'2' | b'4'..=b'9' => true,
        b'1' | b'3' => !(26..=35).contains(&n),
        _ => false,
    }
}

/// The end of the run of ASCII letters and digits starting at `i` (`i` itself when
/// `v[i]` is none): eight bytes per step (SWAR range tests, exact per byte because
/// bytes with the high bit set are excluded first), then byte by byte.
fn alnum_end(v: &[u8], mut i: usize) -> usize {
    use crate::text::swar::{between, HIGH, ONES};
    while let Some(chunk) = v.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let low = x & !HIGH;
        let digit = between(low, x, b'0' - 1, b'9' + 1);
        let folded = low | (ONES * 0x20);
        let letter = between(folded, x, b'a' - 1, b'z' + 1);
        let stop = !(digit | letter) & HIGH;
        if stop != 0 {
            return i + (stop.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < v.len() && v.get(i).is_some_and(u8::is_ascii_alphanumeric) {
        i += 1;
    }
    i
}

struct Det<'a, 'c> {
    c: &'c Classifier,
    v: &'a [u8],
    key: &'a KeyCtx,
    number: bool,
    today: Date,
    out: &'a mut Vec<Match>,
}

impl<'a> Det<'a, '_> {
    fn at(&self, i: usize) -> u8 {
        self.v.get(i).copied().unwrap_or(0)
    }

    fn slice(&self, s: usize, e: usize) -> &'a [u8] {
        self.v.get(s..e).unwrap_or_default()
    }

    fn emit(&mut self, t: B, s: usize, e: usize) {
        let idx = self.c.slot.get(t.index()).copied().unwrap_or(NONE);
        if idx != NONE && s < e {
            self.out.push(Match {
                idx,
                start: s as u32,
                end: e as u32,
                builtin: Some(t),
            });
        }
    }

    fn ctx(&self, t: B, pos: usize) -> bool {
        self.key.names(t) || window_has(self.v, pos, context_words(t))
    }

    /// Key-based types over the whole value `[s, e)`. Returns whether one matched.
    fn whole(&mut self, s: usize, e: usize) -> bool {
        let raw = self.slice(s, e);
        let t = raw.trim_ascii();
        if t.is_empty() {
            return false;
        }
        let lead = raw.len() - raw.trim_ascii_start().len();
        let (ts, te) = (s + lead, s + lead + t.len());
        let k = *self.key;
        if k.names(B::Password) && !t.iter().all(|&b| b == b'*') {
            self.emit(B::Password, ts, te);
            return true;
        }
        if k.names(B::CardSecurityCode)
            && (3..=4).contains(&t.len())
            && t.iter().all(u8::is_ascii_digit)
        {
            self.emit(B::CardSecurityCode, ts, te);
            return true;
        }
        if k.names(B::DateOfBirth) && v::birth_date(t, self.today) {
            self.emit(B::DateOfBirth, ts, te);
            return true;
        }
        if !self.number && k.may_name_person() {
            if let Ok(s) = std::str::from_utf8(t) {
                if person_name(s, k.names(B::CnName), k.person) {
                    self.emit(B::CnName, ts, te);
                    return true;
                }
            }
        }
        if !self.number && k.names(B::Address) {
            if let Ok(s) = std::str::from_utf8(t) {
                if postal_address(s) {
                    self.emit(B::Address, ts, te);
                    return true;
                }
            }
        }
        false
    }

    /// The generic single pass.
    fn run(&mut self) {
        let v = self.v;
        let n = v.len();
        let mut i = 0;
        while i < n {
            let b = v[i];
            let class = RUN_CLASS[b as usize];
            if class == SKIP {
                // Runs of bytes no detector starts at (spaces, punctuation, Latin-1).
                i += 1;
                while i < n && RUN_CLASS[v[i] as usize] == SKIP {
                    i += 1;
                }
                continue;
            }
            if class == ALNUM {
                let j = alnum_end(v, i + 1);
                let prev = if i > 0 { v[i - 1] } else { b' ' };
                i = if prev == b'_' {
                    j
                } else if let Some(e) = super::shapes::skip(v, i, j, prev) {
                    e
                } else {
                    match self.token(i, j) {
                        Some(e) => e.max(i + 1),
                        None => j,
                    }
                };
            } else if b == b'@' {
                i = self.email(i).unwrap_or(i + 1);
            } else if b == b'-' && v[i..].starts_with(b"-----BEGIN ") {
                i = self.pem(i).unwrap_or(i + 1);
            } else if b == b':' && v.get(i + 1) == Some(&b':') {
                let prev = if i > 0 { v[i - 1] } else { b' ' };
                i = if prev.is_ascii_alphanumeric() || prev == b':' {
                    i + 2
                } else {
                    self.colon_chain(i)
                };
            } else if (0xE4..=0xE9).contains(&b) {
                i = self.han(i);
            } else {
                i += 1;
            }
        }
    }

    fn token(&mut self, i: usize, j: usize) -> Option<usize> {
        let v = self.v;
        let d_end = i + v[i..j].iter().take_while(|c| c.is_ascii_digit()).count();
        if d_end == j || (d_end - i == 17 && j == d_end + 1 && matches!(v[d_end], b'X' | b'x')) {
            return self.digits(i, j);
        }
        self.mixed(i, j)
    }

    fn digits(&mut self, i: usize, j: usize) -> Option<usize> {
        let prev = if i > 0 { self.at(i - 1) } else { b' ' };
        let prev2 = if i > 1 { self.at(i - 2) } else { b' ' };
        if prev == b'.' && prev2.is_ascii_digit() {
            return Some(self.dotted_end(i));
        }
        if prev == b'-' && prev2.is_ascii_alphanumeric() {
            return None;
        }
        let has_x = !self.at(j - 1).is_ascii_digit();
        let next = self.at(j);
        let next2 = self.at(j + 1);
        if !has_x {
            match next {
                b'.' if next2.is_ascii_digit() => return Some(self.dotted(i)),
                b':' if j - i <= 4 && (is_hex(next2) || next2 == b':') => {
                    return Some(self.colon_chain(i))
                }
                b'-' if j - i == 2 && is_hex(next2) => {
                    if let Some(e) = self.mac_dash(i) {
                        return Some(e);
                    }
                }
                _ => {}
            }
            if matches!(next, b'-' | b' ') && next2.is_ascii_digit() {
                if let Some(e) = self.groups(i) {
                    return Some(e);
                }
            }
        }
        if matches!(next, b'@' | b'_') {
            return None;
        }
        self.single(i, j)
    }

    fn dotted_end(&self, i: usize) -> usize {
        let mut e = i;
        loop {
            e += self
                .v
                .get(e..)
                .map_or(0, |s| s.iter().take_while(|c| c.is_ascii_digit()).count());
            if self.at(e) == b'.' && self.at(e + 1).is_ascii_digit() {
                e += 1;
            } else {
                return e;
            }
        }
    }

    fn dotted(&mut self, i: usize) -> usize {
        let e = self.dotted_end(i);
        let cand = self.slice(i, e);
        if v::ipv4(cand) {
            let next = self.at(e);
            let prev = if i > 0 { self.at(i - 1) } else { b' ' };
            let prev2 = if i > 1 { self.at(i - 2) } else { b' ' };
            let boundary = !next.is_ascii_alphanumeric()
                && next != b'_'
                && !(matches!(next, b'.' | b'-') && self.at(e + 1).is_ascii_alphanumeric());
            let version = (self.key.version && !self.key.names(B::Ipv4))
                || (prev == b'/' && prev2.is_ascii_alphanumeric())
                || window_has(self.v, i, &["version"]);
            if boundary && !version && !self.key.voids(B::Ipv4) {
                self.emit(B::Ipv4, i, e);
            }
        }
        e
    }

    /// A run of hex digits, `:` and `.` from `i` (IPv6, MAC, times): emits a MAC or an
    /// IPv6 address and returns the end of the run.
    fn colon_chain(&mut self, i: usize) -> usize {
        let run = self.v.get(i..).map_or(0, |s| {
            s.iter()
                .take_while(|&&c| is_hex(c) || c == b':' || c == b'.')
                .count()
        });
        let mut e = i + run;
        while e > i && self.at(e - 1) == b'.' {
            e -= 1;
        }
        if self.at(e - 1) == b':' && self.at(e.saturating_sub(2)) != b':' {
            e -= 1;
        }
        let next = self.at(e);
        if next.is_ascii_alphanumeric() || next == b'_' {
            return i + run.max(1);
        }
        let cand = self.slice(i, e);
        if v::mac_address(cand) {
            if !self.key.voids(B::MacAddress) {
                self.emit(B::MacAddress, i, e);
            }
        } else if v::ipv6(cand) && plausible_ipv6(cand) && !self.key.voids(B::Ipv6) {
            self.emit(B::Ipv6, i, e);
        }
        e.max(i + 1)
    }

    fn mac_dash(&mut self, i: usize) -> Option<usize> {
        let e = i + 17;
        let cand = self.v.get(i..e)?;
        let next = self.at(e);
        if v::mac_address(cand)
            && cand[2] == b'-'
            && !next.is_ascii_alphanumeric()
            && !(next == b'-' && is_hex(self.at(e + 1)))
        {
            if !self.key.voids(B::MacAddress) {
                self.emit(B::MacAddress, i, e);
            }
            return Some(e);
        }
        None
    }

    /// Digit groups separated by one kind of single separator (`-` or space).
    fn groups(&mut self, i: usize) -> Option<usize> {
        let v = self.v;
        let mut g: [(usize, usize); 6] = [(0, 0); 6];
        let mut k = 0;
        let mut p = i;
        let first_end = i + v[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let sep = self.at(first_end);
        loop {
            let e = p + v
                .get(p..)
                .map_or(0, |s| s.iter().take_while(|c| c.is_ascii_digit()).count());
            if e == p || k == g.len() {
                return None;
            }
            let mut e2 = e;
            if matches!(self.at(e), b'X' | b'x') && !self.at(e + 1).is_ascii_alphanumeric() {
                e2 = e + 1;
            }
            g[k] = (p, e2);
            k += 1;
            if e2 == e && self.at(e) == sep && self.at(e + 1).is_ascii_digit() {
                p = e + 1;
            } else {
                break;
            }
        }
        let end = g[k - 1].1;
        let nx = self.at(end);
        if nx.is_ascii_alphanumeric()
            || nx == b'_'
            || nx == b'@'
            || (nx == b'.' && self.at(end + 1).is_ascii_digit())
        {
            return None;
        }
        let g = &g[..k];
        let mut lens = [0usize; 6];
        for (x, (s, e)) in g.iter().enumerate() {
            lens[x] = e - s;
        }
        let lens = &lens[..k];
        let mut buf = [0u8; 24];
        let mut n = 0;
        for (s, e) in g {
            for &b in self.slice(*s, *e) {
                if n >= buf.len() {
                    return None;
                }
                buf[n] = b;
                n += 1;
            }
        }
        let d = &buf[..n];
        let gs = |x: usize| g.get(x).map_or(0, |p| p.0);
        let k0 = self.slice(g[0].0, g[0].1);
        // SSN 3-2-4
        if sep == b'-' && lens == [3, 2, 4] && v::us_ssn(d) {
            if !self.key.voids(B::UsSsn) {
                self.emit(B::UsSsn, i, end);
            }
            return Some(end);
        }
        // Mobile 3-4-4, with 86 / 0086 prefixes.
        let mobile_from = match lens {
            [3, 4, 4] => Some((0, d)),
            [2, 3, 4, 4] | [2, 11] if k0 == b"86" => Some((1, &d[2..])),
            [4, 3, 4, 4] | [4, 11] if k0 == b"0086" => Some((1, &d[4..])),
            _ => None,
        };
        if let Some((from, m)) = mobile_from {
            if v::cn_mobile(m) {
                if !self.key.voids(B::CnMobile) {
                    self.emit(B::CnMobile, gs(from), end);
                }
                return Some(end);
            }
        }
        // Landline: area code, then 7-8 digits (one or two groups).
        if let Some(al) = v::cn_area_code_len(k0) {
            if al == lens[0]
                && matches!(lens[1..], [7] | [8] | [3, 4] | [4, 4])
                && v::cn_landline(k0, &d[al..])
            {
                if !self.key.voids(B::CnLandline) {
                    self.emit(B::CnLandline, i, end);
                }
                return Some(end);
            }
        }
        // Resident id 6-8-4.
        if lens == [6, 8, 4] && v::cn_resident_id(d, self.today) {
            self.emit(B::CnResidentId, i, end);
            return Some(end);
        }
        if d.last().is_some_and(|b| !b.is_ascii_digit()) {
            return None;
        }
        // IMEI AA-BBBBBB-CCCCCC-D
        if lens == [2, 6, 6, 1] && v::imei(d) && self.ctx(B::Imei, i) {
            self.emit(B::Imei, i, end);
            return Some(end);
        }
        // Cards in groups.
        let card_shape = k >= 3
            && lens[0] == 4
            && (lens[1..k - 1].iter().all(|&l| l == 4) || (k == 3 && lens[1] == 6))
            && (13..=19).contains(&n);
        if card_shape {
            let ok = if self.key.names(B::BankCard) {
                v::bank_card(d, false)
            } else {
                v::bank_card(d, true)
            };
            if ok {
                self.emit(B::BankCard, i, end);
                return Some(end);
            }
        }
        None
    }

    /// One run of digits (an 18-character id may end with `X`).
    fn single(&mut self, i: usize, j: usize) -> Option<usize> {
        let d = self.slice(i, j);
        let len = d.len();
        let k = *self.key;
        if d.last().is_some_and(|b| !b.is_ascii_digit()) {
            if v::cn_resident_id(d, self.today) {
                self.emit(B::CnResidentId, i, j);
            }
            return Some(j);
        }
        match len {
            11 => {
                if v::cn_mobile(d) {
                    if !k.voids(B::CnMobile) {
                        self.emit(B::CnMobile, i, j);
                    }
                    return Some(j);
                }
                self.landline_bare(d, i, j);
                return Some(j);
            }
            10 | 12 => {
                self.landline_bare(d, i, j);
                return Some(j);
            }
            13 if d.starts_with(b"86") && v::cn_mobile(&d[2..]) => {
                if !k.voids(B::CnMobile) {
                    self.emit(B::CnMobile, i + 2, j);
                }
                return Some(j);
            }
            15 => {
                if d.starts_with(b"0086") && v::cn_mobile(&d[4..]) {
                    if !k.voids(B::CnMobile) {
                        self.emit(B::CnMobile, i + 4, j);
                    }
                    return Some(j);
                }
                if v::imei(d) && self.ctx(B::Imei, i) && !k.names(B::BankCard) {
                    self.emit(B::Imei, i, j);
                    return Some(j);
                }
                if v::cn_resident_id_legacy(d, self.today) && self.ctx(B::CnResidentId, i) {
                    self.emit(B::CnResidentId, i, j);
                    return Some(j);
                }
            }
            18 => {
                if v::cn_resident_id(d, self.today) {
                    self.emit(B::CnResidentId, i, j);
                    return Some(j);
                }
                if v::cn_uscc(d)
                    && (k.names(B::CnUscc) || (!self.number && !k.neg && !self.path_segment(i)))
                {
                    self.emit(B::CnUscc, i, j);
                    return Some(j);
                }
            }
            9 => {
                if v::us_ssn(d) && self.ctx(B::UsSsn, i) && !k.voids(B::UsSsn) {
                    self.emit(B::UsSsn, i, j);
                }
                return Some(j);
            }
            _ => {}
        }
        if (13..=19).contains(&len) {
            let ok = if k.names(B::BankCard) {
                v::bank_card(d, false)
            } else {
                !self.number && !k.neg && !self.path_segment(i) && v::bank_card(d, true)
            };
            if ok {
                self.emit(B::BankCard, i, j);
            }
        }
        Some(j)
    }

    /// A URL path segment or an id in text (`/orders/6578...`, `order 6578...`,
    /// `id: 6578...`): bare digit runs there are identifiers.
    fn path_segment(&self, i: usize) -> bool {
        let prev = if i > 0 { self.at(i - 1) } else { b' ' };
        prev == b'/'
            || window_has(
                self.v,
                i,
                &["order", "订单", "流水", " id", "id:", "id=", "trace", "seq"],
            )
    }

    fn landline_bare(&mut self, d: &[u8], i: usize, j: usize) {
        if let Some(al) = v::cn_area_code_len(d) {
            if v::cn_landline(&d[..al], &d[al..])
                && self.ctx(B::CnLandline, i)
                && !self.key.voids(B::CnLandline)
            {
                self.emit(B::CnLandline, i, j);
            }
        }
    }

    /// A token with letters (or starting with letters).
    fn mixed(&mut self, i: usize, j: usize) -> Option<usize> {
        if mixed_cannot_match(self.slice(i, j), self.at(j)) {
            return None;
        }
        self.mixed_all(i, j)
    }

    /// [`Det::mixed`] without the shortcut. Not inlined into [`Det::run`]: most tokens
    /// never get here, and inlined it made `run` a Wasm function whose TurboFan
    /// compilation left Envoy ~4 MiB larger at start (`scripts/wasm_functions.py`).
    #[inline(never)]
    fn mixed_all(&mut self, i: usize, j: usize) -> Option<usize> {
        let t = self.slice(i, j);
        let first = *t.first()?;
        let next = self.at(j);
        if t.starts_with(b"eyJ") {
            if let Some(e) = self.jwt(i) {
                return Some(e);
            }
        }
        if matches!(first, b'g' | b'x' | b's' | b'A' | b'L') {
            if let Some(e) = self.cloud(i) {
                return Some(e);
            }
        }
        let clean_end = next != b'_' && !(next == b'-' && self.at(j + 1).is_ascii_alphanumeric());
        if t.len() == 20 && v::aws_access_key(t) && clean_end {
            self.emit(B::AwsAccessKey, i, j);
            return Some(j);
        }
        if matches!(first, b'b' | b'B') && t.len() >= 14 && v::bitcoin_bech32(t) && clean_end {
            self.emit(B::BitcoinAddress, i, j);
            return Some(j);
        }
        if matches!(first, b'1' | b'3')
            && (26..=35).contains(&t.len())
            && v::bitcoin_base58(t)
            && clean_end
        {
            self.emit(B::BitcoinAddress, i, j);
            return Some(j);
        }
        if t.len() >= 4
            && t[..2].iter().all(u8::is_ascii_uppercase)
            && t[2..4].iter().all(u8::is_ascii_digit)
        {
            if let Some(e) = self.iban(i, j) {
                return Some(e);
            }
        }
        if t.len() == 18 && v::cn_uscc(t) && clean_end {
            self.emit(B::CnUscc, i, j);
            return Some(j);
        }
        if matches!(t.len(), 9 | 11) && first.is_ascii_uppercase() && clean_end {
            let permit = v::cn_hk_macau_permit(t) && self.ctx(B::CnHkMacauPermit, i);
            if permit {
                self.emit(B::CnHkMacauPermit, i, j);
                return Some(j);
            }
            if v::cn_passport(t) && self.ctx(B::CnPassport, i) {
                self.emit(B::CnPassport, i, j);
                return Some(j);
            }
        }
        if t.len() <= 4 && t.iter().all(|&b| is_hex(b)) {
            if next == b':' && (is_hex(self.at(j + 1)) || self.at(j + 1) == b':') {
                return Some(self.colon_chain(i));
            }
            if next == b'-' && t.len() == 2 {
                if let Some(e) = self.mac_dash(i) {
                    return Some(e);
                }
            }
        }
        None
    }

    fn iban(&mut self, i: usize, j: usize) -> Option<usize> {
        let cc = self.slice(i, i + 2);
        let want = v::iban_length(cc)?;
        let t = self.slice(i, j);
        if t.len() == want {
            if v::iban(t) && self.at(j) != b'_' {
                self.emit(B::Iban, i, j);
                return Some(j);
            }
            return None;
        }
        if t.len() != 4 {
            return None;
        }
        // Groups of 4 separated by single spaces.
        let mut buf = [0u8; 40];
        buf[..4].copy_from_slice(t);
        let mut n = 4;
        let mut p = j;
        while n < want && self.at(p) == b' ' {
            let s = p + 1;
            let run = self.v.get(s..).map_or(0, |x| {
                x.iter()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                    .count()
            });
            if run == 0 || run > 4 || n + run > want || self.at(s + run).is_ascii_alphanumeric() {
                return None;
            }
            buf.get_mut(n..n + run)?
                .copy_from_slice(self.slice(s, s + run));
            n += run;
            p = s + run;
        }
        if n == want && v::iban(&buf[..n]) {
            self.emit(B::Iban, i, p);
            return Some(p);
        }
        None
    }

    fn jwt(&mut self, i: usize) -> Option<usize> {
        let run = self.v.get(i..).map_or(0, |s| {
            s.iter()
                .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
                .count()
        });
        let mut e = i + run;
        if !v::jwt(self.slice(i, e)) {
            // A sentence-ending dot.
            if self.at(e - 1) == b'.' && v::jwt(self.slice(i, e - 1)) {
                e -= 1;
            } else {
                return None;
            }
        }
        self.emit(B::Jwt, i, e);
        Some(e)
    }

    fn cloud(&mut self, i: usize) -> Option<usize> {
        let rest = self.v.get(i..)?;
        let known = matches!(
            rest,
            [b'g', b'h', b'p' | b'o', b'_', ..]
                | [b'g', b'i', b't', b'h', b'u', b'b', b'_', ..]
                | [b'x', b'o', b'x', ..]
                | [b's', b'k', b'_', b'l', ..]
                | [b'A', b'I', b'z', b'a', ..]
                | [b'L', b'T', b'A', b'I', ..]
        );
        if !known {
            return None;
        }
        let run = rest
            .iter()
            .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
            .count();
        let e = i + run;
        if v::cloud_secret(self.slice(i, e)) {
            self.emit(B::CloudSecret, i, e);
            return Some(e);
        }
        None
    }

    fn email(&mut self, at: usize) -> Option<usize> {
        let v = self.v;
        let mut s = at;
        while s > 0 && at - s < 64 {
            let c = v[s - 1];
            if c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-') {
                s -= 1;
            } else {
                break;
            }
        }
        while s < at && !v[s].is_ascii_alphanumeric() && v[s] != b'_' {
            s += 1;
        }
        if s == at || (s > 0 && v[s - 1] == b'@') {
            return None;
        }
        let mut e = at + 1;
        while e < v.len() && (v[e].is_ascii_alphanumeric() || v[e] == b'.' || v[e] == b'-') {
            e += 1;
        }
        while e > at + 1 && matches!(v[e - 1], b'.' | b'-') {
            e -= 1;
        }
        if matches!(self.at(e), b'@' | b'_') {
            return None;
        }
        if !v::email_parts(&v[s..at], &v[at + 1..e]) {
            return None;
        }
        while self.out.last().is_some_and(|m| m.end as usize > s) {
            self.out.pop();
        }
        self.emit(B::Email, s, e);
        Some(e)
    }

    fn pem(&mut self, i: usize) -> Option<usize> {
        let rest = self.v.get(i..)?;
        let hdr = v::private_key_begin(rest)?;
        let body = rest.get(hdr..).unwrap_or_default();
        let end = match find(body, b"-----END ") {
            Some(p) => {
                let after = &body[p + 9..];
                match find(after, b"-----") {
                    Some(q) => hdr + p + 9 + q + 5,
                    None => rest.len(),
                }
            }
            None => rest.len(),
        };
        self.emit(B::PrivateKey, i, i + end);
        Some(i + end)
    }

    fn han(&mut self, i: usize) -> usize {
        let Some(&[a, b, c]) = self.v.get(i..i + 3) else {
            return i + 1;
        };
        let cp = (u32::from(a & 0x0F) << 12) | (u32::from(b & 0x3F) << 6) | u32::from(c & 0x3F);
        if PLATE_CODEPOINTS.binary_search(&cp).is_ok() {
            if let Some(len) = v::cn_license_plate_tail(self.v.get(i + 3..).unwrap_or_default()) {
                let e = i + 3 + len;
                if !self.at(e).is_ascii_alphanumeric() {
                    self.emit(B::CnLicensePlate, i, e);
                    return e;
                }
            }
        }
        i + 3
    }
}

/// Code points of the plate province characters, sorted (see `validate::PLATE_PROVINCES`).
static PLATE_CODEPOINTS: [u32; 31] = {
    let s = v::PLATE_PROVINCES.as_bytes();
    let mut out = [0u32; 31];
    let mut k = 0;
    while k < 31 {
        let (a, b, c) = (s[3 * k], s[3 * k + 1], s[3 * k + 2]);
        out[k] = ((a as u32 & 0x0F) << 12) | ((b as u32 & 0x3F) << 6) | (c as u32 & 0x3F);
        k += 1;
    }
    // insertion sort (const context)
    let mut i = 1;
    while i < 31 {
        let mut j = i;
        while j > 0 && out[j - 1] > out[j] {
            let t = out[j - 1];
            out[j - 1] = out[j];
            out[j] = t;
            j -= 1;
        }
        i += 1;
    }
    out
};

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Filters syntactically valid IPv6 text that is rarely an address (`a::b`, `dead::beef`).
fn plausible_ipv6(s: &[u8]) -> bool {
    let groups = s.split(|&b| b == b':').filter(|g| !g.is_empty()).count();
    s == b"::1" || groups >= 3 || (groups >= 1 && s.iter().any(u8::is_ascii_digit) && s.len() >= 6)
}

const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝";
const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "令狐", "夏侯",
    "宇文", "司徒", "轩辕", "端木", "独孤", "南宫", "西门", "百里", "呼延",
];
const LATIN_NAMES: &[&str] = &[
    "wang",
    "li",
    "zhang",
    "liu",
    "chen",
    "yang",
    "huang",
    "zhao",
    "wu",
    "zhou",
    "xu",
    "sun",
    "ma",
    "zhu",
    "hu",
    "guo",
    "he",
    "gao",
    "lin",
    "luo",
    "zheng",
    "liang",
    "xie",
    "song",
    "tang",
    "han",
    "feng",
    "deng",
    "cao",
    "peng",
    "zeng",
    "xiao",
    "tian",
    "dong",
    "pan",
    "yuan",
    "cai",
    "jiang",
    "yu",
    "du",
    "ye",
    "cheng",
    "wei",
    "su",
    "lu",
    "ding",
    "ren",
    "shen",
    "yao",
    "cui",
    "zhong",
    "tan",
    "fan",
    "jin",
    "shi",
    "liao",
    "jia",
    "xia",
    "fu",
    "fang",
    "bai",
    "zou",
    "meng",
    "xiong",
    "qin",
    "qiu",
    "yin",
    "xue",
    "yan",
    "duan",
    "lei",
    "hou",
    "long",
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "sanchez",
    "clark",
    "ramirez",
    "lewis",
    "robinson",
    "walker",
    "young",
    "allen",
    "king",
    "wright",
    "scott",
    "torres",
    "nguyen",
    "hill",
    "flores",
    "green",
    "adams",
    "nelson",
    "baker",
    "hall",
    "rivera",
    "campbell",
    "mitchell",
    "carter",
    "roberts",
    "müller",
    "schmidt",
    "schneider",
    "fischer",
    "weber",
    "meyer",
    "dubois",
    "durand",
    "rossi",
    "russo",
    "kim",
    "park",
    "choi",
    "tanaka",
    "suzuki",
    "sato",
    "james",
    "john",
    "robert",
    "michael",
    "william",
    "david",
    "richard",
    "joseph",
    "charles",
    "christopher",
    "daniel",
    "matthew",
    "anthony",
    "mark",
    "donald",
    "steven",
    "paul",
    "andrew",
    "joshua",
    "kenneth",
    "kevin",
    "brian",
    "george",
    "timothy",
    "ronald",
    "edward",
    "jason",
    "jeffrey",
    "ryan",
    "jacob",
    "gary",
    "nicholas",
    "eric",
    "jonathan",
    "stephen",
    "larry",
    "justin",
    "scott",
    "brandon",
    "benjamin",
    "samuel",
    "frank",
    "gregory",
    "alexander",
    "patrick",
    "jack",
    "dennis",
    "peter",
    "mary",
    "patricia",
    "jennifer",
    "linda",
    "elizabeth",
    "barbara",
    "susan",
    "jessica",
    "sarah",
    "karen",
    "nancy",
    "lisa",
    "betty",
    "margaret",
    "sandra",
    "ashley",
    "kimberly",
    "emily",
    "donna",
    "michelle",
    "dorothy",
    "carol",
    "amanda",
    "melissa",
    "deborah",
    "stephanie",
    "rebecca",
    "sharon",
    "laura",
    "cynthia",
    "kathleen",
    "amy",
    "shirley",
    "angela",
    "helen",
    "anna",
    "brenda",
    "emma",
    "olivia",
    "sophia",
    "isabella",
    "mia",
    "charlotte",
    "amelia",
    "harper",
    "ella",
    "alice",
    "bob",
    "carlos",
    "maria",
    "jose",
    "juan",
    "luis",
    "ana",
    "hans",
    "pierre",
    "marie",
    "lucas",
    "noah",
    "liam",
    "ethan",
    "oliver",
    "grace",
    "chloe",
    "lily",
    "hannah",
    "zoe",
];

fn is_han(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c) || ('\u{3400}'..='\u{4DBF}').contains(&c)
}

/// A person's name: 2–4 Han characters, or 2–3 capitalised Latin words. Under a weak
/// key (`name`), Han names need a known surname (and 2–3 characters unless the object
/// is about a person), Latin names a person context or a known given/family name.
pub(crate) fn person_name(s: &str, strong: bool, person: bool) -> bool {
    let n = s.chars().count();
    if s.chars().all(is_han) {
        if !(2..=4).contains(&n) {
            return false;
        }
        if strong {
            return true;
        }
        let compound = COMPOUND_SURNAMES.iter().any(|c| s.starts_with(c));
        let single = s.chars().next().is_some_and(|c| SURNAMES.contains(c));
        return (compound && n >= 3) || (single && (n <= 3 || person));
    }
    let mut count = 0;
    let mut known = false;
    for w in s.split(' ') {
        count += 1;
        let mut cs = w.chars();
        let Some(f) = cs.next() else { return false };
        let rest = cs.as_str();
        let ok = f.is_alphabetic()
            && f.is_uppercase()
            && w.chars().count() <= 20
            && (rest
                .chars()
                .all(|c| c.is_alphabetic() || c == '\'' || c == '-')
                || rest == ".");
        if !ok || count > 3 {
            return false;
        }
        if !known {
            let lower = w.to_lowercase();
            known = LATIN_NAMES.contains(&lower.as_str());
        }
    }
    count >= 2 && (strong || person || known)
}

const HAN_ADDRESS_MARKERS: &str = "省市区县路街号镇乡村道巷弄栋楼室座院幢单元";
const STREET_WORDS: &[&str] = &[
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "boulevard",
    "blvd",
    "lane",
    "ln",
    "drive",
    "dr",
    "way",
    "court",
    "ct",
    "place",
    "pl",
    "square",
    "sq",
    "parkway",
    "pkwy",
    "highway",
    "hwy",
    "suite",
    "apt",
    "floor",
    "terrace",
    "crescent",
    "close",
    "strasse",
    "straße",
    "rue",
    "via",
    "calle",
    "unit",
    "building",
    "bldg",
];

/// A postal address: Han text with address markers (two, or one and a number), or
/// Latin text with a street word and a number.
pub(crate) fn postal_address(s: &str) -> bool {
    let chars = s.chars().count();
    if chars < 6 {
        return false;
    }
    let han_markers = s
        .chars()
        .filter(|c| HAN_ADDRESS_MARKERS.contains(*c))
        .count();
    let digit = s.bytes().any(|b| b.is_ascii_digit());
    let han = s.chars().filter(|c| is_han(*c)).count();
    if han >= 4 {
        return han_markers >= 2 || (han_markers >= 1 && digit);
    }
    digit
        && s.split(|c: char| !c.is_alphanumeric())
            .any(|w| STREET_WORDS.iter().any(|sw| sw.eq_ignore_ascii_case(w)))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn classifier() -> Classifier {
        let loaded = crate::config::load(b"").unwrap();
        Classifier::new(&loaded.policy.sensitive)
    }

    fn today() -> Date {
        Date::new(2025, 6, 1).unwrap()
    }

    fn found(c: &Classifier, key: Option<&str>, value: &str) -> Vec<(String, String)> {
        let mut hits = Hits::new();
        let mut out = Vec::new();
        c.scan_value_with(key, value.as_bytes(), today(), &mut hits, |f| {
            out.push((
                c.type_id(f.type_idx).to_string(),
                String::from_utf8_lossy(f.text).into_owned(),
            ))
        });
        out
    }

    fn one(c: &Classifier, key: Option<&str>, value: &str) -> Option<String> {
        let f = found(c, key, value);
        assert!(f.len() <= 1, "{value}: {f:?}");
        f.first().map(|x| x.0.clone())
    }

    #[test]
    fn alnum_end_matches_a_byte_loop() {
        let slow = |v: &[u8], i: usize| {
            i + v
                .get(i..)
                .unwrap_or_default()
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count()
        };
        // Every byte value at every position of a 17-byte run, from every start.
        for b in 0..=255u8 {
            for pos in 0..17 {
                let mut v = *b"Az09azAZ90zaZA9a0";
                v[pos] = b;
                for start in 0..v.len() {
                    assert_eq!(alnum_end(&v, start), slow(&v, start), "{b:#x} at {pos}");
                }
            }
        }
    }

    #[test]
    fn type_order_follows_policy() {
        let c = classifier();
        assert_eq!(c.type_count(), 25);
        assert_eq!(c.type_id(0), "cn_resident_id");
        assert_eq!(c.level(0), 4);
        assert_eq!(c.type_id(99), "");
        assert_eq!(c.type_index("email"), Some(12));
        assert_eq!(c.builtin_of(12), Some(B::Email));
    }

    #[test]
    fn digits_with_boundaries() {
        let c = classifier();
        assert_eq!(one(&c, None, "13812345678").as_deref(), Some("cn_mobile"));
        assert_eq!(
            one(&c, None, "call 138-1234-5678 now").as_deref(),
            Some("cn_mobile")
        );
        assert_eq!(found(&c, None, "+86 138 1234 5678")[0].1, "138 1234 5678");
        assert_eq!(found(&c, None, "+8613812345678")[0].1, "13812345678");
        assert_eq!(one(&c, None, "1712345678901"), None, "ms timestamp");
        assert_eq!(one(&c, None, "1712345678"), None, "s timestamp");
        assert_eq!(one(&c, None, "x13812345678"), None);
        assert_eq!(
            one(&c, None, "13812345678@163.com").as_deref(),
            Some("email")
        );
        assert_eq!(one(&c, Some("order_id"), "13812345678"), None);
        assert_eq!(one(&c, None, "0.13812345678"), None);
        assert_eq!(
            one(&c, None, "11010519491231002X").as_deref(),
            Some("cn_resident_id")
        );
        assert_eq!(
            one(&c, None, "110105 19491231 002X").as_deref(),
            Some("cn_resident_id")
        );
        assert_eq!(
            one(&c, None, "4111111111111111").as_deref(),
            Some("bank_card")
        );
        assert_eq!(
            one(&c, None, "4111 1111 1111 1111").as_deref(),
            Some("bank_card")
        );
        assert_eq!(one(&c, Some("id"), "4111111111111111"), None);
        assert_eq!(
            one(&c, Some("card_no"), "1234567812345670").as_deref(),
            Some("bank_card")
        );
        assert_eq!(one(&c, None, "1234567812345670"), None);
        assert_eq!(one(&c, None, "123-45-6789").as_deref(), Some("us_ssn"));
        assert_eq!(one(&c, None, "123456789"), None);
        assert_eq!(one(&c, Some("ssn"), "123456789").as_deref(), Some("us_ssn"));
        assert_eq!(
            one(&c, None, "010-62345678").as_deref(),
            Some("cn_landline")
        );
        assert_eq!(one(&c, None, "01062345678"), None);
        assert_eq!(
            one(&c, Some("tel"), "01062345678").as_deref(),
            Some("cn_landline")
        );
        assert_eq!(
            one(&c, Some("imei"), "490154203237518").as_deref(),
            Some("imei")
        );
        assert_eq!(
            one(&c, None, "IMEI: 490154203237518").as_deref(),
            Some("imei")
        );
        assert_eq!(one(&c, None, "490154203237518"), None);
    }

    #[test]
    fn dotted_and_colon_forms() {
        let c = classifier();
        assert_eq!(one(&c, None, "from 10.1.2.3:8080").as_deref(), Some("ipv4"));
        assert_eq!(one(&c, Some("version"), "1.2.3.4"), None);
        assert_eq!(one(&c, None, "MyApp/1.2.3.4"), None);
        assert_eq!(one(&c, None, "version 1.2.3.4"), None);
        assert_eq!(one(&c, None, "1.2.3.4.5"), None);
        assert_eq!(one(&c, None, "3.14"), None);
        assert_eq!(
            one(&c, None, "2001:db8::8a2e:370:7334").as_deref(),
            Some("ipv6")
        );
        assert_eq!(
            one(&c, None, "fe80::1ff:fe23:4567:890a").as_deref(),
            Some("ipv6")
        );
        assert_eq!(one(&c, None, "::1").as_deref(), Some("ipv6"));
        assert_eq!(one(&c, None, "12:30:45"), None);
        assert_eq!(one(&c, None, "std::vector"), None);
        assert_eq!(
            one(&c, None, "00:1A:2B:3C:4D:5E").as_deref(),
            Some("mac_address")
        );
        assert_eq!(
            one(&c, None, "a4-5e-60-c2-11-0f").as_deref(),
            Some("mac_address")
        );
        assert_eq!(one(&c, None, "550e8400-e29b-41d4-a716-446655440000"), None);
    }

    #[test]
    fn tokens() {
        let c = classifier();
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(
            one(&c, None, &format!("Bearer {jwt}")).as_deref(),
            Some("jwt")
        );
        assert_eq!(
            one(&c, None, "AKIAIOSFODNN7EXAMPLE").as_deref(),
            Some("aws_access_key")
        );
        assert_eq!(
            one(&c, None, "token=ghp_1234567890abcdefghijklmnopqrstuvwxyz").as_deref(),
            Some("cloud_secret")
        );
        assert_eq!(
            one(&c, None, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").as_deref(),
            Some("bitcoin_address")
        );
        assert_eq!(
            one(&c, None, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq").as_deref(),
            Some("bitcoin_address")
        );
        assert_eq!(
            one(&c, None, "DE89 3704 0044 0532 0130 00").as_deref(),
            Some("iban")
        );
        assert_eq!(
            one(&c, None, "GB82WEST12345698765432").as_deref(),
            Some("iban")
        );
        assert_eq!(
            one(&c, None, "91350100M000100Y43").as_deref(),
            Some("cn_uscc")
        );
        assert_eq!(one(&c, None, "E12345678"), None);
        assert_eq!(
            one(&c, Some("passport_no"), "E12345678").as_deref(),
            Some("cn_passport")
        );
        assert_eq!(
            one(&c, None, "护照号码 EA1234567").as_deref(),
            Some("cn_passport")
        );
        assert_eq!(
            one(&c, Some("hk_macau_permit"), "H12345678").as_deref(),
            Some("cn_hk_macau_permit")
        );
        assert_eq!(
            one(&c, None, "车牌 京A12345").as_deref(),
            Some("cn_license_plate")
        );
        assert_eq!(one(&c, None, "a@b.co and x").as_deref(), Some("email"));
        assert_eq!(one(&c, None, "icon@2x.png"), None);
        let pem =
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----";
        assert_eq!(found(&c, None, &format!("k: {pem} tail"))[0].1, pem);
        assert_eq!(one(&c, None, "d41d8cd98f00b204e9800998ecf8427e"), None);
        assert_eq!(
            one(&c, None, "dGhpcyBpcyBhIHRlc3Qgb2YgYmFzZTY0IDEzODEyMzQ1Njc4"),
            None
        );
    }

    #[test]
    fn key_based_types() {
        let c = classifier();
        assert_eq!(
            one(&c, Some("password"), "hunter2").as_deref(),
            Some("password")
        );
        assert_eq!(one(&c, Some("password"), "******"), None);
        assert_eq!(
            one(&c, Some("password"), "13812345678").as_deref(),
            Some("password")
        );
        assert_eq!(
            one(&c, Some("cvv"), "123").as_deref(),
            Some("card_security_code")
        );
        assert_eq!(one(&c, Some("cvv"), "12"), None);
        assert_eq!(
            one(&c, Some("birthday"), "1990-03-07").as_deref(),
            Some("date_of_birth")
        );
        assert_eq!(one(&c, Some("birthday"), "2090-03-07"), None);
        assert_eq!(
            one(&c, Some("real_name"), "张三").as_deref(),
            Some("cn_name")
        );
        assert_eq!(
            one(&c, Some("fullName"), "Zhang Wei").as_deref(),
            Some("cn_name")
        );
        assert_eq!(one(&c, Some("name"), "Wireless Mouse"), None);
        assert_eq!(
            one(&c, Some("name"), "John Smith").as_deref(),
            Some("cn_name")
        );
        assert_eq!(one(&c, Some("name"), "无线鼠标"), None);
        assert_eq!(
            one(&c, Some("address"), "北京市朝阳区建国路88号").as_deref(),
            Some("address")
        );
        assert_eq!(
            one(&c, Some("address"), "1600 Amphitheatre Parkway").as_deref(),
            Some("address")
        );
        assert_eq!(one(&c, Some("address"), "Beijing"), None);
        assert_eq!(one(&c, Some("ip_address"), "北京市朝阳区建国路88号"), None);
    }

    #[test]
    fn json_forms_and_text() {
        let c = classifier();
        let mut hits = Hits::new();
        let body = br#"{"user":{"name":"Li Wei","mobile":"\u0031\u0033\u0038\u0031\u0032\u0033\u0034\u0035\u0036\u0037\u0038","id":1853086345678901234,"phone":13912345678},"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","ts":1712345678901}"#;
        assert_eq!(c.scan_json(body, today(), &mut hits), Outcome::Complete);
        assert_eq!(hits.count(1), 2, "{:?}", hits.counts());
        assert_eq!(hits.count(9), 1);
        assert_eq!(hits.total(), 3);
        assert_eq!(hits.max_level(), 3);
        hits.clear();
        assert!(hits.is_empty());
        c.scan_form(
            b"phone=138%2D1234%2D5678&q=a+b&email=a%40example.com",
            today(),
            &mut hits,
        );
        assert_eq!(hits.total(), 2);
        hits.clear();
        c.scan_text(
            b"<user><password>s3cret!</password><tel>13812345678</tel></user>",
            today(),
            &mut hits,
        );
        assert_eq!(hits.count(23), 1);
        assert_eq!(hits.count(1), 1);
        hits.clear();
        // not JSON at all: scanned as text
        let out = c.scan_json(b"mobile=13812345678", today(), &mut hits);
        assert!(matches!(out, Outcome::Invalid { .. }));
        assert_eq!(hits.count(1), 1);
    }

    /// One walk for classification and the detectors' strings gives what the two
    /// walks gave: the same counts and outcome as `scan_json`, and every string value
    /// of the body in order, those under ignored keys included.
    #[test]
    fn one_walk_classifies_and_hands_out_every_string() {
        let ignoring = crate::config::load_value(serde_json::json!({
            "sensitive": {"ignore_keys": ["secret"]}
        }))
        .unwrap();
        let bodies: [&[u8]; 8] = [
            br#"{"m":"13812345678","secret":{"q":"1' OR '1'='1","m":"13912345678"},"e":"a\u0040b.cn"}"#,
            br#"[{"secret":"x@example.com"},"13812345678",["a\"b",{"k":"v"}]]"#,
            br#"{"a":1,,"q":"13812345678"}"#,
            br#"{"m":"13812345678","secret":"cut"#,
            br#"{"secret":[[["13812345678"]]],"n":13812345678}"#,
            br#""13812345678""#,
            b"not json 13812345678",
            b"",
        ];
        let deep = format!(
            "{{\"q\":{}\"13812345678\"{}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        // Too deep and invalid inside the ignored subtree; invalid UTF-8 (lenient).
        let deep_ignored = format!(
            "{{\"secret\":{}\"1' OR '1'='1\"{}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let lenient: &[u8] = b"{\"m\":\"\xff 13812345678\",\"secret\":\"\xfe\"}";
        let more: [&[u8]; 4] = [
            deep.as_bytes(),
            deep_ignored.as_bytes(),
            br#"{"secret":{"a":1,,"q":"1' OR '1'='1"},"m":"13812345678"}"#,
            lenient,
        ];
        for c in [classifier(), Classifier::new(&ignoring.policy.sensitive)] {
            for body in bodies.iter().copied().chain(more) {
                let mut want = Hits::new();
                let want_outcome = c.scan_json(body, today(), &mut want);
                // The detectors' walk as it was: every string, nothing skipped; its
                // outcome decides what is inspected as text.
                let mut want_strings = Vec::new();
                let detect_outcome = Walker::default().walk(body, |v| {
                    if v.kind == Kind::String {
                        want_strings.push(v.text.to_vec());
                    }
                    Step::Continue
                });
                let mut got = Hits::new();
                let mut strings = Vec::new();
                let outcome =
                    c.scan_json_and_strings(body, today(), &mut got, |t| strings.push(t.to_vec()));
                let name = String::from_utf8_lossy(body);
                assert_eq!(outcome, want_outcome, "{name}");
                assert_eq!(outcome, detect_outcome, "{name}");
                assert_eq!(got.counts(), want.counts(), "{name}");
                assert_eq!(got.total(), want.total(), "{name}");
                assert_eq!(strings, want_strings, "{name}");
            }
        }
        // The ignored subtree is not classified, yet its strings are handed out.
        let c = Classifier::new(&ignoring.policy.sensitive);
        let mut hits = Hits::new();
        let mut strings = Vec::new();
        c.scan_json_and_strings(bodies[0], today(), &mut hits, |t| strings.push(t.to_vec()));
        assert_eq!(
            hits.total(),
            2,
            "the mobile and the e-mail outside `secret`"
        );
        assert!(strings.contains(&b"1' OR '1'='1".to_vec()));
    }

    #[test]
    fn ignore_keys_and_custom_types() {
        let loaded = crate::config::load_value(serde_json::json!({
            "sensitive": {
                "ignore_keys": ["Secret_Stuff"],
                "disable": ["ipv4"],
                "custom": [
                    {"id": "employee_id", "pattern": "EMP\\d{6}", "level": 2, "keys": ["emp"]},
                    {"id": "luhn_id", "pattern": "LX\\d{8}", "level": 1, "validator": "luhn"}
                ]
            }
        }))
        .unwrap();
        let c = Classifier::new(&loaded.policy.sensitive);
        assert_eq!(c.type_count(), 26);
        let emp = c.type_index("employee_id").unwrap();
        let mut hits = Hits::new();
        let body = br#"{"secret_stuff":{"m":"13812345678"},"note":"EMP123456 and 10.0.0.1","x":"LX12345678"}"#;
        c.scan_json(body, today(), &mut hits);
        assert_eq!(hits.total(), 1, "{:?}", hits.counts());
        assert_eq!(hits.count(emp), 1);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[allow(clippy::unwrap_used)] // test helpers: clippy sees `cfg(all(test, ..))` as non-test
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Checks the claim of [`mixed_cannot_match`] on every token of `v` that is not all
    /// digits: where it holds, the full pass finds nothing and reports no end. Returns
    /// how many tokens the full pass matched.
    fn check_shortcut(v: &str, key: &str) -> Result<usize, TestCaseError> {
        static C: std::sync::OnceLock<Classifier> = std::sync::OnceLock::new();
        let c =
            C.get_or_init(|| Classifier::new(&crate::config::load(b"").unwrap().policy.sensitive));
        let kc = super::super::keys::classify(key.as_bytes(), None);
        let b = v.as_bytes();
        let mut matched = 0;
        let mut i = 0;
        while i < b.len() {
            let j = alnum_end(b, i);
            if j == i {
                i += 1;
                continue;
            }
            let t = &b[i..j];
            if !t.iter().all(u8::is_ascii_digit) {
                let mut out = Vec::new();
                let mut d = Det {
                    c,
                    v: b,
                    key: &kc,
                    number: false,
                    today: Date::new(2025, 1, 1).unwrap(),
                    out: &mut out,
                };
                let end = d.mixed_all(i, j);
                let hit = end.is_some() || !out.is_empty();
                matched += usize::from(hit);
                let next = b.get(j).copied().unwrap_or(0);
                prop_assert!(
                    !(hit && mixed_cannot_match(t, next)),
                    "{v:?} under {key:?}: token at {i}..{j} ruled out, but {end:?} {out:?}"
                );
            }
            i = j;
        }
        Ok(matched)
    }

    #[test]
    fn mixed_shortcut_keeps_every_type() {
        // A value of each type `mixed` finds, in the context it needs.
        let samples = [
            ("", "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
            ("", "AKIAIOSFODNN7EXAMPLE"),
            ("", "token=ghp_1234567890abcdefghijklmnopqrstuvwxyz"),
            ("", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
            ("", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
            ("", "GB82WEST12345698765432"),
            ("", "DE89 3704 0044 0532 0130 00"),
            ("", "91350100M000100Y43"),
            ("passport_no", "E12345678"),
            ("", "护照号码 EA1234567"),
            ("hk_macau_permit", "H12345678"),
            ("", "fe80::1ff:fe23:4567:890a"),
            ("", "mac aa-bb-cc-dd-ee-ff"),
            ("", "ab:cd:ef:01:23:45"),
        ];
        for (key, v) in samples {
            let matched = check_shortcut(v, key).map_err(|e| e.to_string()).unwrap();
            assert!(
                matched > 0,
                "{v:?} under {key:?}: the full pass matched no token"
            );
        }
    }

    /// Tokens of every shape [`Det::mixed`] looks at: prefixes of each type, lengths
    /// around the boundaries, hex, upper- and lower-case starts.
    fn token_like() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z][a-z0-9]{0,40}",
            "[0-9][a-zA-Z0-9]{0,40}",
            "[A-Z][A-Z0-9]{0,25}",
            "[0-9a-f]{1,6}",
            "(eyJ|ghp_|gho_|xoxb-|sk_live_|AIza|LTAI|AKIA|bc1|1|3|GB82|DE89|9135|H|E)[a-zA-Z0-9]{0,40}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        /// The claim of [`mixed_cannot_match`] on generated tokens in context.
        #[test]
        fn mixed_shortcut_is_sound(
            before in "(| |passport |permit |护照 |iban |key=)",
            t in token_like(),
            after in "(|:|-|_|:1|::|-ab|-1| x|@a.cn|\\.[a-z]{1,3})",
            key in prop::sample::select(vec!["", "passport", "iban", "token", "user_id", "wallet", "ip"]),
        ) {
            check_shortcut(&format!("{before}{t}{after}"), key)?;
        }
    }

    proptest! {
        #[test]
        fn prose_by_words_is_the_byte_loop_at_every_boundary(
            len in 1usize..40,
            at in 0usize..40,
            space_before in any::<bool>(),
        ) {
            // One capital at any position of lower-case text, after a letter or a
            // space: the carry between eight-byte chunks decides the first case.
            let mut v = vec![b'a'; len];
            let at = at % len;
            v[at] = b'Q';
            if space_before && at > 0 {
                v[at - 1] = b' ';
            }
            prop_assert_eq!(is_prose(&v), prose_bytes(&v, false), "{:?}", String::from_utf8_lossy(&v));
            prop_assert_eq!(is_prose(&v), at == 0 || space_before, "{:?}", String::from_utf8_lossy(&v));
        }

        #[test]
        fn prose_by_words_is_the_byte_loop(
            v in proptest::collection::vec(prop::sample::select(vec![
                b'a', b'z', b'A', b'Z', b'm', b'M', b' ', b',', b'.', b'-', b'!', b'@', b'[', b'`',
                b'{', b'0', b'9', b'+', b'/', 0, 0x80, 0xE4, 0xFF, b'\t',
            ]), 0..40),
            plain in proptest::collection::vec(prop::sample::select(vec![b'a', b'z', b'A', b'Q', b'Z', b' ', b',', b'.']), 0..40),
        ) {
            prop_assert_eq!(is_prose(&v), prose_bytes(&v, false), "{:?}", v);
            prop_assert_eq!(is_prose(&plain), prose_bytes(&plain, false), "{:?}", plain);
        }

        #[test]
        fn worth_scanning_key_is_the_byte_loop(k in proptest::collection::vec(any::<u8>(), 0..40)) {
            let want = k.iter().any(|&b| b.is_ascii_digit() || b == b'@' || b >= 0x80);
            prop_assert_eq!(worth_scanning_key(&k), want);
        }

        #[test]
        fn worth_scanning_key_at_every_position(
            filler in prop::sample::select(vec![b'a', b'/', b':', b'?', b'A', b'_', 0u8, 0x7f]),
            hit in prop::sample::select(vec![b'0', b'9', b'@', 0x80u8, 0xff, b'/', b':', b'?', b'A']),
            len in 1usize..24,
            at in 0usize..24,
        ) {
            let mut k = vec![filler; len];
            if let Some(b) = k.get_mut(at) {
                *b = hit;
            }
            let want = k.iter().any(|&b| b.is_ascii_digit() || b == b'@' || b >= 0x80);
            prop_assert_eq!(worth_scanning_key(&k), want);
        }

        #[test]
        fn alnum_end_is_the_byte_loop(v in proptest::collection::vec(any::<u8>(), 0..64), start in 0usize..70) {
            let want = start
                + v.get(start..).unwrap_or_default().iter().take_while(|b| b.is_ascii_alphanumeric()).count();
            prop_assert_eq!(alnum_end(&v, start), want);
        }

        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..200), key in "[a-z_]{0,12}") {
            let c = Classifier::new(&crate::config::load(b"").unwrap().policy.sensitive);
            let mut h = Hits::new();
            let t = Date::new(2025, 1, 1).unwrap();
            c.scan_value(Some(&key), &body, t, &mut h);
            c.scan_json(&body, t, &mut h);
            c.scan_text(&body, t, &mut h);
            c.scan_form(&body, t, &mut h);
        }

        /// The short-value shortcut of `detect` changes no result: for ASCII letters
        /// and digits under any key (id-like, context, key-based, none) it gives what
        /// the full pass gives (values up to 12 long, so that a longer shortcut fails).
        #[test]
        fn short_plain_values_match_nothing(
            value in "[0-9]{1,12}|[A-Za-z0-9]{1,12}|[EGDSPHKM][0-9]{7,10}|1[3-9][0-9]{6,9}",
            key in prop::sample::select(vec![
                "", "id", "order_id", "phone", "mobile", "tel", "card", "card_no", "ssn",
                "passport", "permit", "imei", "iban", "account", "code", "pin", "zip",
                "user", "uscc", "credit_code", "ip", "mac", "token", "key", "bitcoin",
            ]),
        ) {
            let c = Classifier::new(
                &crate::config::load(br#"{"sensitive":{"types":"all"}}"#).unwrap().policy.sensitive,
            );
            let kb = (!key.is_empty()).then_some(key.as_bytes());
            let kc = kb.map(|k| classify(k, None)).unwrap_or_default();
            let t = Date::new(2025, 6, 1).unwrap();
            for src in [Src::Text, Src::Number] {
                let (mut fast, mut all) = (Vec::new(), Vec::new());
                c.detect(&kc, kb, src, value.as_bytes(), t, &mut fast);
                c.detect_all(&kc, kb, src, value.as_bytes(), t, &mut all);
                prop_assert_eq!(&fast, &all, "key {:?} value {:?}", key, value);
            }
        }

        #[test]
        fn never_panics_on_texty_input(body in "[0-9a-fA-FX@.:+ /\\-_京A-Z]{0,120}") {
            let c = Classifier::new(&crate::config::load(b"").unwrap().policy.sensitive);
            let mut h = Hits::new();
            c.scan_text(body.as_bytes(), Date::MAX, &mut h);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_000))]
        /// The prose shortcut of `detect` changes no result: words of letters (among
        /// them the letter-only shapes of secrets and tokens), capitalised or not,
        /// joined by spaces, commas and full stops, and with a digit, `-`, `_` or `:`
        /// now and then, under any key, give what the full pass gives.
        #[test]
        fn prose_matches_nothing(
            words in prop::collection::vec(prop::sample::select(vec![
                "routine", "status", "update", "I", "a", "Loves", "eyJhbGciOiJub25lIn", "eyJ",
                "AKIAABCDEFGHIJKLMNOP", "ASIAQRSTUVWXYZABCDEF", "AIzaSyDdIWbKhgGUnlgdFtRcEkRrxtoGWuGHbhW",
                "LTAIabcdefghijklmn", "LTAIABCDEFGHIJKLMN", "bcqarsdvzbrgjhsgfeqp", "xoxb", "ghp", "sk",
                "dead", "beef", "fe", "ab", "GBkk", "Eabcdefgh", "Habcdefgh", "NZABCDEFGHJKLMNPQR",
                "password", "passport", "phone", "version", "email", "address", "street",
                "1", "2024", "x7", "-", "_", ":", "::", "@", "13812345678", "ab-cd-ef-ab-cd-ef",
                "abcd::ef", "dead:beef:cafe:babe:dead:beef:cafe:babe", "dev@example.com",
            ]), 1..12),
            seps in prop::collection::vec(prop::sample::select(vec![" ", ",", ".", ", ", ". ", ""]), 12),
            key in prop::sample::select(vec![
                "", "note", "bio", "description", "id", "token", "key", "secret", "password",
                "address", "name", "passport", "aws_key", "jwt", "phone", "ip",
            ]),
        ) {
            let c = Classifier::new(
                &crate::config::load(br#"{"sensitive":{"types":"all"}}"#).unwrap().policy.sensitive,
            );
            let value: String = words
                .iter()
                .zip(&seps)
                .map(|(w, s)| format!("{w}{s}"))
                .collect();
            let kb = (!key.is_empty()).then_some(key.as_bytes());
            let kc = kb.map(|k| classify(k, None)).unwrap_or_default();
            let t = Date::new(2025, 6, 1).unwrap();
            let (mut fast, mut all) = (Vec::new(), Vec::new());
            c.detect(&kc, kb, Src::Text, value.as_bytes(), t, &mut fast);
            c.detect_all(&kc, kb, Src::Text, value.as_bytes(), t, &mut all);
            prop_assert_eq!(&fast, &all, "key {:?} value {:?}", key, value);
        }
    }
}
