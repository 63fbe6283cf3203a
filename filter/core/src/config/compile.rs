//! `compile()`: validates a `RawConfig` (names, references, regexes, CIDRs, templates,
//! ranges) and builds the immutable runtime `Policy`. Every problem is collected.

use super::de::Switch;
use super::raw::{self, RawConfig};
use super::Problem;
use crate::matcher::{Candidates, Cidr, GlobSet, PathIndex, PathPattern, PathSet, Template};
use crate::sensitive::catalog;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// Error collector of the compile stage.
#[derive(Debug, Default)]
pub struct Cx {
    /// Problems that refuse the config.
    pub errors: Vec<Problem>,
    /// Risky choices worth a warning.
    pub warnings: Vec<Problem>,
    names: BTreeSet<String>,
}

impl Cx {
    fn err(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.errors.push(Problem::new(path, msg));
    }
    fn warn(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.warnings.push(Problem::new(path, msg));
    }
    /// Checks a rule name: `[a-z0-9_-]{1,63}` and unique across the whole config.
    fn rule_name(&mut self, path: &str, name: &str) {
        if !valid_name(name) {
            self.err(
                format!("{path}.name"),
                format!("invalid name \"{name}\": use 1 to 63 of [a-z0-9_-]"),
            );
        } else if !self.names.insert(name.to_string()) {
            self.err(
                format!("{path}.name"),
                format!("duplicate rule name \"{name}\""),
            );
        }
    }
}

/// `[a-z0-9_-]{1,63}`: safe inside metric names and event fields.
pub fn valid_name(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn valid_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
        })
}

fn valid_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

/// The runtime form of a pluginConfig. Immutable; shared by every request of a VM.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Short hash of the configuration bytes (8 hex digits): the `config` of events.
    pub hash: String,
    /// `false`: pass everything untouched, only count requests.
    pub enabled: bool,
    /// `mode: enforce`.
    pub enforce: bool,
    /// `service`, when given.
    pub service: Option<String>,
    /// Act on inbound listeners.
    pub inbound: bool,
    /// Act on outbound listeners.
    pub outbound: bool,
    /// Body inspection.
    pub inspection: InspectionPolicy,
    /// API discovery.
    pub apis: ApisPolicy,
    /// Identity sources.
    pub identity: IdentityPolicy,
    /// Classification settings.
    pub sensitive: SensitivePolicy,
    /// Masking rules in order.
    pub masking: Vec<MaskingPolicy>,
    /// Access rules.
    pub access: AccessPolicy,
    /// Rate limits.
    pub rate_limits: Vec<RateLimitPolicy>,
    /// Data limits.
    pub data_limits: Vec<DataLimitPolicy>,
    /// Detection.
    pub detection: DetectionPolicy,
    /// Findings.
    pub findings: FindingsPolicy,
    /// Event export; `None` without `events.cluster`.
    pub events: Option<EventsPolicy>,
    /// Event settings that apply even without export (sampling, hashing).
    pub records: RecordPolicy,
}

impl Policy {
    /// Whether an entry with this `dry_run` flag takes effect.
    pub fn effective(&self, dry_run: bool) -> bool {
        self.enforce && !dry_run
    }
}

/// Body inspection, compiled.
#[derive(Debug, Clone)]
pub struct InspectionPolicy {
    /// Bytes of each body inspected.
    pub max_body_bytes: usize,
    /// Block oversize bodies when a rule needs the whole body.
    pub oversize_block: bool,
    /// Inspect request bodies.
    pub request_body: bool,
    /// Inspect response bodies.
    pub response_body: bool,
    /// Lower-case media types.
    pub content_types: Vec<String>,
    /// Strip `accept-encoding` (the `identity` and `block` choices).
    pub force_identity: bool,
    /// Refuse compressed bodies a decision needs (`compressed: block`).
    pub compressed_block: bool,
    /// Paths not inspected.
    pub skip_paths: PathSet,
    /// Headers may be held until the body verdict (the host allows it).
    pub hold_headers: bool,
}

/// API discovery, compiled.
#[derive(Debug, Clone)]
pub struct ApisPolicy {
    /// Declared templates with their method (`None`: any method).
    pub templates: Vec<(Option<String>, Template)>,
    /// Inventory bound.
    pub max_endpoints: u32,
    /// Undeclared endpoints.
    pub undeclared: Switch,
    /// GraphQL paths.
    pub graphql_paths: Vec<String>,
}

/// Where a token or key is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A request header (lower-case name).
    Header(String),
    /// A cookie.
    Cookie(String),
    /// A query parameter.
    Query(String),
}

/// A claim path: dotted (`realm.role`) or JSON Pointer (`/https:~1~1x.io~1uid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath(pub Vec<String>);

impl ClaimPath {
    /// Parses a dotted path or a JSON Pointer.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("empty claim".into());
        }
        if let Some(ptr) = s.strip_prefix('/') {
            return Ok(Self(
                ptr.split('/')
                    .map(|p| p.replace("~1", "/").replace("~0", "~"))
                    .collect(),
            ));
        }
        if s.split('.').any(str::is_empty) {
            return Err(format!("invalid claim \"{s}\": empty part"));
        }
        Ok(Self(s.split('.').map(str::to_string).collect()))
    }
}

/// JWT verification settings, compiled.
#[derive(Debug, Clone)]
pub struct JwtVerifyPolicy {
    /// Accepted issuers (empty: any).
    pub issuers: Vec<String>,
    /// Accepted audiences (empty: any).
    pub audiences: Vec<String>,
    /// The JWKS document as given (keys are parsed by the identity module).
    pub jwks: Option<String>,
    /// Env var with the HS256 secret.
    pub hs256_secret_env: Option<String>,
    /// Reject tokens without `exp`.
    pub require_exp: bool,
    /// Allowed clock difference, ms.
    pub clock_skew_ms: u64,
}

/// An account source, compiled.
#[derive(Debug, Clone)]
pub enum SourcePolicy {
    /// JWT.
    Jwt {
        /// Where the token is.
        at: Location,
        /// Claim naming the account.
        claim: ClaimPath,
        /// Verification, when configured.
        verify: Option<JwtVerifyPolicy>,
    },
    /// jwt_authn metadata.
    EnvoyJwt {
        /// Metadata key (issuer).
        issuer: String,
        /// Claim naming the account.
        claim: ClaimPath,
    },
    /// API key.
    ApiKey {
        /// Where the key is.
        at: Location,
        /// Remove it before the upstream.
        strip: bool,
        /// Account name and SHA-256 of each key.
        keys: Vec<(String, [u8; 32])>,
    },
    /// HTTP Basic user.
    Basic,
    /// Plain header.
    Header {
        /// Lower-case header name.
        name: String,
    },
}

impl SourcePolicy {
    /// The `via` of events and stats.
    pub fn via(&self) -> &'static str {
        match self {
            SourcePolicy::Jwt { .. } => "jwt",
            SourcePolicy::EnvoyJwt { .. } => "envoy_jwt",
            SourcePolicy::ApiKey { .. } => "api_key",
            SourcePolicy::Basic => "basic",
            SourcePolicy::Header { .. } => "header",
        }
    }
}

