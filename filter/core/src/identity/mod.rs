//! Who is calling: the workload (SPIFFE id of the mTLS peer) and the account (JWT,
//! jwt_authn metadata, API key, Basic, header), each with its trust.
//!
//! # What each source proves
//!
//! The account comes from `identity.sources`, tried in order: the first source that
//! yields a **trusted** account wins (later sources are not evaluated, but API keys
//! they name are still stripped); when none does, the first **untrusted** account
//! found is recorded. Rules that need an identity treat untrusted accounts as absent.
//!
//! | source (`via`) | trusted | what it proves | what it does not prove |
//! |---|---|---|---|
//! | workload (`principal`) | yes, under mTLS | the peer holds the private key of a certificate the mesh CA issued for this SPIFFE ID (Envoy checked the chain) | who the end user is; anything when the peer is not mTLS |
//! | `jwt` with `verify` | yes | the token was signed by a key of the inline JWKS (RS256 ≥ 2048 bits, ES256 P-256; `alg` pinned per key, `kid` matched) or with the HS256 secret from the VM env; `iss`/`aud` are accepted ones; `exp`/`nbf` hold within `clock_skew` | that the token was not stolen or replayed (bearer token); revocation before `exp` |
//! | `envoy_jwt` | yes | Envoy's jwt_authn verified the token and wrote the payload into dynamic metadata under the issuer key; read from metadata only, never from a header | as for `jwt`; and the policy Envoy applied is the RequestAuthentication's, not meshward's |
//! | `api_key` | yes | the caller presented a key whose SHA-256 equals a configured hash (compared in constant time against every hash) | who holds the key; keys are long-lived shared secrets |
//! | `jwt` without `verify` | no | nothing: anyone can write the token; the decoded claim is for attribution only | |
//! | `basic` | no | nothing: meshward does not check the password; the user name is for attribution only | |
//! | `header` | no | nothing: any caller can set the header | |
//!
//! A presented credential that fails (bad signature, expired, wrong `iss`/`aud`, `alg:
//! none`, unknown `kid`, oversized or undecodable token, API key matching no hash, the
//! same credential given twice with different values) makes the source count in
//! [`Identity::failures`] (`meshward_authn_failures_total{via}`) and never yields a
//! trusted account. For a failing JWT the claim, when it can be decoded, is still
//! reported as an **untrusted** account with `authn_failed: true` (who the caller
//! claimed to be, for attribution of failures); a failing API key yields no account.
//! A verified token that lacks the configured claim yields no account from that
//! source. Weak-auth facts ([`WeakAuth`]) are taken only from tokens the source
//! accepted, so callers cannot raise `weak_auth` findings with forged tokens.

mod extract;
pub mod jwt;
pub mod metadata;
mod spiffe;
mod tokens;

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use subtle::{Choice, ConditionallySelectable as _, ConstantTimeEq as _};

use crate::config::{ClaimPath, IdentityPolicy, Location, SourcePolicy};
use crate::exchange::HeaderList;

pub use extract::remove_query_param;
pub use jwt::{JwtError, MAX_TOKEN_LEN};
pub use spiffe::{parse_spiffe, Workload};

/// Longest account id kept (chars); longer claim values are truncated.
pub const MAX_ID_CHARS: usize = 256;
/// Most values [`claim_values`] returns for one claim.
pub const MAX_CLAIM_VALUES: usize = 64;
/// Longest API key or header credential examined (bytes).
const MAX_CREDENTIAL_LEN: usize = 8 * 1024;
/// Token lifetime (`exp - iat`) above which a token is long-lived, seconds.
const LONG_LIVED_SECS: f64 = 24.0 * 3600.0;

/// Checks an inline JWKS at configure time: every key must be usable (see
/// [`jwt::parse_jwks`]); the error says which key and why.
pub fn jwks_check(doc: &str) -> Result<(), String> {
    jwt::parse_jwks(doc).map(|_| ())
}

