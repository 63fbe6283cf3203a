//! One HTTP stream: reads what the core needs from Envoy, hands it to the core's
//! `Exchange`, and applies the plans and decisions it gets back. Kept thin on purpose:
//! no policy here, only host calls.

use crate::envoy;
use crate::host_read;
use crate::root::Active;
use meshward_core::abi;
use meshward_core::exchange::{
    BodyMode, BodyResult, Direction, Exchange, Header, OutRecord, RequestInfo, ResponseInfo,
    StreamEnd,
};
use meshward_core::host::Host;
use meshward_core::protect::answer::Answer;
use meshward_core::stats::ErrorSite;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType, GrpcStatusCode, MapType};
use std::rc::Rc;

/// Body handling state of one direction.
#[derive(Debug, Default)]
struct BodyState {
    mode: Option<BodyMode>,
    limit: usize,
    /// Bytes copied so far (Observe mode).
    copied: Vec<u8>,
    /// More bytes arrived than `limit`.
    over: bool,
    /// The verdict was given (the rest streams through).
    done: bool,
    /// The body was replaced by an answer while more of it was still to come: later
    /// chunks are emptied so nothing of the original follows the answer.
    discard: bool,
}

/// An HTTP stream and the exchange meshward keeps for it.
#[derive(Debug)]
pub struct Stream {
    active: Option<Rc<Active>>,
    exchange: Option<Exchange>,
    request: BodyState,
    response: BodyState,
    /// The serialised response header map, kept from the headers to the body.
    response_headers: Vec<u8>,
    /// Envoy's `request.size` when the request headers tell it: 0 when they end the
    /// stream, else their `content-length` (Envoy's definition); `None`: read it.
    request_size: Option<u64>,
}

impl Stream {
    /// A stream under the configuration in force when it started.
    pub fn new(active: Option<Rc<Active>>) -> Self {
        Self {
            active,
            exchange: None,
            request: BodyState::default(),
            response: BodyState::default(),
            response_headers: Vec::new(),
            request_size: None,
        }
    }

    fn internal_error(&self, site: ErrorSite) {
        if let Some(a) = &self.active {
            a.host.incr(a.rt.layout.internal_error(site), 1);
        }
    }

    /// Sends meshward's own answer.
    fn send(&self, a: &Answer) {
        let headers: Vec<(&str, &str)> = a.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let result = match a.grpc_status {
            Some(code) => {
                let md: Vec<(&str, &[u8])> =
                    a.headers.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
                hostcalls::send_grpc_response(grpc_code(code), Some(&a.grpc_message), md)
            }
            None => hostcalls::send_http_response(u32::from(a.status), headers, Some(&a.body)),
        };
        if result.is_err() {
            self.internal_error(ErrorSite::SendResponse);
        }
    }

    /// Reads `size` bytes of a body buffer (at most `limit`).
    fn read_body(&self, buffer: BufferType, size: usize, limit: usize) -> Vec<u8> {
        match hostcalls::get_buffer(buffer, 0, size.min(limit)) {
            Ok(b) => b.unwrap_or_default(),
            Err(_) => {
                self.internal_error(ErrorSite::HostCall);
                Vec::new()
            }
        }
    }
}

fn grpc_code(code: u32) -> GrpcStatusCode {
    match code {
        16 => GrpcStatusCode::Unauthenticated,
        8 => GrpcStatusCode::ResourceExhausted,
        _ => GrpcStatusCode::PermissionDenied,
    }
}

/// The value of header `name` as Envoy names it (pseudo-headers come first, so these
/// lookups stop early); empty when absent.
fn pseudo_bytes<'a>(headers: &[Header<'a>], name: &str) -> &'a [u8] {
    headers
        .iter()
        .find(|(n, _)| *n == name.as_bytes())
        .map_or(&[][..], |(_, v)| *v)
}

fn pseudo<'a>(headers: &[Header<'a>], name: &str) -> &'a str {
    std::str::from_utf8(pseudo_bytes(headers, name)).unwrap_or("")
}

/// `:method`, the standard methods without a UTF-8 check.
fn method<'a>(headers: &[Header<'a>]) -> &'a str {
    let m = pseudo_bytes(headers, ":method");
    meshward_core::exchange::standard_method(m)
        .or_else(|| std::str::from_utf8(m).ok())
        .unwrap_or("")
}

/// One request header as text (`None` when absent, unreadable or not UTF-8).
fn header_value(name: &str) -> Option<String> {
    host_read::map_value(MapType::HttpRequestHeaders, name)
        .ok()
        .flatten()
        .and_then(|v| String::from_utf8(v).ok())
}

