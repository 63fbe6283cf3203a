//! The pluginConfig as written by operators: serde structs that mirror the YAML keys
//! one to one. Doc comments here are the operator reference; `compile` turns these into
//! the immutable runtime `Policy`.

use super::de::{self, EnvoyDuration, SwitchValue, Toggle};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The highest `config_version` this module understands.
pub const SUPPORTED_CONFIG_VERSION: u32 = 1;

/// The whole pluginConfig. An empty document is valid: monitor mode, discovery and
/// classification on, no enforcement, events off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    /// Schema version of this document (default 1). A higher version than the module
    /// supports turns unknown keys into warnings, so configs can roll out first.
    #[serde(deserialize_with = "de::u32_int")]
    pub config_version: u32,
    /// `false`: pass everything untouched, only count requests (the off switch).
    pub enabled: bool,
    /// `monitor` (default): every action is a dry run. `enforce`: actions take effect.
    pub mode: Mode,
    /// Service name used in events; default `<WORKLOAD_NAME>.<NAMESPACE>` from the node
    /// metadata, else the plugin name.
    pub service: String,
    /// Listener directions meshward acts on (default `[inbound]`).
    pub directions: Vec<Direction>,
    /// Which bodies are read and how far.
    pub inspection: Inspection,
    /// API discovery: declared templates and the inventory bound.
    pub apis: Apis,
    /// Where the calling workload and account come from.
    pub identity: Identity,
    /// Sensitive data classification.
    pub sensitive: Sensitive,
    /// Masking of sensitive values in responses, first matching rule wins per value.
    pub masking: Vec<MaskingRule>,
    /// Access rules.
    pub access: Access,
    /// Token-bucket rate limits, all matching limits apply.
    pub rate_limits: Vec<RateLimit>,
    /// Quotas on sensitive values returned per key.
    pub data_limits: Vec<DataLimit>,
    /// Attack and abuse detection.
    pub detection: Detection,
    /// Passive discovery of API weaknesses.
    pub findings: Findings,
    /// Event records sent to a collector.
    pub events: Events,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            config_version: 1,
            enabled: true,
            mode: Mode::Monitor,
            service: String::new(),
            directions: vec![Direction::Inbound],
            inspection: Inspection::default(),
            apis: Apis::default(),
            identity: Identity::default(),
            sensitive: Sensitive::default(),
            masking: Vec::new(),
            access: Access::default(),
            rate_limits: Vec::new(),
            data_limits: Vec::new(),
            detection: Detection::default(),
            findings: Findings::default(),
            events: Events::default(),
        }
    }
}

/// Whether actions take effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Decide, count and record, but never block, limit or alter.
    #[default]
    Monitor,
    /// Actions take effect (entries with `dry_run: true` excepted).
    Enforce,
}

/// A listener direction (Envoy's `xds.listener_direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Server side of the sidecar.
    Inbound,
    /// Client side of the sidecar.
    Outbound,
}

/// Body inspection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Inspection {
    /// Bytes of each body inspected (default 65536). Keep it below Envoy's
    /// `per_connection_buffer_limit_bytes` (1 MiB by default).
    #[serde(deserialize_with = "de::u64_int")]
    pub max_body_bytes: u64,
    /// `pass` (default) or `block`: what happens to a body longer than
    /// `max_body_bytes` when a rule needs all of it.
    pub oversize: Oversize,
    /// Inspect request bodies (default true).
    pub request_body: bool,
    /// Inspect response bodies (default true).
    pub response_body: bool,
    /// Content types whose bodies are inspected (media type, parameters ignored).
    pub content_types: Vec<String>,
    /// `identity` (default): ask upstreams for uncompressed answers. `skip`:
    /// compressed bodies pass uninspected, counted. `block`: as `identity`, and in
    /// `mode: enforce` a compressed body that a decision needs (body blocking on a
    /// request, masking or `max_per_response` on a response) is refused (415 / 502).
    pub compressed: Compressed,
    /// Paths whose inspection is skipped (access and limits still apply); exact paths
    /// or globs, matched after normalisation.
    pub skip_paths: Vec<String>,
    /// Hold the headers until the body verdict (default false). Needs Envoy's
    /// `allow_on_headers_stop_iteration: true` on the Wasm filter (Envoy ≥ 1.35; not
    /// exposed by Istio's WasmPlugin, so set it with an EnvoyFilter patch). Without it,
    /// headers go on first: a request blocked on its body is answered and the upstream
    /// stream reset; masked responses lose `content-length` up front.
    pub hold_headers: bool,
}

