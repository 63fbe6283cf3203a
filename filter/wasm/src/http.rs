//! One HTTP stream: reads what the core needs from Envoy, hands it to the core's
//! `Exchange`, and applies the decision values it gets back. Kept thin on purpose.

use crate::envoy;
use crate::root::Active;
use meshward_core::events::entry;
use meshward_core::exchange::{Direction, Exchange, RequestInfo, StreamEnd, Verdict};
use meshward_core::host::Host;
use meshward_core::stats::ErrorSite;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, MapType};
use std::rc::Rc;

/// An HTTP stream and the exchange meshward keeps for it.
#[derive(Debug)]
pub struct Stream {
    active: Option<Rc<Active>>,
    exchange: Option<Exchange>,
}

impl Stream {
    /// A stream under the configuration in force when it started.
    pub fn new(active: Option<Rc<Active>>) -> Self {
        Self {
            active,
            exchange: None,
        }
    }
}

fn pseudo<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
        .unwrap_or("")
}

impl Context for Stream {}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(active) = self.active.clone() else {
            return Action::Continue;
        };
        let headers = match hostcalls::get_map_bytes(MapType::HttpRequestHeaders) {
            Ok(h) => h,
            Err(_) => {
                active
                    .host
                    .incr(active.rt.layout.internal_error(ErrorSite::HostCall), 1);
                return Action::Continue;
            }
        };
        let direction =
            Direction::from_envoy(envoy::property_i64(&["xds", "listener_direction"]).unwrap_or(0));
        let source = envoy::property_str(&["source", "address"]);
        let principal = envoy::property_str(&["connection", "uri_san_peer_certificate"])
            .filter(|p| !p.is_empty());
        let req = RequestInfo {
            method: pseudo(&headers, ":method"),
            path: pseudo(&headers, ":path"),
            authority: pseudo(&headers, ":authority"),
            headers: &headers,
            direction,
            source_address: source.as_deref(),
            principal: principal.as_deref(),
        };
        let (exchange, verdict) = Exchange::start(&active.rt, &active.host, &req);
        self.exchange = exchange;
        match verdict {
            Verdict::Pass | Verdict::Continue => Action::Continue,
        }
    }

    fn on_log(&mut self) {
        let (Some(active), Some(ex)) = (self.active.as_ref(), self.exchange.take()) else {
            return;
        };
        let status = envoy::property_i64(&["response", "code"]).unwrap_or(0);
        let duration_ns = envoy::property_i64(&["request", "duration"]).unwrap_or(0);
        let end = StreamEnd {
            status: u16::try_from(status).unwrap_or(0),
            duration_ms: u64::try_from(duration_ns / 1_000_000).unwrap_or(0),
            request_bytes: envoy::property_i64(&["request", "size"])
                .and_then(|v| u64::try_from(v).ok())
                .unwrap_or(0),
            response_bytes: envoy::property_i64(&["response", "size"])
                .and_then(|v| u64::try_from(v).ok())
                .unwrap_or(0),
        };
        let Some(record) = ex.finish(&active.rt, &end) else {
            return;
        };
        let Some(events) = active.rt.policy.events.as_ref() else {
            return;
        };
        match entry(events.format, &record) {
            Ok(e) => active.enqueue(e),
            Err(_) => active
                .host
                .incr(active.rt.layout.internal_error(ErrorSite::Encode), 1),
        }
    }
}
