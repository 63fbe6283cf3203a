//! The Envoy stats of meshward: every metric and label set is laid out once per
//! policy, so the request path bumps a metric by index without building names.
//!
//! Labels are encoded in the stat name the way Istio encodes its own tags,
//! `label=.=value;.;` before the metric name (Envoy prepends `wasmcustom.`):
//! `wasmcustom.protocol=.=rest;.;meshward_requests_total`. A `stats_tags` entry per
//! label name, regex `(label=\.=(.*?);\.;)` (what Istio's `extraStatTags` generates),
//! turns that into `meshward_requests_total{protocol="rest"}` in `/stats/prometheus`.

pub use crate::api::Protocol;
use crate::config::{Policy, ALERTS, FAMILIES, FINDINGS};

/// Label names used by meshward metrics; each needs a `stats_tags` entry.
pub const LABELS: &[&str] = &[
    "protocol", "kind", "outcome", "rule", "dry_run", "type", "message", "action", "alert",
    "finding", "via", "cause", "result", "where", "config", "version",
];

/// The Envoy `stats_tags` regex of a label.
pub fn tag_regex(label: &str) -> String {
    format!("({label}=\\.=(.*?);\\.;)")
}

/// Kind of metric (proxy-wasm `MetricType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Monotonic counter.
    Counter,
    /// Gauge.
    Gauge,
    /// Histogram.
    Histogram,
}

/// A metric to define: its full encoded name and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricDef {
    /// Encoded name (labels first, metric name last).
    pub name: String,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
}

/// Index of a metric in the layout (not the host's metric id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetricIdx(pub u32);

/// Which message of an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// The request.
    Request,
    /// The response.
    Response,
}

impl Message {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Message::Request => "request",
            Message::Response => "response",
        }
    }
    fn idx(self) -> u32 {
        match self {
            Message::Request => 0,
            Message::Response => 1,
        }
    }
}

/// Why an event was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropCause {
    /// The per-worker buffer was full.
    BufferFull,
    /// The collector answered non-2xx or reset, after the retries.
    CollectorError,
    /// The POST timed out, after the retries.
    Timeout,
    /// The collector cluster does not exist on this proxy.
    NoCluster,
}

impl DropCause {
    const ALL: [DropCause; 4] = [
        DropCause::BufferFull,
        DropCause::CollectorError,
        DropCause::Timeout,
        DropCause::NoCluster,
    ];
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropCause::BufferFull => "buffer_full",
            DropCause::CollectorError => "collector_error",
            DropCause::Timeout => "timeout",
            DropCause::NoCluster => "no_cluster",
        }
    }
}

/// Where an internal error happened (host call failures and the like).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSite {
    /// Reading or writing headers, bodies or properties.
    HostCall,
    /// Shared data compare-and-swap retries exhausted.
    SharedDataCas,
    /// Shared data read or write failed.
    SharedData,
    /// `dispatch_http_call` refused for another reason than a missing cluster.
    Dispatch,
    /// Encoding an event record, or a queued record left out of its batch as damaged.
    Encode,
    /// Sending a local answer.
    SendResponse,
}

impl ErrorSite {
    const ALL: [ErrorSite; 6] = [
        ErrorSite::HostCall,
        ErrorSite::SharedDataCas,
        ErrorSite::SharedData,
        ErrorSite::Dispatch,
        ErrorSite::Encode,
        ErrorSite::SendResponse,
    ];
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorSite::HostCall => "host_call",
            ErrorSite::SharedDataCas => "shared_data_cas",
            ErrorSite::SharedData => "shared_data",
            ErrorSite::Dispatch => "dispatch",
            ErrorSite::Encode => "encode",
            ErrorSite::SendResponse => "send_response",
        }
    }
}

/// Kinds of decisions (the `kind` label and the record's `decisions[].kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionKind {
    /// Access rule (or the access default).
    Access,
    /// Rate limit.
    RateLimit,
    /// Data limit.
    DataLimit,
    /// Masking rule.
    Masking,
    /// Undeclared endpoint.
    Undeclared,
    /// Injection or scanner.
    Threat,
    /// Behavioural alert.
    Behavior,
}