impl Default for Inspection {
    fn default() -> Self {
        Self {
            max_body_bytes: 65536,
            oversize: Oversize::Pass,
            request_body: true,
            response_body: true,
            content_types: [
                "application/json",
                "application/x-www-form-urlencoded",
                "text/plain",
                "application/graphql",
                "multipart/form-data",
                "text/xml",
                "application/xml",
            ]
            .iter()
            .map(|s| (*s).to_string())
            .collect(),
            compressed: Compressed::Identity,
            skip_paths: vec!["/healthz".into(), "/readyz".into(), "/metrics".into()],
            hold_headers: false,
        }
    }
}

/// What happens to a body longer than `max_body_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Oversize {
    /// The rest passes uninspected and unmasked; counted and recorded as truncated.
    #[default]
    Pass,
    /// The message is refused when a rule needs the whole body.
    Block,
}

/// Handling of compressed bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Compressed {
    /// Remove `accept-encoding` from requests so upstreams answer uncompressed.
    #[default]
    Identity,
    /// Compressed bodies pass uninspected, counted.
    Skip,
    /// As `identity`; compressed bodies a decision needs are refused.
    Block,
}

/// API discovery.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Apis {
    /// Declared templates (`"GET /users/{id}"` or `"/orders/{order_id}/items"` for any
    /// method), matched before heuristics.
    pub templates: Vec<String>,
    /// Bound of the endpoint inventory per VM (default 5000); beyond it, new
    /// endpoints are counted as overflow.
    #[serde(deserialize_with = "de::u32_int")]
    pub max_endpoints: u32,
    /// `allow` (default), `alert` or `block` for endpoints outside `templates`.
    pub undeclared: Undeclared,
    /// Paths treated as GraphQL (plus `application/graphql` bodies).
    pub graphql_paths: Vec<String>,
}

impl Default for Apis {
    fn default() -> Self {
        Self {
            templates: Vec::new(),
            max_endpoints: 5000,
            undeclared: Undeclared::Allow,
            graphql_paths: vec!["/graphql".into()],
        }
    }
}

/// Treatment of endpoints outside the declared templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Undeclared {
    /// Nothing happens.
    #[default]
    Allow,
    /// Counted and recorded.
    Alert,
    /// Answered with 403, reason `undeclared`.
    Block,
}

/// Identity of the caller.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Identity {
    /// Trust `x-forwarded-for` (only behind a front proxy that sanitises it).
    pub trust_forwarded_ip: bool,
    /// Account sources, tried in order: the first trusted account wins.
    pub sources: Vec<Source>,
}

/// One account source.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// A JWT bearer token (or cookie), decoded and optionally verified.
    Jwt(JwtSource),
    /// The payload Envoy's jwt_authn verified (Istio RequestAuthentication).
    EnvoyJwt(EnvoyJwtSource),
    /// An API key, compared by SHA-256 in constant time.
    ApiKey(ApiKeySource),
    /// The user of HTTP Basic auth (untrusted).
    Basic(BasicSource),
    /// A plain header (untrusted: forgeable).
    Header(HeaderSource),
}

