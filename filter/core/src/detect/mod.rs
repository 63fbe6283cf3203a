//! Attack detection on single requests: injection families and scanner fingerprints.
//!
//! A [`Detector`] is built once per configuration with the set of enabled families.
//! Every inspected value (query value, header value, JSON string value, form field,
//! raw text body, path) is first normalised by [`decode`] (percent-decoding including
//! double encodings, `+`, `%uXXXX`, HTML entities, `\uXXXX`/`\xHH` escapes, overlong
//! UTF-8, full-width look-alikes, NUL removal, ASCII lower-casing), then handed to one
//! detector per family:
//!
//! * [`sqli`]: a SQL tokenizer run in the three quote contexts, whose token stream
//!   must parse as a SQL continuation carrying injection evidence;
//! * [`xss`]: an HTML tag/attribute tokenizer plus JS-string and URL contexts;
//! * [`traversal`], [`command`], [`ssrf`], [`jndi`], [`scanner`].
//!
//! Work per value is linear: a value is inspected in windows of at most [`MAX_INSPECT`]
//! bytes (overlapping by [`WINDOW_OVERLAP`]), and every detector scans a window a
//! bounded number of times.

pub mod command;
pub mod decode;
pub mod jndi;
pub mod scanner;
pub mod sqli;
pub mod ssrf;
pub mod traversal;
pub mod xss;

pub use decode::MAX_INSPECT;

/// An injection family (or scanner fingerprints), in the order of
/// `crate::config::FAMILIES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// SQL injection (`sqli`).
    Sqli,
    /// HTML/JS injection (`xss`).
    Xss,
    /// Path traversal and local file inclusion (`path_traversal`).
    PathTraversal,
    /// OS command injection (`command`).
    Command,
    /// Server-side request forgery (`ssrf`).
    Ssrf,
    /// Log4Shell-style JNDI lookups (`jndi`).
    Jndi,
    /// Known attack-tool fingerprints (`scanner`).
    Scanner,
}

impl Family {
    /// All families, in `crate::config::FAMILIES` order.
    pub const ALL: [Family; 7] = [
        Family::Sqli,
        Family::Xss,
        Family::PathTraversal,
        Family::Command,
        Family::Ssrf,
        Family::Jndi,
        Family::Scanner,
    ];

    /// The contract id (`sqli`, `xss`, `path_traversal`, `command`, `ssrf`, `jndi`,
    /// `scanner`).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Sqli => "sqli",
            Family::Xss => "xss",
            Family::PathTraversal => "path_traversal",
            Family::Command => "command",
            Family::Ssrf => "ssrf",
            Family::Jndi => "jndi",
            Family::Scanner => "scanner",
        }
    }

    /// Position in [`Family::ALL`] (and in `crate::config::FAMILIES`).
    pub fn index(self) -> usize {
        match self {
            Family::Sqli => 0,
            Family::Xss => 1,
            Family::PathTraversal => 2,
            Family::Command => 3,
            Family::Ssrf => 4,
            Family::Jndi => 5,
            Family::Scanner => 6,
        }
    }

    /// The family of a contract id, if any.
    pub fn from_id(id: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.as_str() == id)
    }

    fn bit(self) -> u8 {
        1 << self.index()
    }
}

/// A set of families (bitset over [`Family::index`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct FamilySet(u8);

impl FamilySet {
    /// The empty set.
    pub const EMPTY: FamilySet = FamilySet(0);
    /// Every family.
    pub const ALL: FamilySet = FamilySet(0x7f);

    /// Adds a family.
    pub fn insert(&mut self, f: Family) {
        self.0 |= f.bit();
    }

    /// Removes a family.
    pub fn remove(&mut self, f: Family) {
        self.0 &= !f.bit();
    }

    /// Whether the set holds `f`.
    pub fn contains(self, f: Family) -> bool {
        self.0 & f.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of families in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Union of two sets.
    pub fn union(self, other: FamilySet) -> FamilySet {
        FamilySet(self.0 | other.0)
    }

    /// Intersection of two sets.
    pub fn intersection(self, other: FamilySet) -> FamilySet {
        FamilySet(self.0 & other.0)
    }

    /// The families of the set, in [`Family::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Family> {
        Family::ALL.into_iter().filter(move |f| self.contains(*f))
    }

