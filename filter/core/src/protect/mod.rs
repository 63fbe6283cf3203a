//! Protection: matching rules against the facts of a request, access decisions,
//! rate limits and data limits, and the answers meshward sends.

pub mod answer;
pub mod lease;
pub mod limits;
pub mod slots;

use crate::config::{AccessPolicy, ClaimPath, Condition, KeyPart};
#[cfg(test)]
use crate::exchange::Header;
use crate::exchange::{header, HeaderList};
use crate::stats::Outcome;
use std::net::IpAddr;

/// The facts of a request that rules look at. Only trusted identity is here: an
/// untrusted account never satisfies `accounts`, `claims` or `authenticated`.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Peer SPIFFE id (mTLS).
    pub principal: Option<&'a str>,
    /// Namespace from the SPIFFE id.
    pub namespace: Option<&'a str>,
    /// Trusted account id.
    pub account: Option<&'a str>,
    /// Claims of the trusted token, if the account came from one.
    pub claims: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// Method.
    pub method: &'a str,
    /// Normalised path.
    pub path: &'a str,
    /// Endpoint template.
    pub template: &'a str,
    /// Source IP, only when it is not forwarded (or forwarded IPs are trusted).
    pub source_ip: Option<IpAddr>,
    /// Request headers.
    pub headers: &'a HeaderList<'a>,
}

/// Values of a claim path in a claims object (strings, numbers as text, booleans,
/// and each element of an array).
pub fn claim_strings(
    claims: &serde_json::Map<String, serde_json::Value>,
    path: &ClaimPath,
) -> Vec<String> {
    let mut node = path.0.first().and_then(|k| claims.get(k));
    for part in path.0.iter().skip(1) {
        node = node.and_then(|n| n.get(part));
    }
    let scalar = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match node {
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(scalar).collect(),
        Some(v) => scalar(v).into_iter().collect(),
        None => Vec::new(),
    }
}

impl Subject<'_> {
    /// Whether every condition of `c` holds.
    pub fn matches(&self, c: &Condition) -> bool {
        if !c.methods.is_empty() && !c.methods.iter().any(|m| m == self.method) {
            return false;
        }
        if !c.paths.is_empty() && !c.paths.matches(self.path, self.template) {
            return false;
        }
        if !c.principals.is_empty() && !self.principal.is_some_and(|p| c.principals.matches(p)) {
            return false;
        }
        if !c.namespaces.is_empty()
            && !self
                .namespace
                .is_some_and(|n| c.namespaces.iter().any(|x| x == n))
        {
            return false;
        }
        if let Some(want) = c.authenticated {
            if self.account.is_some() != want {
                return false;
            }
        }
        if !c.accounts.is_empty() && !self.account.is_some_and(|a| c.accounts.matches(a)) {
            return false;
        }
        for (path, accepted) in &c.claims {
            let Some(claims) = self.claims else {
                return false;
            };
            let have = claim_strings(claims, path);
            if !have.iter().any(|h| accepted.iter().any(|a| a == h)) {
                return false;
            }
        }
        if !c.source_ips.is_empty()
            && !self
                .source_ip
                .is_some_and(|ip| c.source_ips.iter().any(|n| n.contains(ip)))
        {
            return false;
        }
        for (name, accepted) in &c.headers {
            // Every value of a repeated header is considered.
            let ok = self.headers.iter().any(|(n, v)| {
                *n == name.as_bytes()
                    && std::str::from_utf8(v).is_ok_and(|v| accepted.iter().any(|a| a == v.trim()))
            });
            if !ok {
                return false;
            }
        }
        true
    }

    /// The limit key of `parts`, written into `out` (cleared first). `account` falls
    /// back to the principal, then the source IP, when there is no trusted account.
    pub fn key(&self, parts: &[KeyPart], out: &mut Vec<u8>) {
        out.clear();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                out.push(0x1f);
            }
            match p {
                KeyPart::Account => {
                    if let Some(a) = self.account {
                        out.extend_from_slice(b"a:");
                        out.extend_from_slice(a.as_bytes());
                    } else if let Some(pr) = self.principal {
                        out.extend_from_slice(b"p:");
                        out.extend_from_slice(pr.as_bytes());
                    } else if let Some(ip) = self.source_ip {
                        out.extend_from_slice(b"i:");
                        push_ip(out, ip);
                    } else {
                        out.extend_from_slice(b"-");
                    }
                }
                KeyPart::Principal => {
                    out.extend_from_slice(self.principal.unwrap_or("-").as_bytes())
                }
                KeyPart::SourceIp => match self.source_ip {
                    Some(ip) => push_ip(out, ip),
                    None => out.extend_from_slice(b"-"),
                },
                KeyPart::Api => {
                    out.extend_from_slice(self.method.as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(self.template.as_bytes());
                }
                KeyPart::Header(h) => {
                    out.extend_from_slice(header(self.headers, h).unwrap_or(b"-"))
                }
                KeyPart::Claim(c) => {
                    let v = self
                        .claims
                        .map(|cl| claim_strings(cl, c).join(","))
                        .unwrap_or_default();
                    out.extend_from_slice(if v.is_empty() { b"-" } else { v.as_bytes() });
                }
            }
        }
    }
}

