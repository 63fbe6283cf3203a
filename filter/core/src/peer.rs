//! The caller's network address: when Envoy's `source.address` is the TCP peer of the
//! connection (the same for all its requests, so the adapter reads it once per
//! connection) and when Envoy took it from a header the caller writes.
//!
//! Envoy reports `source.address` as `ip:port`. Under `use_remote_address: false` (the
//! default, and Istio's inbound) it is the last `x-forwarded-for` entry instead, and an
//! `original_ip_detection_extensions` entry can take it from another header: an address
//! parsed from a header has port 0, a TCP peer never has.

use crate::exchange::{header, HeaderList};
use std::net::IpAddr;

/// A `source.address` parsed once: per connection when it is the TCP peer (the adapter
/// keeps it with the connection's other facts), else per request. Requests share it
/// by `Rc`, so a request on a known connection parses and allocates nothing for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The address without its port (`10.1.2.3`, `::1`), as records show it; other
    /// addresses (a pipe path, an internal address) as Envoy wrote them.
    pub text: Box<str>,
    /// The address as an IP (`None`: not an IP address).
    pub ip: Option<IpAddr>,
    /// Envoy took the address from a header ([`from_header`]).
    pub from_header: bool,
}

impl Source {
    /// Parses Envoy's `source.address` (`ip:port`).
    pub fn parse(addr: &str) -> Self {
        let text = strip_port(addr);
        Self {
            text: text.into(),
            ip: text.parse().ok(),
            from_header: from_header(addr),
        }
    }
}

/// `addr` without its port (`10.1.2.3:80` → `10.1.2.3`, `[::1]:80` → `::1`); anything
/// else (a pipe path, an internal address) unchanged.
pub fn strip_port(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((ip, port)) if !ip.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => ip,
        _ => addr,
    }
}

/// Whether Envoy took `addr` from a header: an IP address with port 0
/// (`10.1.2.3:0`, `[::1]:0`). Such an address is never trusted as the caller's
/// (unless `identity.trust_forwarded_ip`), like one under `x-forwarded-for`.
pub fn from_header(addr: &str) -> bool {
    let Some(ip) = addr.strip_suffix(":0") else {
        return false;
    };
    match ip.strip_prefix('[').and_then(|v6| v6.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => ip.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

/// Whether this request's `source.address` is its connection's TCP peer, so the address
/// read for an earlier request of the connection holds: the request carries no
/// `x-forwarded-for` and forwarded addresses are not trusted. (With
/// `trust_forwarded_ip`, an address Envoy takes from another header is wanted as it is
/// on each request, so it is read on each request.)
pub fn per_connection(headers: &HeaderList<'_>, trust_forwarded_ip: bool) -> bool {
    !trust_forwarded_ip && header(headers, "x-forwarded-for").is_none()
}

/// Whether an address read for one request may stand for its connection's later
/// requests: not one Envoy took from a header.
pub fn cacheable(addr: &str) -> bool {
    !addr.is_empty() && !from_header(addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn addresses_from_headers_have_port_zero() {
        for a in ["10.1.2.3:0", "127.0.0.1:0", "[::1]:0", "[2001:db8::7]:0"] {
            assert!(from_header(a), "{a}");
            assert!(!cacheable(a), "{a}");
        }
        for a in [
            "10.1.2.3:40000",
            "10.1.2.3:10",
            "[::1]:443",
            "[2001:db8::7]:8080",
            "/var/run/app.sock",
            "@abstract",
            "envoy://internal_client_address/",
            "10.1.2.3",
            "name:0",
            "[name]:0",
            "10.1.2.3:00",
        ] {
            assert!(!from_header(a), "{a}");
        }
        assert!(cacheable("10.1.2.3:40000"));
        assert!(!cacheable(""));
    }

    #[test]
    fn per_connection_only_without_forwarding() {
        let plain: &HeaderList<'_> = &[(b":path", b"/x".as_slice())];
        let xff: &HeaderList<'_> = &[(b"x-forwarded-for", b"10.1.2.3".as_slice())];
        assert!(per_connection(plain, false));
        assert!(!per_connection(xff, false));
        assert!(!per_connection(plain, true));
        assert!(!per_connection(xff, true));
    }

    #[test]
    fn strip_port_examples() {
        assert_eq!(strip_port("10.1.2.3:80"), "10.1.2.3");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("10.1.2.3"), "10.1.2.3");
        assert_eq!(strip_port("/var/run/app.sock"), "/var/run/app.sock");
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Envoy's form of an address (`Display` of a socket address): port 0 and only
        /// port 0 reads as taken from a header; the IP survives `strip_port`.
        #[test]
        fn socket_addresses(ip in any::<std::net::IpAddr>(), port in any::<u16>()) {
            let a = std::net::SocketAddr::new(ip, port).to_string();
            prop_assert_eq!(from_header(&a), port == 0);
            prop_assert_eq!(cacheable(&a), port != 0);
            prop_assert_eq!(strip_port(&a).parse::<std::net::IpAddr>().ok(), Some(ip));
        }
    }
}