/// `jwt` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtSource {
    /// Header carrying `Bearer <token>` (default `authorization`).
    pub header: Option<String>,
    /// Cookie carrying the token, instead of a header.
    pub cookie: Option<String>,
    /// Claim naming the account: dotted path or JSON Pointer (default `sub`).
    pub claim: String,
    /// Verification; without it the token is only decoded (untrusted).
    pub verify: Option<JwtVerify>,
}

impl Default for JwtSource {
    fn default() -> Self {
        Self {
            header: None,
            cookie: None,
            claim: "sub".into(),
            verify: None,
        }
    }
}

/// JWT verification settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtVerify {
    /// Accepted `iss` values (empty: any).
    pub issuers: Vec<String>,
    /// Accepted `aud` values (empty: any).
    pub audiences: Vec<String>,
    /// Inline JWKS (RS256, ES256 public keys).
    pub jwks: Option<String>,
    /// Name of a VM environment variable holding an HS256 secret.
    pub hs256_secret_env: Option<String>,
    /// Reject tokens without `exp` (default true).
    pub require_exp: bool,
    /// Allowed clock difference for `exp`/`nbf` (default 60s).
    pub clock_skew: EnvoyDuration,
}

impl Default for JwtVerify {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            audiences: Vec::new(),
            jwks: None,
            hs256_secret_env: None,
            require_exp: true,
            clock_skew: EnvoyDuration::secs(60),
        }
    }
}

/// `envoy_jwt` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvoyJwtSource {
    /// The issuer key under which jwt_authn stores the payload
    /// (`payload_in_metadata`, Istio uses the issuer).
    pub issuer: String,
    /// Claim naming the account (default `sub`).
    #[serde(default = "default_sub")]
    pub claim: String,
}

fn default_sub() -> String {
    "sub".into()
}

/// `api_key` source.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiKeySource {
    /// Header carrying the key.
    pub header: Option<String>,
    /// Query parameter carrying the key, instead of a header.
    pub query: Option<String>,
    /// Remove the key before the upstream sees it.
    pub strip: bool,
    /// Known keys, by SHA-256.
    pub keys: Vec<ApiKey>,
}

/// One known API key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// Account name the key stands for.
    pub name: String,
    /// Lower-case hex SHA-256 of the key (never the key itself).
    pub sha256: String,
}

/// `basic` source (no settings).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicSource {}

/// `header` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderSource {
    /// Header name.
    pub name: String,
}

/// Sensitive data classification.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sensitive {
    /// `all` (default) or a list of built-in type ids.
    pub types: TypeSelection,
    /// Built-in types to switch off.
    pub disable: Vec<String>,
    /// Custom types.
    pub custom: Vec<CustomType>,
    /// Level overrides for built-in types.
    pub levels: BTreeMap<String, LevelValue>,
    /// JSON keys never scanned.
    pub ignore_keys: Vec<String>,
    /// Extra request/response headers to scan.
    pub headers: Vec<String>,
}

impl Default for Sensitive {
    fn default() -> Self {
        Self {
            types: TypeSelection::All,
            disable: Vec::new(),
            custom: Vec::new(),
            levels: BTreeMap::new(),
            ignore_keys: Vec::new(),
            headers: Vec::new(),
        }
    }
}

/// A sensitivity level `1..=4` in a map value position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct LevelValue(#[serde(deserialize_with = "de::level")] pub u8);