    /// The raw bits (bit `i` is the family of index `i`).
    pub fn bits(self) -> u8 {
        self.0
    }
}

impl FromIterator<Family> for FamilySet {
    fn from_iter<I: IntoIterator<Item = Family>>(iter: I) -> Self {
        let mut s = FamilySet::EMPTY;
        for f in iter {
            s.insert(f);
        }
        s
    }
}

/// Where a value was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A path segment (see [`Detector::inspect_path`] for the whole path).
    Path,
    /// A query value.
    Query,
    /// A header value.
    Header,
    /// A body value (JSON string value, form field, raw text body).
    Body,
}

impl Place {
    /// The contract id (`path`, `query`, `header`, `body`).
    pub fn as_str(self) -> &'static str {
        match self {
            Place::Path => "path",
            Place::Query => "query",
            Place::Header => "header",
            Place::Body => "body",
        }
    }
}

/// Bytes without which a family's detector cannot fire, as bits of [`NEEDS`]: a
/// value holding none of a family's bytes skips that detector (prose such as `standard
/// delivery` otherwise runs every family). Each set is what every rule of the
/// detector requires (the property tests `*_needs_its_bytes` and traversal's
/// `every_pattern_holds_a_needed_byte` check them):
/// - traversal: `.` (dot-dot, `boot.ini`), `/` or `\` (system paths, wrappers);
/// - SSRF: `:` (schemes, ports), `/` or `\` (`//host`), `.` or `[` (a dotted or
///   bracketed host), `@` (a bare `localhost@metadata`: user info before the one
///   metadata name without a dot);
/// - XSS: `<` (tags), quotes and a backtick (breakouts), `:` (script URLs), `(`,
///   `` ` ``, `[`, `.` or `=` after a sink name, `{` (templates).
const NEEDS_TRAVERSAL: u8 = 1;
/// See [`NEEDS_TRAVERSAL`].
const NEEDS_SSRF: u8 = 2;
/// See [`NEEDS_TRAVERSAL`].
const NEEDS_XSS: u8 = 4;

/// Per byte, the families that need it.
static NEEDS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'.' as usize] = NEEDS_TRAVERSAL | NEEDS_SSRF | NEEDS_XSS;
    t[b'/' as usize] = NEEDS_TRAVERSAL | NEEDS_SSRF;
    t[b'\\' as usize] = NEEDS_TRAVERSAL | NEEDS_SSRF;
    t[b':' as usize] = NEEDS_SSRF | NEEDS_XSS;
    t[b'[' as usize] = NEEDS_SSRF | NEEDS_XSS;
    t[b'@' as usize] = NEEDS_SSRF;
    let mut i = 0;
    let xss = *b"<\"'`({=";
    while i < xss.len() {
        t[xss[i] as usize] |= NEEDS_XSS;
        i += 1;
    }
    t
};

/// The [`NEEDS`] bits of the bytes of `t` (one pass).
fn needs_present(t: &[u8]) -> u8 {
    t.iter().fold(0, |m, &b| m | NEEDS[usize::from(b)])
}

/// Whether `t` is only lower-case ASCII letters, digits, spaces, commas and full stops
/// (`3863 oak avenue, boston`; see [`sqli::words_may_inject`],
/// [`command::words_may_inject`]).
fn is_words(t: &[u8]) -> bool {
    t.iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b' ' | b',' | b'.'))
}

/// Whether a `+` in `value` stands for a space where it was found: always in a query,
/// never in a path, in headers and bodies when the value looks form-encoded.
fn plus_as_space(value: &[u8], place: Place) -> bool {
    match place {
        Place::Path => false,
        Place::Query => true,
        Place::Header | Place::Body => decode::looks_form_encoded(value),
    }
}

/// Payload detector, built once per configuration.
#[derive(Debug, Clone)]
pub struct Detector {
    enabled: FamilySet,
}

/// Values up to this length that need no decoding are inspected without allocating.
const FAST_LEN: usize = 128;
/// Maximum number of path segments inspected one by one for injections.
const MAX_SEGMENTS: usize = 32;
/// Maximum number of `;`-separated cookie pieces inspected one by one.
const MAX_COOKIE_PIECES: usize = 16;
/// Bytes shared by consecutive windows of a value longer than [`MAX_INSPECT`].
pub const WINDOW_OVERLAP: usize = 1024;

