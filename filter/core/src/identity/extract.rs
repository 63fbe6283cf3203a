//! Reading credentials out of a request: header values, `Bearer` and `Basic`
//! schemes, cookies, query parameters, and removing a query parameter (API key strip).

use std::borrow::Cow;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

use crate::config::Location;
use crate::exchange::HeaderList;
use crate::text::{form_pairs, percent_decode};

/// Standard base64, padding optional (what Basic credentials are seen with).
const BASIC_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A credential as found at one location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented<'a> {
    /// Nowhere.
    Absent,
    /// Exactly one value (or the same value repeated).
    One(Cow<'a, [u8]>),
    /// Several different values: which one the upstream uses is unknown.
    Ambiguous(Cow<'a, [u8]>),
}

impl<'a> Presented<'a> {
    /// Collapses the values found.
    fn from_values(values: Vec<Cow<'a, [u8]>>) -> Self {
        let mut it = values.into_iter();
        let Some(first) = it.next() else {
            return Presented::Absent;
        };
        for v in it {
            if v != first {
                return Presented::Ambiguous(first);
            }
        }
        Presented::One(first)
    }
}

fn trim(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

/// Every value of a header (lower-case `name`), trimmed, in order.
pub fn header_values<'a, 'n>(
    headers: &'a HeaderList<'a>,
    name: &'n str,
) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| trim(v))
}

/// The rest of `value` after the auth `scheme` (case-insensitive) and white space.
pub fn after_scheme<'v>(value: &'v [u8], scheme: &str) -> Option<&'v [u8]> {
    let v = trim(value);
    let s = scheme.as_bytes();
    if v.len() <= s.len() || !v[..s.len()].eq_ignore_ascii_case(s) {
        return None;
    }
    let rest = &v[s.len()..];
    if !matches!(rest.first(), Some(b' ' | b'\t')) {
        return None;
    }
    let rest = trim(rest);
    (!rest.is_empty()).then_some(rest)
}

/// The user of `Authorization: Basic base64(user:password)`.
pub fn basic_user(value: &[u8]) -> Option<String> {
    let b64 = after_scheme(value, "basic")?;
    let decoded = BASIC_B64.decode(b64).ok()?;
    let user = match decoded.iter().position(|&b| b == b':') {
        Some(i) => &decoded[..i],
        None => &decoded[..],
    };
    let user = std::str::from_utf8(user).ok()?;
    (!user.is_empty()).then(|| user.to_string())
}

/// Every value of cookie `name` in the `cookie` headers (`a=1; b=2`), quotes removed.
fn cookie_values<'a>(headers: &'a HeaderList<'a>, name: &str) -> Vec<Cow<'a, [u8]>> {
    let mut out = Vec::new();
    for h in header_values(headers, "cookie") {
        for piece in h.split(|&b| b == b';') {
            let piece = trim(piece);
            let Some(eq) = piece.iter().position(|&b| b == b'=') else {
                continue;
            };
            if trim(&piece[..eq]) != name.as_bytes() {
                continue;
            }
            let mut v = trim(&piece[eq + 1..]);
            if v.len() >= 2 && v.first() == Some(&b'"') && v.last() == Some(&b'"') {
                v = &v[1..v.len() - 1];
            }
            out.push(Cow::Borrowed(v));
        }
    }
    out
}

/// Every value of query parameter `name` (both percent-decoded, `+` as space).
fn query_values<'a>(query: Option<&'a str>, name: &str) -> Vec<Cow<'a, [u8]>> {
    let Some(q) = query else {
        return Vec::new();
    };
    form_pairs(q.as_bytes())
        .filter(|(k, _)| &*percent_decode(k, true) == name.as_bytes())
        .map(|(_, v)| percent_decode(v, true))
        .collect()
}

/// A credential at `at`. In a header, `Bearer ` is removed when `bearer` is set and
/// the value uses that scheme; `authorization` values of another scheme are not
/// credentials here (`Basic ...` is no JWT). Empty values count as absent.
pub fn presented<'a>(
    headers: &'a HeaderList<'a>,
    query: Option<&'a str>,
    at: &Location,
    bearer: bool,
) -> Presented<'a> {
    let values: Vec<Cow<'a, [u8]>> = match at {
        Location::Header(name) => header_values(headers, name)
            .filter_map(|v| {
                if bearer {
                    match after_scheme(v, "bearer") {
                        Some(t) => Some(t),
                        None if name == "authorization" => None,
                        None => Some(v),
                    }
                } else {
                    Some(v)
                }
            })
            .map(Cow::Borrowed)
            .collect(),
        Location::Cookie(name) => cookie_values(headers, name),
        Location::Query(name) => query_values(query, name),
    };
    Presented::from_values(values.into_iter().filter(|v| !v.is_empty()).collect())
}

/// Whether a parameter of this (decoded) name is in the query.
pub fn has_query_param(query: Option<&str>, name: &str) -> bool {
    !query_values(query, name).is_empty()
}