impl DecisionKind {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Access => "access",
            DecisionKind::RateLimit => "rate_limit",
            DecisionKind::DataLimit => "data_limit",
            DecisionKind::Masking => "masking",
            DecisionKind::Undeclared => "undeclared",
            DecisionKind::Threat => "threat",
            DecisionKind::Behavior => "behavior",
        }
    }
    /// Outcomes a decision of this kind can have.
    pub fn outcomes(self) -> &'static [Outcome] {
        use Outcome::*;
        match self {
            DecisionKind::Access => &[Allowed, Denied, Unauthenticated],
            DecisionKind::RateLimit => &[Limited],
            DecisionKind::DataLimit => &[Limited, Alerted],
            DecisionKind::Masking => &[Masked],
            DecisionKind::Undeclared | DecisionKind::Threat | DecisionKind::Behavior => {
                &[Alerted, Blocked]
            }
        }
    }
}

/// What a decision decided (the `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Allowed by an allow rule.
    Allowed,
    /// Denied (403).
    Denied,
    /// No trusted account (401).
    Unauthenticated,
    /// Over a limit (429).
    Limited,
    /// Counted and recorded only.
    Alerted,
    /// Blocked (403).
    Blocked,
    /// Values masked.
    Masked,
}

impl Outcome {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Unauthenticated => "unauthenticated",
            Outcome::Limited => "limited",
            Outcome::Alerted => "alerted",
            Outcome::Blocked => "blocked",
            Outcome::Masked => "masked",
        }
    }
}

/// Name of the access decision made by `access.default`.
pub const DEFAULT_RULE: &str = "default";

/// All metrics of one policy, with O(1) lookups by meaning.
#[derive(Debug, Clone)]
pub struct Layout {
    defs: Vec<MetricDef>,
    requests: u32,
    decisions: Vec<(DecisionKind, String, u32)>,
    sensitive: u32,
    masked: u32,
    n_types: u32,
    type_ids: Vec<String>,
    threats: u32,
    alerts: u32,
    findings: u32,
    authn: u32,
    skipped: u32,
    truncated: u32,
    invalid: u32,
    endpoints: u32,
    overflow: u32,
    sent: u32,
    dropped: u32,
    batches: u32,
    internal: u32,
    config_info: u32,
    inspect: u32,
}

/// Account sources (`via` label values).
pub const VIAS: [&str; 5] = ["jwt", "envoy_jwt", "api_key", "basic", "header"];

struct Builder {
    defs: Vec<MetricDef>,
}