impl Detector {
    /// A detector running the `enabled` families.
    pub fn new(enabled: FamilySet) -> Self {
        Self { enabled }
    }

    /// The enabled families.
    pub fn enabled(&self) -> FamilySet {
        self.enabled
    }

    /// Inspects one value (query value, header value, JSON string value, form field,
    /// raw text body) as it arrived on the wire: it is decoded here (see [`decode`]).
    /// A value longer than [`MAX_INSPECT`] bytes is inspected in windows of that size
    /// overlapping by [`WINDOW_OVERLAP`] bytes, so every byte is looked at and an
    /// injection up to the overlap long lies wholly in one window; the cost stays
    /// linear in the value (whose length the body or header limits bound). Returns the
    /// families found among the enabled ones.
    pub fn inspect(&self, value: &[u8], place: Place) -> FamilySet {
        if value.len() <= MAX_INSPECT {
            return self.inspect_window(value, place);
        }
        let mut found = FamilySet::EMPTY;
        let mut start = 0usize;
        loop {
            let end = start.saturating_add(MAX_INSPECT).min(value.len());
            let window = value.get(start..end).unwrap_or_default();
            found = found.union(self.inspect_window(window, place));
            if end >= value.len() || found == self.enabled {
                return found;
            }
            start = end - WINDOW_OVERLAP;
        }
    }

    /// [`Detector::inspect`] of at most [`MAX_INSPECT`] bytes.
    fn inspect_window(&self, value: &[u8], place: Place) -> FamilySet {
        let mut found = FamilySet::EMPTY;
        if self.enabled.is_empty() || value.is_empty() {
            return found;
        }
        self.inspect_value(value, place, &mut found);
        if place == Place::Header
            && self.enabled.contains(Family::Sqli)
            && !found.contains(Family::Sqli)
            && value.contains(&b'=')
            && !contains(value, b"://")
        {
            // Cookie-like header values: each `name=value` piece is a value of its own.
            for piece in value.split(|&b| b == b';').take(MAX_COOKIE_PIECES) {
                let Some(eq) = piece.iter().position(|&b| b == b'=') else {
                    continue;
                };
                let v = piece.get(eq + 1..).unwrap_or_default();
                if v.is_empty() || v.len() == value.len() {
                    continue;
                }
                let n = decode::normalize(v, true);
                if sqli::detect(&n.text) {
                    found.insert(Family::Sqli);
                    break;
                }
            }
        }
        found
    }

    /// Decodes `value` ([`decode::normalize`]) and runs the enabled families on it.
    fn inspect_value(&self, value: &[u8], place: Place, found: &mut FamilySet) {
        // Without allocation: a short value with nothing to decode (ids, numbers, names,
        // enums, prose, URLs) is lower-cased on the stack, which is all `normalize`
        // would do to it. A `+` takes the general path, where the place decides whether
        // it stands for a space.
        if value.len() <= FAST_LEN && !decode::needs_decoding(value, true) {
            let mut buf = [0u8; FAST_LEN];
            let t = buf.get_mut(..value.len()).unwrap_or_default();
            t.copy_from_slice(value);
            t.make_ascii_lowercase();
            self.inspect_text(t, false, place, found);
        } else {
            let norm = decode::normalize(value, plus_as_space(value, place));
            self.inspect_text(&norm.text, norm.nul, place, found);
        }
    }

    /// Runs the enabled families on `t`, a value as [`decode::normalize`] leaves it
    /// (`nul`: the value held a NUL byte).
    fn inspect_text(&self, t: &[u8], nul: bool, place: Place, found: &mut FamilySet) {
        let on = self.enabled;
        let needs = needs_present(t);
        // Fast path: words, numbers and harmless punctuation only.
        if on.contains(Family::Scanner) && scanner::oast_domain(t) {
            found.insert(Family::Scanner);
        }
        if !nul && decode::is_plain(t) {
            if on.contains(Family::Ssrf) && needs & NEEDS_SSRF != 0 && ssrf::detect(t) {
                found.insert(Family::Ssrf);
            }
            return;
        }
        // Prose (lower-case words, spaces, commas, full stops) reaches SQLi only with a
        // keyword among its words, command injection only with a full stop or a command
        // name as its first word.
        let words = is_words(t);
        if on.contains(Family::Sqli) && (!words || sqli::words_may_inject(t)) && sqli::detect(t) {
            found.insert(Family::Sqli);
        }
        if on.contains(Family::Xss) && needs & NEEDS_XSS != 0 && xss::detect(t) {
            found.insert(Family::Xss);
        }
        if on.contains(Family::PathTraversal)
            && (nul || needs & NEEDS_TRAVERSAL != 0 && traversal::detect(t, place == Place::Path))
        {
            found.insert(Family::PathTraversal);
        }
        if on.contains(Family::Command)
            && (!words || command::words_may_inject(t))
            && command::detect(t)
        {
            found.insert(Family::Command);
        }
        if on.contains(Family::Ssrf) && needs & NEEDS_SSRF != 0 && ssrf::detect(t) {
            found.insert(Family::Ssrf);
        }
        if on.contains(Family::Jndi) && jndi::detect(t) {
            found.insert(Family::Jndi);
        }
    }