/// Appends `ip` to a limit key: the family (`4` or `6`), its octets, and the family
/// again. Keys are only hashed, never shown, so the binary form serves (no text
/// formatting per request). The octets may hold the parts' separator, but the part
/// reads the same from either end (family, then a length fixed by it), so no part
/// before or after it can run into it. An IPv4-mapped IPv6 address stays apart from
/// its IPv4 address, as the text forms did.
fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            out.push(b'4');
            out.extend_from_slice(&v4.octets());
            out.push(b'4');
        }
        IpAddr::V6(v6) => {
            out.push(b'6');
            out.extend_from_slice(&v6.octets());
            out.push(b'6');
        }
    }
}

/// One access decision, for stats and the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessHit {
    /// Index of the rule, or `None` for `access.default`.
    pub rule: Option<usize>,
    /// What it decided.
    pub outcome: Outcome,
    /// The entry is a dry run (its own flag; monitor mode is applied by the caller).
    pub dry_run: bool,
}

/// The result of the access step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessResult {
    /// Every rule that decided something, in order (dry-run entries included).
    pub hits: Vec<AccessHit>,
    /// The decisive hit (not a dry-run entry), if the step decided.
    pub decisive: Option<AccessHit>,
}

/// Evaluates access rules: first match wins; `authenticate` answers 401 without a
/// trusted account and otherwise lets evaluation go on; dry-run entries are recorded
/// and evaluation goes on as if they were absent.
pub fn evaluate_access(policy: &AccessPolicy, s: &Subject<'_>) -> AccessResult {
    let mut r = AccessResult::default();
    // Only the rules whose paths can match this request (all of them, in order, when
    // rules have no path condition or start with a wildcard).
    for i in policy.candidates(s.path, s.template) {
        let Some(rule) = policy.rules.get(i) else {
            continue;
        };
        if !s.matches(&rule.when) {
            continue;
        }
        use crate::config::raw::AccessAction;
        let outcome = match rule.action {
            AccessAction::Allow => Outcome::Allowed,
            AccessAction::Deny => Outcome::Denied,
            AccessAction::Authenticate => {
                if s.account.is_some() {
                    continue;
                }
                Outcome::Unauthenticated
            }
        };
        let hit = AccessHit {
            rule: Some(i),
            outcome,
            dry_run: rule.dry_run,
        };
        r.hits.push(hit);
        if !rule.dry_run {
            r.decisive = Some(hit);
            return r;
        }
    }
    if policy.default_deny {
        let hit = AccessHit {
            rule: None,
            outcome: Outcome::Denied,
            dry_run: false,
        };
        r.hits.push(hit);
        r.decisive = Some(hit);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_value;

    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::super::push_ip;
        use proptest::prelude::*;
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

        fn key(ip: IpAddr) -> Vec<u8> {
            let mut out = b"k:".to_vec();
            push_ip(&mut out, ip);
            out
        }

        fn ip(v6: bool, bits: u128) -> IpAddr {
            if v6 {
                IpAddr::V6(Ipv6Addr::from(bits))
            } else {
                IpAddr::V4(Ipv4Addr::from(bits as u32))
            }
        }

        proptest! {
            /// Two addresses share a key exactly when they are the same address (the
            /// text forms' property; `same` makes half the pairs equal), and the
            /// length depends on the family alone.
            #[test]
            fn push_ip_keys_addresses_apart(
                a6 in any::<bool>(), a in any::<u128>(), b6 in any::<bool>(), b in any::<u128>(),
                same in any::<bool>(),
            ) {
                let x = ip(a6, a);
                let y = if same { x } else { ip(b6, b) };
                prop_assert_eq!(key(x) == key(y), x == y);
                prop_assert_eq!(key(x).len(), if a6 { 20 } else { 8 });
            }
        }

        /// A variable part before the address (a header value may hold the
        /// separator) cannot make two (value, address) pairs one key: the pair below
        /// was one key while the address part had its family in front only.
        #[test]
        fn a_part_before_the_address_cannot_run_into_it() {
            let joined = |h: &[u8], ip: IpAddr| {
                let mut out = h.to_vec();
                out.push(0x1f);
                push_ip(&mut out, ip);
                out
            };
            let p = [10, 1, 2, 3];
            let mut o = [7u8; 16];
            o[10..].copy_from_slice(&[0x1f, b'4', 10, 1, 2, 3]);
            let mut h1 = b"t\x1f6".to_vec();
            h1.extend_from_slice(&[7u8; 10]);
            let v4 = joined(&h1, IpAddr::V4(Ipv4Addr::from(p)));
            let v6 = joined(b"t", IpAddr::V6(Ipv6Addr::from(o)));
            assert_ne!(v4, v6);
            // (Without the family after the octets, the two were the same bytes.)
            assert_eq!(v4[..v4.len() - 1], v6[..v6.len() - 1]);
        }

        #[test]
        fn push_ip_keeps_mapped_addresses_apart() {
            let v4 = Ipv4Addr::new(10, 1, 2, 3);
            assert_ne!(key(IpAddr::V4(v4)), key(IpAddr::V6(v4.to_ipv6_mapped())));
            assert_eq!(key(IpAddr::V4(v4)), b"k:4\x0a\x01\x02\x034");
        }
    }
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn subject<'a>(headers: &'a HeaderList<'a>) -> Subject<'a> {
        Subject {
            principal: Some("spiffe://cluster.local/ns/web/sa/frontend"),
            namespace: Some("web"),
            account: None,
            claims: None,
            method: "GET",
            path: "/users/42",
            template: "/users/{int}",
            source_ip: Some("10.1.2.3".parse().unwrap()),
            headers,
        }
    }

    fn access(rules: serde_json::Value, default: &str) -> AccessPolicy {
        load_value(json!({"access": {"default": default, "rules": rules}}))
            .unwrap()
            .policy
            .access
    }

    #[test]
    fn conditions_match_every_given_fact() {
        let h: [Header<'_>; 1] = [(b"x-tenant", b"acme")];
        let s = subject(&h);
        let a = access(
            json!([{"name": "r", "action": "allow", "when": {
                "principals": ["spiffe://cluster.local/ns/web/sa/*"], "namespaces": ["web"],
                "methods": ["get"], "paths": ["/users/{id}"], "source_ips": ["10.0.0.0/8"],
                "headers": {"x-tenant": ["acme"]}}}]),
            "deny",
        );
        let r = evaluate_access(&a, &s);
        assert_eq!(r.decisive.unwrap().outcome, Outcome::Allowed);
        let mut other = s;
        other.source_ip = None; // forwarded: never matches source_ips
        assert_eq!(evaluate_access(&a, &other).decisive.unwrap().rule, None);
        let mut other = s;
        other.method = "POST";
        assert_eq!(
            evaluate_access(&a, &other).decisive.unwrap().outcome,
            Outcome::Denied
        );
    }

    #[test]
    fn authenticate_needs_a_trusted_account() {
        let h = vec![];
        let a = access(
            json!([
                {"name": "auth", "action": "authenticate", "when": {"paths": ["/users/*"]}},
                {"name": "admins", "action": "allow", "when": {"accounts": ["admin-*"]}},
                {"name": "rest", "action": "deny"}
            ]),
            "allow",
        );
        let s = subject(&h);
        let r = evaluate_access(&a, &s);
        assert_eq!(r.decisive.unwrap().outcome, Outcome::Unauthenticated);
        let mut t = s;
        t.account = Some("admin-1");
        assert_eq!(evaluate_access(&a, &t).decisive.unwrap().rule, Some(1));
        t.account = Some("u-1");
        assert_eq!(evaluate_access(&a, &t).decisive.unwrap().rule, Some(2));
    }

    #[test]
    fn dry_run_entries_are_recorded_and_skipped() {
        let h = vec![];
        let a = access(
            json!([
                {"name": "shadow", "action": "deny", "dry_run": true},
                {"name": "real", "action": "allow", "when": {"methods": ["GET"]}}
            ]),
            "deny",
        );
        let r = evaluate_access(&a, &subject(&h));
        assert_eq!(r.hits.len(), 2);
        assert!(r.hits[0].dry_run);
        assert_eq!(r.decisive.unwrap().rule, Some(1));
    }

    #[test]
    fn claims_and_authenticated_use_trusted_identity_only() {
        let h = vec![];
        let claims: serde_json::Map<String, serde_json::Value> =
            serde_json::from_value(json!({"role": ["ops", "dev"], "realm": {"tier": "gold"}}))
                .unwrap();
        let a = access(
            json!([{"name": "ops", "action": "allow",
                    "when": {"authenticated": true, "claims": {"role": ["ops"], "realm.tier": ["gold"]}}}]),
            "deny",
        );
        let mut s = subject(&h);
        assert_eq!(evaluate_access(&a, &s).decisive.unwrap().rule, None);
        s.account = Some("u-1");
        s.claims = Some(&claims);
        assert_eq!(evaluate_access(&a, &s).decisive.unwrap().rule, Some(0));
    }

    #[test]
    fn limit_keys_fall_back_and_stay_distinct() {
        let h: [Header<'_>; 1] = [(b"x-tenant", b"acme")];
        let mut s = subject(&h);
        let mut k = Vec::new();
        s.key(&[KeyPart::Account], &mut k);
        assert_eq!(k, b"p:spiffe://cluster.local/ns/web/sa/frontend");
        s.account = Some("u-1");
        s.key(&[KeyPart::Account, KeyPart::Api], &mut k);
        assert_eq!(k, b"a:u-1\x1fGET /users/{int}");
        s.key(&[KeyPart::Header("x-tenant".into())], &mut k);
        assert_eq!(k, b"acme");
        s.principal = None;
        s.account = None;
        s.key(&[KeyPart::Account], &mut k);
        assert_eq!(k, b"i:4\x0a\x01\x02\x034");
    }
}