impl Builder {
    fn add(&mut self, kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> u32 {
        let idx = u32::try_from(self.defs.len()).unwrap_or(u32::MAX);
        let mut full = String::with_capacity(name.len() + labels.len() * 24);
        for (k, v) in labels {
            full.push_str(k);
            full.push_str("=.=");
            full.push_str(v);
            full.push_str(";.;");
        }
        full.push_str(name);
        self.defs.push(MetricDef { name: full, kind });
        idx
    }
    fn counter(&mut self, name: &str, labels: &[(&str, &str)]) -> u32 {
        self.add(MetricKind::Counter, name, labels)
    }
}

impl Layout {
    /// Lays out every metric the policy can bump. `version` is the module version.
    pub fn new(policy: &Policy, version: &str) -> Self {
        let mut b = Builder { defs: Vec::new() };
        let requests = b.counter("meshward_requests_total", &[("protocol", "rest")]);
        for p in [Protocol::Graphql, Protocol::Grpc] {
            b.counter("meshward_requests_total", &[("protocol", p.as_str())]);
        }

        let mut rules: Vec<(DecisionKind, String)> = Vec::new();
        for r in &policy.access.rules {
            rules.push((DecisionKind::Access, r.name.clone()));
        }
        rules.push((DecisionKind::Access, DEFAULT_RULE.to_string()));
        for r in &policy.rate_limits {
            rules.push((DecisionKind::RateLimit, r.name.clone()));
        }
        for r in &policy.data_limits {
            rules.push((DecisionKind::DataLimit, r.name.clone()));
        }
        for r in &policy.masking {
            rules.push((DecisionKind::Masking, r.name.clone()));
        }
        rules.push((DecisionKind::Undeclared, "undeclared".to_string()));
        for f in FAMILIES {
            rules.push((DecisionKind::Threat, f.to_string()));
        }
        for a in ALERTS {
            rules.push((DecisionKind::Behavior, a.to_string()));
        }
        let mut decisions = Vec::with_capacity(rules.len());
        for (kind, name) in rules {
            let base = u32::try_from(b.defs.len()).unwrap_or(u32::MAX);
            for o in kind.outcomes() {
                for dry in ["false", "true"] {
                    b.counter(
                        "meshward_decisions_total",
                        &[
                            ("kind", kind.as_str()),
                            ("outcome", o.as_str()),
                            ("rule", &name),
                            ("dry_run", dry),
                        ],
                    );
                }
            }
            decisions.push((kind, name, base));
        }

        let type_ids: Vec<String> = policy.sensitive.type_ids().map(str::to_string).collect();
        let sensitive = u32::try_from(b.defs.len()).unwrap_or(u32::MAX);
        for t in &type_ids {
            for m in ["request", "response"] {
                b.counter(
                    "meshward_sensitive_values_total",
                    &[("type", t), ("message", m)],
                );
            }
        }
        let masked = u32::try_from(b.defs.len()).unwrap_or(u32::MAX);
        for t in &type_ids {
            b.counter("meshward_masked_values_total", &[("type", t)]);
        }
        let threats = u32::try_from(b.defs.len()).unwrap_or(u32::MAX);
        for f in FAMILIES {
            for a in ["alert", "block"] {
                b.counter("meshward_threats_total", &[("type", f), ("action", a)]);
            }
        }
        let alerts = u32::try_from(b.defs.len()).unwrap_or(u32::MAX);
        for a in ALERTS {
            b.counter("meshward_alerts_total", &[("alert", a)]);
        }
        let findings = u32::try_from(b.defs.len()).unwrap_or(u32::MAX);
        for f in FINDINGS {
            b.counter("meshward_findings_total", &[("finding", f)]);
        }
        let authn = u32::try_from(b.defs.len()).unwrap_or(u32::MAX);
        for v in VIAS {
            b.counter("meshward_authn_failures_total", &[("via", v)]);
        }
        let skipped = b.counter("meshward_bodies_skipped_total", &[("cause", "compressed")]);
        b.counter(
            "meshward_bodies_skipped_total",
            &[("cause", "content_type")],
        );
        let truncated = b.counter("meshward_bodies_truncated_total", &[("message", "request")]);
        b.counter(
            "meshward_bodies_truncated_total",
            &[("message", "response")],
        );
        let invalid = b.counter("meshward_bodies_invalid_total", &[("message", "request")]);
        b.counter("meshward_bodies_invalid_total", &[("message", "response")]);
        let endpoints = b.add(MetricKind::Gauge, "meshward_endpoints", &[]);
        let overflow = b.counter("meshward_endpoint_overflow_total", &[]);
        let sent = b.counter("meshward_events_sent_total", &[]);
        let dropped = u32::try_from(b.defs.len()).unwrap_or(u32::MAX);
        for c in DropCause::ALL {
            b.counter("meshward_events_dropped_total", &[("cause", c.as_str())]);
        }
        let batches = b.counter("meshward_event_batches_total", &[("result", "ok")]);
        b.counter("meshward_event_batches_total", &[("result", "error")]);
        let internal = u32::try_from(b.defs.len()).unwrap_or(u32::MAX);
        for s in ErrorSite::ALL {
            b.counter("meshward_internal_errors_total", &[("where", s.as_str())]);
        }
        let config_info = b.add(
            MetricKind::Gauge,
            "meshward_config_info",
            &[("config", &policy.hash), ("version", version)],
        );
        let inspect = b.add(
            MetricKind::Histogram,
            "meshward_inspect_microseconds",
            &[("message", "request")],
        );
        b.add(
            MetricKind::Histogram,
            "meshward_inspect_microseconds",
            &[("message", "response")],
        );
        Self {
            defs: b.defs,
            requests,
            decisions,
            sensitive,
            masked,
            n_types: u32::try_from(type_ids.len()).unwrap_or(0),
            type_ids,
            threats,
            alerts,
            findings,
            authn,
            skipped,
            truncated,
            invalid,
            endpoints,
            overflow,
            sent,
            dropped,
            batches,
            internal,
            config_info,
            inspect,
        }
    }

