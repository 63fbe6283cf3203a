//! One API call as meshward sees it, from request headers to the end of the stream:
//! the adapter feeds it what Envoy offers and applies the decisions it returns.

use crate::events::record::{ApiInfo, Bytes, CallRecord, SourceInfo, RECORD_VERSION};
use crate::host::Host;
use crate::runtime::Runtime;
use crate::stats::Protocol;

/// Listener direction (Envoy `xds.listener_direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Unspecified (local configs without `traffic_direction`).
    Unspecified,
    /// Server side of the sidecar.
    Inbound,
    /// Client side of the sidecar.
    Outbound,
}

impl Direction {
    /// From the 8-byte integer Envoy reports (0, 1, 2).
    pub fn from_envoy(v: i64) -> Self {
        match v {
            1 => Direction::Inbound,
            2 => Direction::Outbound,
            _ => Direction::Unspecified,
        }
    }
    /// Name in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            _ => "inbound",
        }
    }
}

/// Request headers as read from Envoy: lower-case names, raw value bytes.
pub type HeaderList = [(String, Vec<u8>)];

/// The first value of a header, if present.
pub fn header<'a>(headers: &'a HeaderList, name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// A request id as it may appear in records and answers: ≤ 128 of `[A-Za-z0-9._-]`.
pub fn valid_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// What the adapter read at request headers.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// `:method`.
    pub method: &'a str,
    /// `:path`, with the query.
    pub path: &'a str,
    /// `:authority`.
    pub authority: &'a str,
    /// Every request header.
    pub headers: &'a HeaderList,
    /// Listener direction.
    pub direction: Direction,
    /// Envoy's `source.address` (`ip:port`).
    pub source_address: Option<&'a str>,
    /// Peer SPIFFE id under mTLS.
    pub principal: Option<&'a str>,
}

/// What to do with the request after its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// meshward does not act on this stream: pass it untouched, no further callbacks.
    Pass,
    /// Go on; further callbacks are wanted.
    Continue,
}

/// How the stream ended, as Envoy measured it.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamEnd {
    /// Status sent to the caller; 0 when reset.
    pub status: u16,
    /// Request start to end of response, ms.
    pub duration_ms: u64,
    /// Request body bytes.
    pub request_bytes: u64,
    /// Response body bytes.
    pub response_bytes: u64,
}

/// One API call in progress.
#[derive(Debug)]
pub struct Exchange {
    ts: u64,
    direction: Direction,
    protocol: Protocol,
    method: String,
    host: String,
    path: String,
    request_id: Option<String>,
    source: SourceInfo,
}

fn strip_port(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        // [v6]:port
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((ip, port)) if !ip.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => ip,
        _ => addr,
    }
}

fn protocol_of(rt: &Runtime, path: &str, headers: &HeaderList) -> Protocol {
    let ct = header(headers, "content-type").unwrap_or_default();
    if ct.starts_with(b"application/grpc") {
        return Protocol::Grpc;
    }
    if ct.starts_with(b"application/graphql") {
        return Protocol::Graphql;
    }
    let bare = path.split('?').next().unwrap_or(path);
    if rt.policy.apis.graphql_paths.iter().any(|g| g == bare) {
        return Protocol::Graphql;
    }
    Protocol::Rest
}

impl Exchange {
    /// Starts an exchange on request headers. `None` with `Verdict::Pass` when
    /// meshward does not act on this stream (disabled, or a direction not listed).
    pub fn start(
        rt: &Runtime,
        host: &dyn Host,
        req: &RequestInfo<'_>,
    ) -> (Option<Exchange>, Verdict) {
        let p = &rt.policy;
        let listed = match req.direction {
            Direction::Outbound => p.outbound,
            _ => p.inbound,
        };
        if !listed {
            return (None, Verdict::Pass);
        }
        let protocol = protocol_of(rt, req.path, req.headers);
        host.incr(rt.layout.requests(protocol), 1);
        if !p.enabled {
            return (None, Verdict::Pass);
        }
        let request_id = header(req.headers, "x-request-id")
            .and_then(|v| std::str::from_utf8(v).ok())
            .filter(|id| valid_request_id(id))
            .map(str::to_string);
        let forwarded = header(req.headers, "x-forwarded-for").is_some();
        let source = SourceInfo {
            ip: req.source_address.map(|a| strip_port(a).to_string()),
            ip_forwarded: forwarded && req.source_address.is_some(),
            principal: req.principal.map(str::to_string),
        };
        let bare = req.path.split('?').next().unwrap_or(req.path);
        let ex = Exchange {
            ts: host.now_ms(),
            direction: req.direction,
            protocol,
            method: req.method.to_string(),
            host: req.authority.to_string(),
            path: bare.to_string(),
            request_id,
            source,
        };
        (Some(ex), Verdict::Continue)
    }