/// `all` or a list of type ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeSelection {
    /// Every built-in type.
    All,
    /// These built-in types only.
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for TypeSelection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TypeSelection;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`all` or a list of type ids")
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
                if v == "all" {
                    Ok(TypeSelection::All)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(TypeSelection::List(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A custom sensitive type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomType {
    /// Type id, `[a-z0-9_-]{1,63}`, distinct from the built-ins.
    pub id: String,
    /// Pattern in regex-lite syntax.
    pub pattern: String,
    /// Level 1..4.
    #[serde(deserialize_with = "de::level")]
    pub level: u8,
    /// JSON keys that make a match certain; with keys, only values under them count.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Extra check on a match: `none` (default), `luhn`, `cn_resident_id`, ...
    #[serde(default)]
    pub validator: Option<String>,
}

/// Masking rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingRule {
    /// Unique rule name, `[a-z0-9_-]{1,63}`.
    pub name: String,
    /// Type ids masked by this rule (empty: every type).
    #[serde(default)]
    pub types: Vec<String>,
    /// `partial` (default), `full` or `hash`.
    #[serde(default)]
    pub style: MaskStyle,
    /// Callers exempt from this rule.
    #[serde(default)]
    pub unless: Option<When>,
    /// Count and record only.
    #[serde(default)]
    pub dry_run: bool,
}

/// How a value is masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MaskStyle {
    /// The per-type partial mask of the catalog.
    #[default]
    Partial,
    /// Every character replaced by `*`.
    Full,
    /// `sha256:` + first 12 hex digits of a keyed hash.
    Hash,
}

/// Conditions of a rule; every given condition must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct When {
    /// Peer SPIFFE ids (globs).
    pub principals: Vec<String>,
    /// Peer namespaces, derived from the SPIFFE id.
    pub namespaces: Vec<String>,
    /// Trusted accounts (globs).
    pub accounts: Vec<String>,
    /// `true`: a trusted account is present; `false`: absent.
    pub authenticated: Option<bool>,
    /// Claims of a trusted token: claim → accepted values.
    pub claims: BTreeMap<String, Vec<String>>,
    /// HTTP methods.
    pub methods: Vec<String>,
    /// Endpoint templates or path globs, after normalisation.
    pub paths: Vec<String>,
    /// Source CIDRs (never matched by a forwarded address).
    pub source_ips: Vec<String>,
    /// Header values (forgeable: combine with identity).
    pub headers: BTreeMap<String, Vec<String>>,
}

/// Access control.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Access {
    /// `allow` (default) or `deny` when no rule matches.
    pub default: DefaultAction,
    /// Rules, first match wins.
    pub rules: Vec<AccessRule>,
}

/// Outcome when no access rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DefaultAction {
    /// Let the request through.
    #[default]
    Allow,
    /// Answer 403.
    Deny,
}

/// An access rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    /// Unique rule name.
    pub name: String,
    /// `allow`, `deny` or `authenticate`.
    pub action: AccessAction,
    /// Conditions (none: always matches).
    #[serde(default)]
    pub when: When,
    /// Count and record only.
    #[serde(default)]
    pub dry_run: bool,
}

/// What an access rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessAction {
    /// Let the request through (ends rule evaluation).
    Allow,
    /// Answer 403.
    Deny,
    /// No trusted account → 401; else go on to the next rule.
    Authenticate,
}

/// A token-bucket rate limit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Unique name.
    pub name: String,
    /// `account`, `principal`, `source_ip`, `header:NAME`, `claim:NAME`, `api`, or
    /// combinations with `+`.
    #[serde(default = "default_key")]
    pub key: String,
    /// Conditions.
    #[serde(default)]
    pub when: When,
    /// Requests per period, and burst.
    pub limit: RequestLimit,
    /// Bound of tracked keys (default 10000).
    #[serde(default = "default_max_keys", deserialize_with = "de::u32_int")]
    pub max_keys: u32,
    /// Add `x-ratelimit-*` headers to answers.
    #[serde(default)]
    pub headers: bool,
    /// Count and record only.
    #[serde(default)]
    pub dry_run: bool,
}

fn default_key() -> String {
    "account".into()
}

fn default_max_keys() -> u32 {
    10_000
}

/// `limit` of a rate limit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestLimit {
    /// Requests admitted per `per`.
    #[serde(deserialize_with = "de::u32_int")]
    pub requests: u32,
    /// Refill period.
    pub per: EnvoyDuration,
    /// Bucket size (default: `requests`).
    #[serde(default, deserialize_with = "de::opt_u32_int")]
    pub burst: Option<u32>,
}