    /// Every metric to define, in index order.
    pub fn defs(&self) -> &[MetricDef] {
        &self.defs
    }

    /// `meshward_requests_total{protocol}`.
    pub fn requests(&self, p: Protocol) -> MetricIdx {
        let off = match p {
            Protocol::Rest => 0,
            Protocol::Graphql => 1,
            Protocol::Grpc => 2,
        };
        MetricIdx(self.requests + off)
    }

    /// `meshward_decisions_total{kind,outcome,rule,dry_run}`; `None` for a rule or
    /// outcome the layout does not know.
    pub fn decision(
        &self,
        kind: DecisionKind,
        rule: &str,
        outcome: Outcome,
        dry_run: bool,
    ) -> Option<MetricIdx> {
        let (_, _, base) = self
            .decisions
            .iter()
            .find(|(k, n, _)| *k == kind && n == rule)?;
        let o = u32::try_from(kind.outcomes().iter().position(|x| *x == outcome)?).ok()?;
        Some(MetricIdx(base + o * 2 + u32::from(dry_run)))
    }

    /// Index of a type id in this layout's type list.
    pub fn type_index(&self, id: &str) -> Option<u32> {
        self.type_ids
            .iter()
            .position(|t| t == id)
            .and_then(|i| u32::try_from(i).ok())
    }

    /// `meshward_sensitive_values_total{type,message}` by type index.
    pub fn sensitive(&self, type_idx: u32, m: Message) -> Option<MetricIdx> {
        (type_idx < self.n_types).then(|| MetricIdx(self.sensitive + type_idx * 2 + m.idx()))
    }

    /// `meshward_masked_values_total{type}` by type index.
    pub fn masked(&self, type_idx: u32) -> Option<MetricIdx> {
        (type_idx < self.n_types).then(|| MetricIdx(self.masked + type_idx))
    }

    /// `meshward_threats_total{type,action}`; `block` when `blocked`.
    pub fn threat(&self, family: &str, blocked: bool) -> Option<MetricIdx> {
        let f = u32::try_from(FAMILIES.iter().position(|x| *x == family)?).ok()?;
        Some(MetricIdx(self.threats + f * 2 + u32::from(blocked)))
    }

    /// `meshward_alerts_total{alert}`.
    pub fn alert(&self, alert: &str) -> Option<MetricIdx> {
        let a = u32::try_from(ALERTS.iter().position(|x| *x == alert)?).ok()?;
        Some(MetricIdx(self.alerts + a))
    }

    /// `meshward_findings_total{finding}`.
    pub fn finding(&self, finding: &str) -> Option<MetricIdx> {
        let f = u32::try_from(FINDINGS.iter().position(|x| *x == finding)?).ok()?;
        Some(MetricIdx(self.findings + f))
    }

    /// `meshward_authn_failures_total{via}`.
    pub fn authn_failure(&self, via: &str) -> Option<MetricIdx> {
        let v = u32::try_from(VIAS.iter().position(|x| *x == via)?).ok()?;
        Some(MetricIdx(self.authn + v))
    }

    /// `meshward_bodies_skipped_total{cause}`: compressed (true) or content type.
    pub fn skipped(&self, compressed: bool) -> MetricIdx {
        MetricIdx(self.skipped + u32::from(!compressed))
    }

    /// `meshward_bodies_truncated_total{message}`.
    pub fn truncated(&self, m: Message) -> MetricIdx {
        MetricIdx(self.truncated + m.idx())
    }

    /// `meshward_bodies_invalid_total{message}`: a body declared JSON that was not
    /// valid JSON (syntax error, nesting over the limit, invalid UTF-8, cut by the
    /// sender), so it was classified, masked and inspected as text.
    pub fn invalid(&self, m: Message) -> MetricIdx {
        MetricIdx(self.invalid + m.idx())
    }

