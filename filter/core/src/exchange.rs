//! One API call as meshward sees it, from request headers to the end of the stream.
//! The adapter feeds it what Envoy offers and applies the plans and decisions it
//! returns; all policy lives here.
//!
//! Order on the request (config.md): enabled and direction → templating and identity →
//! access (401/403) → undeclared → threats → behavioural blocks → data limits → rate
//! limits. The first step that decides ends the evaluation (dry-run entries are still
//! evaluated and recorded). In `mode: monitor` every decision is recorded as a dry run
//! and nothing is blocked, limited or altered. On the response: classification,
//! masking, data-limit accounting, behavioural accounting, findings.

use crate::api::{self, Protocol};
use crate::behavior::{actor_hash, Observation};
use crate::config::de::Switch;
use crate::config::raw::{AccessAction, MaskStyle};
use crate::detect::{Family, FamilySet, Place};
use crate::events::record::*;
use crate::findings::{self, Finding};
use crate::host::Host;
use crate::identity::{Account, IdentityInput, Strip, WeakAuth, Workload};
use crate::inventory::Seen;
use crate::protect::answer::{self, Answer, Reason};
use crate::protect::slots::hash64;
use crate::protect::{evaluate_access, Subject};
use crate::runtime::Runtime;
use crate::sensitive::{Date, Hits};
use crate::stats::{DecisionKind, ErrorSite, Message, Outcome};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::rc::Rc;

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

/// One header as read from Envoy: lower-case name, raw value, both as bytes borrowed
/// from the serialised header map the adapter read (names are not checked as UTF-8
/// per request: they are only compared with names meshward knows, which are ASCII).
pub type Header<'a> = (&'a [u8], &'a [u8]);

/// Request or response headers as read from Envoy, in order.
pub type HeaderList<'a> = [Header<'a>];

/// The first value of a header, if present.
pub fn header<'a>(headers: &'a HeaderList<'a>, name: &str) -> Option<&'a [u8]> {
    // A plain loop with the length test first: the iterator form cost ~20 Wasm
    // instructions per header, and a request makes several lookups.
    let name = name.as_bytes();
    for &(n, v) in headers {
        if n.len() == name.len() && n.eq_ignore_ascii_case(name) {
            return Some(v);
        }
    }
    None
}

fn header_str<'a>(headers: &'a HeaderList<'a>, name: &str) -> Option<&'a str> {
    header(headers, name).and_then(|v| std::str::from_utf8(v).ok())
}

/// A request id as it may appear in records and answers: ≤ 128 of `[A-Za-z0-9._-]`.
pub fn valid_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// A request id kept inline (no allocation per request), as the header gave it: it
/// is checked ([`valid_request_id`]) only when a record or an answer shows it, which
/// most requests never need.
#[derive(Debug, Clone, Copy)]
struct RequestId {
    len: u8,
    bytes: [u8; 128],
}

impl RequestId {
    /// `id` if it has the length of a valid id (1 to 128 bytes).
    fn new(id: &[u8]) -> Option<Self> {
        let len = u8::try_from(id.len()).ok().filter(|&n| n > 0 && n <= 128)?;
        let mut bytes = [0u8; 128];
        bytes.get_mut(..id.len())?.copy_from_slice(id);
        Some(Self { len, bytes })
    }

    /// The id, if it is a [`valid_request_id`].
    fn as_str(&self) -> Option<&str> {
        let id = self.bytes.get(..usize::from(self.len))?;
        if !valid_request_id(id) {
            return None;
        }
        std::str::from_utf8(id).ok()
    }
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
    pub headers: &'a HeaderList<'a>,
    /// Listener direction.
    pub direction: Direction,
    /// Envoy's `source.address`, parsed ([`crate::peer::Source::parse`]).
    pub source: Option<&'a Rc<crate::peer::Source>>,
    /// The peer certificate's URI SAN (SPIFFE id) under mTLS, parsed
    /// ([`crate::identity::parse_spiffe`]; `None` also when it is no SPIFFE id).
    pub workload: Option<&'a Rc<Workload>>,
    /// The connection is mTLS.
    pub mtls: bool,
    /// Payloads verified by Envoy's jwt_authn, keyed by issuer.
    pub jwt_authn: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// The request has no body (end of stream on headers).
    pub end_of_stream: bool,
}

/// How the adapter handles a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyMode {
    /// Not needed: no body callback work.
    Skip,
    /// Copy the bytes (up to `max_body_bytes`) as they stream by; do not hold them.
    Observe,
    /// Let the headers go on, buffer the body (up to `max_body_bytes`) until a verdict.
    Buffer,
    /// Hold the headers too until the body verdict (`inspection.hold_headers`).
    Hold,
}

/// What to do after the request headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPlan {
    /// meshward answers now.
    pub answer: Option<Answer>,
    /// Request headers to remove (all values).
    pub remove_headers: Vec<String>,
    /// A new `:path` (an API key removed from the query).
    pub new_path: Option<String>,
    /// What to do with the body.
    pub body: BodyMode,
    /// Body bytes to keep at most.
    pub body_limit: usize,
}

impl RequestPlan {
    fn pass() -> Self {
        Self {
            answer: None,
            remove_headers: Vec::new(),
            new_path: None,
            body: BodyMode::Skip,
            body_limit: 0,
        }
    }
}

/// What the adapter read at response headers.
#[derive(Debug, Clone, Copy)]
pub struct ResponseInfo<'a> {
    /// `:status`.
    pub status: u16,
    /// Every response header.
    pub headers: &'a HeaderList<'a>,
    /// The response has no body.
    pub end_of_stream: bool,
}

/// What to do after the response headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponsePlan {
    /// What to do with the body.
    pub body: BodyMode,
    /// Body bytes to keep at most.
    pub body_limit: usize,
    /// Headers to remove now (the body may be rewritten and headers cannot wait).
    pub remove_headers: Vec<&'static str>,
}

/// What to do at the end of a (request or response) body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyResult {
    /// Let it through unchanged.
    Continue,
    /// Replace the body (response masking); remove these headers, set these.
    Replace {
        /// The new body.
        body: Vec<u8>,
        /// Headers to remove.
        remove_headers: Vec<&'static str>,
        /// Headers to set.
        set_headers: Vec<(&'static str, &'static str)>,
    },
    /// meshward answers instead.
    Answer(Answer),
}

/// The `rule` of answers given under `inspection.oversize: block`.
pub const OVERSIZE_RULE: &str = "inspection.oversize";

/// The `rule` of answers given under `inspection.compressed: block`.
pub const COMPRESSED_RULE: &str = "inspection.compressed";