/// A quota on sensitive values returned to one key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataLimit {
    /// Unique name.
    pub name: String,
    /// Type ids counted.
    #[serde(default)]
    pub types: Vec<String>,
    /// Or: every type of at least this level.
    #[serde(default, deserialize_with = "de::opt_level")]
    pub min_level: Option<u8>,
    /// Key, as for rate limits (default `account`).
    #[serde(default = "default_key")]
    pub key: String,
    /// Values per fixed window.
    pub limit: ValueLimit,
    /// Fraction of the quota that raises `sensitive_harvest` (default 0.8).
    #[serde(default = "default_alert_at")]
    pub alert_at: f64,
    /// A single response carrying more values than this is replaced by 429.
    #[serde(default, deserialize_with = "de::opt_u32_int")]
    pub max_per_response: Option<u32>,
    /// `block` (default) or `alert`.
    #[serde(default)]
    pub action: LimitAction,
    /// Bound of tracked keys (default 10000).
    #[serde(default = "default_max_keys", deserialize_with = "de::u32_int")]
    pub max_keys: u32,
    /// Conditions.
    #[serde(default)]
    pub when: When,
    /// Count and record only.
    #[serde(default)]
    pub dry_run: bool,
}

fn default_alert_at() -> f64 {
    0.8
}

/// `limit` of a data limit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueLimit {
    /// Values per window.
    #[serde(deserialize_with = "de::u64_int")]
    pub values: u64,
    /// Window length.
    pub per: EnvoyDuration,
}

/// What a spent data limit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LimitAction {
    /// Later requests of the key get 429.
    #[default]
    Block,
    /// Counted and alerted only.
    Alert,
}

/// Attack and abuse detection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Detection {
    /// Payload injection families.
    pub injection: Injection,
    /// Known scanner fingerprints: `off`, `alert` (default), `block`.
    pub scanners: SwitchValue,
    /// Behavioural detections per actor.
    pub behavior: Behavior,
    /// Exemptions.
    pub allow: Vec<DetectionAllow>,
}

impl Default for Detection {
    fn default() -> Self {
        Self {
            injection: Injection::default(),
            scanners: SwitchValue::Set(de::Switch::Alert),
            behavior: Behavior::default(),
            allow: Vec::new(),
        }
    }
}

/// Injection families, each `off | alert | block`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Injection {
    /// SQL injection (default block).
    pub sqli: SwitchValue,
    /// Cross-site scripting (default block).
    pub xss: SwitchValue,
    /// Path traversal (default block).
    pub path_traversal: SwitchValue,
    /// OS command injection (default block).
    pub command: SwitchValue,
    /// Server-side request forgery (default alert).
    pub ssrf: SwitchValue,
    /// JNDI lookups (default block).
    pub jndi: SwitchValue,
    /// Places inspected: `path`, `query`, `headers`, `body`.
    #[serde(rename = "where")]
    pub where_: Vec<Place>,
}

impl Default for Injection {
    fn default() -> Self {
        use de::Switch::{Alert, Block};
        Self {
            sqli: SwitchValue::Set(Block),
            xss: SwitchValue::Set(Block),
            path_traversal: SwitchValue::Set(Block),
            command: SwitchValue::Set(Block),
            ssrf: SwitchValue::Set(Alert),
            jndi: SwitchValue::Set(Block),
            where_: vec![Place::Path, Place::Query, Place::Headers, Place::Body],
        }
    }
}

/// A place of a request inspected for injections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// The normalised path.
    Path,
    /// Query parameter values.
    Query,
    /// Selected header values.
    Headers,
    /// JSON values, form fields, text bodies.
    Body,
}