/// Identity, compiled.
#[derive(Debug, Clone, Default)]
pub struct IdentityPolicy {
    /// Trust `x-forwarded-for`.
    pub trust_forwarded_ip: bool,
    /// Sources in order.
    pub sources: Vec<SourcePolicy>,
}

/// A custom type, compiled.
#[derive(Debug, Clone)]
pub struct CustomTypePolicy {
    /// Type id.
    pub id: String,
    /// Compiled pattern.
    pub pattern: regex_lite::Regex,
    /// Level 1..4.
    pub level: u8,
    /// Keys that make a match certain.
    pub keys: Vec<String>,
    /// Validator id (`none` when absent).
    pub validator: String,
}

/// Classification settings, compiled.
#[derive(Debug, Clone)]
pub struct SensitivePolicy {
    /// Enabled built-in types with their (possibly overridden) level.
    pub builtins: Vec<(&'static str, u8)>,
    /// Custom types.
    pub custom: Vec<CustomTypePolicy>,
    /// Keys never scanned (lower-case).
    pub ignore_keys: Vec<String>,
    /// Extra headers scanned (lower-case).
    pub headers: Vec<String>,
}

impl SensitivePolicy {
    /// Level of an enabled type id.
    pub fn level_of(&self, id: &str) -> Option<u8> {
        self.builtins
            .iter()
            .find(|(b, _)| *b == id)
            .map(|(_, l)| *l)
            .or_else(|| self.custom.iter().find(|c| c.id == id).map(|c| c.level))
    }
    /// Every enabled type id (built-ins first).
    pub fn type_ids(&self) -> impl Iterator<Item = &str> {
        self.builtins
            .iter()
            .map(|(id, _)| *id)
            .chain(self.custom.iter().map(|c| c.id.as_str()))
    }
}

/// Conditions of a rule, compiled.
#[derive(Debug, Clone, Default)]
pub struct Condition {
    /// Principal globs.
    pub principals: GlobSet,
    /// Namespaces.
    pub namespaces: Vec<String>,
    /// Trusted account globs.
    pub accounts: GlobSet,
    /// Trusted account presence.
    pub authenticated: Option<bool>,
    /// Claims of a trusted token.
    pub claims: Vec<(ClaimPath, Vec<String>)>,
    /// Upper-case methods.
    pub methods: Vec<String>,
    /// Paths.
    pub paths: PathSet,
    /// Source networks.
    pub source_ips: Vec<Cidr>,
    /// Lower-case header name → accepted values.
    pub headers: Vec<(String, Vec<String>)>,
}

impl Condition {
    /// True when only forgeable facts (headers, untrusted source) are tested.
    pub fn only_forgeable(&self) -> bool {
        !self.headers.is_empty()
            && self.principals.is_empty()
            && self.namespaces.is_empty()
            && self.accounts.is_empty()
            && self.authenticated.is_none()
            && self.claims.is_empty()
    }
}

/// A masking rule, compiled.
#[derive(Debug, Clone)]
pub struct MaskingPolicy {
    /// Rule name.
    pub name: String,
    /// Types (empty: all).
    pub types: Vec<String>,
    /// Style.
    pub style: raw::MaskStyle,
    /// Exempt callers.
    pub unless: Option<Condition>,
    /// Count and record only.
    pub dry_run: bool,
}

/// An access rule, compiled.
#[derive(Debug, Clone)]
pub struct AccessRulePolicy {
    /// Rule name.
    pub name: String,
    /// Action.
    pub action: raw::AccessAction,
    /// Conditions.
    pub when: Condition,
    /// Count and record only.
    pub dry_run: bool,
}

/// Access, compiled.
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    /// Deny when no rule matches.
    pub default_deny: bool,
    /// Rules in order.
    pub rules: Vec<AccessRulePolicy>,
    /// The rules a request can match, by the first segment of its path (built with
    /// the rules, so it always covers them).
    index: PathIndex,
}

impl AccessPolicy {
    /// The compiled access step; indexes the rules by their paths.
    pub fn new(default_deny: bool, rules: Vec<AccessRulePolicy>) -> Self {
        Self {
            default_deny,
            index: PathIndex::new(rules.iter().map(|r| &r.when.paths)),
            rules,
        }
    }

    /// Indices of the rules that can match a request with this normalised path and
    /// template, in rule order.
    pub fn candidates<'a>(&'a self, path: &str, template: &str) -> Candidates<'a> {
        self.index.candidates(path, template)
    }
}

/// One part of a limit key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    /// Trusted account, else principal, else source IP.
    Account,
    /// Peer principal.
    Principal,
    /// Source IP (not when forwarded, unless trusted).
    SourceIp,
    /// Endpoint template.
    Api,
    /// A request header (lower-case).
    Header(String),
    /// A claim of a trusted token.
    Claim(ClaimPath),
}

/// Parses `account+api`, `header:x-tenant`, ...
pub fn parse_key(s: &str) -> Result<Vec<KeyPart>, String> {
    let mut parts = Vec::new();
    for p in s.split('+') {
        let part = match p.trim() {
            "account" => KeyPart::Account,
            "principal" => KeyPart::Principal,
            "source_ip" => KeyPart::SourceIp,
            "api" => KeyPart::Api,
            other => {
                if let Some(h) = other.strip_prefix("header:") {
                    let h = h.to_ascii_lowercase();
                    if !valid_header_name(&h) {
                        return Err(format!("invalid key \"{s}\": bad header name \"{h}\""));
                    }
                    KeyPart::Header(h)
                } else if let Some(c) = other.strip_prefix("claim:") {
                    KeyPart::Claim(
                        ClaimPath::parse(c).map_err(|e| format!("invalid key \"{s}\": {e}"))?,
                    )
                } else {
                    return Err(format!(
                        "invalid key \"{s}\": parts are account, principal, source_ip, api, header:NAME, claim:NAME joined by \"+\""
                    ));
                }
            }
        };
        if parts.contains(&part) {
            return Err(format!("invalid key \"{s}\": repeated part"));
        }
        parts.push(part);
    }
    Ok(parts)
}

/// A rate limit, compiled.
#[derive(Debug, Clone)]
pub struct RateLimitPolicy {
    /// Name.
    pub name: String,
    /// Key parts.
    pub key: Vec<KeyPart>,
    /// Conditions.
    pub when: Condition,
    /// Tokens added per `per_ms`.
    pub requests: u32,
    /// Refill period, ms.
    pub per_ms: u64,
    /// Bucket size.
    pub burst: u32,
    /// Bound of tracked keys.
    pub max_keys: u32,
    /// Add `x-ratelimit-*` headers.
    pub headers: bool,
    /// Count and record only.
    pub dry_run: bool,
}

/// A data limit, compiled.
#[derive(Debug, Clone)]
pub struct DataLimitPolicy {
    /// Name.
    pub name: String,
    /// Types counted (empty with `min_level`).
    pub types: Vec<String>,
    /// Lowest level counted, when given.
    pub min_level: Option<u8>,
    /// Key parts.
    pub key: Vec<KeyPart>,
    /// Values per window.
    pub values: u64,
    /// Window, ms.
    pub per_ms: u64,
    /// Fraction raising `sensitive_harvest`.
    pub alert_at: f64,
    /// Per-response guard.
    pub max_per_response: Option<u32>,
    /// Block when spent.
    pub block: bool,
    /// Bound of tracked keys.
    pub max_keys: u32,
    /// Conditions.
    pub when: Condition,
    /// Count and record only.
    pub dry_run: bool,
}

