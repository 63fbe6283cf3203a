//! Precompiled matchers used by rules: globs, CIDRs, endpoint templates and path
//! patterns. Built once at configure time; matching never allocates.

use std::fmt;
use std::net::IpAddr;

/// A glob where `*` matches any run of characters (including `/`). Everything else
/// matches itself; matching is case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    /// Literal pieces between the stars.
    pieces: Vec<String>,
    starts_with_star: bool,
    ends_with_star: bool,
}

impl Glob {
    /// Compiles a glob. Never fails: every string is a valid glob.
    pub fn new(pattern: &str) -> Self {
        let pieces: Vec<String> = pattern
            .split('*')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        Self {
            pieces,
            starts_with_star: pattern.starts_with('*'),
            ends_with_star: pattern.ends_with('*') && !pattern.is_empty(),
        }
    }

    /// The literal text every match starts with (`None`: the glob starts with `*`).
    pub fn literal_prefix(&self) -> Option<&str> {
        if self.starts_with_star {
            return None;
        }
        Some(self.pieces.first().map_or("", String::as_str))
    }

    /// Whether the glob has no star.
    pub fn is_literal(&self) -> bool {
        !self.starts_with_star && !self.ends_with_star && self.pieces.len() <= 1
    }

    /// Matches a whole string.
    pub fn matches(&self, s: &str) -> bool {
        let mut rest = s;
        let n = self.pieces.len();
        if n == 0 {
            return self.starts_with_star || s.is_empty();
        }
        for (i, piece) in self.pieces.iter().enumerate() {
            let first = i == 0;
            let last = i + 1 == n;
            if first && !self.starts_with_star {
                match rest.strip_prefix(piece.as_str()) {
                    Some(r) => rest = r,
                    None => return false,
                }
                if last && !self.ends_with_star {
                    return rest.is_empty();
                }
                continue;
            }
            if last && !self.ends_with_star {
                return rest.ends_with(piece.as_str());
            }
            match rest.find(piece.as_str()) {
                Some(pos) => rest = &rest[pos + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

/// A set of globs; matches when any matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlobSet(Vec<Glob>);

impl GlobSet {
    /// Compiles every pattern.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Self {
        Self(patterns.iter().map(|p| Glob::new(p.as_ref())).collect())
    }
    /// True when the set has no pattern (a condition that is not given).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Any glob matches.
    pub fn matches(&self, s: &str) -> bool {
        self.0.iter().any(|g| g.matches(s))
    }
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `fd00::/8`, or a bare address (a host route).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = ip
            .trim()
            .parse()
            .map_err(|_| format!("invalid CIDR \"{s}\": bad address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("invalid CIDR \"{s}\": prefix must be 0..={max}"))?,
        };
        Ok(Self { addr, prefix })
    }

    /// Whether `ip` lies in the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                (u32::from(net) & mask) == (u32::from(ip) & mask)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                (u128::from(net) & mask) == (u128::from(ip) & mask)
            }
            (IpAddr::V4(_), IpAddr::V6(ip)) => ip
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

/// One segment of an endpoint template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Matches itself.
    Literal(String),
    /// `{name}`: matches any one non-empty segment.
    Param(String),
}

/// An endpoint template such as `/users/{id}/orders`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    segments: Vec<Segment>,
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Template {
    /// Parses a template. Errors read like `invalid template "/users/{id": unclosed "{"`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid template \"{s}\": {why}");
        if !s.starts_with('/') {
            return Err(bad("must start with \"/\""));
        }
        if s.contains('?') || s.contains('#') {
            return Err(bad("must not contain a query or fragment"));
        }
        let mut segments = Vec::new();
        for (i, seg) in s[1..].split('/').enumerate() {
            if seg.is_empty() {
                // "/" alone, or a trailing slash: an empty last segment is allowed.
                if i == 0 && s.len() == 1 {
                    break;
                }
                if s.ends_with('/') && s[1..].split('/').count() == i + 1 {
                    break;
                }
                return Err(bad("empty segment (\"//\")"));
            }
            if let Some(inner) = seg.strip_prefix('{') {
                let Some(name) = inner.strip_suffix('}') else {
                    return Err(bad("unclosed \"{\""));
                };
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(bad("parameter names are letters, digits, `_` and `-`"));
                }
                segments.push(Segment::Param(name.to_string()));
            } else if seg.contains('{') || seg.contains('}') {
                if seg.contains('{') && !seg.contains('}') {
                    return Err(bad("unclosed \"{\""));
                }
                return Err(bad("a parameter must be a whole segment"));
            } else {
                segments.push(Segment::Literal(seg.to_string()));
            }
        }
        Ok(Self {
            text: s.to_string(),
            segments,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether a normalised path (leading `/`, no query) fits the template.
    pub fn matches(&self, path: &str) -> bool {
        let body = path.strip_prefix('/').unwrap_or(path);
        let body = body.strip_suffix('/').unwrap_or(body);
        let mut parts =
            crate::text::split_ascii(body, b'/').filter(|p| !body.is_empty() || !p.is_empty());
        for seg in &self.segments {
            let Some(part) = parts.next() else {
                return false;
            };
            match seg {
                Segment::Literal(l) => {
                    if l != part {
                        return false;
                    }
                }
                Segment::Param(_) => {
                    if part.is_empty() {
                        return false;
                    }
                }
            }
        }
        parts.next().is_none()
    }
}

/// A `paths` entry of a rule: a template (has `{`), a glob (has `*`) or an exact path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPattern {
    /// Matches paths that fit the template, or whose computed template is this text.
    Template(Template),
    /// Matches the normalised path.
    Glob(Glob),
    /// Matches the normalised path or the computed template exactly.
    Exact(String),
}

impl PathPattern {
    /// Parses a `paths` entry.
    pub fn parse(s: &str) -> Result<Self, String> {
        if !s.starts_with('/') && !s.starts_with('*') {
            return Err(format!(
                "invalid path \"{s}\": must start with \"/\" (or \"*\")"
            ));
        }
        if s.contains('{') || s.contains('}') {
            if s.contains('*') {
                return Err(format!(
                    "invalid path \"{s}\": use either a template or a glob, not both"
                ));
            }
            return Template::parse(s).map(PathPattern::Template);
        }
        if s.contains('*') {
            return Ok(PathPattern::Glob(Glob::new(s)));
        }
        Ok(PathPattern::Exact(s.to_string()))
    }