/// A record produced by the exchange, for the adapter to encode and queue.
#[derive(Debug, Clone, PartialEq)]
pub enum OutRecord {
    /// `kind: call`.
    Call(Box<CallRecord>),
    /// `kind: endpoint`.
    Endpoint(EndpointRecord),
    /// `kind: alert`.
    Alert(AlertRecord),
    /// `kind: finding`.
    Finding(FindingRecord),
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

/// Sensitive values found in one message, per type index.
#[derive(Debug, Default, Clone)]
struct Counts(Vec<u32>);

impl Counts {
    fn add(&mut self, hits: &Hits) {
        for (ti, n) in hits.types() {
            if self.0.len() <= ti {
                self.0.resize(ti + 1, 0);
            }
            if let Some(c) = self.0.get_mut(ti) {
                *c = c.saturating_add(n);
            }
        }
    }
    fn add_counts(&mut self, other: &Counts) {
        for (ti, n) in other.types() {
            if self.0.len() <= ti {
                self.0.resize(ti + 1, 0);
            }
            if let Some(c) = self.0.get_mut(ti) {
                *c = c.saturating_add(n);
            }
        }
    }
    fn count(&self, ti: usize) -> u32 {
        self.0.get(ti).copied().unwrap_or(0)
    }
    fn types(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.0.iter().copied().enumerate().filter(|(_, n)| *n > 0)
    }
    fn total(&self) -> u32 {
        self.0.iter().sum()
    }
    fn max_level(&self, rt: &Runtime) -> u8 {
        self.types()
            .map(|(ti, _)| rt.classifier.level(ti))
            .max()
            .unwrap_or(0)
    }
}

/// One API call in progress.
#[derive(Debug)]
pub struct Exchange {
    ts: u64,
    direction: Direction,
    protocol: Protocol,
    /// `:method`: one of the standard methods without an allocation.
    method: Cow<'static, str>,
    /// The normalised path, the template and the authority, one after the other in
    /// one allocation (see `path`, `template`, `host`).
    text: String,
    path_end: usize,
    template_end: usize,
    declared: bool,
    /// The endpoint's inventory hash, once it is in the inventory (not over
    /// `max_endpoints`).
    inventoried: Option<u64>,
    operation: Option<String>,
    request_id: Option<RequestId>,
    /// `source.address` (shared with the connection's other requests).
    source: Option<Rc<crate::peer::Source>>,
    /// The address came from a header (`x-forwarded-for` or port 0).
    ip_forwarded: bool,
    /// The caller's IP when trusted (not forwarded, or `trust_forwarded_ip`).
    source_ip: Option<IpAddr>,
    workload: Option<Rc<Workload>>,
    mtls: bool,
    account: Option<Account>,
    weak: WeakAuth,
    actor: Option<u64>,
    /// Byte range in `path` of the id enumeration watches (the first templated
    /// segment that is not a date).
    enum_id: Option<(u32, u32)>,
    inspect: bool,
    grpc: bool,
    request_content: Option<ContentKind>,
    decisions: Vec<DecisionInfo>,
    threats: Vec<ThreatInfo>,
    threat_found: FamilySet,
    answered: Option<Reason>,
    req: Counts,
    resp: Counts,
    url: Counts,
    verbose: Option<&'static str>,
    verbose_only: bool,
    data_keys: Vec<(usize, u64)>,
    masked: bool,
    truncated: bool,
    skipped: Option<&'static str>,
    status: u16,
    response_content: Option<ContentKind>,
    head: bool,
    records: Vec<OutRecord>,
    value_hashes: Vec<String>,
    hold_request: bool,
    /// The response is compressed and `compressed: block` needs it: answered 502.
    refuse_compressed: bool,
}

/// Keyed value hashes kept per call (`events.values: hash`).
pub const MAX_VALUE_HASHES: usize = 32;

/// How a body is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContentKind {
    Json,
    Form,
    Text,
    Graphql,
}

fn content_kind(rt: &Runtime, ct: Option<&str>) -> Option<ContentKind> {
    let ct = ct?;
    // Compared without lower-casing into a new String (configured types are lower-case).
    let mime = crate::text::split_once_ascii(ct, b';')
        .map_or(ct, |(m, _)| m)
        .trim();
    let is = |t: &str| mime.eq_ignore_ascii_case(t);
    if !rt.policy.inspection.content_types.iter().any(|t| is(t)) {
        return None;
    }
    let json_suffix = mime
        .len()
        .checked_sub(5)
        .and_then(|at| mime.get(at..))
        .is_some_and(|tail| tail.eq_ignore_ascii_case("+json"));
    Some(if is("application/json") || json_suffix {
        ContentKind::Json
    } else if is("application/x-www-form-urlencoded") {
        ContentKind::Form
    } else if is("application/graphql") {
        ContentKind::Graphql
    } else {
        ContentKind::Text
    })
}

/// The standard HTTP methods: kept without an allocation.
const STANDARD_METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
];

/// `m` as one of the standard methods, if it is one (the adapter reads `:method`
/// through this: no UTF-8 check for them).
pub fn standard_method(m: &[u8]) -> Option<&'static str> {
    STANDARD_METHODS.iter().find(|s| s.as_bytes() == m).copied()
}

/// The method as kept by the exchange: the standard ones borrowed, others copied.
fn method_text(m: &str) -> Cow<'static, str> {
    match standard_method(m.as_bytes()) {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(m.to_string()),
    }
}

fn is_compressed(headers: &HeaderList<'_>) -> bool {
    compressed(header(headers, "content-encoding"))
}

/// A `content-encoding` value that is not empty nor `identity`.
fn compressed(encoding: Option<&[u8]>) -> bool {
    encoding
        .and_then(|v| std::str::from_utf8(v).ok())
        .is_some_and(|e| !e.trim().is_empty() && !e.trim().eq_ignore_ascii_case("identity"))
}

/// The request headers the exchange reads by fixed name (the first of each), found in
/// one pass over the list: a lookup by name is a pass of its own. Names are compared
/// ignoring case, like every lookup (Envoy passes them lower-case), each against a
/// constant of its length.
#[derive(Debug, Default, Clone, Copy)]
struct Known<'a> {
    content_type: Option<&'a [u8]>,
    content_encoding: Option<&'a [u8]>,
    accept_encoding: Option<&'a [u8]>,
    x_request_id: Option<&'a [u8]>,
    x_forwarded_for: Option<&'a [u8]>,
    cookie: Option<&'a [u8]>,
    /// Some name starts with `x-meshward-`.
    meshward: bool,
}

impl<'a> Known<'a> {
    // Not inlined: the compares unroll, and `Exchange::start` is already the largest
    // function of the module (V8's compile memory follows the largest functions).
    #[inline(never)]
    fn find(headers: &'a HeaderList<'a>) -> Self {
        let mut k = Known::default();
        for &(n, v) in headers {
            let slot = match n.len() {
                6 if n.eq_ignore_ascii_case(b"cookie") => &mut k.cookie,
                12 if n.eq_ignore_ascii_case(b"content-type") => &mut k.content_type,
                12 if n.eq_ignore_ascii_case(b"x-request-id") => &mut k.x_request_id,
                15 if n.eq_ignore_ascii_case(b"x-forwarded-for") => &mut k.x_forwarded_for,
                15 if n.eq_ignore_ascii_case(b"accept-encoding") => &mut k.accept_encoding,
                16 if n.eq_ignore_ascii_case(b"content-encoding") => &mut k.content_encoding,
                _ => {
                    k.meshward |= n.starts_with(b"x-meshward-");
                    continue;
                }
            };
            slot.get_or_insert(v);
        }
        k
    }
}

impl Exchange {
    /// Records a decision: stats, and the record's `decisions`.
    fn decide(
        &mut self,
        rt: &Runtime,
        host: &dyn Host,
        kind: DecisionKind,
        rule: &str,
        outcome: Outcome,
        entry_dry_run: bool,
    ) {
        let dry = entry_dry_run || !rt.policy.enforce;
        if let Some(m) = rt.layout.decision(kind, rule, outcome, dry) {
            host.incr(m, 1);
        }
        self.decisions.push(DecisionInfo {
            rule: rule.to_string(),
            kind: kind.as_str(),
            outcome: outcome.as_str(),
            dry_run: dry,
        });
    }

    /// Whether an entry's action takes effect (enforce mode and not a dry run).
    fn effective(rt: &Runtime, entry_dry_run: bool) -> bool {
        rt.policy.enforce && !entry_dry_run
    }

    fn answer(
        &mut self,
        reason: Reason,
        rule: &str,
        retry_after: Option<u64>,
        ratelimit: Option<(u64, u64, u64)>,
    ) -> Answer {
        self.answered = Some(reason);
        answer::build(
            reason,
            rule,
            self.request_id.as_ref().and_then(RequestId::as_str),
            retry_after,
            ratelimit,
            self.grpc,
        )
    }

    /// Replaces the response with meshward's answer (nothing of it was masked).
    fn answer_response(
        &mut self,
        reason: Reason,
        rule: &str,
        retry_after: Option<u64>,
    ) -> BodyResult {
        self.masked = false;
        BodyResult::Answer(self.answer(reason, rule, retry_after, None))
    }