/// Injection families in a fixed order (stats, records).
pub const FAMILIES: [&str; 7] = [
    "sqli",
    "xss",
    "path_traversal",
    "command",
    "ssrf",
    "jndi",
    "scanner",
];

/// Behavioural alert ids in a fixed order.
pub const ALERTS: [&str; 5] = [
    "not_found_burst",
    "auth_failure_burst",
    "enumeration",
    "sensitive_harvest",
    "off_hours",
];

/// A behavioural alert, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct BehaviorRule {
    /// Threshold count (answers, distinct ids).
    pub count: u32,
    /// Second threshold (distinct paths for `not_found_burst`).
    pub distinct: u32,
    /// Window, ms.
    pub per_ms: u64,
    /// Alert or block.
    pub action: Switch,
}

/// The quiet period of `off_hours`.
#[derive(Debug, Clone, PartialEq)]
pub struct OffHoursPolicy {
    /// Start, minutes after local midnight.
    pub from_min: u32,
    /// End, minutes after local midnight.
    pub to_min: u32,
    /// Local offset from UTC, minutes.
    pub offset_min: i32,
    /// Lowest level.
    pub min_level: u8,
    /// Once per actor per this period, ms.
    pub per_ms: u64,
    /// Alert or block.
    pub action: Switch,
}

/// A detection exemption, compiled.
#[derive(Debug, Clone)]
pub struct AllowPolicy {
    /// Name.
    pub name: String,
    /// Families (empty: all).
    pub families: Vec<String>,
    /// Conditions.
    pub when: Condition,
    /// Reported but not applied.
    pub dry_run: bool,
}

/// Detection, compiled.
#[derive(Debug, Clone)]
pub struct DetectionPolicy {
    /// Switch per family, in `FAMILIES` order (`scanner` last).
    pub families: [Switch; 7],
    /// Inspect the path.
    pub in_path: bool,
    /// Inspect query values.
    pub in_query: bool,
    /// Inspect headers.
    pub in_headers: bool,
    /// Inspect bodies.
    pub in_body: bool,
    /// `not_found_burst`.
    pub not_found_burst: Option<BehaviorRule>,
    /// `auth_failure_burst`.
    pub auth_failure_burst: Option<BehaviorRule>,
    /// `enumeration`.
    pub enumeration: Option<BehaviorRule>,
    /// `off_hours`.
    pub off_hours: Option<OffHoursPolicy>,
    /// Bound of tracked actors.
    pub max_actors: u32,
    /// Exemptions.
    pub allow: Vec<AllowPolicy>,
}

impl DetectionPolicy {
    /// The switch of a family by id.
    pub fn family(&self, id: &str) -> Switch {
        FAMILIES
            .iter()
            .position(|f| *f == id)
            .and_then(|i| self.families.get(i).copied())
            .unwrap_or(Switch::Off)
    }
}

/// Findings, compiled (`None`: off).
#[derive(Debug, Clone, Default)]
pub struct FindingsPolicy {
    /// `unauthenticated_sensitive` min level.
    pub unauthenticated_sensitive: Option<u8>,
    /// `excessive_exposure` values.
    pub excessive_exposure: Option<u32>,
    /// `sensitive_in_url` min level.
    pub sensitive_in_url: Option<u8>,
    /// `plaintext_sensitive` min level.
    pub plaintext_sensitive: Option<u8>,
    /// `weak_auth`.
    pub weak_auth: bool,
    /// `verbose_errors`.
    pub verbose_errors: bool,
    /// `undeclared`.
    pub undeclared: bool,
}

/// Finding ids in a fixed order.
pub const FINDINGS: [&str; 7] = [
    "unauthenticated_sensitive",
    "excessive_exposure",
    "sensitive_in_url",
    "plaintext_sensitive",
    "weak_auth",
    "verbose_errors",
    "undeclared",
];

/// Event export, compiled.
#[derive(Debug, Clone)]
pub struct EventsPolicy {
    /// Envoy cluster of the collector.
    pub cluster: String,
    /// `:authority` of the POST.
    pub authority: String,
    /// `:path` of the POST.
    pub path: String,
    /// Wire format.
    pub format: raw::EventFormat,
    /// Header name → env var.
    pub headers_env: Vec<(String, String)>,
    /// Flush period, ms.
    pub flush_interval_ms: u64,
    /// Records per POST.
    pub max_batch: usize,
    /// Records buffered per worker.
    pub max_buffered: usize,
    /// POST timeout, ms.
    pub timeout_ms: u64,
}

/// Record settings that apply whether or not events are exported.
#[derive(Debug, Clone)]
pub struct RecordPolicy {
    /// Fraction of plain allowed calls recorded.
    pub sample: f64,
    /// Env var of the HMAC key.
    pub hash_key_env: Option<String>,
    /// Hashed value prefixes in events.
    pub hash_values: bool,
    /// Hash account ids.
    pub hash_accounts: bool,
}

/// Builds the `Policy`; problems go to `cx`.
///
/// The section builders it calls are `#[inline(never)]`: inlined, they made this one
/// Wasm function of ~35 KB, and V8 (TurboFan, which Envoy runs without the baseline
/// tier) keeps the scratch memory of compiling its largest functions. Apart, they
/// cost nothing at run time (configure time only) and ~11 MiB less resident memory per
/// Envoy (docs/performance.md, "Memory soak"; `scripts/wasm_functions.py` guards it).
pub fn compile(raw: &RawConfig, bytes: &[u8], cx: &mut Cx) -> Policy {
    let digest = Sha256::digest(bytes);
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();

    let service = if raw.service.is_empty() {
        None
    } else {
        Some(raw.service.clone())
    };
    if raw.directions.is_empty() {
        cx.err(
            "directions",
            "at least one direction is needed (inbound, outbound)",
        );
    }
    let sensitive = sensitive(&raw.sensitive, cx);
    let known_types: Vec<String> = catalog::BUILTIN
        .iter()
        .map(|t| t.id.to_string())
        .chain(raw.sensitive.custom.iter().map(|c| c.id.clone()))
        .collect();

    let policy = Policy {
        hash,
        enabled: raw.enabled,
        enforce: raw.mode == raw::Mode::Enforce,
        service,
        inbound: raw.directions.contains(&raw::Direction::Inbound),
        outbound: raw.directions.contains(&raw::Direction::Outbound),
        inspection: inspection(&raw.inspection, cx),
        apis: apis(&raw.apis, cx),
        identity: identity(&raw.identity, cx),
        masking: raw
            .masking
            .iter()
            .enumerate()
            .map(|(i, m)| masking(&format!("masking[{i}]"), m, &known_types, cx))
            .collect(),
        access: access(&raw.access, cx),
        rate_limits: raw
            .rate_limits
            .iter()
            .enumerate()
            .filter_map(|(i, r)| rate_limit(&format!("rate_limits[{i}]"), r, cx))
            .collect(),
        data_limits: raw
            .data_limits
            .iter()
            .enumerate()
            .filter_map(|(i, d)| data_limit(&format!("data_limits[{i}]"), d, &known_types, cx))
            .collect(),
        detection: detection(&raw.detection, cx),
        findings: findings(&raw.findings),
        events: events(&raw.events, cx),
        records: records(
            &raw.events,
            raw.masking.iter().any(|m| m.style == raw::MaskStyle::Hash),
            cx,
        ),
        sensitive,
    };
    policy
}