    /// Matches a request by its normalised path and its endpoint template.
    pub fn matches(&self, path: &str, template: &str) -> bool {
        match self {
            PathPattern::Template(t) => t.as_str() == template || t.matches(path),
            PathPattern::Glob(g) => g.matches(path) || g.matches(template),
            PathPattern::Exact(e) => e == path || e == template,
        }
    }
}

/// The first segment of a path (`/users/42` → `users`, `/` → ``); `None` when the
/// path does not start with `/`.
pub fn first_segment(path: &str) -> Option<&str> {
    let body = path.strip_prefix('/')?;
    Some(crate::text::split_once_ascii(body, b'/').map_or(body, |(first, _)| first))
}

impl PathPattern {
    /// The first segment that every path and template this pattern matches has
    /// (`None`: any first segment can match, e.g. `/{id}/x`, `/adm*`, `*`).
    pub fn first_segment(&self) -> Option<&str> {
        match self {
            PathPattern::Exact(e) => first_segment(e),
            PathPattern::Template(t) => match t.segments().first() {
                Some(Segment::Literal(l)) => Some(l.as_str()),
                _ => None,
            },
            // Only a prefix that ends its first segment with `/` names it whole.
            PathPattern::Glob(g) => {
                let body = g.literal_prefix()?.strip_prefix('/')?;
                crate::text::split_once_ascii(body, b'/').map(|(first, _)| first)
            }
        }
    }
}

/// Which entries of an ordered list of path conditions can match a request, by the
/// first segment of its path and of its template: an entry whose every pattern names
/// its first segment is filed under those segments, the others (and entries without
/// a path condition) are candidates for every request. Built at configure time, so
/// evaluating 200 rules scoped to `/admin/...` costs a lookup, not 200 matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathIndex {
    /// First segment → entry indices, ascending; sorted by segment.
    keyed: Vec<(String, Vec<usize>)>,
    /// Entries that any request can match, ascending.
    always: Vec<usize>,
}

