//! Event records (`events.md`): `call`, `endpoint`, `alert` and `finding`. Absent
//! fields have their defaults, so a plain allowed call stays small. Sensitive values
//! never appear: only types, counts and levels.

use serde::Serialize;
use std::collections::BTreeMap;

/// Schema version of every record.
pub const RECORD_VERSION: u8 = 1;

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// The caller's network identity.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SourceInfo {
    /// Envoy's downstream remote address, without port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The address came from `x-forwarded-for`.
    #[serde(skip_serializing_if = "is_false")]
    pub ip_forwarded: bool,
    /// Peer SPIFFE id under mTLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

impl SourceInfo {
    /// No address and no principal (then the record leaves `source` out).
    pub(super) fn is_empty(&self) -> bool {
        self.ip.is_none() && self.principal.is_none()
    }
}

/// The caller's account.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct AccountInfo {
    /// Account id (hashed with `events.account_ids: hash`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Source: `jwt`, `envoy_jwt`, `api_key`, `basic`, `header`.
    pub via: &'static str,
    /// Verified identity.
    #[serde(skip_serializing_if = "is_false")]
    pub trusted: bool,
    /// A token or key was presented and failed verification.
    #[serde(skip_serializing_if = "is_false")]
    pub authn_failed: bool,
}

/// The API of a call.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ApiInfo {
    /// HTTP method.
    pub method: String,
    /// `:authority`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// The endpoint template (never the raw path).
    pub path: String,
    /// `rest`, `graphql`, `grpc`.
    pub protocol: &'static str,
    /// GraphQL operation (`query GetUser`) or gRPC method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

/// Body sizes as received.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Bytes {
    /// Request body bytes.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub request: u64,
    /// Response body bytes.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub response: u64,
}

impl Bytes {
    /// Both sizes 0 (then the record leaves `bytes` out).
    pub(super) fn is_empty(&self) -> bool {
        self.request == 0 && self.response == 0
    }
}

/// Type id → count, per message.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SensitiveCounts {
    /// In the request.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub request: BTreeMap<String, u32>,
    /// In the response.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub response: BTreeMap<String, u32>,
}

impl SensitiveCounts {
    /// No sensitive value either way.
    pub fn is_empty(&self) -> bool {
        self.request.is_empty() && self.response.is_empty()
    }
}

/// A rule that matched.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DecisionInfo {
    /// Rule name.
    pub rule: String,
    /// `access`, `rate_limit`, `data_limit`, `masking`, `undeclared`, `threat`,
    /// `behavior`.
    pub kind: &'static str,
    /// What it decided.
    pub outcome: &'static str,
    /// Counted and recorded only.
    #[serde(skip_serializing_if = "is_false")]
    pub dry_run: bool,
}

/// A threat found in the request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ThreatInfo {
    /// Family.
    #[serde(rename = "type")]
    pub family: &'static str,
    /// `path`, `query`, `header`, `body`.
    #[serde(rename = "where")]
    pub place: &'static str,
    /// `alert` or `block`.
    pub action: &'static str,
}

/// `kind: "call"`: one recorded API call.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CallRecord {
    /// Schema version.
    pub v: u8,
    /// `call`.
    pub kind: &'static str,
    /// Unix ms at request start.
    pub ts: u64,
    /// Config hash.
    pub config: String,
    /// Envoy's request id, when well-formed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `service`.
    pub service: String,
    /// `inbound` / `outbound`.
    pub direction: &'static str,
    /// Network identity.
    #[serde(skip_serializing_if = "SourceInfo::is_empty")]
    pub source: SourceInfo,
    /// Account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountInfo>,
    /// API.
    pub api: ApiInfo,
    /// Status sent to the caller; 0 when reset.
    pub status: u16,
    /// Stream duration, ms.
    pub duration_ms: u64,
    /// Body sizes.
    #[serde(skip_serializing_if = "Bytes::is_empty")]
    pub bytes: Bytes,
    /// Sensitive counts.
    #[serde(skip_serializing_if = "SensitiveCounts::is_empty")]
    pub sensitive: SensitiveCounts,
    /// Highest level seen.
    #[serde(skip_serializing_if = "is_zero_u8")]
    pub level: u8,
    /// What the caller got.
    pub action: &'static str,
    /// Every matching rule, in evaluation order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<DecisionInfo>,
    /// Threats.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub threats: Vec<ThreatInfo>,
    /// A body was longer than `max_body_bytes`.
    #[serde(skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// A body was not inspected: `compressed` or `content_type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<&'static str>,
    /// Keyed hash prefixes of matched values (`events.values: hash`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub value_hashes: Vec<String>,
}

/// Who first called a new endpoint.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FirstSeenBy {
    /// Peer principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Trusted account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// `kind: "endpoint"`: first sight of an endpoint template on this pod.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EndpointRecord {
    /// Schema version.
    pub v: u8,
    /// `endpoint`.
    pub kind: &'static str,
    /// Unix ms.
    pub ts: u64,
    /// Config hash.
    pub config: String,
    /// `service`.
    pub service: String,
    /// The endpoint.
    pub api: ApiInfo,
    /// Declared in `apis.templates`.
    #[serde(skip_serializing_if = "is_false")]
    pub declared: bool,
    /// Absent on first sight. Set (1 to 4) on the record of the first call on this
    /// pod and config that carried data of this level: an endpoint's level is the
    /// highest such record.
    #[serde(skip_serializing_if = "is_zero_u8")]
    pub level: u8,
    /// Who made the call of this record (first sight, or first data of `level`).
    pub first_seen_by: FirstSeenBy,
}