#[inline(never)]
fn inspection(raw: &raw::Inspection, cx: &mut Cx) -> InspectionPolicy {
    const HARD_MAX: u64 = 16 << 20;
    if raw.max_body_bytes == 0 || raw.max_body_bytes > HARD_MAX {
        cx.err(
            "inspection.max_body_bytes",
            format!("must be between 1 and {HARD_MAX} bytes"),
        );
    } else if raw.max_body_bytes >= 1 << 20 {
        cx.warn(
            "inspection.max_body_bytes",
            "at or above Envoy's default per_connection_buffer_limit_bytes (1 MiB): raise that limit too",
        );
    }
    let mut content_types = Vec::new();
    for (i, ct) in raw.content_types.iter().enumerate() {
        let t = ct.trim().to_ascii_lowercase();
        let ok = t
            .split_once('/')
            .is_some_and(|(a, b)| valid_header_name(a) && valid_header_name(b));
        if ok {
            content_types.push(t);
        } else {
            cx.err(
                format!("inspection.content_types[{i}]"),
                format!("invalid media type \"{ct}\""),
            );
        }
    }
    InspectionPolicy {
        max_body_bytes: usize::try_from(raw.max_body_bytes.min(HARD_MAX)).unwrap_or(65536),
        oversize_block: raw.oversize == raw::Oversize::Block,
        request_body: raw.request_body,
        response_body: raw.response_body,
        content_types,
        force_identity: raw.compressed != raw::Compressed::Skip,
        compressed_block: raw.compressed == raw::Compressed::Block,
        skip_paths: path_set("inspection.skip_paths", &raw.skip_paths, cx),
        hold_headers: raw.hold_headers,
    }
}

fn path_set(path: &str, items: &[String], cx: &mut Cx) -> PathSet {
    let mut out = Vec::new();
    for (i, p) in items.iter().enumerate() {
        match PathPattern::parse(p) {
            Ok(pp) => out.push(pp),
            Err(e) => cx.err(format!("{path}[{i}]"), e),
        }
    }
    PathSet(out)
}

fn valid_method(m: &str) -> bool {
    !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase())
}

#[inline(never)]
fn apis(raw: &raw::Apis, cx: &mut Cx) -> ApisPolicy {
    let mut templates = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, t) in raw.templates.iter().enumerate() {
        let path = format!("apis.templates[{i}]");
        let (method, tpl) = match t.trim().split_once(' ') {
            Some((m, rest)) => (Some(m.trim()), rest.trim()),
            None => (None, t.trim()),
        };
        if let Some(m) = method {
            if !valid_method(m) {
                cx.err(
                    &path,
                    format!("invalid method \"{m}\" in \"{t}\": use upper case like GET"),
                );
                continue;
            }
        }
        match Template::parse(tpl) {
            Ok(tp) => {
                if !seen.insert((method.map(str::to_string), tp.as_str().to_string())) {
                    cx.err(&path, format!("duplicate template \"{t}\""));
                }
                templates.push((method.map(str::to_string), tp));
            }
            Err(e) => cx.err(&path, e),
        }
    }
    if raw.max_endpoints == 0 {
        cx.err("apis.max_endpoints", "must be at least 1");
    }
    if raw.undeclared != raw::Undeclared::Allow && raw.templates.is_empty() {
        cx.err(
            "apis.undeclared",
            "needs apis.templates: without declared templates every endpoint is undeclared",
        );
    }
    for (i, p) in raw.graphql_paths.iter().enumerate() {
        if !p.starts_with('/') {
            cx.err(
                format!("apis.graphql_paths[{i}]"),
                format!("invalid path \"{p}\": must start with \"/\""),
            );
        }
    }
    ApisPolicy {
        templates,
        max_endpoints: raw.max_endpoints.max(1),
        undeclared: match raw.undeclared {
            raw::Undeclared::Allow => Switch::Off,
            raw::Undeclared::Alert => Switch::Alert,
            raw::Undeclared::Block => Switch::Block,
        },
        graphql_paths: raw.graphql_paths.clone(),
    }
}

fn header_name(path: &str, name: &str, cx: &mut Cx) -> String {
    let lower = name.to_ascii_lowercase();
    if !valid_header_name(&lower) {
        cx.err(path, format!("invalid header name \"{name}\""));
    }
    lower
}

fn claim(path: &str, s: &str, cx: &mut Cx) -> ClaimPath {
    ClaimPath::parse(s).unwrap_or_else(|e| {
        cx.err(path, e);
        ClaimPath(vec![s.to_string()])
    })
}

#[inline(never)]
fn identity(raw: &raw::Identity, cx: &mut Cx) -> IdentityPolicy {
    let mut sources = Vec::new();
    for (i, s) in raw.sources.iter().enumerate() {
        let p = format!("identity.sources[{i}]");
        let src = match s {
            raw::Source::Jwt(j) => {
                let p = format!("{p}.jwt");
                let at = match (&j.header, &j.cookie) {
                    (Some(_), Some(_)) => {
                        cx.err(&p, "give either `header` or `cookie`, not both");
                        Location::Header("authorization".into())
                    }
                    (Some(h), None) => Location::Header(header_name(&format!("{p}.header"), h, cx)),
                    (None, Some(c)) => {
                        if c.is_empty() {
                            cx.err(format!("{p}.cookie"), "empty cookie name");
                        }
                        Location::Cookie(c.clone())
                    }
                    (None, None) => Location::Header("authorization".into()),
                };
                let verify = j.verify.as_ref().map(|v| {
                    let vp = format!("{p}.verify");
                    if v.jwks.is_none() && v.hs256_secret_env.is_none() {
                        cx.err(&vp, "needs `jwks` or `hs256_secret_env`");
                    }
                    if let Some(jwks) = &v.jwks {
                        if let Err(e) = crate::identity::jwks_check(jwks) {
                            cx.err(format!("{vp}.jwks"), e);
                        }
                    }
                    if let Some(env) = &v.hs256_secret_env {
                        if !valid_env_name(env) {
                            cx.err(
                                format!("{vp}.hs256_secret_env"),
                                format!("invalid environment variable name \"{env}\""),
                            );
                        }
                    }
                    JwtVerifyPolicy {
                        issuers: v.issuers.clone(),
                        audiences: v.audiences.clone(),
                        jwks: v.jwks.clone(),
                        hs256_secret_env: v.hs256_secret_env.clone(),
                        require_exp: v.require_exp,
                        clock_skew_ms: v.clock_skew.as_millis(),
                    }
                });
                SourcePolicy::Jwt {
                    at,
                    claim: claim(&format!("{p}.claim"), &j.claim, cx),
                    verify,
                }
            }
            raw::Source::EnvoyJwt(e) => {
                if e.issuer.is_empty() {
                    cx.err(format!("{p}.envoy_jwt.issuer"), "must not be empty");
                }
                SourcePolicy::EnvoyJwt {
                    issuer: e.issuer.clone(),
                    claim: claim(&format!("{p}.envoy_jwt.claim"), &e.claim, cx),
                }
            }
            raw::Source::ApiKey(k) => {
                let p = format!("{p}.api_key");
                let at = match (&k.header, &k.query) {
                    (Some(h), None) => Location::Header(header_name(&format!("{p}.header"), h, cx)),
                    (None, Some(q)) if !q.is_empty() => Location::Query(q.clone()),
                    (None, Some(_)) => {
                        cx.err(format!("{p}.query"), "empty parameter name");
                        Location::Query(String::new())
                    }
                    _ => {
                        cx.err(&p, "give exactly one of `header` or `query`");
                        Location::Header("x-api-key".into())
                    }
                };
                if k.keys.is_empty() {
                    cx.err(format!("{p}.keys"), "at least one key is needed");
                }
                let mut keys = Vec::new();
                for (ki, key) in k.keys.iter().enumerate() {
                    let kp = format!("{p}.keys[{ki}]");
                    if key.name.is_empty() {
                        cx.err(format!("{kp}.name"), "must not be empty");
                    }
                    match decode_hex32(&key.sha256) {
                        Some(h) => keys.push((key.name.clone(), h)),
                        None => cx.err(
                            format!("{kp}.sha256"),
                            "must be the 64 hex digits of the key's SHA-256",
                        ),
                    }
                }
                SourcePolicy::ApiKey {
                    at,
                    strip: k.strip,
                    keys,
                }
            }
            raw::Source::Basic(_) => SourcePolicy::Basic,
            raw::Source::Header(h) => SourcePolicy::Header {
                name: header_name(&format!("{p}.header.name"), &h.name, cx),
            },
        };
        sources.push(src);
    }
    IdentityPolicy {
        trust_forwarded_ip: raw.trust_forwarded_ip,
        sources,
    }
}

fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        let hi = (*chunk.first()? as char).to_digit(16)?;
        let lo = (*chunk.get(1)? as char).to_digit(16)?;
        *out.get_mut(i)? = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

fn check_type_ref(path: &str, id: &str, known: &[String], cx: &mut Cx) {
    if !known.iter().any(|k| k == id) {
        cx.err(path, format!("unknown data type \"{id}\""));
    }
}

#[inline(never)]
fn sensitive(raw: &raw::Sensitive, cx: &mut Cx) -> SensitivePolicy {
    let builtin_ids: Vec<String> = catalog::BUILTIN.iter().map(|t| t.id.to_string()).collect();
    let selected: Vec<&'static catalog::TypeInfo> = match &raw.types {
        raw::TypeSelection::All => catalog::BUILTIN.iter().collect(),
        raw::TypeSelection::List(ids) => {
            for (i, id) in ids.iter().enumerate() {
                check_type_ref(&format!("sensitive.types[{i}]"), id, &builtin_ids, cx);
            }
            catalog::BUILTIN
                .iter()
                .filter(|t| ids.iter().any(|i| i == t.id))
                .collect()
        }
    };
    for (i, id) in raw.disable.iter().enumerate() {
        check_type_ref(&format!("sensitive.disable[{i}]"), id, &builtin_ids, cx);
    }
    for id in raw.levels.keys() {
        check_type_ref(&format!("sensitive.levels.{id}"), id, &builtin_ids, cx);
    }
    let builtins = selected
        .into_iter()
        .filter(|t| !raw.disable.iter().any(|d| d == t.id))
        .map(|t| (t.id, raw.levels.get(t.id).map_or(t.level, |l| l.0)))
        .collect();
    let mut custom = Vec::new();
    let mut ids = BTreeSet::new();
    for (i, c) in raw.custom.iter().enumerate() {
        let p = format!("sensitive.custom[{i}]");
        if !valid_name(&c.id) || c.id.contains('-') {
            cx.err(
                format!("{p}.id"),
                format!("invalid type id \"{}\": use 1 to 63 of [a-z0-9_]", c.id),
            );
        } else if builtin_ids.contains(&c.id) {
            cx.err(
                format!("{p}.id"),
                format!("\"{}\" is a built-in type id", c.id),
            );
        } else if !ids.insert(c.id.clone()) {
            cx.err(format!("{p}.id"), format!("duplicate type id \"{}\"", c.id));
        }
        let validator = c.validator.clone().unwrap_or_else(|| "none".into());
        if validator != "none" && !catalog::VALIDATORS.contains(&validator.as_str()) {
            cx.err(
                format!("{p}.validator"),
                format!(
                    "unknown validator \"{validator}\": use none or one of {}",
                    catalog::VALIDATORS.join(", ")
                ),
            );
        }
        if c.pattern.is_empty() {
            cx.err(format!("{p}.pattern"), "must not be empty");
            continue;
        }
        match regex_lite::RegexBuilder::new(&c.pattern)
            .size_limit(1 << 20)
            .build()
        {
            Ok(re) => {
                if re.is_match("") {
                    cx.err(format!("{p}.pattern"), "matches the empty string");
                }
                custom.push(CustomTypePolicy {
                    id: c.id.clone(),
                    pattern: re,
                    level: c.level,
                    keys: c.keys.iter().map(|k| k.to_ascii_lowercase()).collect(),
                    validator,
                });
            }
            Err(e) => cx.err(format!("{p}.pattern"), format!("invalid regex: {e}")),
        }
    }
    SensitivePolicy {
        builtins,
        custom,
        ignore_keys: raw
            .ignore_keys
            .iter()
            .map(|k| k.to_ascii_lowercase())
            .collect(),
        headers: raw
            .headers
            .iter()
            .enumerate()
            .map(|(i, h)| header_name(&format!("sensitive.headers[{i}]"), h, cx))
            .collect(),
    }
}

/// Compiles a `when` table at `path`.
#[inline(never)]
pub fn condition(path: &str, raw: &raw::When, cx: &mut Cx) -> Condition {
    let mut methods = Vec::new();
    for (i, m) in raw.methods.iter().enumerate() {
        let up = m.to_ascii_uppercase();
        if valid_method(&up) {
            methods.push(up);
        } else {
            cx.err(
                format!("{path}.methods[{i}]"),
                format!("invalid method \"{m}\""),
            );
        }
    }
    let mut source_ips = Vec::new();
    for (i, c) in raw.source_ips.iter().enumerate() {
        match Cidr::parse(c) {
            Ok(c) => source_ips.push(c),
            Err(e) => cx.err(format!("{path}.source_ips[{i}]"), e),
        }
    }
    let claims = raw
        .claims
        .iter()
        .map(|(k, v)| (claim(&format!("{path}.claims.{k}"), k, cx), v.clone()))
        .collect();
    let headers = raw
        .headers
        .iter()
        .map(|(k, v)| {
            (
                header_name(&format!("{path}.headers.{k}"), k, cx),
                v.clone(),
            )
        })
        .collect();
    Condition {
        principals: GlobSet::new(&raw.principals),
        namespaces: raw.namespaces.clone(),
        accounts: GlobSet::new(&raw.accounts),
        authenticated: raw.authenticated,
        claims,
        methods,
        paths: path_set(&format!("{path}.paths"), &raw.paths, cx),
        source_ips,
        headers,
    }
}