impl PathIndex {
    /// Indexes the path conditions of an ordered list (an empty set: no condition).
    pub fn new<'a>(sets: impl IntoIterator<Item = &'a PathSet>) -> Self {
        let mut keyed: Vec<(String, Vec<usize>)> = Vec::new();
        let mut always = Vec::new();
        for (i, set) in sets.into_iter().enumerate() {
            let firsts: Option<Vec<&str>> = if set.is_empty() {
                None
            } else {
                set.0.iter().map(PathPattern::first_segment).collect()
            };
            let Some(mut firsts) = firsts else {
                always.push(i);
                continue;
            };
            firsts.sort_unstable();
            firsts.dedup();
            for f in firsts {
                match keyed.binary_search_by(|(k, _)| k.as_str().cmp(f)) {
                    Ok(at) => {
                        if let Some((_, v)) = keyed.get_mut(at) {
                            v.push(i);
                        }
                    }
                    Err(at) => keyed.insert(at, (f.to_string(), vec![i])),
                }
            }
        }
        Self { keyed, always }
    }

    fn under(&self, first: Option<&str>) -> &[usize] {
        first
            .and_then(|f| {
                self.keyed
                    .binary_search_by(|(k, _)| k.as_str().cmp(f))
                    .ok()
                    .and_then(|at| self.keyed.get(at))
            })
            .map_or(&[], |(_, v)| v.as_slice())
    }

    /// The entries that can match a request with this normalised path and template,
    /// in list order (each once). Never allocates.
    pub fn candidates<'a>(&'a self, path: &str, template: &str) -> Candidates<'a> {
        let pf = first_segment(path);
        let by_path = self.under(pf);
        let tf = first_segment(template);
        let by_template = if tf == pf { &[][..] } else { self.under(tf) };
        Candidates {
            lists: [&self.always, by_path, by_template],
        }
    }
}

/// Entry indices of [`PathIndex::candidates`]: a merge of three ascending lists.
#[derive(Debug)]
pub struct Candidates<'a> {
    lists: [&'a [usize]; 3],
}

impl Iterator for Candidates<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let next = self.lists.iter().filter_map(|l| l.first()).min().copied()?;
        for l in &mut self.lists {
            if l.first() == Some(&next) {
                *l = l.get(1..).unwrap_or_default();
            }
        }
        Some(next)
    }
}

/// A list of path patterns; matches when any matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathSet(pub Vec<PathPattern>);