/// Behavioural detections.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Behavior {
    /// Many 404/405 on many distinct paths.
    pub not_found_burst: Toggle<NotFoundBurst>,
    /// Many 401/403.
    pub auth_failure_burst: Toggle<AuthFailureBurst>,
    /// Many distinct ids of one template with 2xx.
    pub enumeration: Toggle<Enumeration>,
    /// Sensitive calls in the quiet period.
    pub off_hours: Toggle<OffHours>,
    /// Bound of tracked actors (default 10000).
    #[serde(deserialize_with = "de::u32_int")]
    pub max_actors: u32,
}

impl Default for Behavior {
    fn default() -> Self {
        Self {
            not_found_burst: Toggle::default(),
            auth_failure_burst: Toggle::default(),
            enumeration: Toggle::default(),
            off_hours: Toggle::Off,
            max_actors: 10_000,
        }
    }
}

/// `not_found_burst` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotFoundBurst {
    /// 404/405 answers in the window (default 20).
    #[serde(deserialize_with = "de::u32_int")]
    pub count: u32,
    /// Distinct paths among them (default 10).
    #[serde(deserialize_with = "de::u32_int")]
    pub distinct_paths: u32,
    /// Window (default 5m).
    pub per: EnvoyDuration,
    /// `alert` (default) or `block`.
    pub action: SwitchValue,
}

impl Default for NotFoundBurst {
    fn default() -> Self {
        Self {
            count: 20,
            distinct_paths: 10,
            per: EnvoyDuration::secs(300),
            action: SwitchValue::Set(de::Switch::Alert),
        }
    }
}

/// `auth_failure_burst` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthFailureBurst {
    /// 401/403 answers in the window (default 10).
    #[serde(deserialize_with = "de::u32_int")]
    pub count: u32,
    /// Window (default 5m).
    pub per: EnvoyDuration,
    /// `alert` (default) or `block`.
    pub action: SwitchValue,
}

impl Default for AuthFailureBurst {
    fn default() -> Self {
        Self {
            count: 10,
            per: EnvoyDuration::secs(300),
            action: SwitchValue::Set(de::Switch::Alert),
        }
    }
}

/// `enumeration` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Enumeration {
    /// Distinct ids of one template in the window (default 50).
    #[serde(deserialize_with = "de::u32_int")]
    pub distinct_ids: u32,
    /// Window (default 5m).
    pub per: EnvoyDuration,
    /// `alert` (default) or `block`.
    pub action: SwitchValue,
}

impl Default for Enumeration {
    fn default() -> Self {
        Self {
            distinct_ids: 50,
            per: EnvoyDuration::secs(300),
            action: SwitchValue::Set(de::Switch::Alert),
        }
    }
}

/// `off_hours` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OffHours {
    /// Start of the quiet period, `HH:MM` (default `22:00`).
    pub from: String,
    /// End of the quiet period, `HH:MM` (default `06:00`); wraps midnight.
    pub to: String,
    /// Offset of the local time, `+08:00` (default `+00:00`).
    pub utc_offset: String,
    /// Lowest level of data that counts (default 3).
    #[serde(deserialize_with = "de::level")]
    pub min_level: u8,
    /// One alert per actor per this period (default 1h).
    pub per: EnvoyDuration,
    /// `alert` (default) or `block`.
    pub action: SwitchValue,
}

impl Default for OffHours {
    fn default() -> Self {
        Self {
            from: "22:00".into(),
            to: "06:00".into(),
            utc_offset: "+00:00".into(),
            min_level: 3,
            per: EnvoyDuration::secs(3600),
            action: SwitchValue::Set(de::Switch::Alert),
        }
    }
}

/// A detection exemption.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectionAllow {
    /// Unique name.
    pub name: String,
    /// Families exempted (`sqli`, `xss`, ..., `scanner`); empty: all.
    #[serde(default)]
    pub families: Vec<String>,
    /// Conditions.
    #[serde(default)]
    pub when: When,
    /// Count and record only (the exemption is reported but not applied).
    #[serde(default)]
    pub dry_run: bool,
}