#[inline(never)]
fn masking(path: &str, raw: &raw::MaskingRule, known: &[String], cx: &mut Cx) -> MaskingPolicy {
    cx.rule_name(path, &raw.name);
    for (i, t) in raw.types.iter().enumerate() {
        check_type_ref(&format!("{path}.types[{i}]"), t, known, cx);
    }
    if raw.style == raw::MaskStyle::Hash {
        // The key comes from events.hash_key_env; checked in `records`.
    }
    MaskingPolicy {
        name: raw.name.clone(),
        types: raw.types.clone(),
        style: raw.style,
        unless: raw
            .unless
            .as_ref()
            .map(|u| condition(&format!("{path}.unless"), u, cx)),
        dry_run: raw.dry_run,
    }
}

#[inline(never)]
fn access(raw: &raw::Access, cx: &mut Cx) -> AccessPolicy {
    let mut rules = Vec::new();
    for (i, r) in raw.rules.iter().enumerate() {
        let p = format!("access.rules[{i}]");
        cx.rule_name(&p, &r.name);
        let when = condition(&format!("{p}.when"), &r.when, cx);
        if r.action == raw::AccessAction::Allow && when.only_forgeable() {
            cx.warn(
                format!("{p}.when"),
                "allow rule relies only on headers, which a caller can forge: add principals, accounts or authenticated",
            );
        }
        rules.push(AccessRulePolicy {
            name: r.name.clone(),
            action: r.action,
            when,
            dry_run: r.dry_run,
        });
    }
    AccessPolicy::new(raw.default == raw::DefaultAction::Deny, rules)
}

fn limit_key(path: &str, key: &str, cx: &mut Cx) -> Option<Vec<KeyPart>> {
    match parse_key(key) {
        Ok(k) => {
            if k.iter().any(|p| matches!(p, KeyPart::Header(_))) {
                cx.warn(
                    path,
                    format!("key \"{key}\" uses a header, which a caller can rotate to escape the limit"),
                );
            }
            Some(k)
        }
        Err(e) => {
            cx.err(path, e);
            None
        }
    }
}

fn positive_ms(path: &str, d: super::de::EnvoyDuration, cx: &mut Cx) -> u64 {
    let ms = d.as_millis();
    if ms == 0 {
        cx.err(path, "must be at least 1ms");
    }
    ms.max(1)
}

#[inline(never)]
fn rate_limit(path: &str, raw: &raw::RateLimit, cx: &mut Cx) -> Option<RateLimitPolicy> {
    cx.rule_name(path, &raw.name);
    let key = limit_key(&format!("{path}.key"), &raw.key, cx);
    let when = condition(&format!("{path}.when"), &raw.when, cx);
    let per_ms = positive_ms(&format!("{path}.limit.per"), raw.limit.per, cx);
    if raw.limit.requests == 0 {
        cx.err(format!("{path}.limit.requests"), "must be at least 1");
    }
    if raw.limit.burst == Some(0) {
        cx.err(format!("{path}.limit.burst"), "must be at least 1");
    }
    if raw.max_keys == 0 {
        cx.err(format!("{path}.max_keys"), "must be at least 1");
    }
    Some(RateLimitPolicy {
        name: raw.name.clone(),
        key: key?,
        when,
        requests: raw.limit.requests.max(1),
        per_ms,
        burst: raw.limit.burst.unwrap_or(raw.limit.requests).max(1),
        max_keys: raw.max_keys.max(1),
        headers: raw.headers,
        dry_run: raw.dry_run,
    })
}

#[inline(never)]
fn data_limit(
    path: &str,
    raw: &raw::DataLimit,
    known: &[String],
    cx: &mut Cx,
) -> Option<DataLimitPolicy> {
    cx.rule_name(path, &raw.name);
    for (i, t) in raw.types.iter().enumerate() {
        check_type_ref(&format!("{path}.types[{i}]"), t, known, cx);
    }
    match (raw.types.is_empty(), raw.min_level) {
        (true, None) => cx.err(path, "give `types` or `min_level`"),
        (false, Some(_)) => cx.err(path, "give either `types` or `min_level`, not both"),
        _ => {}
    }
    let key = limit_key(&format!("{path}.key"), &raw.key, cx);
    let per_ms = positive_ms(&format!("{path}.limit.per"), raw.limit.per, cx);
    if raw.limit.values == 0 {
        cx.err(format!("{path}.limit.values"), "must be at least 1");
    }
    if !(raw.alert_at > 0.0 && raw.alert_at <= 1.0) {
        cx.err(format!("{path}.alert_at"), "must be a fraction in (0, 1]");
    }
    if raw.max_per_response == Some(0) {
        cx.err(format!("{path}.max_per_response"), "must be at least 1");
    }
    if raw.max_keys == 0 {
        cx.err(format!("{path}.max_keys"), "must be at least 1");
    }
    let when = condition(&format!("{path}.when"), &raw.when, cx);
    Some(DataLimitPolicy {
        name: raw.name.clone(),
        types: raw.types.clone(),
        min_level: raw.min_level,
        key: key?,
        values: raw.limit.values.max(1),
        per_ms,
        alert_at: raw.alert_at,
        max_per_response: raw.max_per_response,
        block: raw.action == raw::LimitAction::Block,
        max_keys: raw.max_keys.max(1),
        when,
        dry_run: raw.dry_run,
    })
}

fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn parse_offset(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let mins = parse_hhmm(rest)?;
    (mins <= 14 * 60).then(|| sign * i32::try_from(mins).unwrap_or(0))
}

fn behavior_action(path: &str, v: super::de::SwitchValue, cx: &mut Cx) -> Switch {
    let s = v.resolve(Switch::Alert);
    if s == Switch::Off {
        cx.err(
            path,
            "use `alert` or `block` (turn the whole entry off with false)",
        );
    }
    s
}