    /// Inspects the raw request path (without the query): traversal after decoding
    /// (`../`, `%2e%2e`, `..%2f`, `%252e`, overlong `%c0%ae`, backslashes, `..;`, NUL
    /// bytes), absolute system paths, scanner probe paths (`/.git/config`,
    /// `/wp-admin`, `/.env`, `/phpmyadmin`, `/actuator/env`, ...), and injections in
    /// single path segments. Only the first [`MAX_INSPECT`] bytes are inspected.
    pub fn inspect_path(&self, raw_path: &[u8]) -> FamilySet {
        let mut found = FamilySet::EMPTY;
        if self.enabled.is_empty() || raw_path.is_empty() {
            return found;
        }
        let norm = decode::normalize(raw_path, false);
        let t = norm.text.as_slice();
        let on = self.enabled;
        if on.contains(Family::PathTraversal) && (norm.nul || traversal::detect(t, true)) {
            found.insert(Family::PathTraversal);
        }
        if on.contains(Family::Scanner) && scanner::probe_path(t) {
            found.insert(Family::Scanner);
        }
        if on.contains(Family::Ssrf) {
            // `/proxy/http://169.254.169.254/...`: a URL embedded in the path.
            if let Some(p) = find(t, b"://") {
                let start = t
                    .get(..p)
                    .and_then(|h| h.iter().rposition(|&b| b == b'/'))
                    .map_or(0, |s| s + 1);
                if ssrf::detect(t.get(start..).unwrap_or_default()) {
                    found.insert(Family::Ssrf);
                }
            }
        }
        // Injections: per raw segment (an encoded `%2f` stays inside its segment).
        let rest = on.intersection(FamilySet::from_iter([
            Family::Sqli,
            Family::Xss,
            Family::Command,
            Family::Jndi,
        ]));
        if !rest.is_empty() {
            let sub = Detector::new(rest);
            for seg in raw_path
                .get(..MAX_INSPECT)
                .unwrap_or(raw_path)
                .split(|&b| b == b'/')
                .filter(|s| !s.is_empty())
                .take(MAX_SEGMENTS)
            {
                if seg
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
                {
                    continue;
                }
                found = found.union(sub.inspect(seg, Place::Path));
            }
            // XSS and JNDI may straddle segments (`</script>`, `ldap://`).
            if on.contains(Family::Xss) && xss::detect(t) {
                found.insert(Family::Xss);
            }
            if on.contains(Family::Jndi) && jndi::detect(t) {
                found.insert(Family::Jndi);
            }
        }
        found
    }

    /// Whether a user-agent carries the fingerprint of an attack tool (sqlmap,
    /// nikto, nuclei, acunetix, masscan, zgrab, dirbuster, gobuster, wfuzz, ffuf, nmap,
    /// hydra, ...). Ordinary HTTP clients (curl, python-requests, Go, Java) are not
    /// attack tools. Returns false when `scanner` is not enabled.
    pub fn scanner_user_agent(&self, ua: &[u8]) -> bool {
        self.enabled.contains(Family::Scanner) && scanner::user_agent(ua)
    }
}

/// Position of `needle` in `hay` (naive, for short needles).
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = *needle.first()?;
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        match hay.get(i..=last_start)?.iter().position(|&b| b == first) {
            None => return None,
            Some(off) => {
                let p = i + off;
                if hay.get(p..p + needle.len()) == Some(needle) {
                    return Some(p);
                }
                i = p + 1;
            }
        }
    }
    None
}