/// What the adapter read for identity.
#[derive(Debug, Clone, Copy)]
pub struct IdentityInput<'a> {
    /// Every request header (lower-case names).
    pub headers: &'a HeaderList<'a>,
    /// The query string of `:path` (without `?`).
    pub query: Option<&'a str>,
    /// Payloads verified by Envoy's jwt_authn, keyed by issuer (decoded by the adapter
    /// from dynamic metadata).
    pub jwt_authn: Option<&'a Map<String, Value>>,
}

/// The calling account.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// The account id (≤ [`MAX_ID_CHARS`] chars).
    pub id: String,
    /// The source: `jwt`, `envoy_jwt`, `api_key`, `basic`, `header`.
    pub via: &'static str,
    /// Verified (see the trust table of this module).
    pub trusted: bool,
    /// The credential this id came from failed verification.
    pub authn_failed: bool,
    /// Claims of a trusted token (`jwt` verified, `envoy_jwt`), for `when.claims` and
    /// `claim:` keys. `None` for every other account.
    pub claims: Option<Map<String, Value>>,
}

/// Something the adapter removes before the upstream sees the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strip {
    /// A request header (lower-case name): remove every value.
    Header(String),
    /// A query parameter (decoded name): rewrite `:path` with [`remove_query_param`].
    QueryParam(String),
}

/// Facts for the `weak_auth` finding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeakAuth {
    /// The request carries `Authorization: Basic ...` (whatever the sources).
    pub basic: bool,
    /// An accepted JWT has `alg: none` (only possible without `verify`).
    pub alg_none: bool,
    /// An accepted JWT (or jwt_authn payload) has no `exp`.
    pub no_exp: bool,
    /// An accepted JWT (or jwt_authn payload) lives longer than 24 h (`exp - iat`).
    pub long_lived: bool,
    /// An accepted JWT is HS256.
    pub hs256: bool,
    /// `iss` of the HS256 token (≤ [`MAX_ID_CHARS`] chars), to count the issuers
    /// sharing HMAC secrets.
    pub hs256_issuer: Option<String>,
}

impl WeakAuth {
    /// Any fact set.
    pub fn any(&self) -> bool {
        self.basic || self.alg_none || self.no_exp || self.long_lived || self.hs256
    }
}

/// The outcome of [`Identifier::identify`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    /// The account (trusted first, else the first untrusted one).
    pub account: Option<Account>,
    /// `via` of every source whose token/key failed verification (for
    /// `meshward_authn_failures_total{via}`), in source order.
    pub failures: Vec<&'static str>,
    /// Why each of `failures` failed (same order), for debug logs.
    pub failure_reasons: Vec<&'static str>,
    /// What the adapter must remove before the upstream sees the request.
    pub strip: Vec<Strip>,
    /// Facts for the `weak_auth` finding.
    pub weak: WeakAuth,
}

impl Identity {
    /// The trusted account, if any (what rules that need an identity see).
    pub fn trusted(&self) -> Option<&Account> {
        self.account.as_ref().filter(|a| a.trusted)
    }

    /// Some presented credential failed verification.
    pub fn authn_failed(&self) -> bool {
        !self.failures.is_empty()
    }

    fn fail(&mut self, via: &'static str, why: &'static str) {
        self.failures.push(via);
        self.failure_reasons.push(why);
    }
}

/// One source, compiled.
#[derive(Clone)]
enum Source {
    Jwt {
        at: Location,
        claim: ClaimPath,
        verify: Option<Box<jwt::Verifier>>,
    },
    EnvoyJwt {
        issuer: String,
        claim: ClaimPath,
    },
    ApiKey {
        at: Location,
        strip: bool,
        keys: Vec<(String, [u8; 32])>,
    },
    Basic,
    Header {
        name: String,
    },
}

impl Source {
    fn via(&self) -> &'static str {
        match self {
            Source::Jwt { .. } => "jwt",
            Source::EnvoyJwt { .. } => "envoy_jwt",
            Source::ApiKey { .. } => "api_key",
            Source::Basic => "basic",
            Source::Header { .. } => "header",
        }
    }
}

/// The account sources of one configuration, compiled once (keys parsed, secrets read).
#[derive(Clone, Default)]
pub struct Identifier {
    sources: Vec<Source>,
    /// Tokens decoded (and signatures verified) recently, per source.
    tokens: RefCell<tokens::TokenCache>,
}