/// `:path` without every query parameter whose decoded name is `name` (the API key
/// strip). `None` when the path has no such parameter. A query left empty loses its `?`.
pub fn remove_query_param(path: &str, name: &str) -> Option<String> {
    let (p, q) = path.split_once('?')?;
    let mut removed = false;
    let kept: Vec<&str> = q
        .split('&')
        .filter(|piece| {
            let key = piece.split_once('=').map_or(*piece, |(k, _)| k);
            let hit =
                !piece.is_empty() && &*percent_decode(key.as_bytes(), true) == name.as_bytes();
            removed |= hit;
            !hit
        })
        .collect();
    if !removed {
        return None;
    }
    let rest = kept.join("&");
    Some(if rest.is_empty() {
        p.to_string()
    } else {
        format!("{p}?{rest}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Headers for a test (leaked: they live as long as the test process).
    fn hs(list: &[(&str, &str)]) -> Vec<crate::exchange::Header<'static>> {
        list.iter()
            .map(|(n, v)| {
                let n: &'static [u8] = Box::leak(n.as_bytes().to_vec().into_boxed_slice());
                let v: &'static [u8] = Box::leak(v.as_bytes().to_vec().into_boxed_slice());
                (n, v)
            })
            .collect()
    }

    fn one(p: Presented<'_>) -> Option<String> {
        match p {
            Presented::One(v) => Some(String::from_utf8_lossy(&v).into_owned()),
            _ => None,
        }
    }

    #[test]
    fn bearer_scheme() {
        assert_eq!(after_scheme(b"Bearer abc", "bearer"), Some(&b"abc"[..]));
        assert_eq!(after_scheme(b"bEaReR \t abc ", "bearer"), Some(&b"abc"[..]));
        assert_eq!(after_scheme(b"Bearerabc", "bearer"), None);
        assert_eq!(after_scheme(b"Bearer ", "bearer"), None);
        assert_eq!(after_scheme(b"Basic abc", "bearer"), None);
        assert_eq!(after_scheme(b"", "bearer"), None);
        let h = hs(&[
            ("authorization", "Basic dTpw"),
            ("x-token", "raw.jwt.value"),
        ]);
        let auth = Location::Header("authorization".into());
        assert_eq!(presented(&h, None, &auth, true), Presented::Absent);
        let x = Location::Header("x-token".into());
        assert_eq!(
            one(presented(&h, None, &x, true)).as_deref(),
            Some("raw.jwt.value")
        );
    }

    #[test]
    fn duplicates_are_ambiguous_unless_equal() {
        let auth = Location::Header("authorization".into());
        let same = hs(&[("authorization", "Bearer a"), ("authorization", "bearer a")]);
        assert_eq!(
            one(presented(&same, None, &auth, true)).as_deref(),
            Some("a")
        );
        let diff = hs(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]);
        assert!(matches!(
            presented(&diff, None, &auth, true),
            Presented::Ambiguous(_)
        ));
        // A Basic value next to a Bearer one is no ambiguity for the JWT source.
        let mixed = hs(&[
            ("authorization", "Basic dTpw"),
            ("authorization", "Bearer b"),
        ]);
        assert_eq!(
            one(presented(&mixed, None, &auth, true)).as_deref(),
            Some("b")
        );
    }

    #[test]
    fn basic_user_parsing() {
        assert_eq!(
            basic_user(b"Basic YWxpY2U6c2VjcmV0").as_deref(),
            Some("alice")
        );
        assert_eq!(basic_user(b"basic YWxpY2U6").as_deref(), Some("alice"));
        assert_eq!(basic_user(b"Basic YWxpY2U").as_deref(), Some("alice")); // no ':' nor padding
        assert_eq!(basic_user(b"Basic OnB3").as_deref(), None); // empty user
        assert_eq!(basic_user(b"Basic !!!").as_deref(), None);
        assert_eq!(basic_user(b"Basic /w==").as_deref(), None); // not UTF-8
        assert_eq!(basic_user(b"Bearer YWxpY2U6c2VjcmV0").as_deref(), None);
    }

    #[test]
    fn cookies() {
        let h = hs(&[
            ("cookie", "a=1; session=tok.en.x ; other=2"),
            ("cookie", "z=\"quoted\""),
        ]);
        let at = |n: &str| Location::Cookie(n.into());
        assert_eq!(
            one(presented(&h, None, &at("session"), true)).as_deref(),
            Some("tok.en.x")
        );
        assert_eq!(
            one(presented(&h, None, &at("z"), true)).as_deref(),
            Some("quoted")
        );
        assert_eq!(presented(&h, None, &at("Session"), true), Presented::Absent);
        assert_eq!(presented(&h, None, &at("ses"), true), Presented::Absent);
        let two = hs(&[("cookie", "s=1; s=2")]);
        assert!(matches!(
            presented(&two, None, &at("s"), true),
            Presented::Ambiguous(_)
        ));
        let empty = hs(&[("cookie", "s=; t")]);
        assert_eq!(presented(&empty, None, &at("s"), true), Presented::Absent);
    }

    #[test]
    fn query_params() {
        let at = Location::Query("api_key".into());
        let h = hs(&[]);
        assert_eq!(
            one(presented(&h, Some("x=1&api%5Fkey=k%2B1+2&y"), &at, false)).as_deref(),
            Some("k+1 2")
        );
        assert_eq!(
            presented(&h, Some("api_keyx=1"), &at, false),
            Presented::Absent
        );
        assert_eq!(presented(&h, None, &at, false), Presented::Absent);
        assert!(has_query_param(Some("a=1&api_key="), "api_key"));
    }

    #[test]
    fn removes_query_param() {
        assert_eq!(
            remove_query_param("/a?x=1&api_key=s&y=2", "api_key").as_deref(),
            Some("/a?x=1&y=2")
        );
        assert_eq!(
            remove_query_param("/a?api_key=s", "api_key").as_deref(),
            Some("/a")
        );
        assert_eq!(
            remove_query_param("/a?api%5Fkey=s&api_key=t&k=api_key", "api_key").as_deref(),
            Some("/a?k=api_key")
        );
        assert_eq!(remove_query_param("/a?x=1", "api_key"), None);
        assert_eq!(remove_query_param("/a", "api_key"), None);
    }
}