impl PathSet {
    /// True when no pattern is given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Any pattern matches.
    pub fn matches(&self, path: &str, template: &str) -> bool {
        self.0.iter().any(|p| p.matches(path, template))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn path_index_files_rules_by_their_first_segment() {
        let set =
            |ps: &[&str]| PathSet(ps.iter().map(|p| PathPattern::parse(p).unwrap()).collect());
        let sets = [
            set(&["/admin/area07/*"]),     // 0: under `admin`
            set(&["/adm*"]),               // 1: any first segment
            set(&[]),                      // 2: no path condition
            set(&["/users/{id}", "/api"]), // 3: under `users` and `api`
            set(&["/{tenant}/reports"]),   // 4: any first segment
            set(&["/"]),                   // 5: under ``
            set(&["*/export"]),            // 6: any first segment
        ];
        let index = PathIndex::new(&sets);
        let got = |p: &str, t: &str| index.candidates(p, t).collect::<Vec<_>>();
        assert_eq!(got("/admin/area07/x", "/admin/area07/x"), [0, 1, 2, 4, 6]);
        assert_eq!(
            got("/api/v1/users/7", "/api/v1/users/{int}"),
            [1, 2, 3, 4, 6]
        );
        // The template's first segment counts too (a placeholder can be one).
        assert_eq!(got("/7/reports", "/users/reports"), [1, 2, 3, 4, 6]);
        assert_eq!(got("/", "/"), [1, 2, 4, 5, 6]);
        assert_eq!(got("no-slash", ""), [1, 2, 4, 6]);
        assert_eq!(first_segment("/users/42"), Some("users"));
        assert_eq!(first_segment("/"), Some(""));
        assert_eq!(first_segment("users"), None);
    }

    #[test]
    fn globs() {
        let g = Glob::new("spiffe://cluster.local/ns/web/sa/*");
        assert!(g.matches("spiffe://cluster.local/ns/web/sa/frontend"));
        assert!(!g.matches("spiffe://cluster.local/ns/api/sa/frontend"));
        assert!(Glob::new("u-*").matches("u-1"));
        assert!(!Glob::new("u-*").matches("x-u-1"));
        assert!(Glob::new("*-admin").matches("ops-admin"));
        assert!(!Glob::new("*-admin").matches("ops-admin2"));
        assert!(Glob::new("a*b*c").matches("aXXbYYc"));
        assert!(Glob::new("a*b*c").matches("abc"));
        assert!(!Glob::new("a*b*c").matches("acb"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("exact").matches("exact"));
        assert!(!Glob::new("exact").matches("exact2"));
        assert!(Glob::new("").matches(""));
        assert!(!Glob::new("").matches("x"));
        assert!(Glob::new("/api/*").matches("/api/a/b"));
        assert!(Glob::new("ab*ab").matches("abab"));
        assert!(!Glob::new("ab*ab").matches("aba"));
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.9.9.9".parse().unwrap()));
        let h = Cidr::parse("192.168.1.5").unwrap();
        assert!(h.contains("192.168.1.5".parse().unwrap()));
        assert!(!h.contains("192.168.1.6".parse().unwrap()));
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("10.0.0/8").is_err());
        assert!(Cidr::parse("banana").is_err());
    }

    #[test]
    fn templates_parse_and_match() {
        let t = Template::parse("/users/{id}/orders").unwrap();
        assert!(t.matches("/users/42/orders"));
        assert!(t.matches("/users/42/orders/"));
        assert!(!t.matches("/users/42"));
        assert!(!t.matches("/users//orders"));
        assert!(!t.matches("/users/42/orders/1"));
        assert!(Template::parse("/").unwrap().matches("/"));
        assert!(!Template::parse("/").unwrap().matches("/a"));
        assert_eq!(
            Template::parse("/users/{id").unwrap_err(),
            "invalid template \"/users/{id\": unclosed \"{\""
        );
        assert!(Template::parse("users").is_err());
        assert!(Template::parse("/a//b").is_err());
        assert!(Template::parse("/a/x{id}").is_err());
        assert!(Template::parse("/a/{}").is_err());
        assert!(Template::parse("/a/").is_ok());
    }

    #[test]
    fn path_patterns() {
        let p = PathPattern::parse("/users/{id}").unwrap();
        assert!(p.matches("/users/7", "/users/{int}"));
        assert!(PathPattern::parse("/users/{int}")
            .unwrap()
            .matches("/users/7", "/users/{int}"));
        let g = PathPattern::parse("/api/*").unwrap();
        assert!(g.matches("/api/v1/x", "/api/v1/x"));
        assert!(!g.matches("/apix", "/apix"));
        let e = PathPattern::parse("/healthz").unwrap();
        assert!(e.matches("/healthz", "/healthz"));
        assert!(PathPattern::parse("healthz").is_err());
        assert!(PathPattern::parse("/a/{id}/*").is_err());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// Reference glob: `*` matches any run of characters, by dynamic programming.
    fn glob_ref(p: &[char], s: &[char]) -> bool {
        let mut m = vec![vec![false; s.len() + 1]; p.len() + 1];
        m[0][0] = true;
        for i in 1..=p.len() {
            if p[i - 1] == '*' {
                m[i][0] = m[i - 1][0];
            }
            for j in 1..=s.len() {
                m[i][j] = if p[i - 1] == '*' {
                    m[i - 1][j] || m[i][j - 1]
                } else {
                    m[i - 1][j - 1] && p[i - 1] == s[j - 1]
                };
            }
        }
        m[p.len()][s.len()]
    }

    /// Reference containment over u128 prefixes (IPv4 in its own 32-bit space, an
    /// IPv4-mapped IPv6 address as its IPv4 address).
    fn cidr_ref(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
        let top = |v: u128, width: u32| -> u128 {
            let p = u32::from(prefix);
            if p == 0 {
                0
            } else {
                v >> (width - p)
            }
        };
        match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                top(u128::from(u32::from(n)), 32) == top(u128::from(u32::from(i)), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => top(u128::from(n), 128) == top(u128::from(i), 128),
            (IpAddr::V4(n), IpAddr::V6(i)) => {
                let v = u128::from(i);
                v >> 32 == 0xffff && top(u128::from(u32::from(n)), 32) == top(v & 0xffff_ffff, 32)
            }
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }

    fn ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<u32>().prop_map(|v| IpAddr::V4(Ipv4Addr::from(v))),
            // Near-misses share a prefix with 10.0.0.0/8 and fd00::/8.
            (0u32..1 << 24).prop_map(|v| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | v))),
            any::<u128>().prop_map(|v| IpAddr::V6(Ipv6Addr::from(v))),
            any::<u128>().prop_map(|v| IpAddr::V6(Ipv6Addr::from((0xfd << 120) | (v >> 8)))),
            any::<u32>().prop_map(|v| IpAddr::V6(Ipv4Addr::from(v).to_ipv6_mapped())),
        ]
    }

    fn segment() -> impl Strategy<Value = (bool, String)> {
        (any::<bool>(), "[a-z0-9]{1,6}")
    }

    fn path_pattern() -> impl Strategy<Value = String> {
        // Segments that collide: literals, templates, globs anywhere.
        proptest::collection::vec(
            proptest::sample::select(vec!["a", "b", "ab", "{id}", "*", "a*", "", "/"]),
            0..4,
        )
        .prop_map(|segs| format!("/{}", segs.join("/")))
    }

    fn request_path() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            proptest::sample::select(vec!["a", "b", "ab", "{id}", "{int}", "7", ""]),
            0..4,
        )
        .prop_map(|segs| format!("/{}", segs.join("/")))
    }

    proptest! {
        #[test]
        fn the_path_index_never_drops_a_matching_entry(
            sets in proptest::collection::vec(proptest::collection::vec(path_pattern(), 0..3), 0..8),
            path in request_path(),
            template in request_path(),
        ) {
            let sets: Vec<PathSet> = sets
                .iter()
                .map(|ps| PathSet(ps.iter().filter_map(|p| PathPattern::parse(p).ok()).collect()))
                .collect();
            let index = PathIndex::new(&sets);
            let got: Vec<usize> = index.candidates(&path, &template).collect();
            // In list order, each once.
            prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "{:?}", got);
            for (i, set) in sets.iter().enumerate() {
                if set.is_empty() || set.matches(&path, &template) {
                    prop_assert!(got.contains(&i), "entry {} {:?} on {} / {}", i, set, path, template);
                }
            }
        }

        #[test]
        fn glob_agrees_with_the_reference(p in "[ab*/é]{0,8}", s in "[ab/é]{0,10}") {
            let pc: Vec<char> = p.chars().collect();
            let sc: Vec<char> = s.chars().collect();
            prop_assert_eq!(Glob::new(&p).matches(&s), glob_ref(&pc, &sc), "glob {:?} on {:?}", p, s);
        }

        #[test]
        fn globs_match_what_they_were_built_from(pieces in proptest::collection::vec("[a-c/]{0,4}", 1..5), fill in proptest::collection::vec("[a-z/]{0,5}", 5)) {
            // Joining the pieces with any fillers matches the glob joined with stars.
            let pattern = pieces.join("*");
            let mut s = String::new();
            for (i, piece) in pieces.iter().enumerate() {
                if i > 0 {
                    s.push_str(&fill[i % fill.len()]);
                }
                s.push_str(piece);
            }
            prop_assert!(Glob::new(&pattern).matches(&s), "{:?} on {:?}", pattern, s);
        }

        #[test]
        fn cidr_containment_agrees_with_u128_prefixes(net in ip(), prefix in 0u8..=128, probe in ip()) {
            let max = if net.is_ipv4() { 32 } else { 128 };
            let prefix = prefix % (max + 1);
            let text = format!("{net}/{prefix}");
            let c = Cidr::parse(&text).unwrap();
            prop_assert_eq!(c.contains(probe), cidr_ref(net, prefix, probe), "{} contains {}", text, probe);
            // The network always contains its own address; a bare address is a host route.
            prop_assert!(c.contains(net));
            prop_assert_eq!(Cidr::parse(&net.to_string()).unwrap().contains(probe), net == probe || cidr_ref(net, max, probe));
        }

        #[test]
        fn templates_match_exactly_the_paths_they_describe(
            segs in proptest::collection::vec(segment(), 0..6),
            values in proptest::collection::vec("[A-Za-z0-9_.-]{1,8}", 6),
            trailing in any::<bool>(),
        ) {
            let mut t = String::new();
            let mut path = String::new();
            for (i, (param, lit)) in segs.iter().enumerate() {
                if *param {
                    t.push_str(&format!("/{{p{i}}}"));
                    path.push('/');
                    path.push_str(&values[i]);
                } else {
                    t.push('/');
                    t.push_str(lit);
                    path.push('/');
                    path.push_str(lit);
                }
            }
            if t.is_empty() {
                t.push('/');
                path.push('/');
            } else if trailing {
                path.push('/');
            }
            let tpl = Template::parse(&t).unwrap();
            prop_assert!(tpl.matches(&path), "{} on {}", t, path);
            let pat = PathPattern::parse(&t).unwrap();
            if segs.iter().any(|(param, _)| *param) {
                // A `paths` entry with a parameter is a template (an exact path
                // without one is compared as written).
                prop_assert!(pat.matches(&path, "/not-the-template"));
            }
            // One segment more or less never matches.
            let longer = format!("{}/extra", path.trim_end_matches('/'));
            prop_assert!(!tpl.matches(&longer), "{} on {}", t, longer);
            if let Some((shorter, _)) = path.trim_end_matches('/').rsplit_once('/') {
                if !segs.is_empty() {
                    let shorter = if shorter.is_empty() { "/" } else { shorter };
                    prop_assert!(!tpl.matches(shorter), "{} on {:?}", t, shorter);
                }
            }
            // A changed literal never matches.
            if let Some(i) = segs.iter().position(|(param, _)| !param) {
                let mut parts: Vec<String> = path.trim_end_matches('/').split('/').map(str::to_string).collect();
                parts[i + 1].push('x');
                prop_assert!(!tpl.matches(&parts.join("/")));
            }
        }
    }
}