/// Passive discovery of API weaknesses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Findings {
    /// Data of `min_level` returned to a call without trusted account.
    pub unauthenticated_sensitive: Toggle<MinLevel>,
    /// One response carrying ≥ `values` sensitive values.
    pub excessive_exposure: Toggle<ValuesThreshold>,
    /// Sensitive values in the path or query.
    pub sensitive_in_url: Toggle<MinLevel>,
    /// Sensitive data on a connection without mTLS.
    pub plaintext_sensitive: Toggle<MinLevel>,
    /// Basic auth, weak JWTs.
    pub weak_auth: Toggle<Empty>,
    /// 5xx bodies with stack traces or SQL errors.
    pub verbose_errors: Toggle<Empty>,
    /// Shadow endpoints (with `apis.templates`).
    pub undeclared: Toggle<Empty>,
}

/// `{ min_level: N }` (default 3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MinLevel {
    /// Lowest level that counts.
    #[serde(deserialize_with = "de::level")]
    pub min_level: u8,
}

impl Default for MinLevel {
    fn default() -> Self {
        Self { min_level: 3 }
    }
}

/// `{ values: N }` (default 50).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValuesThreshold {
    /// Values in one response.
    #[serde(deserialize_with = "de::u32_int")]
    pub values: u32,
}

impl Default for ValuesThreshold {
    fn default() -> Self {
        Self { values: 50 }
    }
}

/// A finding without settings (`true`/`false`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// Event records.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Events {
    /// Envoy cluster of the collector, e.g.
    /// `outbound|4318||otel-collector.observability.svc.cluster.local`. Without it, no
    /// events are sent.
    pub cluster: Option<String>,
    /// `:authority` of the POST (default: the host part of the cluster name).
    pub authority: Option<String>,
    /// Path of the POST (default `/v1/logs`).
    pub path: String,
    /// `otlp` (default) or `ndjson`.
    pub format: EventFormat,
    /// Extra headers whose values come from VM environment variables.
    pub headers_env: BTreeMap<String, String>,
    /// How long a partial batch may wait before it is sent (default 1s); a full batch
    /// (`max_batch` records) is sent within 100 ms.
    pub flush_interval: EnvoyDuration,
    /// Records per POST (default 500).
    #[serde(deserialize_with = "de::u32_int")]
    pub max_batch: u32,
    /// Records buffered per worker (default 10000); beyond, new records are dropped.
    #[serde(deserialize_with = "de::u32_int")]
    pub max_buffered: u32,
    /// Timeout of one POST (default 2s).
    pub timeout: EnvoyDuration,
    /// Fraction of plain allowed calls recorded (default 1.0).
    pub sample: f64,
    /// VM environment variable holding the HMAC key for hashes.
    pub hash_key_env: Option<String>,
    /// `none` (default) or `hash`: matched values are never sent in clear.
    pub values: ValuesMode,
    /// `clear` (default) or `hash`.
    pub account_ids: AccountIds,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            cluster: None,
            authority: None,
            path: "/v1/logs".into(),
            format: EventFormat::Otlp,
            headers_env: BTreeMap::new(),
            flush_interval: EnvoyDuration::secs(1),
            max_batch: 500,
            max_buffered: 10_000,
            timeout: EnvoyDuration::secs(2),
            sample: 1.0,
            hash_key_env: None,
            values: ValuesMode::None,
            account_ids: AccountIds::Clear,
        }
    }
}

/// Wire format of event batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EventFormat {
    /// OTLP/HTTP JSON `ExportLogsServiceRequest`.
    #[default]
    Otlp,
    /// One JSON record per line.
    Ndjson,
}

/// Whether hashed value prefixes appear in events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ValuesMode {
    /// No value information.
    #[default]
    None,
    /// Keyed hash prefixes.
    Hash,
}

/// How account ids appear in events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccountIds {
    /// As they are.
    #[default]
    Clear,
    /// Keyed hash.
    Hash,
}