    fn subject<'a>(&'a self, headers: &'a HeaderList<'a>) -> Subject<'a> {
        let trusted = self.account.as_ref().filter(|a| a.trusted);
        Subject {
            principal: self.workload.as_ref().map(|w| w.principal.as_str()),
            namespace: self.workload.as_ref().and_then(|w| w.namespace.as_deref()),
            account: trusted.map(|a| a.id.as_str()),
            claims: trusted.and_then(|a| a.claims.as_ref()),
            method: &self.method,
            path: self.path(),
            template: self.template(),
            source_ip: self.source_ip,
            headers,
        }
    }

    /// What `start` does under `enabled: false`, from only the facts it needs: counts
    /// the request (by protocol) when its direction is listed. The adapter calls this
    /// instead of `start` for a disabled configuration, so the off switch reads two
    /// headers and one property instead of every header.
    pub fn count_only(
        rt: &Runtime,
        host: &dyn Host,
        direction: Direction,
        path: &str,
        content_type: Option<&str>,
    ) {
        let p = &rt.policy;
        let listed = match direction {
            Direction::Outbound => p.outbound,
            _ => p.inbound,
        };
        if !listed {
            return;
        }
        let (raw_path, _) = crate::text::split_query(path);
        let norm = api::normalize(raw_path);
        let protocol = api::protocol(&p.apis, content_type, &norm.path);
        host.incr(rt.layout.requests(protocol), 1);
    }

    /// Whether `response_headers` can do anything but note the status (which nothing
    /// reads when the response body is not inspected): false when meshward answered,
    /// the request is not inspected, or response bodies are off. The adapter then
    /// skips reading the response headers.
    pub fn wants_response_headers(&self, rt: &Runtime) -> bool {
        self.answered.is_none() && self.inspect && rt.policy.inspection.response_body
    }

    /// Starts an exchange on request headers. `None` when meshward does not act on
    /// this stream (disabled, or a direction not listed): pass it untouched.
    pub fn start(
        rt: &Runtime,
        host: &dyn Host,
        req: &RequestInfo<'_>,
    ) -> (Option<Exchange>, RequestPlan) {
        let p = &rt.policy;
        let listed = match req.direction {
            Direction::Outbound => p.outbound,
            _ => p.inbound,
        };
        if !listed {
            return (None, RequestPlan::pass());
        }
        let (raw_path, query) = crate::text::split_query(req.path);
        // Path, template and authority share one allocation.
        let mut text = String::with_capacity(2 * raw_path.len() + req.authority.len() + 16);
        api::normalize_into(raw_path, &mut text);
        let path_end = text.len();
        let known = Known::find(req.headers);
        let content_type = known.content_type.and_then(|v| std::str::from_utf8(v).ok());
        let protocol = api::protocol(&p.apis, content_type, &text);
        host.incr(rt.layout.requests(protocol), 1);
        if !p.enabled {
            return (None, RequestPlan::pass());
        }
        let now = host.now_ms();
        let m = {
            let mut own = String::new();
            let mut shared = rt.template_buf();
            let template: &mut String = match shared.as_deref_mut() {
                Some(t) => t,
                None => &mut own,
            };
            let m = rt.templater.template(req.method, &text, template);
            text.push_str(template);
            m
        };
        let template_end = text.len();
        text.push_str(req.authority);
        let norm_path = text.get(..path_end).unwrap_or_default();
        let template = text.get(path_end..template_end).unwrap_or_default();
        let enum_id = m
            .primary()
            .filter(|prm| !prm.value(norm_path).is_empty())
            .map(|prm| (prm.start, prm.end));
        let grpc = protocol == Protocol::Grpc;
        let operation = match protocol {
            Protocol::Grpc => api::grpc::operation(norm_path),
            Protocol::Graphql => query
                .map(api::graphql::from_query_string)
                .and_then(|ops| ops.first().map(api::graphql::Operation::text)),
            Protocol::Rest => None,
        };
        let request_id = known.x_request_id.and_then(RequestId::new);
        // An address Envoy took from a header (x-forwarded-for, or another through an
        // original-IP detection extension) is the caller's word, not its TCP peer.
        let forwarded =
            known.x_forwarded_for.is_some() || req.source.as_ref().is_some_and(|s| s.from_header);
        let trusted_ip = if forwarded && !p.identity.trust_forwarded_ip {
            None
        } else {
            req.source.as_ref().and_then(|s| s.ip)
        };
        let workload = req.workload.cloned();
        let identity = rt.identifier.identify(
            &IdentityInput {
                headers: req.headers,
                query,
                jwt_authn: req.jwt_authn,
            },
            now,
        );
        for via in &identity.failures {
            if let Some(m) = rt.layout.authn_failure(via) {
                host.incr(m, 1);
            }
        }
        let mut plan = RequestPlan::pass();
        for s in &identity.strip {
            match s {
                Strip::Header(h) => plan.remove_headers.push(h.clone()),
                Strip::QueryParam(q) => {
                    let base = plan
                        .new_path
                        .clone()
                        .unwrap_or_else(|| req.path.to_string());
                    if let Some(np) = crate::identity::remove_query_param(&base, q) {
                        plan.new_path = Some(np);
                    }
                }
            }
        }
        // Incoming x-meshward-* headers are never trusted.
        // (Envoy's codecs only pass token characters in names; a name that is not
        // UTF-8 could not be named to the host's header calls anyway.)
        if known.meshward {
            for (n, _) in req.headers.iter() {
                if n.starts_with(b"x-meshward-") {
                    if let Ok(n) = std::str::from_utf8(n) {
                        if !plan.remove_headers.iter().any(|h| h == n) {
                            plan.remove_headers.push(n.to_string());
                        }
                    }
                }
            }
        }
        if p.inspection.force_identity && known.accept_encoding.is_some() {
            plan.remove_headers.push("accept-encoding".into());
        }
        let account = identity.account;
        let actor = actor_hash(
            account
                .as_ref()
                .filter(|a| a.trusted)
                .map(|a| a.id.as_str()),
            workload.as_ref().map(|w| w.principal.as_str()),
            trusted_ip.and(req.source.as_ref().map(|s| &*s.text)),
        );
        let inspect = !p.inspection.skip_paths.matches(norm_path, template);
        let mut ex = Exchange {
            ts: now,
            direction: req.direction,
            protocol,
            method: method_text(req.method),
            text,
            path_end,
            template_end,
            declared: m.declared,
            inventoried: None,
            operation,
            request_id,
            ip_forwarded: forwarded && req.source.is_some(),
            source: req.source.cloned(),
            source_ip: trusted_ip,
            workload,
            mtls: req.mtls,
            account,
            weak: identity.weak,
            actor,
            enum_id,
            inspect,
            grpc,
            request_content: None,
            decisions: Vec::new(),
            threats: Vec::new(),
            threat_found: FamilySet::EMPTY,
            answered: None,
            req: Counts::default(),
            resp: Counts::default(),
            url: Counts::default(),
            verbose: None,
            verbose_only: false,
            data_keys: Vec::new(),
            masked: false,
            truncated: false,
            skipped: None,
            status: 0,
            response_content: None,
            head: req.method == "HEAD",
            records: Vec::new(),
            value_hashes: Vec::new(),
            hold_request: false,
            refuse_compressed: false,
        };
        ex.discover(rt, host);
        if let Some(a) = ex.request_steps(rt, host, req, &known, raw_path, query) {
            plan.answer = Some(a);
            return (Some(ex), plan);
        }
        // Request body.
        if !req.end_of_stream && ex.inspect && p.inspection.request_body {
            let body_kind = content_kind(rt, content_type);
            let body_blocking = p.enforce
                && p.detection.in_body
                && FamilySet::ALL
                    .iter()
                    .any(|f| p.detection.family(f.as_str()) == Switch::Block);
            if compressed(known.content_encoding) {
                ex.skip(rt, host, true);
                // Body blocking cannot see a compressed body: `compressed: block`
                // refuses it rather than let it pass uninspected.
                if body_blocking && body_kind.is_some() && p.inspection.compressed_block {
                    plan.answer =
                        Some(ex.answer(Reason::CompressedRequest, COMPRESSED_RULE, None, None));
                }
            } else if let Some(kind) = body_kind {
                ex.request_content = Some(kind);
                ex.hold_request = body_blocking;
                plan.body = match (body_blocking, p.inspection.hold_headers) {
                    (true, true) => BodyMode::Hold,
                    (true, false) => BodyMode::Buffer,
                    (false, _) => BodyMode::Observe,
                };
                plan.body_limit = p.inspection.max_body_bytes;
            } else if !grpc {
                ex.skip(rt, host, false);
            }
        }
        (Some(ex), plan)
    }

    fn skip(&mut self, rt: &Runtime, host: &dyn Host, compressed: bool) {
        host.incr(rt.layout.skipped(compressed), 1);
        if self.skipped.is_none() {
            self.skipped = Some(if compressed {
                "compressed"
            } else {
                "content_type"
            });
        }
    }

    /// Endpoint inventory: first sight on this pod and config yields a record.
    fn discover(&mut self, rt: &Runtime, host: &dyn Host) {
        let h = hash64(&[self.method.as_bytes(), self.template().as_bytes()]);
        match rt.endpoints.insert(host, h) {
            Seen::Known => self.inventoried = Some(h),
            Seen::New(n) => {
                self.inventoried = Some(h);
                host.set_gauge(rt.layout.endpoints(), n);
                let rec = self.endpoint_record(rt, 0);
                self.records.push(rec);
            }
            Seen::Overflow => host.incr(rt.layout.endpoint_overflow(), 1),
            Seen::Error => host.incr(rt.layout.internal_error(ErrorSite::SharedData), 1),
        }
    }

    /// The endpoint's level: the first call on this pod and config that carries data
    /// of level `level` yields an `endpoint` record with it. Lower levels are marked
    /// seen at the same time, so records only ever go up (at most 4 per endpoint; a
    /// race between workers may add one lower record, which the highest outranks).
    fn level_seen(&mut self, rt: &Runtime, host: &dyn Host, level: u8) {
        let Some(ep) = self.inventoried.filter(|_| level > 0) else {
            return;
        };
        let item = |l: u8| hash64(&[&ep.to_le_bytes(), &[l]]);
        match rt.levels.insert(host, item(level)) {
            Seen::New(_) => {
                for l in 1..level {
                    if rt.levels.insert(host, item(l)) == Seen::Error {
                        host.incr(rt.layout.internal_error(ErrorSite::SharedData), 1);
                    }
                }
                let rec = self.endpoint_record(rt, level);
                self.records.push(rec);
            }
            Seen::Known | Seen::Overflow => {}
            Seen::Error => host.incr(rt.layout.internal_error(ErrorSite::SharedData), 1),
        }
    }

    fn endpoint_record(&self, rt: &Runtime, level: u8) -> OutRecord {
        OutRecord::Endpoint(EndpointRecord {
            v: RECORD_VERSION,
            kind: "endpoint",
            ts: self.ts,
            config: rt.policy.hash.clone(),
            service: rt.service.clone(),
            api: self.api_info(),
            declared: self.declared,
            level,
            first_seen_by: FirstSeenBy {
                principal: self.principal(),
                account: self
                    .account
                    .as_ref()
                    .filter(|a| a.trusted)
                    .map(|a| record_account_id(rt, &a.id)),
            },
        })
    }

    /// The peer's SPIFFE id, for records.
    fn principal(&self) -> Option<String> {
        self.workload.as_ref().map(|w| w.principal.clone())
    }

    /// The normalised request path.
    fn path(&self) -> &str {
        self.text.get(..self.path_end).unwrap_or_default()
    }

    /// The API template (`/users/{int}`).
    fn template(&self) -> &str {
        self.text
            .get(self.path_end..self.template_end)
            .unwrap_or_default()
    }

    /// `:authority`.
    fn host(&self) -> &str {
        self.text.get(self.template_end..).unwrap_or_default()
    }

    fn request_id_text(&self) -> Option<String> {
        self.request_id
            .as_ref()
            .and_then(RequestId::as_str)
            .map(str::to_string)
    }

    fn api_info(&self) -> ApiInfo {
        ApiInfo {
            method: self.method.to_string(),
            host: self.host().to_string(),
            path: self.template().to_string(),
            protocol: self.protocol.as_str(),
            operation: self.operation.clone(),
        }
    }

    /// Steps 3 to 5 on the request headers; `Some` when meshward answers.
    fn request_steps(
        &mut self,
        rt: &Runtime,
        host: &dyn Host,
        req: &RequestInfo<'_>,
        known: &Known<'_>,
        raw_path: &str,
        query: Option<&str>,
    ) -> Option<Answer> {
        let p = &rt.policy;
        // 3. Access.
        let access = evaluate_access(&p.access, &self.subject(req.headers));
        for hit in &access.hits {
            let name = hit
                .rule
                .and_then(|i| p.access.rules.get(i))
                .map_or(crate::stats::DEFAULT_RULE, |r| r.name.as_str())
                .to_string();
            self.decide(
                rt,
                host,
                DecisionKind::Access,
                &name,
                hit.outcome,
                hit.dry_run,
            );
        }
        if let Some(hit) = access.decisive {
            let rule = hit.rule.and_then(|i| p.access.rules.get(i));
            let name = rule.map_or(crate::stats::DEFAULT_RULE, |r| r.name.as_str());
            let effective = Self::effective(rt, hit.dry_run);
            match hit.outcome {
                Outcome::Unauthenticated if effective => {
                    return Some(self.answer(Reason::Authn, name, None, None))
                }
                Outcome::Denied if effective => {
                    return Some(self.answer(Reason::Access, name, None, None))
                }
                _ => {}
            }
            // In monitor mode the would-be decision ends the evaluation like enforce.
            if matches!(hit.outcome, Outcome::Unauthenticated | Outcome::Denied) {
                return None;
            }
            let _ = rule.map(|r| r.action == AccessAction::Allow);
        }
        // Undeclared endpoints.
        if p.apis.undeclared != Switch::Off && !self.declared {
            let block = p.apis.undeclared == Switch::Block;
            let outcome = if block {
                Outcome::Blocked
            } else {
                Outcome::Alerted
            };
            self.decide(
                rt,
                host,
                DecisionKind::Undeclared,
                "undeclared",
                outcome,
                false,
            );
            if block && p.enforce {
                return Some(self.answer(Reason::Undeclared, "undeclared", None, None));
            }
            if block {
                return None;
            }
        }
        // 4. Threats in path, query and headers.
        if self.inspect && !rt.detector.enabled().is_empty() {
            let d = &p.detection;
            if d.in_path {
                let f = rt.detector.inspect_path(raw_path.as_bytes());
                self.threat(rt, host, req.headers, f, Place::Path);
            }
            if d.in_query {
                if let Some(q) = query {
                    // Every parameter, up to `max_body_bytes` of values in all (Envoy's
                    // header limit, 60 KiB by default, usually ends the query first).
                    let mut budget = p.inspection.max_body_bytes;
                    for (_, v) in crate::text::form_pairs(q.as_bytes()) {
                        if budget == 0 {
                            break;
                        }
                        budget = budget.saturating_sub(v.len().max(1));
                        let f = rt.detector.inspect(v, Place::Query);
                        self.threat(rt, host, req.headers, f, Place::Query);
                    }
                }
            }
            if d.in_headers {
                for name in [
                    "user-agent",
                    "referer",
                    "cookie",
                    "x-forwarded-for",
                    "x-forwarded-host",
                    "origin",
                ] {
                    for &(n, v) in req.headers.iter().filter(|(n, _)| *n == name.as_bytes()) {
                        let mut f = rt.detector.inspect(v, Place::Header);
                        if n == b"user-agent" && rt.detector.scanner_user_agent(v) {
                            f.insert(Family::Scanner);
                        }
                        if n == b"referer" || n == b"origin" {
                            // A page URL on localhost is normal in development.
                            f.remove(Family::Ssrf);
                        }
                        self.threat(rt, host, req.headers, f, Place::Header);
                    }
                }
            }
            if let Some(a) = self.threat_answer(rt) {
                return Some(a);
            }
        }
        // Behavioural blocks in force.
        if let Some(actor) = self.actor {
            match rt.behavior.blocked(host, actor, self.ts) {
                Ok(Some(alert)) => {
                    self.decide(
                        rt,
                        host,
                        DecisionKind::Behavior,
                        alert,
                        Outcome::Blocked,
                        false,
                    );
                    if p.enforce {
                        return Some(self.answer(Reason::Behavior, alert, None, None));
                    }
                    return None;
                }
                Ok(None) => {}
                Err(_) => host.incr(rt.layout.internal_error(ErrorSite::SharedData), 1),
            }
        }
        // 5. Data limits already spent, then rate limits.
        // The VM's key buffer: no allocation per request.
        let mut own = Vec::new();
        let mut shared = rt.key_buf();
        let key: &mut Vec<u8> = match shared.as_deref_mut() {
            Some(k) => k,
            None => &mut own,
        };
        for (i, dl) in p.data_limits.iter().enumerate() {
            let s = self.subject(req.headers);
            if !s.matches(&dl.when) {
                continue;
            }
            s.key(&dl.key, key);
            let kh = hash64(&[key.as_slice()]);
            self.data_keys.push((i, kh));
            let Some(limiter) = rt.data_limiters.get(i) else {
                continue;
            };
            match limiter.spent(host, kh, self.ts) {
                Ok(Some(retry)) if dl.block => {
                    self.decide(
                        rt,
                        host,
                        DecisionKind::DataLimit,
                        &dl.name,
                        Outcome::Limited,
                        dl.dry_run,
                    );
                    if Self::effective(rt, dl.dry_run) {
                        return Some(self.answer(Reason::DataLimit, &dl.name, Some(retry), None));
                    }
                    if !dl.dry_run {
                        return None;
                    }
                }
                Ok(_) => {}
                Err(e) => self.slot_error(rt, host, e),
            }
        }
        let mut most_restrictive: Option<(u64, u64, u64)> = None;
        for (i, rl) in p.rate_limits.iter().enumerate() {
            let s = self.subject(req.headers);
            if !s.matches(&rl.when) {
                continue;
            }
            s.key(&rl.key, key);
            let kh = hash64(&[key.as_slice()]);
            let Some(limiter) = rt.rate_limiters.get(i) else {
                continue;
            };
            match limiter.take(host, kh, self.ts) {
                Ok(t) => {
                    let hdr = (u64::from(rl.requests), t.remaining, t.reset_s);
                    if rl.headers
                        && Self::effective(rt, rl.dry_run)
                        && most_restrictive.is_none_or(|m| t.remaining < m.1)
                    {
                        most_restrictive = Some(hdr);
                    }
                    if !t.allowed {
                        self.decide(
                            rt,
                            host,
                            DecisionKind::RateLimit,
                            &rl.name,
                            Outcome::Limited,
                            rl.dry_run,
                        );
                        if Self::effective(rt, rl.dry_run) {
                            let h = rl.headers.then_some(hdr);
                            return Some(self.answer(
                                Reason::RateLimit,
                                &rl.name,
                                Some(t.retry_after_s),
                                h,
                            ));
                        }
                        if !rl.dry_run {
                            return None;
                        }
                    }
                }
                Err(e) => self.slot_error(rt, host, e),
            }
        }
        // Sensitive data in the URL and the scanned headers.
        if self.inspect {
            let today = Date::from_unix_ms(self.ts);
            rt.with_hits(|uh| {
                if let Some(q) = query {
                    rt.classifier.scan_form(q.as_bytes(), today, uh);
                }
                for seg in self.path().as_bytes().split(|&b| b == b'/') {
                    if !seg.is_empty() {
                        rt.classifier.scan_value(None, seg, today, uh);
                    }
                }
                self.url.add(uh);
                self.req.add(uh);
            });
            rt.with_hits(|hh| {
                for name in &p.sensitive.headers {
                    if let Some(v) = header(req.headers, name) {
                        rt.classifier.scan_value(Some(name), v, today, hh);
                    }
                }
                if let Some(c) = known.cookie {
                    rt.classifier.scan_form(&cookie_as_form(c), today, hh);
                }
                self.req.add(hh);
            });
        }
        None
    }

    fn slot_error(&self, rt: &Runtime, host: &dyn Host, e: crate::protect::slots::SlotError) {
        let site = match e {
            crate::protect::slots::SlotError::Contended => ErrorSite::SharedDataCas,
            crate::protect::slots::SlotError::Host => ErrorSite::SharedData,
        };
        host.incr(rt.layout.internal_error(site), 1);
    }

    /// Records the families found at `place`, minus exemptions.
    fn threat(
        &mut self,
        rt: &Runtime,
        host: &dyn Host,
        headers: &HeaderList<'_>,
        found: FamilySet,
        place: Place,
    ) {
        if found.is_empty() {
            return;
        }
        for f in found.iter() {
            if self.threat_found.contains(f) {
                continue;
            }
            let switch = rt.policy.detection.family(f.as_str());
            if switch == Switch::Off {
                continue;
            }
            // Exemptions (`detection.allow`): a dry-run exemption is recorded, not applied.
            let mut exempt = false;
            for a in &rt.policy.detection.allow {
                let covers = a.families.is_empty() || a.families.iter().any(|x| x == f.as_str());
                if covers && !a.dry_run && self.subject(headers).matches(&a.when) {
                    exempt = true;
                    break;
                }
            }
            if exempt {
                continue;
            }
            self.threat_found.insert(f);
            let block = switch == Switch::Block;
            if let Some(m) = rt.layout.threat(f.as_str(), block) {
                host.incr(m, 1);
            }
            self.threats.push(ThreatInfo {
                family: f.as_str(),
                place: place.as_str(),
                action: if block { "block" } else { "alert" },
            });
            let outcome = if block {
                Outcome::Blocked
            } else {
                Outcome::Alerted
            };
            self.decide(rt, host, DecisionKind::Threat, f.as_str(), outcome, false);
        }
    }

    fn threat_answer(&mut self, rt: &Runtime) -> Option<Answer> {
        if !rt.policy.enforce {
            return None;
        }
        let f = Family::ALL.into_iter().find(|f| {
            self.threat_found.contains(*f)
                && rt.policy.detection.family(f.as_str()) == Switch::Block
        })?;
        Some(self.answer(Reason::Threat(f.as_str()), f.as_str(), None, None))
    }

    /// The request body (at most `max_body_bytes`; `truncated` when cut). Returns an
    /// answer when a threat in block mode was found and the headers were held.
    pub fn request_body(
        &mut self,
        rt: &Runtime,
        host: &dyn Host,
        body: &[u8],
        truncated: bool,
    ) -> Option<Answer> {
        if self.answered.is_some() {
            return None;
        }
        if truncated {
            self.truncated = true;
            host.incr(rt.layout.truncated(Message::Request), 1);
        }
        let kind = self.request_content?;
        let today = Date::from_unix_ms(self.ts);
        let detect = rt.policy.detection.in_body && !rt.detector.enabled().is_empty();
        // Injection families found in the body's values.
        let mut found = FamilySet::EMPTY;
        rt.with_hits(|hits| {
            match kind {
                ContentKind::Json if detect => {
                    // One walk classifies and hands every string value to the detectors.
                    let outcome = rt.classifier.scan_json_and_strings(body, today, hits, |t| {
                        found = found.union(rt.detector.inspect(t, Place::Body));
                    });
                    if invalid_json(outcome, truncated) {
                        host.incr(rt.layout.invalid(Message::Request), 1);
                    }
                    // What the walker could not parse (a syntax error, nesting over the
                    // limit) may still be read by a laxer parser upstream: it is
                    // inspected as text.
                    if let crate::json::Outcome::Invalid { at }
                    | crate::json::Outcome::TooDeep { at } = outcome
                    {
                        let tail = body.get(at..).unwrap_or_default();
                        found = found.union(rt.detector.inspect(tail, Place::Body));
                    }
                }
                ContentKind::Json => {
                    let outcome = rt.classifier.scan_json(body, today, hits);
                    if invalid_json(outcome, truncated) {
                        host.incr(rt.layout.invalid(Message::Request), 1);
                    }
                }
                ContentKind::Form => rt.classifier.scan_form(body, today, hits),
                ContentKind::Text | ContentKind::Graphql => {
                    rt.classifier.scan_text(body, today, hits)
                }
            }
            self.req.add(hits);
        });
        self.hash_values(rt, kind, body, today);
        if self.protocol == Protocol::Graphql {
            let ct = match kind {
                ContentKind::Graphql => Some("application/graphql"),
                _ => Some("application/json"),
            };
            let ops = api::graphql::operations(ct, body, None);
            if !ops.is_empty() {
                let names: Vec<String> = ops.iter().map(api::graphql::Operation::text).collect();
                self.operation = Some(names.join(", "));
            }
        }
        if detect {
            match kind {
                // Inspected with the classification walk above.
                ContentKind::Json => {}
                ContentKind::Form => {
                    for (_, v) in crate::text::form_pairs(body) {
                        found = found.union(rt.detector.inspect(v, Place::Body));
                    }
                }
                ContentKind::Text | ContentKind::Graphql => {
                    found = rt.detector.inspect(body, Place::Body);
                }
            }
            self.threat(rt, host, &[], found, Place::Body);
            if self.hold_request {
                if let Some(a) = self.threat_answer(rt) {
                    return Some(a);
                }
                // Blocking on the body needs all of it: `oversize: block` refuses what
                // cannot be inspected whole (counted as truncated above).
                if truncated && rt.policy.inspection.oversize_block {
                    return Some(self.answer(Reason::OversizeRequest, OVERSIZE_RULE, None, None));
                }
            }
        }
        None
    }

    /// With `events.values: hash`, keyed hash prefixes of the values found in a body
    /// (`type:12 hex`, at most [`MAX_VALUE_HASHES`] per call); never the values.
    fn hash_values(&mut self, rt: &Runtime, kind: ContentKind, body: &[u8], today: Date) {
        if !rt.policy.records.hash_values || self.value_hashes.len() >= MAX_VALUE_HASHES {
            return;
        }
        let out = &mut self.value_hashes;
        let mut push = |f: crate::sensitive::Found<'_>| {
            let h = crate::sensitive::value_hash(
                &rt.hash_key,
                rt.classifier.type_id(f.type_idx),
                f.text,
            );
            if out.len() < MAX_VALUE_HASHES && !out.contains(&h) {
                out.push(h);
            }
        };
        rt.with_hits(|hits| match kind {
            ContentKind::Json => {
                rt.classifier.scan_json_with(body, today, hits, &mut push);
            }
            ContentKind::Form => rt.classifier.scan_form_with(body, today, hits, &mut push),
            ContentKind::Text | ContentKind::Graphql => {
                rt.classifier.scan_text_with(body, today, hits, &mut push)
            }
        });
    }

    /// The masking plan of this caller: per type index, the style of the first
    /// effective rule; dry-run rules that would have masked are reported apart.
    fn mask_plan(
        &self,
        rt: &Runtime,
        headers: &HeaderList<'_>,
    ) -> (Vec<Option<MaskStyle>>, Vec<(usize, bool)>) {
        let n = rt.classifier.type_count();
        let mut plan = vec![None; n];
        let mut rules = Vec::new();
        let s = self.subject(headers);
        for (ri, (rule, types)) in rt.policy.masking.iter().zip(&rt.masking_types).enumerate() {
            if rule.unless.as_ref().is_some_and(|u| s.matches(u)) {
                continue;
            }
            let effective = Self::effective(rt, rule.dry_run);
            let mut any = false;
            for (slot, &applies) in plan.iter_mut().zip(types) {
                if slot.is_some() {
                    continue;
                }
                if applies {
                    any = true;
                    if effective {
                        *slot = Some(rule.style);
                    }
                }
            }
            if any {
                rules.push((ri, effective));
            }
        }
        (plan, rules)
    }

    /// The response headers: decides whether the body is inspected, held, masked.
    pub fn response_headers(
        &mut self,
        rt: &Runtime,
        host: &dyn Host,
        resp: &ResponseInfo<'_>,
    ) -> ResponsePlan {
        self.status = resp.status;
        let none = ResponsePlan {
            body: BodyMode::Skip,
            body_limit: 0,
            remove_headers: Vec::new(),
        };
        if self.answered.is_some()
            || resp.end_of_stream
            || !self.inspect
            || !rt.policy.inspection.response_body
        {
            return none;
        }
        let ct = header_str(resp.headers, "content-type");
        let verbose_wanted = rt.policy.findings.verbose_errors && resp.status >= 500;
        let Some(kind) = content_kind(rt, ct) else {
            if verbose_wanted && !is_compressed(resp.headers) {
                // Error pages (text/html and the like) are read for stack traces only.
                self.verbose_only = true;
                return ResponsePlan {
                    body: BodyMode::Observe,
                    body_limit: crate::findings::VERBOSE_SCAN_BYTES,
                    remove_headers: Vec::new(),
                };
            }
            if !self.grpc && ct.is_some() {
                self.skip(rt, host, false);
            }
            return none;
        };
        let compressed = is_compressed(resp.headers);
        if compressed {
            self.skip(rt, host, true);
        }
        let maskable = !self.head && !matches!(resp.status, 204 | 206 | 304);
        let (plan, _) = self.mask_plan(rt, resp.headers);
        let masking = maskable && plan.iter().any(Option::is_some);
        let guard = rt
            .policy
            .data_limits
            .iter()
            .any(|d| d.max_per_response.is_some() && Self::effective(rt, d.dry_run));
        let rewrite = masking || guard;
        let hold = rt.policy.inspection.hold_headers;
        if compressed {
            // Masking cannot rewrite a compressed body: `compressed: block` (enforce)
            // replaces it with a 502 answer (see `response_body`) instead of letting
            // it pass unmasked. Without held headers the status has left already; the
            // encoding and length headers must not describe the answer body.
            if !(rewrite && rt.policy.enforce && rt.policy.inspection.compressed_block) {
                return none;
            }
            self.refuse_compressed = true;
            return ResponsePlan {
                body: if hold {
                    BodyMode::Hold
                } else {
                    BodyMode::Buffer
                },
                body_limit: rt.policy.inspection.max_body_bytes,
                remove_headers: if hold {
                    Vec::new()
                } else {
                    vec!["content-encoding", "content-length", "etag", "content-md5"]
                },
            };
        }
        self.response_content = Some(kind);
        ResponsePlan {
            body: match (rewrite, hold) {
                (true, true) => BodyMode::Hold,
                (true, false) => BodyMode::Buffer,
                (false, _) => BodyMode::Observe,
            },
            body_limit: rt.policy.inspection.max_body_bytes,
            // Without held headers, headers leave before the body is rewritten: drop
            // what a rewritten body would contradict, up front.
            remove_headers: if rewrite && !hold {
                vec!["content-length", "etag", "content-md5"]
            } else {
                Vec::new()
            },
        }
    }

    /// The response body (at most `max_body_bytes`; `truncated` when cut): classifies,
    /// masks, accounts data limits; may replace the body or answer 429.
    pub fn response_body(
        &mut self,
        rt: &Runtime,
        host: &dyn Host,
        headers: &HeaderList<'_>,
        body: &[u8],
        truncated: bool,
    ) -> BodyResult {
        if self.refuse_compressed {
            return self.answer_response(Reason::CompressedResponse, COMPRESSED_RULE, None);
        }
        if self.status >= 500 && rt.policy.findings.verbose_errors {
            self.verbose = crate::findings::verbose_error(body);
        }
        let Some(kind) = self.response_content else {
            return BodyResult::Continue;
        };
        if truncated {
            self.truncated = true;
            host.incr(rt.layout.truncated(Message::Response), 1);
        }
        let today = Date::from_unix_ms(self.ts);
        let (plan, rules) = self.mask_plan(rt, headers);
        let maskable = !truncated && !self.head && !matches!(self.status, 204 | 206 | 304);
        let mut out = Vec::with_capacity(if maskable { body.len() + 256 } else { 0 });
        let mut masked = None;
        let mut invalid = false;
        let mut hits = Counts::default();
        rt.with_hits(|h| {
            if maskable && plan.iter().any(Option::is_some) {
                masked = match kind {
                    ContentKind::Json => rt
                        .classifier
                        .mask_json_with(body, &plan, &rt.hash_key, today, &mut out, h)
                        .or_else(|| {
                            // Not valid JSON: masked as text rather than passed unmasked.
                            invalid = true;
                            h.clear();
                            out.clear();
                            Some(rt.classifier.mask_text_with(
                                body,
                                &plan,
                                &rt.hash_key,
                                today,
                                &mut out,
                                h,
                            ))
                        }),
                    _ => Some(rt.classifier.mask_text_with(
                        body,
                        &plan,
                        &rt.hash_key,
                        today,
                        &mut out,
                        h,
                    )),
                };
            }
            if masked.is_none() {
                h.clear();
                match kind {
                    ContentKind::Json => {
                        invalid = invalid_json(rt.classifier.scan_json(body, today, h), truncated);
                    }
                    ContentKind::Form => rt.classifier.scan_form(body, today, h),
                    _ => rt.classifier.scan_text(body, today, h),
                }
            }
            hits.add(h);
        });
        if invalid {
            host.incr(rt.layout.invalid(Message::Response), 1);
        }
        self.resp.add_counts(&hits);
        self.hash_values(rt, kind, body, today);
        // Masking decisions: per rule that masked (or would have masked) a value.
        let mut any_masked = false;
        for (ri, effective) in &rules {
            let Some(rule) = rt.policy.masking.get(*ri) else {
                continue;
            };
            let touched = (0..rt.classifier.type_count()).any(|ti| {
                hits.count(ti) > 0
                    && (rule.types.is_empty()
                        || rule.types.iter().any(|t| t == rt.classifier.type_id(ti)))
            });
            if touched {
                self.decide(
                    rt,
                    host,
                    DecisionKind::Masking,
                    &rule.name,
                    Outcome::Masked,
                    rule.dry_run,
                );
                any_masked |= *effective;
            }
        }
        // Data limits: count what this caller received; the per-response guard.
        let mut guard: Option<(String, u64)> = None;
        for (i, kh) in self.data_keys.clone() {
            let (Some(dl), Some(limiter)) = (rt.policy.data_limits.get(i), rt.data_limiters.get(i))
            else {
                continue;
            };
            let n: u64 = (0..rt.classifier.type_count())
                .filter(|ti| match dl.min_level {
                    Some(l) => rt.classifier.level(*ti) >= l,
                    None => dl.types.iter().any(|t| t == rt.classifier.type_id(*ti)),
                })
                .map(|ti| u64::from(hits.count(ti)))
                .sum();
            if n == 0 {
                continue;
            }
            if let Some(maxr) = dl.max_per_response {
                if n > u64::from(maxr) && guard.is_none() {
                    self.decide(
                        rt,
                        host,
                        DecisionKind::DataLimit,
                        &dl.name,
                        Outcome::Limited,
                        dl.dry_run,
                    );
                    if Self::effective(rt, dl.dry_run) {
                        guard = Some((dl.name.clone(), 1));
                    }
                }
            }
            match limiter.add(host, kh, n, self.ts) {
                Ok(s) => {
                    if s.crossed_alert {
                        self.alert(rt, host, "sensitive_harvest", s.count, dl.per_ms, "alert");
                    }
                    if s.crossed_limit && !dl.block {
                        self.decide(
                            rt,
                            host,
                            DecisionKind::DataLimit,
                            &dl.name,
                            Outcome::Alerted,
                            dl.dry_run,
                        );
                    }
                }
                Err(e) => self.slot_error(rt, host, e),
            }
        }
        // Masking or a per-response limit needs the whole body: `oversize: block`
        // refuses what cannot be inspected whole (counted as truncated above).
        if truncated
            && rt.policy.inspection.oversize_block
            && rt.policy.enforce
            && !self.head
            && !matches!(self.status, 204 | 206 | 304)
            && (plan.iter().any(Option::is_some)
                || rt
                    .policy
                    .data_limits
                    .iter()
                    .any(|d| d.max_per_response.is_some() && Self::effective(rt, d.dry_run)))
        {
            return self.answer_response(Reason::OversizeResponse, OVERSIZE_RULE, None);
        }
        if let Some((rule, retry)) = guard {
            return self.answer_response(Reason::DataLimit, &rule, Some(retry));
        }
        match masked {
            Some(stats) if any_masked && stats.total > 0 => {
                for (ti, n) in stats.masked.iter().enumerate() {
                    if *n > 0 {
                        if let Some(m) = rt.layout.masked(u32::try_from(ti).unwrap_or(u32::MAX)) {
                            host.incr(m, u64::from(*n));
                        }
                    }
                }
                self.masked = true;
                let mut set_headers = Vec::new();
                if rt.policy.masking.iter().any(|r| r.unless.is_some()) {
                    set_headers.push(("cache-control", "private"));
                }
                BodyResult::Replace {
                    body: out,
                    remove_headers: vec!["content-length", "etag", "content-md5"],
                    set_headers,
                }
            }
            _ => BodyResult::Continue,
        }
    }

    fn alert(
        &mut self,
        rt: &Runtime,
        host: &dyn Host,
        alert: &'static str,
        count: u64,
        window_ms: u64,
        action: &'static str,
    ) {
        if let Some(m) = rt.layout.alert(alert) {
            host.incr(m, 1);
        }
        let trusted = self.account.as_ref().filter(|a| a.trusted);
        self.records.push(OutRecord::Alert(AlertRecord {
            v: RECORD_VERSION,
            kind: "alert",
            ts: host.now_ms(),
            config: rt.policy.hash.clone(),
            service: rt.service.clone(),
            alert,
            actor: ActorInfo {
                account: trusted.map(|a| record_account_id(rt, &a.id)),
                principal: self.principal(),
                ip: self.source_ip.map(|i| i.to_string()),
            },
            count,
            window: crate::config::de::EnvoyDuration::millis(window_ms).to_string(),
            action,
            request_id: self.request_id_text(),
        }));
    }

    /// Ends the exchange: behavioural accounting, findings, and the records to send.
    pub fn finish(self, rt: &Runtime, host: &dyn Host, end: &StreamEnd) -> Vec<OutRecord> {
        let end = *end;
        self.finish_lazy(rt, host, true, move || end)
    }

    /// [`Exchange::finish`] for the adapter: `end` (host reads) is called only when
    /// something needs it (behaviour, findings, or a call record), and with
    /// `want_records: false` (no `events.cluster`) no call record is built at all.
    /// Decisions, stats, behaviour and findings are the same as `finish`.
    pub fn finish_lazy(
        mut self,
        rt: &Runtime,
        host: &dyn Host,
        want_records: bool,
        end: impl FnOnce() -> StreamEnd,
    ) -> Vec<OutRecord> {
        let f = &rt.policy.findings;
        let any_finding = f.unauthenticated_sensitive.is_some()
            || f.excessive_exposure.is_some()
            || f.sensitive_in_url.is_some()
            || f.plaintext_sensitive.is_some()
            || f.weak_auth
            || f.verbose_errors
            || f.undeclared;
        let behave = self.actor.is_some() && rt.behavior.is_active();
        let mut end = Some(end);
        let mut known: Option<StreamEnd> = None;
        let mut stream_end = move || -> StreamEnd {
            if let Some(e) = known {
                return e;
            }
            let e = end.take().map_or_else(StreamEnd::default, |f| f());
            known = Some(e);
            e
        };
        // Status as the caller got it (0 when nothing needs it: then no finding can
        // use it either, all being off).
        let status = if behave || any_finding {
            stream_end().status
        } else {
            0
        };
        if self.status == 0 {
            self.status = status;
        }
        let level = self.level(rt);
        self.level_seen(rt, host, level);
        // Behaviour.
        if let Some(actor) = self.actor {
            if rt.behavior.is_active() {
                let api = format!("{} {}", self.method, self.template());
                let obs = Observation {
                    actor,
                    status,
                    own_answer: self.answered.is_some(),
                    path: self.path(),
                    api: &api,
                    id: self
                        .enum_id
                        .and_then(|(s, e)| self.path().get(s as usize..e as usize))
                        .map(str::as_bytes),
                    level,
                };
                match rt.behavior.observe(host, &obs, host.now_ms()) {
                    Ok(fired) => {
                        for f in fired {
                            let outcome = if f.action == Switch::Block {
                                Outcome::Blocked
                            } else {
                                Outcome::Alerted
                            };
                            self.decide(rt, host, DecisionKind::Behavior, f.alert, outcome, false);
                            self.alert(rt, host, f.alert, f.count, f.window_ms, f.action.as_str());
                        }
                    }
                    Err(e) => self.slot_error(rt, host, e),
                }
            }
        }
        if any_finding {
            self.findings(rt, host, status);
        }
        // Stats of sensitive values, once per request.
        for (msg, hits) in [
            (Message::Request, &self.req),
            (Message::Response, &self.resp),
        ] {
            for (ti, n) in hits.types() {
                if let Some(m) = rt
                    .layout
                    .sensitive(u32::try_from(ti).unwrap_or(u32::MAX), msg)
                {
                    host.incr(m, u64::from(n));
                }
            }
        }
        let action = match self.answered {
            Some(r) => r.action(),
            None if self.masked => "masked",
            None => "allowed",
        };
        let always = action != "allowed"
            || self.decisions.iter().any(|d| d.dry_run)
            || !self.threats.is_empty()
            || level >= 3;
        let mut out = std::mem::take(&mut self.records);
        if want_records && (always || rt.sampled()) {
            let end = stream_end();
            let sensitive = SensitiveCounts {
                request: counts_map(rt, &self.req),
                response: counts_map(rt, &self.resp),
            };
            let account = self.account.as_ref().map(|a| AccountInfo {
                id: record_account_id(rt, &a.id),
                via: a.via,
                trusted: a.trusted,
                authn_failed: a.authn_failed,
            });
            out.insert(
                0,
                OutRecord::Call(Box::new(CallRecord {
                    v: RECORD_VERSION,
                    kind: "call",
                    ts: self.ts,
                    config: rt.policy.hash.clone(),
                    request_id: self.request_id_text(),
                    service: rt.service.clone(),
                    direction: self.direction.as_str(),
                    source: SourceInfo {
                        ip: self.source.as_ref().map(|s| s.text.to_string()),
                        ip_forwarded: self.ip_forwarded,
                        principal: self.principal(),
                    },
                    account,
                    api: self.api_info(),
                    status: end.status,
                    duration_ms: end.duration_ms,
                    bytes: Bytes {
                        request: end.request_bytes,
                        response: end.response_bytes,
                    },
                    sensitive,
                    level,
                    action,
                    decisions: self.decisions,
                    threats: self.threats,
                    truncated: self.truncated,
                    skipped: self.skipped,
                    value_hashes: std::mem::take(&mut self.value_hashes),
                })),
            );
        }
        out
    }

    fn level(&self, rt: &Runtime) -> u8 {
        self.req.max_level(rt).max(self.resp.max_level(rt))
    }

    fn findings(&mut self, rt: &Runtime, host: &dyn Host, status: u16) {
        let f = &rt.policy.findings;
        let trusted = self.account.as_ref().is_some_and(|a| a.trusted);
        let facts = findings::Facts {
            status,
            own_answer: self.answered.is_some(),
            trusted_account: trusted,
            mtls: self.mtls,
            declared: self.declared,
            has_declared: rt.templater.has_declared(),
            response_max_level: self.resp.max_level(rt),
            response_values: self.resp.total(),
            url_max_level: self.url.max_level(rt),
            any_max_level: self.level(rt),
            weak: &self.weak,
            verbose: self.verbose,
            hs256_many_issuers: rt.hs256_issuers(self.weak.hs256_issuer.as_deref()),
        };
        for finding in findings::evaluate(f, &facts) {
            let h = hash64(&[
                finding.id().as_bytes(),
                self.method.as_bytes(),
                self.template().as_bytes(),
            ]);
            match rt.findings.insert(host, h) {
                Seen::New(_) => {
                    if let Some(m) = rt.layout.finding(finding.id()) {
                        host.incr(m, 1);
                    }
                    let types = match finding {
                        Finding::SensitiveInUrl => counts_map(rt, &self.url),
                        Finding::PlaintextSensitive => {
                            let mut all = self.req.clone();
                            for (ti, n) in self.resp.types() {
                                if all.0.len() <= ti {
                                    all.0.resize(ti + 1, 0);
                                }
                                if let Some(c) = all.0.get_mut(ti) {
                                    *c += n;
                                }
                            }
                            counts_map(rt, &all)
                        }
                        _ => counts_map(rt, &self.resp),
                    };
                    self.records.push(OutRecord::Finding(FindingRecord {
                        v: RECORD_VERSION,
                        kind: "finding",
                        ts: host.now_ms(),
                        config: rt.policy.hash.clone(),
                        service: rt.service.clone(),
                        api: self.api_info(),
                        finding: finding.id(),
                        evidence: Evidence {
                            status,
                            types,
                            request_id: self.request_id_text(),
                            detail: findings::detail(finding, &facts).map(str::to_string),
                        },
                    }));
                }
                Seen::Known | Seen::Overflow => {}
                Seen::Error => host.incr(rt.layout.internal_error(ErrorSite::SharedData), 1),
            }
        }
    }
}