/// A set of short byte patterns (at most 64), bucketed by their first byte and
/// filtered by their first two bytes, built at compile time: one pass over a value
/// finds every occurrence of every pattern.
pub(crate) struct PatSet {
    pats: &'static [&'static [u8]],
    /// Bit `i` of `by_first[b]`: pattern `i` starts with byte `b`.
    by_first: [u64; 256],
    /// Bigram filter: bit `(a << 8 | b)` set when some pattern starts with `a b`
    /// (one-byte patterns set every `a _`).
    pairs: [u64; 1024],
}

impl PatSet {
    /// Builds the set; patterns must be non-empty and at most 64.
    pub(crate) const fn new(pats: &'static [&'static [u8]]) -> Self {
        let mut by_first = [0u64; 256];
        let mut pairs = [0u64; 1024];
        let mut i = 0;
        while i < pats.len() && i < 64 {
            let p = pats[i];
            if !p.is_empty() {
                let a = p[0] as usize;
                by_first[a] |= 1 << i;
                if p.len() == 1 {
                    let mut b = 0;
                    while b < 256 {
                        let k = a << 8 | b;
                        pairs[k >> 6] |= 1 << (k & 63);
                        b += 1;
                    }
                } else {
                    let k = a << 8 | p[1] as usize;
                    pairs[k >> 6] |= 1 << (k & 63);
                }
            }
            i += 1;
        }
        Self {
            pats,
            by_first,
            pairs,
        }
    }

    /// The patterns that occur at `t[i..]`, as a bitmask of pattern indices.
    #[inline]
    pub(crate) fn at(&self, t: &[u8], i: usize) -> u64 {
        let Some(&a) = t.get(i) else {
            return 0;
        };
        let b = t.get(i + 1).copied().unwrap_or(0);
        let k = usize::from(a) << 8 | usize::from(b);
        let pair_hit = self
            .pairs
            .get(k >> 6)
            .is_some_and(|w| w & (1 << (k & 63)) != 0);
        if !pair_hit {
            return 0;
        }
        let mut cands = self.by_first.get(usize::from(a)).copied().unwrap_or(0);
        let mut hits = 0u64;
        let rest = t.get(i..).unwrap_or_default();
        while cands != 0 {
            let k = cands.trailing_zeros() as usize;
            cands &= cands - 1;
            if self.pats.get(k).is_some_and(|p| rest.starts_with(p)) {
                hits |= 1 << k;
            }
        }
        hits
    }

    /// Indices (bitmask) of the patterns starting with byte `b`.
    #[inline]
    pub(crate) fn starting_with(&self, b: u8) -> u64 {
        self.by_first.get(usize::from(b)).copied().unwrap_or(0)
    }

    /// The pattern of index `k`.
    pub(crate) fn pattern(&self, k: usize) -> &'static [u8] {
        self.pats.get(k).copied().unwrap_or_default()
    }

    /// Calls `f(position, pattern)` for every occurrence, in order, until it returns
    /// true; returns whether it did.
    pub(crate) fn any(&self, t: &[u8], mut f: impl FnMut(usize, &'static [u8]) -> bool) -> bool {
        for i in 0..t.len() {
            let mut hits = self.at(t, i);
            while hits != 0 {
                let k = hits.trailing_zeros() as usize;
                hits &= hits - 1;
                if f(i, self.pattern(k)) {
                    return true;
                }
            }
        }
        false
    }

    /// Whether any pattern occurs in `t`.
    pub(crate) fn occurs(&self, t: &[u8]) -> bool {
        self.any(t, |_, _| true)
    }
}

/// Whether `hay` contains `needle`.
pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