    /// Ends the exchange; returns the call record when it is to be recorded.
    pub fn finish(self, rt: &Runtime, end: &StreamEnd) -> Option<CallRecord> {
        let action = "allowed";
        if !rt.sampled() {
            return None;
        }
        Some(CallRecord {
            v: RECORD_VERSION,
            kind: "call",
            ts: self.ts,
            config: rt.policy.hash.clone(),
            request_id: self.request_id,
            service: rt.service.clone(),
            direction: self.direction.as_str(),
            source: self.source,
            account: None,
            api: ApiInfo {
                method: self.method,
                host: self.host,
                path: self.path,
                protocol: self.protocol.as_str(),
                operation: None,
            },
            status: end.status,
            duration_ms: end.duration_ms,
            bytes: Bytes {
                request: end.request_bytes,
                response: end.response_bytes,
            },
            action,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load;
    use crate::host::MemHost;
    use crate::runtime::NodeInfo;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn rt(cfg: &str) -> Runtime {
        Runtime::new(
            load(cfg.as_bytes()).unwrap().policy,
            &NodeInfo {
                plugin_name: "test.meshward".into(),
                ..Default::default()
            },
        )
    }

    fn hdrs(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    fn req<'a>(path: &'a str, headers: &'a HeaderList) -> RequestInfo<'a> {
        RequestInfo {
            method: "GET",
            path,
            authority: "orders.shop.svc",
            headers,
            direction: Direction::Inbound,
            source_address: Some("10.1.2.3:4567"),
            principal: Some("spiffe://cluster.local/ns/web/sa/frontend"),
        }
    }

    #[test]
    fn records_a_plain_call() {
        let rt = rt("");
        let host = MemHost::at(1_000);
        let h = hdrs(&[
            ("x-request-id", "abc-1"),
            ("content-type", "application/json"),
        ]);
        let (ex, v) = Exchange::start(&rt, &host, &req("/users/1?x=2", &h));
        assert_eq!(v, Verdict::Continue);
        let rec = ex
            .unwrap()
            .finish(
                &rt,
                &StreamEnd {
                    status: 200,
                    duration_ms: 3,
                    request_bytes: 0,
                    response_bytes: 10,
                },
            )
            .unwrap();
        assert_eq!(rec.ts, 1_000);
        assert_eq!(rec.api.path, "/users/1");
        assert_eq!(rec.request_id.as_deref(), Some("abc-1"));
        assert_eq!(rec.source.ip.as_deref(), Some("10.1.2.3"));
        assert!(!rec.source.ip_forwarded);
        assert_eq!(rec.service, "test.meshward");
        assert_eq!(host.metric(rt.layout.requests(Protocol::Rest)), 1);
    }

    #[test]
    fn disabled_counts_and_passes() {
        let rt = rt(r#"{"enabled": false}"#);
        let host = MemHost::default();
        let h = hdrs(&[("content-type", "application/grpc")]);
        let (ex, v) = Exchange::start(&rt, &host, &req("/pkg.Svc/Get", &h));
        assert!(ex.is_none());
        assert_eq!(v, Verdict::Pass);
        assert_eq!(host.metric(rt.layout.requests(Protocol::Grpc)), 1);
    }

    #[test]
    fn outbound_is_untouched_unless_listed() {
        let rt1 = rt("");
        let host = MemHost::default();
        let h = hdrs(&[]);
        let mut r = req("/", &h);
        r.direction = Direction::Outbound;
        assert_eq!(Exchange::start(&rt1, &host, &r).1, Verdict::Pass);
        assert_eq!(host.metric(rt1.layout.requests(Protocol::Rest)), 0);
        let rt2 = rt(r#"{"directions": ["inbound", "outbound"]}"#);
        assert_eq!(Exchange::start(&rt2, &host, &r).1, Verdict::Continue);
    }

    #[test]
    fn forwarded_ip_and_bad_request_ids() {
        let rt = rt("");
        let host = MemHost::default();
        let long = "a".repeat(129);
        let h = hdrs(&[("x-forwarded-for", "1.2.3.4"), ("x-request-id", &long)]);
        let (ex, _) = Exchange::start(&rt, &host, &req("/graphql", &h));
        let rec = ex.unwrap().finish(&rt, &StreamEnd::default()).unwrap();
        assert!(rec.source.ip_forwarded);
        assert!(rec.request_id.is_none());
        assert_eq!(rec.api.protocol, "graphql");
        assert!(!valid_request_id("a b"));
        assert!(valid_request_id("7f1c-ab.9_Z"));
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("::1"), "::1");
        assert_eq!(strip_port("1.2.3.4:0"), "1.2.3.4");
    }
}