#[inline(never)]
fn detection(raw: &raw::Detection, cx: &mut Cx) -> DetectionPolicy {
    let inj = &raw.injection;
    let families = [
        inj.sqli.resolve(Switch::Block),
        inj.xss.resolve(Switch::Block),
        inj.path_traversal.resolve(Switch::Block),
        inj.command.resolve(Switch::Block),
        inj.ssrf.resolve(Switch::Alert),
        inj.jndi.resolve(Switch::Block),
        raw.scanners.resolve(Switch::Alert),
    ];
    let b = &raw.behavior;
    let p = "detection.behavior";
    let not_found_burst = b.not_found_burst.on().map(|n| BehaviorRule {
        count: n.count.max(1),
        distinct: n.distinct_paths,
        per_ms: positive_ms(&format!("{p}.not_found_burst.per"), n.per, cx),
        action: behavior_action(&format!("{p}.not_found_burst.action"), n.action, cx),
    });
    let auth_failure_burst = b.auth_failure_burst.on().map(|n| BehaviorRule {
        count: n.count.max(1),
        distinct: 0,
        per_ms: positive_ms(&format!("{p}.auth_failure_burst.per"), n.per, cx),
        action: behavior_action(&format!("{p}.auth_failure_burst.action"), n.action, cx),
    });
    let enumeration = b.enumeration.on().map(|n| BehaviorRule {
        count: n.distinct_ids.max(1),
        distinct: 0,
        per_ms: positive_ms(&format!("{p}.enumeration.per"), n.per, cx),
        action: behavior_action(&format!("{p}.enumeration.action"), n.action, cx),
    });
    let off_hours = b.off_hours.on().map(|o| {
        let op = format!("{p}.off_hours");
        let from = parse_hhmm(&o.from).unwrap_or_else(|| {
            cx.err(
                format!("{op}.from"),
                format!("invalid time \"{}\": use HH:MM", o.from),
            );
            0
        });
        let to = parse_hhmm(&o.to).unwrap_or_else(|| {
            cx.err(
                format!("{op}.to"),
                format!("invalid time \"{}\": use HH:MM", o.to),
            );
            0
        });
        let offset = parse_offset(&o.utc_offset).unwrap_or_else(|| {
            cx.err(
                format!("{op}.utc_offset"),
                format!("invalid offset \"{}\": use +HH:MM or -HH:MM", o.utc_offset),
            );
            0
        });
        if from == to {
            cx.err(&op, "`from` and `to` must differ");
        }
        OffHoursPolicy {
            from_min: from,
            to_min: to,
            offset_min: offset,
            min_level: o.min_level,
            per_ms: positive_ms(&format!("{op}.per"), o.per, cx),
            action: behavior_action(&format!("{op}.action"), o.action, cx),
        }
    });
    if b.max_actors == 0 {
        cx.err(format!("{p}.max_actors"), "must be at least 1");
    }
    let mut allow = Vec::new();
    for (i, a) in raw.allow.iter().enumerate() {
        let ap = format!("detection.allow[{i}]");
        cx.rule_name(&ap, &a.name);
        for (fi, f) in a.families.iter().enumerate() {
            if !FAMILIES.contains(&f.as_str()) {
                cx.err(
                    format!("{ap}.families[{fi}]"),
                    format!("unknown family \"{f}\": use one of {}", FAMILIES.join(", ")),
                );
            }
        }
        allow.push(AllowPolicy {
            name: a.name.clone(),
            families: a.families.clone(),
            when: condition(&format!("{ap}.when"), &a.when, cx),
            dry_run: a.dry_run,
        });
    }
    let w = &inj.where_;
    DetectionPolicy {
        families,
        in_path: w.contains(&raw::Place::Path),
        in_query: w.contains(&raw::Place::Query),
        in_headers: w.contains(&raw::Place::Headers),
        in_body: w.contains(&raw::Place::Body),
        not_found_burst,
        auth_failure_burst,
        enumeration,
        off_hours,
        max_actors: b.max_actors.max(1),
        allow,
    }
}

#[inline(never)]
fn findings(raw: &raw::Findings) -> FindingsPolicy {
    FindingsPolicy {
        unauthenticated_sensitive: raw.unauthenticated_sensitive.on().map(|m| m.min_level),
        excessive_exposure: raw.excessive_exposure.on().map(|v| v.values.max(1)),
        sensitive_in_url: raw.sensitive_in_url.on().map(|m| m.min_level),
        plaintext_sensitive: raw.plaintext_sensitive.on().map(|m| m.min_level),
        weak_auth: raw.weak_auth.on().is_some(),
        verbose_errors: raw.verbose_errors.on().is_some(),
        undeclared: raw.undeclared.on().is_some(),
    }
}

/// The host part of an Istio cluster name `outbound|PORT|SUBSET|HOST`.
pub fn cluster_host(cluster: &str) -> &str {
    let mut parts = cluster.split('|');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(_), Some(_), Some(host)) if !host.is_empty() => host,
        _ => cluster,
    }
}

#[inline(never)]
fn events(raw: &raw::Events, cx: &mut Cx) -> Option<EventsPolicy> {
    let p = "events";
    let flush = positive_ms(&format!("{p}.flush_interval"), raw.flush_interval, cx);
    let timeout = positive_ms(&format!("{p}.timeout"), raw.timeout, cx);
    if raw.max_batch == 0 {
        cx.err(format!("{p}.max_batch"), "must be at least 1");
    }
    if raw.max_buffered < raw.max_batch {
        cx.err(format!("{p}.max_buffered"), "must be at least `max_batch`");
    }
    if raw.max_buffered > 1_000_000 {
        cx.err(format!("{p}.max_buffered"), "must be at most 1000000");
    }
    if !raw.path.starts_with('/') {
        cx.err(
            format!("{p}.path"),
            format!("invalid path \"{}\": must start with \"/\"", raw.path),
        );
    }
    let mut headers_env = Vec::new();
    for (h, env) in &raw.headers_env {
        let name = header_name(&format!("{p}.headers_env.{h}"), h, cx);
        if name.starts_with(':') || name == "content-type" || name == "content-length" {
            cx.err(format!("{p}.headers_env.{h}"), "reserved header");
        }
        if !valid_env_name(env) {
            cx.err(
                format!("{p}.headers_env.{h}"),
                format!("invalid environment variable name \"{env}\""),
            );
        }
        headers_env.push((name, env.clone()));
    }
    let cluster = raw.cluster.as_ref()?;
    if cluster.is_empty() {
        cx.err(
            format!("{p}.cluster"),
            "must not be empty (leave it out to send no events)",
        );
        return None;
    }
    let authority = raw
        .authority
        .clone()
        .unwrap_or_else(|| cluster_host(cluster).to_string());
    Some(EventsPolicy {
        cluster: cluster.clone(),
        authority,
        path: raw.path.clone(),
        format: raw.format,
        headers_env,
        flush_interval_ms: flush,
        max_batch: usize::try_from(raw.max_batch.max(1)).unwrap_or(500),
        max_buffered: usize::try_from(raw.max_buffered.max(1)).unwrap_or(10_000),
        timeout_ms: timeout,
    })
}

/// The key variable hashes use when `events.hash_key_env` is not given (the
/// contract's default).
pub const DEFAULT_HASH_KEY_ENV: &str = "MESHWARD_HASH_KEY";

