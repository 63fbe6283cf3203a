//! The calling workload: the SPIFFE ID in the URI SAN of the mTLS peer certificate
//! (`connection.uri_san_peer_certificate`), with the Istio namespace and service
//! account derived from `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.

/// Longest SPIFFE ID accepted (SPIFFE ID spec: 2048 bytes).
pub const MAX_SPIFFE_LEN: usize = 2048;
/// Longest trust domain accepted (SPIFFE ID spec: 255 bytes).
const MAX_TRUST_DOMAIN_LEN: usize = 255;

/// The calling workload from the mTLS peer certificate URI SAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// The whole SPIFFE ID (`spiffe://cluster.local/ns/web/sa/frontend`).
    pub principal: String,
    /// `cluster.local`.
    pub trust_domain: String,
    /// `web`, when the path has the Istio form `/ns/<ns>/sa/<sa>`.
    pub namespace: Option<String>,
    /// `frontend`, when the path has the Istio form.
    pub service_account: Option<String>,
}

/// Parses a SPIFFE ID as the SPIFFE ID specification defines it: scheme `spiffe`,
/// a trust domain of `[a-z0-9._-]` (no port, no user info), a path of non-empty
/// segments of `[A-Za-z0-9._-]` other than `.` and `..`, no trailing `/`, no query,
/// fragment or percent-encoding, at most 2048 bytes. Anything else is `None`.
/// Namespace and service account are set only for the Istio form `/ns/<ns>/sa/<sa>`.
pub fn parse_spiffe(uri: &str) -> Option<Workload> {
    if uri.len() > MAX_SPIFFE_LEN {
        return None;
    }
    let rest = uri.strip_prefix("spiffe://")?;
    let (td, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if td.is_empty()
        || td.len() > MAX_TRUST_DOMAIN_LEN
        || !td.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        })
    {
        return None;
    }
    let mut segments = Vec::new();
    if !path.is_empty() {
        for seg in path[1..].split('/') {
            if seg.is_empty()
                || seg == "."
                || seg == ".."
                || !seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            {
                return None;
            }
            segments.push(seg);
        }
    }
    let (namespace, service_account) = match segments.as_slice() {
        ["ns", ns, "sa", sa] => (Some((*ns).to_string()), Some((*sa).to_string())),
        _ => (None, None),
    };
    Some(Workload {
        principal: uri.to_string(),
        trust_domain: td.to_string(),
        namespace,
        service_account,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn istio_form() {
        let w = parse_spiffe("spiffe://cluster.local/ns/web/sa/frontend").unwrap();
        assert_eq!(w.principal, "spiffe://cluster.local/ns/web/sa/frontend");
        assert_eq!(w.trust_domain, "cluster.local");
        assert_eq!(w.namespace.as_deref(), Some("web"));
        assert_eq!(w.service_account.as_deref(), Some("frontend"));
    }

    #[test]
    fn other_valid_forms_have_no_namespace() {
        for id in [
            "spiffe://example.org",
            "spiffe://example.org/workload/x",
            "spiffe://example.org/ns/web",
            "spiffe://example.org/ns/web/sa/frontend/extra",
            "spiffe://td_1-x.org/sa/a/ns/b",
        ] {
            let w = parse_spiffe(id).unwrap_or_else(|| panic!("{id}"));
            assert_eq!(w.namespace, None, "{id}");
            assert_eq!(w.service_account, None, "{id}");
        }
    }

    #[test]
    fn junk_rejected() {
        let long = format!("spiffe://td/ns/{}/sa/x", "a".repeat(MAX_SPIFFE_LEN));
        let long_td = format!("spiffe://{}/ns/a/sa/b", "a".repeat(256));
        for id in [
            "",
            "spiffe://",
            "spiffe:///ns/a/sa/b",
            "SPIFFE://td/ns/a/sa/b",
            "https://td/ns/a/sa/b",
            "spiffe://TD/ns/a/sa/b",
            "spiffe://td:443/ns/a/sa/b",
            "spiffe://user@td/ns/a/sa/b",
            "spiffe://td/ns/a/sa/b/",
            "spiffe://td/ns//sa/b",
            "spiffe://td/ns/../sa/b",
            "spiffe://td/ns/./sa/b",
            "spiffe://td/ns/a%2Fb/sa/c",
            "spiffe://td/ns/a/sa/b?x=1",
            "spiffe://td/ns/a/sa/b#f",
            "spiffe://td/ns/a b/sa/c",
            "spiffe://td/ns/é/sa/c",
            "spiffe://td/ns/a/sa/b\n",
            long.as_str(),
            long_td.as_str(),
        ] {
            assert_eq!(parse_spiffe(id), None, "{id:?}");
        }
    }
}