fn is_zero_u8(v: &u8) -> bool {
    *v == 0
}

/// The actor of a behavioural alert.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ActorInfo {
    /// Trusted account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Peer principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Source IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// `kind: "alert"`: a behavioural detection, once per actor and window.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AlertRecord {
    /// Schema version.
    pub v: u8,
    /// `alert`.
    pub kind: &'static str,
    /// Unix ms.
    pub ts: u64,
    /// Config hash.
    pub config: String,
    /// `service`.
    pub service: String,
    /// Alert id.
    pub alert: &'static str,
    /// Who.
    pub actor: ActorInfo,
    /// Count that crossed the threshold.
    pub count: u64,
    /// Window, like `5m`.
    pub window: String,
    /// `alert` or `block`.
    pub action: &'static str,
    /// The request that crossed the threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Evidence of a finding (never values).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Evidence {
    /// Response status.
    pub status: u16,
    /// Type id → count.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub types: BTreeMap<String, u32>,
    /// Request id of the call that showed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// A short fact, such as `basic_auth`, `alg_none`, `java_stack_trace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `kind: "finding"`: a weakness of an endpoint.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FindingRecord {
    /// Schema version.
    pub v: u8,
    /// `finding`.
    pub kind: &'static str,
    /// Unix ms.
    pub ts: u64,
    /// Config hash.
    pub config: String,
    /// `service`.
    pub service: String,
    /// The endpoint.
    pub api: ApiInfo,
    /// Finding id.
    pub finding: &'static str,
    /// Evidence.
    pub evidence: Evidence,
}

/// OTLP severity of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Allowed calls, endpoints.
    Info,
    /// Dry-run hits, masking, alerts, findings.
    Warn,
    /// 4xx answers meshward generated.
    Error,
}

impl Severity {
    /// `severityText`.
    pub fn text(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
        }
    }
    /// `severityNumber` of the OpenTelemetry log data model.
    pub fn number(self) -> u8 {
        match self {
            Severity::Info => 9,
            Severity::Warn => 13,
            Severity::Error => 17,
        }
    }
}

/// The facts of a record that OTLP carries as attributes.
#[derive(Debug, Clone, Copy)]
pub struct Meta<'a> {
    /// Record kind.
    pub kind: &'static str,
    /// Unix ms.
    pub ts: u64,
    /// Severity.
    pub severity: Severity,
    /// `action` (calls, alerts).
    pub action: Option<&'a str>,
    /// Method.
    pub method: Option<&'a str>,
    /// Template.
    pub template: Option<&'a str>,
    /// Status.
    pub status: Option<u16>,
}

/// A record that can be encoded for export.
pub trait Record: Serialize {
    /// Attributes for OTLP.
    fn meta(&self) -> Meta<'_>;

    /// Appends the record's JSON to `out`, as the inside of a JSON string when `escaped`
    /// (an OTLP entry's text). Through serde_json unless a record writes itself.
    fn write_json(&self, out: &mut Vec<u8>, escaped: bool) -> Result<(), serde_json::Error> {
        super::encode::serde_json_into(self, out, escaped)
    }
}

impl Record for CallRecord {
    /// Written by hand ([`super::call_json`]): one per request of `full`.
    fn write_json(&self, out: &mut Vec<u8>, escaped: bool) -> Result<(), serde_json::Error> {
        if escaped {
            super::call_json::write_call::<true>(self, out);
        } else {
            super::call_json::write_call::<false>(self, out);
        }
        Ok(())
    }

    fn meta(&self) -> Meta<'_> {
        let meshward_answer = matches!(
            self.action,
            "unauthenticated"
                | "denied"
                | "undeclared"
                | "blocked"
                | "rate_limited"
                | "data_limited"
        );
        let severity = if meshward_answer {
            Severity::Error
        } else if self.action == "masked"
            || self.decisions.iter().any(|d| d.dry_run)
            || !self.threats.is_empty()
        {
            Severity::Warn
        } else {
            Severity::Info
        };
        Meta {
            kind: self.kind,
            ts: self.ts,
            severity,
            action: Some(self.action),
            method: Some(&self.api.method),
            template: Some(&self.api.path),
            status: Some(self.status),
        }
    }
}

impl Record for EndpointRecord {
    fn meta(&self) -> Meta<'_> {
        Meta {
            kind: self.kind,
            ts: self.ts,
            severity: Severity::Info,
            action: None,
            method: Some(&self.api.method),
            template: Some(&self.api.path),
            status: None,
        }
    }
}

impl Record for AlertRecord {
    fn meta(&self) -> Meta<'_> {
        Meta {
            kind: self.kind,
            ts: self.ts,
            severity: Severity::Warn,
            action: Some(self.action),
            method: None,
            template: None,
            status: None,
        }
    }
}

impl Record for FindingRecord {
    fn meta(&self) -> Meta<'_> {
        Meta {
            kind: self.kind,
            ts: self.ts,
            severity: Severity::Warn,
            action: None,
            method: Some(&self.api.method),
            template: Some(&self.api.path),
            status: Some(self.evidence.status),
        }
    }
}