#[inline(never)]
fn records(raw: &raw::Events, hash_masking: bool, cx: &mut Cx) -> RecordPolicy {
    if !(0.0..=1.0).contains(&raw.sample) {
        cx.err("events.sample", "must be a fraction from 0 to 1");
    }
    if let Some(env) = &raw.hash_key_env {
        if !valid_env_name(env) {
            cx.err(
                "events.hash_key_env",
                format!("invalid environment variable name \"{env}\""),
            );
        }
    }
    let hash_values = raw.values == raw::ValuesMode::Hash;
    let hash_accounts = raw.account_ids == raw::AccountIds::Hash;
    // When anything is hashed, the key comes from `MESHWARD_HASH_KEY` unless another
    // variable is named: an unkeyed hash of a phone number or an id is reversed by
    // enumeration, so hashes are never unkeyed by default (the runtime warns when the
    // variable is not set).
    let hashing = hash_values || hash_accounts || hash_masking;
    let hash_key_env = raw
        .hash_key_env
        .clone()
        .or_else(|| hashing.then(|| DEFAULT_HASH_KEY_ENV.to_string()));
    RecordPolicy {
        sample: raw.sample.clamp(0.0, 1.0),
        hash_key_env,
        hash_values,
        hash_accounts,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{load, load_value};
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn problems(v: serde_json::Value) -> Vec<String> {
        load_value(v)
            .err()
            .map(|e| e.problems.iter().map(|p| p.to_string()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn empty_config_compiles_to_monitor_defaults() {
        let l = load(b"").unwrap();
        let p = &l.policy;
        assert!(p.enabled && !p.enforce && p.inbound && !p.outbound);
        assert!(p.events.is_none());
        assert_eq!(p.inspection.max_body_bytes, 65536);
        assert_eq!(p.hash.len(), 8);
        assert_eq!(p.detection.family("sqli"), Switch::Block);
        assert_eq!(p.detection.family("ssrf"), Switch::Alert);
        assert!(p.findings.weak_auth);
        assert_eq!(p.findings.unauthenticated_sensitive, Some(3));
        assert!(p.sensitive.builtins.len() >= 25);
    }

    #[test]
    fn hash_changes_with_config() {
        let a = load(br#"{"mode":"monitor"}"#).unwrap().policy.hash;
        let b = load(br#"{"mode":"enforce"}"#).unwrap().policy.hash;
        assert_ne!(a, b);
    }

    #[test]
    fn semantic_problems_are_all_reported() {
        let got = problems(json!({
            "access": {"rules": [
                {"name": "Bad Name", "action": "deny"},
                {"name": "dup", "action": "deny", "when": {"paths": ["/users/{id"], "source_ips": ["10.0.0.0/40"]}},
                {"name": "dup", "action": "allow"}
            ]},
            "masking": [{"name": "m", "types": ["cn_mobile", "klingon_id"]}],
            "sensitive": {"custom": [{"id": "emp", "pattern": "EMP(\\d{6}", "level": 3}]},
            "rate_limits": [{"name": "r", "key": "acount", "limit": {"requests": 0, "per": "0s"}}],
            "events": {"cluster": "c", "sample": 2.0}
        }));
        let want = [
            "access.rules[0].name: invalid name \"Bad Name\"",
            "access.rules[1].when.paths[0]: invalid template \"/users/{id\": unclosed \"{\"",
            "access.rules[1].when.source_ips[0]: invalid CIDR",
            "access.rules[2].name: duplicate rule name \"dup\"",
            "masking[0].types[1]: unknown data type \"klingon_id\"",
            "sensitive.custom[0].pattern: invalid regex",
            "rate_limits[0].key: invalid key \"acount\"",
            "rate_limits[0].limit.per: must be at least 1ms",
            "rate_limits[0].limit.requests: must be at least 1",
            "events.sample: must be a fraction",
        ];
        for w in want {
            assert!(
                got.iter().any(|g| g.starts_with(w)),
                "missing {w:?} in {got:#?}"
            );
        }
        assert_eq!(got.len(), want.len(), "{got:#?}");
    }

    #[test]
    fn unknown_key_and_bad_duration_reported_together() {
        let e =
            load(br#"{"evnts": {}, "events": {"cluster": "c", "flush_interval": "10 parsecs"}}"#)
                .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("evnts: unknown field `evnts`"), "{msg}");
        assert!(
            msg.contains("events.flush_interval: invalid duration"),
            "{msg}"
        );
        assert!(
            msg.starts_with("meshward: invalid pluginConfig, 2 problems"),
            "{msg}"
        );
    }

    #[test]
    fn identity_sources_validate() {
        let got = problems(json!({"identity": {"sources": [
            {"jwt": {"header": "authorization", "cookie": "tok"}},
            {"api_key": {"header": "x-api-key", "keys": [{"name": "k", "sha256": "abc"}]}},
            {"jwt": {"verify": {"issuers": ["x"]}}},
            {"envoy_jwt": {"issuer": ""}},
            {"header": {"name": "bad header"}}
        ]}}));
        assert_eq!(got.len(), 5, "{got:#?}");
        assert!(got[0].starts_with("identity.sources[0].jwt: give either"));
        assert!(got[1].starts_with("identity.sources[1].api_key.keys[0].sha256"));
        assert!(got[2].starts_with("identity.sources[2].jwt.verify: needs"));
        assert!(got[3].starts_with("identity.sources[3].envoy_jwt.issuer"));
        assert!(got[4].starts_with("identity.sources[4].header.name"));
    }

    #[test]
    fn full_example_compiles() {
        let doc = include_str!("../../../../examples/full-config.yaml");
        let l = crate::test_util::load_yaml(doc).unwrap_or_else(|e| panic!("{e}"));
        assert!(l.policy.enforce);
        assert_eq!(l.policy.access.rules.len(), 2);
        assert_eq!(l.policy.events.as_ref().unwrap().max_batch, 500);
        assert_eq!(
            l.policy.events.as_ref().unwrap().authority,
            "otel-collector.observability"
        );
    }

    /// Issue 8 (leaks e2e): `values: hash` without `hash_key_env` hashed with an empty
    /// HMAC key (reversible for phone numbers); the contract's default is
    /// `MESHWARD_HASH_KEY`.
    #[test]
    fn hashes_are_keyed_by_default() {
        let env = |cfg: serde_json::Value| load_value(cfg).unwrap().policy.records.hash_key_env;
        assert_eq!(env(json!({})), None, "nothing hashed: no key needed");
        for cfg in [
            json!({"events": {"values": "hash"}}),
            json!({"events": {"account_ids": "hash"}}),
            json!({"masking": [{"name": "m", "types": ["cn_mobile"], "style": "hash"}]}),
        ] {
            assert_eq!(env(cfg).as_deref(), Some(DEFAULT_HASH_KEY_ENV));
        }
        assert_eq!(
            env(json!({"events": {"values": "hash", "hash_key_env": "OTHER"}})).as_deref(),
            Some("OTHER")
        );
    }

    #[test]
    fn risky_choices_warn() {
        let l = load_value(json!({
            "access": {"rules": [{"name": "a", "action": "allow", "when": {"headers": {"x-role": ["admin"]}}}]},
            "rate_limits": [{"name": "r", "key": "header:x-tenant", "limit": {"requests": 5, "per": "1m"}}]
        }))
        .unwrap();
        assert_eq!(l.warnings.len(), 2, "{:?}", l.warnings);
    }

    #[test]
    fn limit_keys() {
        assert_eq!(
            parse_key("account+api").unwrap(),
            vec![KeyPart::Account, KeyPart::Api]
        );
        assert_eq!(
            parse_key("header:X-Tenant").unwrap(),
            vec![KeyPart::Header("x-tenant".into())]
        );
        assert!(parse_key("account+account").is_err());
        assert!(parse_key("claim:").is_err());
        assert_eq!(
            cluster_host("outbound|4318||otel.obs.svc.cluster.local"),
            "otel.obs.svc.cluster.local"
        );
        assert_eq!(cluster_host("sink"), "sink");
    }
}