impl std::fmt::Debug for Identifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never prints secrets or key hashes.
        let vias: Vec<&str> = self.sources.iter().map(Source::via).collect();
        f.debug_struct("Identifier")
            .field("sources", &vias)
            .finish()
    }
}

impl Identifier {
    /// Parses JWKS keys (RS256 n/e, ES256 P-256 x/y; `alg` pinned per key, `kid` must
    /// match when both token and key have one, `none` rejected) and reads HS256
    /// secrets through `env` (the VM environment). A missing secret or an unusable
    /// JWKS is reported in the returned messages (the adapter logs them) and
    /// verification of that source then fails closed.
    pub fn new(
        policy: &IdentityPolicy,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let mut sources = Vec::with_capacity(policy.sources.len());
        for (i, s) in policy.sources.iter().enumerate() {
            let src = match s {
                SourcePolicy::Jwt { at, claim, verify } => {
                    let verify = verify.as_ref().map(|v| {
                        let p = format!("identity.sources[{i}].jwt.verify");
                        let keys = match &v.jwks {
                            None => Vec::new(),
                            Some(doc) => jwt::parse_jwks(doc).unwrap_or_else(|e| {
                                warnings.push(format!(
                                    "{p}.jwks: {e}; RS256/ES256 tokens of this source are rejected"
                                ));
                                Vec::new()
                            }),
                        };
                        let hs256 = v.hs256_secret_env.as_ref().and_then(|name| {
                            let secret = env(name).unwrap_or_default();
                            if secret.is_empty() {
                                warnings.push(format!(
                                    "{p}.hs256_secret_env: environment variable {name} is not \
                                     set or empty; HS256 tokens of this source are rejected"
                                ));
                                return None;
                            }
                            if secret.len() < jwt::MIN_HS256_SECRET {
                                warnings.push(format!(
                                    "{p}.hs256_secret_env: the secret in {name} is shorter \
                                     than {} bytes (RFC 7518 requires at least 256 bits)",
                                    jwt::MIN_HS256_SECRET
                                ));
                            }
                            jwt::HsKey::new(secret.as_bytes())
                        });
                        Box::new(jwt::Verifier {
                            issuers: v.issuers.clone(),
                            audiences: v.audiences.clone(),
                            keys,
                            hs256,
                            require_exp: v.require_exp,
                            clock_skew_ms: v.clock_skew_ms,
                        })
                    });
                    Source::Jwt {
                        at: at.clone(),
                        claim: claim.clone(),
                        verify,
                    }
                }
                SourcePolicy::EnvoyJwt { issuer, claim } => Source::EnvoyJwt {
                    issuer: issuer.clone(),
                    claim: claim.clone(),
                },
                SourcePolicy::ApiKey { at, strip, keys } => Source::ApiKey {
                    at: at.clone(),
                    strip: *strip,
                    keys: keys.clone(),
                },
                SourcePolicy::Basic => Source::Basic,
                SourcePolicy::Header { name } => Source::Header { name: name.clone() },
            };
            sources.push(src);
        }
        (
            Self {
                sources,
                tokens: RefCell::default(),
            },
            warnings,
        )
    }

    /// No account source is configured.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The account of a request, the failures of its credentials, what to strip and
    /// the weak-auth facts. `now_ms` is unix milliseconds (for `exp`/`nbf`).
    pub fn identify(&self, input: &IdentityInput<'_>, now_ms: u64) -> Identity {
        let mut out = Identity {
            weak: WeakAuth {
                basic: extract::header_values(input.headers, "authorization")
                    .any(|v| extract::after_scheme(v, "basic").is_some()),
                ..WeakAuth::default()
            },
            ..Identity::default()
        };
        let mut trusted: Option<Account> = None;
        let mut untrusted: Option<Account> = None;
        for (i, src) in self.sources.iter().enumerate() {
            if trusted.is_none() {
                if let Some(acc) = self.evaluate(i, src, input, now_ms, &mut out) {
                    if acc.trusted {
                        trusted = Some(acc);
                    } else if untrusted.is_none() {
                        untrusted = Some(acc);
                    }
                }
            }
            if let Source::ApiKey {
                at, strip: true, ..
            } = src
            {
                let s = match at {
                    Location::Header(name) => extract::header_values(input.headers, name)
                        .next()
                        .map(|_| Strip::Header(name.clone())),
                    Location::Query(name) => extract::has_query_param(input.query, name)
                        .then(|| Strip::QueryParam(name.clone())),
                    Location::Cookie(_) => None,
                };
                if let Some(s) = s {
                    if !out.strip.contains(&s) {
                        out.strip.push(s);
                    }
                }
            }
        }
        out.account = trusted.or(untrusted);
        out
    }