fn counts_map(rt: &Runtime, hits: &Counts) -> BTreeMap<String, u32> {
    hits.types()
        .map(|(ti, n)| (rt.classifier.type_id(ti).to_string(), n))
        .collect()
}

/// `a=1; b=2` → `a=1&b=2`, so cookies are scanned like form fields.
fn cookie_as_form(c: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(c.len());
    for (i, piece) in c.split(|&b| b == b';').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend(piece.iter().skip_while(|b| **b == b' '));
    }
    out
}

/// An account id as it appears in events: clear, or a keyed hash prefix with
/// `events.account_ids: hash`.
pub fn record_account_id(rt: &Runtime, id: &str) -> String {
    if rt.policy.records.hash_accounts {
        crate::sensitive::value_hash(&rt.hash_key, "account", id.as_bytes())
    } else {
        id.to_string()
    }
}

/// A body declared JSON that is not one complete, valid JSON value, other than one cut
/// at `max_body_bytes` by meshward itself (counted as truncated instead).
fn invalid_json(outcome: crate::json::Outcome, truncated: bool) -> bool {
    match outcome {
        crate::json::Outcome::Complete => false,
        crate::json::Outcome::Truncated { .. } => !truncated,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[cfg(not(target_arch = "wasm32"))]
    mod known_props {
        use super::super::*;
        use proptest::prelude::*;

        /// Names the one pass knows, in two cases, look-alikes of the same lengths,
        /// and others.
        const NAMES: [&str; 16] = [
            "cookie",
            "Cookie",
            "origin",
            "content-type",
            "Content-Type",
            "x-request-id",
            "x-forwarded-for",
            "X-Forwarded-For",
            "accept-encoding",
            "x-forwarded-por",
            "content-encoding",
            "Content-Encoding",
            "x-meshward-a",
            "x-meshward-account",
            "x-meshward-",
            "user-agent",
        ];

        proptest! {
            /// The one pass finds what a lookup by name finds, for any list of
            /// headers (repeats, case variants, look-alikes of the same length).
            #[test]
            fn one_pass_finds_what_lookups_find(
                picks in proptest::collection::vec((0..NAMES.len(), "[a-z0-9 ]{0,6}"), 0..14)
            ) {
                let list: Vec<Header<'_>> = picks
                    .iter()
                    .map(|(i, v)| (NAMES[*i].as_bytes(), v.as_bytes()))
                    .collect();
                let k = Known::find(&list);
                prop_assert_eq!(k.cookie, header(&list, "cookie"));
                prop_assert_eq!(k.content_type, header(&list, "content-type"));
                prop_assert_eq!(k.content_encoding, header(&list, "content-encoding"));
                prop_assert_eq!(k.accept_encoding, header(&list, "accept-encoding"));
                prop_assert_eq!(k.x_request_id, header(&list, "x-request-id"));
                prop_assert_eq!(k.x_forwarded_for, header(&list, "x-forwarded-for"));
                prop_assert_eq!(
                    k.meshward,
                    list.iter().any(|(n, _)| n.starts_with(b"x-meshward-"))
                );
            }
        }
    }

    #[test]
    fn standard_methods_are_borrowed_others_kept() {
        assert!(matches!(method_text("GET"), Cow::Borrowed("GET")));
        assert!(matches!(method_text("OPTIONS"), Cow::Borrowed("OPTIONS")));
        // Case matters (`get` is not `GET`), and any other method is kept as sent.
        assert!(matches!(method_text("get"), Cow::Owned(ref m) if m == "get"));
        assert!(matches!(method_text("PROPFIND"), Cow::Owned(ref m) if m == "PROPFIND"));
    }

    #[test]
    fn request_ids_kept_inline_as_given() {
        let shown = |id: &[u8]| RequestId::new(id).and_then(|r| r.as_str().map(str::to_string));
        let max = "a".repeat(128);
        assert_eq!(shown(max.as_bytes()), Some(max));
        let uuid = "5f0c6a4e-6d1b-4b7e-9d8a-2b1c3d4e5f60";
        assert_eq!(shown(uuid.as_bytes()), Some(uuid.into()));
        assert!(RequestId::new("a".repeat(129).as_bytes()).is_none());
        assert!(RequestId::new(b"").is_none());
        for bad in [&b"a b"[..], "é".as_bytes(), &[0xff, b'a'], b"a\x00"] {
            assert!(RequestId::new(bad).is_some(), "kept as given");
            assert_eq!(shown(bad), None, "never shown: {bad:?}");
        }
    }
}