/// Whether `b` may be part of a word (ASCII alphanumeric or `_`).
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn all() -> Detector {
        Detector::new(FamilySet::ALL)
    }

    #[test]
    fn long_values_are_inspected_in_overlapping_windows() {
        let d = all();
        let sqli = "1' OR '1'='1";
        // Past the first window, across a window edge, and at the very end.
        for at in [
            MAX_INSPECT + 100,
            MAX_INSPECT - 5,
            2 * (MAX_INSPECT - WINDOW_OVERLAP) - 3,
            60_000,
        ] {
            let v = format!("{}{sqli}", "a ".repeat(at / 2));
            assert!(
                d.inspect(v.as_bytes(), Place::Body).contains(Family::Sqli),
                "injection at {at}"
            );
        }
        let prose = "the quick brown fox jumps over the lazy dog. ".repeat(3000);
        assert!(prose.len() > 8 * MAX_INSPECT);
        assert_eq!(d.inspect(prose.as_bytes(), Place::Body), FamilySet::EMPTY);
    }

    #[test]
    fn family_order_matches_config() {
        for (i, f) in Family::ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
            assert_eq!(crate::config::FAMILIES.get(i).copied(), Some(f.as_str()));
            assert_eq!(Family::from_id(f.as_str()), Some(*f));
        }
    }

    #[test]
    fn family_set_ops() {
        let mut s = FamilySet::default();
        assert!(s.is_empty());
        s.insert(Family::Xss);
        s.insert(Family::Scanner);
        assert!(s.contains(Family::Xss) && !s.contains(Family::Sqli));
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![Family::Xss, Family::Scanner]
        );
        let u = s.union(FamilySet::from_iter([Family::Sqli]));
        assert_eq!(u.len(), 3);
        s.remove(Family::Xss);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![Family::Scanner]);
        assert_eq!(Place::Header.as_str(), "header");
    }

    #[test]
    fn disabled_families_are_not_reported() {
        let d = Detector::new(FamilySet::from_iter([Family::Xss]));
        assert!(d.inspect(b"1' or '1'='1", Place::Query).is_empty());
        assert!(d
            .inspect(b"<script>alert(1)</script>", Place::Query)
            .contains(Family::Xss));
        assert!(!d.scanner_user_agent(b"sqlmap/1.7"));
        assert!(Detector::new(FamilySet::EMPTY)
            .inspect(b"<script>", Place::Body)
            .is_empty());
    }

    #[test]
    fn inspect_routes_to_families() {
        let d = all();
        let has = |v: &[u8], f: Family| d.inspect(v, Place::Query).contains(f);
        assert!(has(b"1%27%20or%20%271%27%3D%271", Family::Sqli));
        assert!(has(b"%3Csvg%2Fonload%3Dalert(1)%3E", Family::Xss));
        assert!(has(b"..%252f..%252fetc%252fpasswd", Family::PathTraversal));
        assert!(has(b"x;cat /etc/passwd", Family::Command));
        assert!(has(
            b"http://169.254.169.254/latest/meta-data/",
            Family::Ssrf
        ));
        assert!(has(b"${jndi:ldap://x.example/a}", Family::Jndi));
        assert!(has(b"http://abc.oastify.com", Family::Scanner));
        assert!(has(b"file.png%00.php", Family::PathTraversal));
        for benign in [
            &b"O'Brien"[..],
            b"please select one option or the other",
            b"https://example.com/a?b=c",
            b"1+1=2",
            b"report.final.pdf",
        ] {
            assert!(d.inspect(benign, Place::Query).is_empty(), "{:?}", benign);
        }
    }

    #[test]
    fn cookie_pieces_are_values() {
        let d = all();
        let f = d.inspect(b"session=abc123; id=1' or '1'='1", Place::Header);
        assert!(f.contains(Family::Sqli));
        assert!(d
            .inspect(b"session=abc123; theme=dark", Place::Header)
            .is_empty());
    }

    #[test]
    fn path_inspection() {
        let d = all();
        let p = |v: &[u8]| d.inspect_path(v);
        assert!(p(b"/static/..%2f..%2fetc/passwd").contains(Family::PathTraversal));
        assert!(p(b"/a/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd").contains(Family::PathTraversal));
        assert!(p(b"/files/..;/admin").contains(Family::PathTraversal));
        assert!(p(b"/.git/config").contains(Family::Scanner));
        assert!(p(b"/wp-admin/install.php").contains(Family::Scanner));
        assert!(p(b"/actuator/env").contains(Family::Scanner));
        assert!(p(b"/users/1%20union%20select%20password%20from%20users").contains(Family::Sqli));
        assert!(p(b"/search/%3Cscript%3Ealert(1)%3C%2Fscript%3E").contains(Family::Xss));
        assert!(p(b"/proxy/http://169.254.169.254/latest").contains(Family::Ssrf));
        assert!(p(b"/%24%7Bjndi%3Aldap%3A%2F%2Fx%2Fa%7D").contains(Family::Jndi));
        for benign in [
            &b"/api/v1/users/42/orders"[..],
            b"/files/report.final.pdf",
            b"/api/v2/search/caf%C3%A9",
            b"/docs/environment",
            b"/v1/envelopes/abc-123",
            b"/blog/2024/01/what-is-sql-union",
        ] {
            assert!(
                p(benign).is_empty(),
                "{:?}",
                String::from_utf8_lossy(benign)
            );
        }
    }

    #[test]
    fn scanner_user_agents() {
        let d = all();
        assert!(d.scanner_user_agent(b"sqlmap/1.7.2#stable (https://sqlmap.org)"));
        assert!(!d.scanner_user_agent(b"curl/8.5.0"));
    }

    #[test]
    fn pattern_sets() {
        static SET: PatSet = PatSet::new(&[b"abc", b"abd", b"x", b"zz"]);
        assert!(SET.occurs(b"..abd.."));
        assert!(SET.occurs(b"x"));
        assert!(!SET.occurs(b"ab zab z"));
        let mut seen = Vec::new();
        SET.any(b"abcxzz", |i, p| {
            seen.push((i, p));
            false
        });
        assert_eq!(
            seen,
            vec![(0, &b"abc"[..]), (3, &b"x"[..]), (4, &b"zz"[..])]
        );
    }

    #[test]
    fn find_helper() {
        assert_eq!(find(b"abcabd", b"abd"), Some(3));
        assert_eq!(find(b"ab", b"abc"), None);
        assert_eq!(find(b"", b"a"), None);
        assert!(contains(b"xx://", b"://"));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Instant;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn never_panics_on_bytes(v in proptest::collection::vec(any::<u8>(), 0..512)) {
            let d = Detector::new(FamilySet::ALL);
            for p in [Place::Path, Place::Query, Place::Header, Place::Body] {
                let _ = d.inspect(&v, p);
            }
            let _ = d.inspect_path(&v);
            let _ = d.scanner_user_agent(&v);
        }

        #[test]
        fn never_panics_on_syntax(v in "[-'\"<>/\\\\()%;|&`${}:=#*!@.a-z0-9 \n]{0,300}") {
            let d = Detector::new(FamilySet::ALL);
            let _ = d.inspect(v.as_bytes(), Place::Query);
            let _ = d.inspect(v.as_bytes(), Place::Body);
            let _ = d.inspect_path(v.as_bytes());
        }

    }

    /// Words of attacks (and of harmless values).
    const WORDS: &[&str] = &[
        "",
        "alert",
        "prompt",
        "confirm",
        "javascript",
        "vbscript",
        "data",
        "script",
        "img",
        "onerror",
        "src",
        "x",
        "1",
        "0",
        "localhost",
        "169",
        "254",
        "metadata",
        "google",
        "internal",
        "0x7f000001",
        "2130706433",
        "127",
        "file",
        "php",
        "http",
        "https",
        "gopher",
        "dict",
        "jar",
        "etc",
        "passwd",
        "boot",
        "ini",
        "win",
        "windows",
        "system32",
        "proc",
        "self",
        "environ",
        "ssh",
        "id",
        "rsa",
        "env",
        "git",
        "config",
        "union",
        "select",
        "from",
        "or",
        "sleep",
        "cat",
        "whoami",
        "curl",
        "wget",
        "sh",
        "jndi",
        "ldap",
        "lower",
        "top",
        "window",
        "constructor",
        "location",
        "document",
        "cookie",
        "fromcharcode",
        "instance-data",
        "ip6-localhost",
        "kubernetes",
    ];
    /// Every punctuation byte the detectors read.
    const PUNCT: &[&str] = &[
        "", " ", "\t", "\n", ".", "..", "/", "\\", ":", "[", "]", "<", ">", "\"", "'", "`", "(",
        ")", "{", "}", "=", ";", "|", "&", "$", "@", ",", "-", "_", "%", "?", "#", "!", "+", "*",
        "~", "^",
    ];

    /// Values of word-punctuation pairs that hold none of the bytes `needs` stands for.
    fn without(needs: u8) -> impl Strategy<Value = String> {
        let keep = |l: &[&'static str]| -> Vec<&'static str> {
            l.iter()
                .copied()
                .filter(|p| needs_present(p.as_bytes()) & needs == 0)
                .collect()
        };
        let pair = (
            proptest::sample::select(keep(WORDS)),
            proptest::sample::select(keep(PUNCT)),
        );
        proptest::collection::vec(pair, 0..8)
            .prop_map(|v| v.iter().map(|(w, p)| format!("{w}{p}")).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

        #[test]
        fn traversal_needs_its_bytes(v in without(NEEDS_TRAVERSAL)) {
            prop_assert!(!traversal::detect(v.as_bytes(), true), "{v:?}");
            prop_assert!(!traversal::detect(v.as_bytes(), false), "{v:?}");
        }

        #[test]
        fn ssrf_needs_its_bytes(v in without(NEEDS_SSRF)) {
            prop_assert!(!ssrf::detect(v.as_bytes()), "{v:?}");
        }

        #[test]
        fn xss_needs_its_bytes(v in without(NEEDS_XSS)) {
            prop_assert!(!xss::detect(v.as_bytes()), "{v:?}");
        }
    }

    /// [`Detector::inspect_value`] as it was before the stack path: every value through
    /// [`decode::normalize`] (what the stack path must agree with).
    fn inspect_by_normalize(d: &Detector, value: &[u8], place: Place) -> FamilySet {
        let norm = decode::normalize(value, plus_as_space(value, place));
        let mut found = FamilySet::EMPTY;
        d.inspect_text(&norm.text, norm.nul, place, &mut found);
        found
    }

    /// Words and punctuation of attacks, upper-cased at random, with decoding triggers
    /// (`%`, `&`, `+`, `\`, NUL, full-width and two-byte UTF-8) among them.
    fn attack_like() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            8 => proptest::sample::select(WORDS).prop_map(|w| w.as_bytes().to_vec()),
            2 => proptest::sample::select(WORDS).prop_map(|w| w.to_ascii_uppercase().into_bytes()),
            6 => proptest::sample::select(PUNCT).prop_map(|p| p.as_bytes().to_vec()),
            1 => proptest::sample::select(vec!["%2e", "&lt;", "\\u003c", "\0", "\u{ff0e}", "é", "+"])
                .prop_map(|p| p.as_bytes().to_vec()),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4_000, ..ProptestConfig::default() })]

        /// Short values lower-cased on the stack are judged as through `normalize`, in
        /// every place.
        #[test]
        fn the_stack_path_is_the_normalized_one(v in attack_like()) {
            let d = Detector::new(FamilySet::ALL);
            for place in [Place::Path, Place::Query, Place::Header, Place::Body] {
                let mut fast = FamilySet::EMPTY;
                d.inspect_value(&v, place, &mut fast);
                let slow = inspect_by_normalize(&d, &v, place);
                prop_assert_eq!(fast, slow, "{:?} in {:?}", String::from_utf8_lossy(&v), place);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn bounded_time_on_long_repetitive_input(
            unit in "[-'\"<>/\\\\()%;|&`${}:=#*.a-z0-9 ]{1,8}",
        ) {
            let d = Detector::new(FamilySet::ALL);
            let long = unit.repeat(64 * 1024 / unit.len() + 1);
            let start = Instant::now();
            let _ = d.inspect(long.as_bytes(), Place::Body);
            let _ = d.inspect_path(long.as_bytes());
            // Linear work on at most MAX_INSPECT bytes: far below this even in debug
            // builds on a loaded machine.
            prop_assert!(start.elapsed().as_millis() < 2_000, "{} ms for {:?}", start.elapsed().as_millis(), unit);
        }
    }

    #[test]
    fn pathological_inputs_are_fast() {
        let d = Detector::new(FamilySet::ALL);
        let cases: Vec<Vec<u8>> = vec![
            b"(".repeat(20_000),
            b"${".repeat(20_000),
            b"<a ".repeat(20_000),
            b"' or ".repeat(20_000),
            b"\"".repeat(20_000),
            b"%25".repeat(20_000),
            b"../".repeat(20_000),
            b";id ".repeat(20_000),
            b"{{".repeat(20_000),
            b"http://".repeat(20_000),
            b"&#x3c;".repeat(20_000),
            b"`".repeat(20_000),
            b"|".repeat(20_000),
            b":".repeat(20_000),
        ];
        for c in cases {
            let start = Instant::now();
            let _ = d.inspect(&c, Place::Body);
            let _ = d.inspect_path(&c);
            assert!(
                start.elapsed().as_millis() < 2_000,
                "{:?}",
                String::from_utf8_lossy(c.get(..8).unwrap_or_default())
            );
        }
    }
}