    fn evaluate(
        &self,
        index: usize,
        src: &Source,
        input: &IdentityInput<'_>,
        now_ms: u64,
        out: &mut Identity,
    ) -> Option<Account> {
        let via = src.via();
        let account = |id: String, trusted: bool, authn_failed: bool, claims| Account {
            id,
            via,
            trusted,
            authn_failed,
            claims,
        };
        match src {
            Source::Jwt { at, claim, verify } => {
                let token = match extract::presented(input.headers, input.query, at, true) {
                    extract::Presented::Absent => return None,
                    extract::Presented::One(t) => t,
                    extract::Presented::Ambiguous(t) => {
                        if verify.is_some() {
                            out.fail(via, JwtError::Ambiguous.as_str());
                            return None;
                        }
                        t
                    }
                };
                if token.len() > MAX_TOKEN_LEN {
                    out.fail(via, JwtError::TooLong.as_str());
                    return None;
                }
                let Ok(token) = std::str::from_utf8(&token) else {
                    out.fail(via, JwtError::Malformed.as_str());
                    return None;
                };
                let cached = self.tokens.borrow().get(index, token.as_bytes());
                let hit = cached.is_some();
                let (decoded, mut signature) = match cached {
                    Some(c) => (c.decoded, c.signature),
                    None => match jwt::decode(token) {
                        Ok(d) => (Rc::new(d), None),
                        Err(e) => {
                            out.fail(via, e.as_str());
                            return None;
                        }
                    },
                };
                let id = claim_id(&decoded.claims, claim);
                let verdict = verify.as_ref().map(|v| {
                    let sig = *signature.get_or_insert_with(|| v.verify_signature(token, &decoded));
                    sig.and_then(|()| v.check_claims(&decoded.claims, now_ms))
                });
                if !hit {
                    self.tokens.borrow_mut().put(
                        index,
                        token.as_bytes(),
                        tokens::Cached {
                            decoded: Rc::clone(&decoded),
                            signature,
                        },
                    );
                }
                match verdict {
                    None => {
                        note_weak(&mut out.weak, Some(&decoded.alg), &decoded.claims);
                        id.map(|id| account(id, false, false, None))
                    }
                    Some(verdict) => match verdict {
                        Ok(()) => {
                            note_weak(&mut out.weak, Some(&decoded.alg), &decoded.claims);
                            id.map(|id| account(id, true, false, Some(decoded.claims.clone())))
                        }
                        Err(e) => {
                            out.fail(via, e.as_str());
                            id.map(|id| account(id, false, true, None))
                        }
                    },
                }
            }
            Source::EnvoyJwt { issuer, claim } => {
                let payload = input.jwt_authn?.get(issuer)?.as_object()?;
                note_weak(&mut out.weak, None, payload);
                let id = claim_id(payload, claim)?;
                Some(account(id, true, false, Some(payload.clone())))
            }
            Source::ApiKey { at, keys, .. } => {
                let key = match extract::presented(input.headers, input.query, at, false) {
                    extract::Presented::Absent => return None,
                    extract::Presented::Ambiguous(_) => {
                        out.fail(via, JwtError::Ambiguous.as_str());
                        return None;
                    }
                    extract::Presented::One(k) => k,
                };
                if key.len() > MAX_CREDENTIAL_LEN {
                    out.fail(via, JwtError::TooLong.as_str());
                    return None;
                }
                match match_api_key(keys, &key) {
                    Some(name) => Some(account(bound_id(name), true, false, None)),
                    None => {
                        out.fail(via, "unknown_key");
                        None
                    }
                }
            }
            Source::Basic => {
                let user = extract::header_values(input.headers, "authorization")
                    .filter(|v| v.len() <= MAX_CREDENTIAL_LEN)
                    .find_map(extract::basic_user)?;
                Some(account(bound_id(&user), false, false, None))
            }
            Source::Header { name } => {
                let v = extract::header_values(input.headers, name).next()?;
                let v = std::str::from_utf8(v).ok()?;
                (!v.is_empty()).then(|| account(bound_id(v), false, false, None))
            }
        }
    }
}