fn status_of(headers: &[Header<'_>]) -> u16 {
    pseudo(headers, ":status").parse().unwrap_or(0)
}

impl Context for Stream {}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some(active) = self.active.clone() else {
            return Action::Continue;
        };
        if !active.rt.policy.enabled {
            // The off switch: count the request, read nothing else.
            let direction = Direction::from_envoy(
                envoy::property_i64(&["xds", "listener_direction"]).unwrap_or(0),
            );
            let path = header_value(":path");
            let content_type = header_value("content-type");
            Exchange::count_only(
                &active.rt,
                &active.host,
                direction,
                path.as_deref().unwrap_or(""),
                content_type.as_deref(),
            );
            return Action::Continue;
        }
        let map = match host_read::map_bytes(MapType::HttpRequestHeaders) {
            Ok(m) => m,
            Err(_) => {
                self.internal_error(ErrorSite::HostCall);
                return Action::Continue;
            }
        };
        let headers = abi::header_map(&map);
        self.request_size = if end_of_stream {
            Some(0)
        } else {
            pseudo(&headers, "content-length").parse().ok()
        };
        let conn = active.connection();
        let direction = Direction::from_envoy(conn.direction);
        // Per connection unless Envoy may have taken it from a header for this request.
        let source = conn.source(meshward_core::peer::per_connection(
            &headers,
            active.rt.policy.identity.trust_forwarded_ip,
        ));
        let mtls = conn.mtls;
        let jwt_authn = if active.wants_jwt_authn {
            // The typed Metadata protobuf (the per-filter property loses types).
            envoy::property(&["metadata"])
                .and_then(|b| meshward_core::identity::metadata::jwt_authn_payloads(&b))
        } else {
            None
        };
        let req = RequestInfo {
            method: method(&headers),
            path: pseudo(&headers, ":path"),
            authority: pseudo(&headers, ":authority"),
            headers: &headers,
            direction,
            source: source.as_ref(),
            workload: conn.workload.as_ref(),
            mtls,
            jwt_authn: jwt_authn.as_ref(),
            end_of_stream,
        };
        let (exchange, plan) = Exchange::start(&active.rt, &active.host, &req);
        self.exchange = exchange;
        for h in &plan.remove_headers {
            if hostcalls::set_map_value(MapType::HttpRequestHeaders, h, None).is_err() {
                self.internal_error(ErrorSite::HostCall);
            }
        }
        if let Some(p) = &plan.new_path {
            if hostcalls::set_map_value(MapType::HttpRequestHeaders, ":path", Some(p)).is_err() {
                self.internal_error(ErrorSite::HostCall);
            }
        }
        if let Some(a) = &plan.answer {
            self.send(a);
            return Action::Pause;
        }
        self.request.mode = Some(plan.body);
        self.request.limit = plan.body_limit;
        match plan.body {
            BodyMode::Hold => Action::Pause,
            BodyMode::Skip | BodyMode::Observe | BodyMode::Buffer => Action::Continue,
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let (Some(active), Some(mode)) = (self.active.clone(), self.request.mode) else {
            return Action::Continue;
        };
        if self.request.done || mode == BodyMode::Skip {
            return Action::Continue;
        }
        let limit = self.request.limit;
        let (body, over) = match mode {
            BodyMode::Hold | BodyMode::Buffer => {
                // The buffer holds everything so far.
                let over = body_size > limit;
                if !end_of_stream && !over {
                    return Action::Pause;
                }
                (
                    self.read_body(BufferType::HttpRequestBody, body_size, limit),
                    over,
                )
            }
            _ => {
                // Observe: this callback's chunk only.
                let room = limit.saturating_sub(self.request.copied.len());
                if room > 0 {
                    let chunk = self.read_body(BufferType::HttpRequestBody, body_size, room);
                    self.request.copied.extend_from_slice(&chunk);
                }
                self.request.over |= body_size > room;
                if !end_of_stream && !self.request.over {
                    return Action::Continue;
                }
                (std::mem::take(&mut self.request.copied), self.request.over)
            }
        };
        self.request.done = true;
        let Some(ex) = self.exchange.as_mut() else {
            return Action::Continue;
        };
        if let Some(a) = ex.request_body(&active.rt, &active.host, &body, over) {
            self.send(&a);
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let (Some(active), Some(ex)) = (self.active.clone(), self.exchange.as_mut()) else {
            return Action::Continue;
        };
        if !ex.wants_response_headers(&active.rt) {
            return Action::Continue;
        }
        let map = match host_read::map_bytes(MapType::HttpResponseHeaders) {
            Ok(m) => m,
            Err(_) => {
                self.internal_error(ErrorSite::HostCall);
                return Action::Continue;
            }
        };
        let headers = abi::header_map(&map);
        let plan = ex.response_headers(
            &active.rt,
            &active.host,
            &ResponseInfo {
                status: status_of(&headers),
                headers: &headers,
                end_of_stream,
            },
        );
        // Removing an absent header is a no-op: skip the host call.
        for h in plan.remove_headers.iter().filter(|h| {
            headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(h.as_bytes()))
        }) {
            if hostcalls::set_map_value(MapType::HttpResponseHeaders, h, None).is_err() {
                self.internal_error(ErrorSite::HostCall);
            }
        }
        self.response.mode = Some(plan.body);
        self.response.limit = plan.body_limit;
        self.response_headers = map;
        match plan.body {
            BodyMode::Hold => Action::Pause,
            BodyMode::Skip | BodyMode::Observe | BodyMode::Buffer => Action::Continue,
        }
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if self.response.discard {
            if body_size > 0
                && hostcalls::set_buffer(BufferType::HttpResponseBody, 0, body_size, &[]).is_err()
            {
                self.internal_error(ErrorSite::HostCall);
            }
            return Action::Continue;
        }
        let (Some(active), Some(mode)) = (self.active.clone(), self.response.mode) else {
            return Action::Continue;
        };
        if self.response.done || mode == BodyMode::Skip {
            return Action::Continue;
        }
        let limit = self.response.limit;
        let (body, over) = match mode {
            BodyMode::Hold | BodyMode::Buffer => {
                let over = body_size > limit;
                if !end_of_stream && !over {
                    return Action::Pause;
                }
                (
                    self.read_body(BufferType::HttpResponseBody, body_size, limit),
                    over,
                )
            }
            _ => {
                let room = limit.saturating_sub(self.response.copied.len());
                if room > 0 {
                    let chunk = self.read_body(BufferType::HttpResponseBody, body_size, room);
                    self.response.copied.extend_from_slice(&chunk);
                }
                self.response.over |= body_size > room;
                if !end_of_stream && !self.response.over {
                    return Action::Continue;
                }
                (
                    std::mem::take(&mut self.response.copied),
                    self.response.over,
                )
            }
        };
        self.response.done = true;
        let map = std::mem::take(&mut self.response_headers);
        let headers = abi::header_map(&map);
        let Some(ex) = self.exchange.as_mut() else {
            return Action::Continue;
        };
        match ex.response_body(&active.rt, &active.host, &headers, &body, over) {
            BodyResult::Continue => Action::Continue,
            BodyResult::Replace {
                body: new_body,
                remove_headers,
                set_headers,
            } => {
                if matches!(mode, BodyMode::Hold | BodyMode::Buffer) && !over {
                    // Held headers can still change; otherwise they left already.
                    for h in remove_headers.iter().filter(|_| mode == BodyMode::Hold) {
                        let _ = hostcalls::set_map_value(MapType::HttpResponseHeaders, h, None);
                    }
                    for (h, v) in set_headers.iter().filter(|_| mode == BodyMode::Hold) {
                        let _ = hostcalls::set_map_value(MapType::HttpResponseHeaders, h, Some(v));
                    }
                    if hostcalls::set_buffer(BufferType::HttpResponseBody, 0, body_size, &new_body)
                        .is_err()
                    {
                        self.internal_error(ErrorSite::HostCall);
                    }
                }
                Action::Continue
            }
            BodyResult::Answer(a) => match mode {
                BodyMode::Hold => {
                    self.send(&a);
                    Action::Pause
                }
                BodyMode::Buffer => {
                    // Headers already left: the body is replaced by the answer's, and
                    // what is still to come of the original is dropped.
                    if hostcalls::set_buffer(BufferType::HttpResponseBody, 0, body_size, &a.body)
                        .is_err()
                    {
                        self.internal_error(ErrorSite::HostCall);
                    }
                    self.response.discard = !end_of_stream;
                    Action::Continue
                }
                _ => Action::Continue,
            },
        }
    }

    fn on_log(&mut self) {
        let (Some(active), Some(ex)) = (self.active.clone(), self.exchange.take()) else {
            return;
        };
        let events = active.rt.policy.events.as_ref();
        // Read from Envoy only when behaviour, findings or a call record need it. The
        // status and the duration are Envoy's (the events contract: what the caller got,
        // the stream as Envoy measured it; other filters and Envoy's own replies can
        // change both after meshward's callbacks). The request size comes from the
        // request headers when they tell it (Envoy's own definition), which saves a
        // property read (~10k instructions in Envoy: docs/performance.md).
        let request_size = self.request_size;
        let end = || {
            let status = envoy::property_i64(&["response", "code"]).unwrap_or(0);
            let duration_ns = envoy::property_i64(&["request", "duration"]).unwrap_or(0);
            let size = |p: &[&str]| {
                envoy::property_i64(p)
                    .and_then(|v| u64::try_from(v).ok())
                    .unwrap_or(0)
            };
            StreamEnd {
                status: u16::try_from(status).unwrap_or(0),
                duration_ms: u64::try_from(duration_ns / 1_000_000).unwrap_or(0),
                request_bytes: request_size.unwrap_or_else(|| size(&["request", "size"])),
                response_bytes: size(&["response", "size"]),
            }
        };
        let records = ex.finish_lazy(&active.rt, &active.host, events.is_some(), end);
        if events.is_none() {
            return;
        }
        for r in records {
            match &r {
                OutRecord::Call(c) => active.enqueue(c.as_ref()),
                OutRecord::Endpoint(e) => active.enqueue(e),
                OutRecord::Alert(a) => active.enqueue(a),
                OutRecord::Finding(f) => active.enqueue(f),
            }
        }
    }
}