    /// `meshward_endpoints` gauge.
    pub fn endpoints(&self) -> MetricIdx {
        MetricIdx(self.endpoints)
    }

    /// `meshward_endpoint_overflow_total`.
    pub fn endpoint_overflow(&self) -> MetricIdx {
        MetricIdx(self.overflow)
    }

    /// `meshward_events_sent_total`.
    pub fn events_sent(&self) -> MetricIdx {
        MetricIdx(self.sent)
    }

    /// `meshward_events_dropped_total{cause}`.
    pub fn events_dropped(&self, c: DropCause) -> MetricIdx {
        let off = DropCause::ALL.iter().position(|x| *x == c).unwrap_or(0);
        MetricIdx(self.dropped + u32::try_from(off).unwrap_or(0))
    }

    /// `meshward_event_batches_total{result}`.
    pub fn event_batches(&self, ok: bool) -> MetricIdx {
        MetricIdx(self.batches + u32::from(!ok))
    }

    /// `meshward_internal_errors_total{where}`.
    pub fn internal_error(&self, s: ErrorSite) -> MetricIdx {
        let off = ErrorSite::ALL.iter().position(|x| *x == s).unwrap_or(0);
        MetricIdx(self.internal + u32::try_from(off).unwrap_or(0))
    }

    /// `meshward_config_info{config,version}` gauge.
    pub fn config_info(&self) -> MetricIdx {
        MetricIdx(self.config_info)
    }

    /// `meshward_inspect_microseconds{message}` histogram.
    pub fn inspect_micros(&self, m: Message) -> MetricIdx {
        MetricIdx(self.inspect + m.idx())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn names_encode_labels_the_istio_way() {
        let p = load(b"").unwrap().policy;
        let l = Layout::new(&p, "0.1.0");
        let name = |i: MetricIdx| l.defs()[i.0 as usize].name.clone();
        assert_eq!(
            name(l.requests(Protocol::Grpc)),
            "protocol=.=grpc;.;meshward_requests_total"
        );
        assert_eq!(
            name(l.events_dropped(DropCause::NoCluster)),
            "cause=.=no_cluster;.;meshward_events_dropped_total"
        );
        assert_eq!(name(l.endpoints()), "meshward_endpoints");
        assert_eq!(
            name(l.decision(DecisionKind::Access, "default", Outcome::Denied, true).unwrap()),
            "kind=.=access;.;outcome=.=denied;.;rule=.=default;.;dry_run=.=true;.;meshward_decisions_total"
        );
        let t = l.type_index("cn_mobile").unwrap();
        assert_eq!(
            name(l.sensitive(t, Message::Response).unwrap()),
            "type=.=cn_mobile;.;message=.=response;.;meshward_sensitive_values_total"
        );
        assert_eq!(
            name(l.threat("sqli", true).unwrap()),
            "type=.=sqli;.;action=.=block;.;meshward_threats_total"
        );
        assert!(name(l.config_info()).starts_with("config=.="));
        assert_eq!(
            l.defs()[l.inspect_micros(Message::Response).0 as usize].kind,
            MetricKind::Histogram
        );
    }

    #[test]
    fn every_name_is_unique_and_every_label_has_a_tag() {
        let doc = include_str!("../../../examples/full-config.yaml");
        let p = crate::test_util::load_yaml(doc).unwrap().policy;
        let l = Layout::new(&p, "0.1.0");
        let mut names: Vec<&str> = l.defs().iter().map(|d| d.name.as_str()).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
        for d in l.defs() {
            for part in d.name.split(";.;") {
                if let Some((label, _)) = part.split_once("=.=") {
                    assert!(LABELS.contains(&label), "{label} has no stats tag");
                }
            }
        }
        assert!(l
            .decision(DecisionKind::RateLimit, "nope", Outcome::Limited, false)
            .is_none());
        assert!(l
            .decision(DecisionKind::Masking, "default", Outcome::Masked, false)
            .is_none());
    }
}