/// The configured key whose hash equals SHA-256 of `presented`. Every configured
/// hash is compared, each in constant time, and the result selected without a
/// data-dependent branch, so timing reveals neither which key matched nor how much
/// of a hash did.
fn match_api_key<'k>(keys: &'k [(String, [u8; 32])], presented: &[u8]) -> Option<&'k str> {
    let h: [u8; 32] = Sha256::digest(presented).into();
    let mut found = Choice::from(0u8);
    let mut index = 0u64;
    for (i, (_, k)) in keys.iter().enumerate() {
        let eq = k.ct_eq(&h);
        index.conditional_assign(&(i as u64), eq & !found);
        found |= eq;
    }
    if bool::from(found) {
        keys.get(usize::try_from(index).ok()?)
            .map(|(n, _)| n.as_str())
    } else {
        None
    }
}

fn note_weak(weak: &mut WeakAuth, alg: Option<&str>, claims: &Map<String, Value>) {
    if let Some(alg) = alg {
        if alg.eq_ignore_ascii_case("none") {
            weak.alg_none = true;
        }
        if alg == "HS256" {
            weak.hs256 = true;
            if weak.hs256_issuer.is_none() {
                weak.hs256_issuer = claims.get("iss").and_then(Value::as_str).map(bound_id);
            }
        }
    }
    let exp = claims.get("exp").and_then(Value::as_f64);
    match exp {
        None => weak.no_exp = true,
        Some(exp) => {
            if let Some(iat) = claims.get("iat").and_then(Value::as_f64) {
                if exp - iat > LONG_LIVED_SECS {
                    weak.long_lived = true;
                }
            }
        }
    }
}

fn bound_id(s: &str) -> String {
    jwt::truncate(s, MAX_ID_CHARS).to_string()
}

/// The value at a claim path: object keys, or array indices for numeric parts.
fn lookup<'v>(claims: &'v Map<String, Value>, path: &ClaimPath) -> Option<&'v Value> {
    let (first, rest) = path.0.split_first()?;
    let mut v = claims.get(first)?;
    for part in rest {
        v = match v {
            Value::Object(m) => m.get(part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// A number as its text; an integral double (jwt_authn metadata reaches the filter with
/// every number as a double) is written as the integer, so `1001.0` reads `1001`.
fn number_text(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
            format!("{}", f as i64)
        }
        _ => n.to_string(),
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(bound_id(s)),
        Value::Number(n) => Some(number_text(n)),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The account id named by `claim`: a non-empty string, or a number as its text.
fn claim_id(claims: &Map<String, Value>, claim: &ClaimPath) -> Option<String> {
    match lookup(claims, claim)? {
        Value::String(s) if !s.is_empty() => Some(bound_id(s)),
        Value::Number(n) => Some(number_text(n)),
        _ => None,
    }
}

/// Values of a claim (string, number as its text — integral doubles without `.0` —,
/// bool, or each such element of an array) for `when.claims` and `claim:` keys. Objects, `null` and nested arrays
/// give nothing; at most [`MAX_CLAIM_VALUES`] values of at most [`MAX_ID_CHARS`]
/// chars each.
pub fn claim_values(claims: &Map<String, Value>, path: &ClaimPath) -> Vec<String> {
    match lookup(claims, path) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(scalar_text)
            .take(MAX_CLAIM_VALUES)
            .collect(),
        Some(v) => scalar_text(v).into_iter().collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
