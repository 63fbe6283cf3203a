//! JSON Web Tokens: inline JWKS parsing (RS256, ES256), HS256 secrets, compact JWS
//! decoding, signature verification and the registered-claim checks.
//!
//! Everything is bounded and fallible: a token longer than [`MAX_TOKEN_LEN`], bad
//! base64, JSON that is not an object, numbers out of range, unknown algorithms and
//! `crit` headers are all plain errors, never panics.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Verifier as _;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// Longest token accepted (bytes of the compact serialization).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Most keys an inline JWKS may hold (each one may be tried for a token without `kid`).
pub const MAX_JWKS_KEYS: usize = 64;
/// Smallest RSA modulus accepted, bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, bits (also bounds the cost of one verification).
pub const MAX_RSA_BITS: usize = 4096;
/// Shortest HS256 secret that does not draw a warning (RFC 7518 §3.2: ≥ 256 bits).
pub const MIN_HS256_SECRET: usize = 32;
/// Longest inline JWKS document read.
const MAX_JWKS_LEN: usize = 1024 * 1024;

type HmacSha256 = Hmac<Sha256>;

/// A signature algorithm meshward verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA on P-256 with SHA-256, JOSE `r || s` signatures.
    Es256,
    /// HMAC-SHA-256 with a shared secret from the VM environment.
    Hs256,
}

impl Alg {
    /// From a JOSE `alg` (exact, case-sensitive as RFC 7515 requires).
    pub fn from_jose(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(Alg::Rs256),
            "ES256" => Some(Alg::Es256),
            "HS256" => Some(Alg::Hs256),
            _ => None,
        }
    }
}

/// A parsed public key, its algorithm pinned by its type.
#[derive(Clone)]
enum KeyMaterial {
    Rsa(rsa::RsaPublicKey),
    Ec(p256::ecdsa::VerifyingKey),
}

/// One usable key of a JWKS.
#[derive(Clone)]
pub struct Jwk {
    /// `kid`, when the key has one.
    pub kid: Option<String>,
    key: KeyMaterial,
}

impl Jwk {
    /// The one algorithm this key verifies.
    pub fn alg(&self) -> Alg {
        match self.key {
            KeyMaterial::Rsa(_) => Alg::Rs256,
            KeyMaterial::Ec(_) => Alg::Es256,
        }
    }

    fn verify(&self, signing_input: &[u8], sig: &[u8]) -> bool {
        match &self.key {
            KeyMaterial::Rsa(k) => {
                let digest = Sha256::digest(signing_input);
                k.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest, sig)
                    .is_ok()
            }
            KeyMaterial::Ec(k) => {
                if sig.len() != 64 {
                    return false;
                }
                match p256::ecdsa::Signature::from_slice(sig) {
                    Ok(s) => k.verify(signing_input, &s).is_ok(),
                    Err(_) => false,
                }
            }
        }
    }
}

impl std::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("alg", &self.alg())
            .finish()
    }
}

fn b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// Parses an inline JWKS into usable verification keys.
///
/// Every key must be usable: `kty` `RSA` (RS256, 2048..=4096 bits) or `EC` (`crv`
/// `P-256`, ES256, a point on the curve); `alg`, when given, must match the type; a
/// `kid`, when given, must be a string. Keys marked `"use": "enc"` are skipped (they
/// are not signature keys). Symmetric (`oct`) keys and private key material are
/// refused: HS256 secrets come from the VM environment, never from config.
pub fn parse_jwks(doc: &str) -> Result<Vec<Jwk>, String> {
    if doc.len() > MAX_JWKS_LEN {
        return Err(format!("JWKS is longer than {} KiB", MAX_JWKS_LEN / 1024));
    }
    let v: Value = serde_json::from_str(doc).map_err(|e| format!("JWKS is not valid JSON: {e}"))?;
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("JWKS needs a `keys` list")?;
    if keys.is_empty() {
        return Err("JWKS has no keys".into());
    }
    if keys.len() > MAX_JWKS_KEYS {
        return Err(format!(
            "JWKS has {} keys, at most {MAX_JWKS_KEYS} are accepted",
            keys.len()
        ));
    }
    let mut out = Vec::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        let label = match k.get("kid").and_then(Value::as_str) {
            Some(kid) => format!("JWKS key {i} (kid \"{}\")", truncate(kid, 64)),
            None => format!("JWKS key {i}"),
        };
        if let Some(jwk) = parse_jwk(k).map_err(|e| format!("{label}: {e}"))? {
            out.push(jwk);
        }
    }
    if out.is_empty() {
        return Err("JWKS has no signature keys (every key is `\"use\": \"enc\"`)".into());
    }
    Ok(out)
}

/// One key: `Ok(None)` when it is an encryption key to skip.
fn parse_jwk(k: &Value) -> Result<Option<Jwk>, String> {
    let obj = k.as_object().ok_or("must be an object")?;
    let str_field = |name: &str| -> Result<Option<&str>, String> {
        match obj.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("`{name}` must be a string")),
        }
    };
    match str_field("use")? {
        None | Some("sig") => {}
        Some("enc") => return Ok(None),
        Some(u) => return Err(format!("unknown `use` \"{}\"", truncate(u, 32))),
    }
    let kid = str_field("kid")?.map(str::to_string);
    let kty = str_field("kty")?.unwrap_or("");
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        if obj.contains_key(private) {
            return Err(format!(
                "contains private or secret key material (`{private}`): give public keys only"
            ));
        }
    }
    let alg = str_field("alg")?;
    let key = match kty {
        "RSA" => {
            check_alg(alg, "RS256")?;
            KeyMaterial::Rsa(rsa_key(str_field("n")?, str_field("e")?)?)
        }
        "EC" => {
            check_alg(alg, "ES256")?;
            match str_field("crv")? {
                Some("P-256") => {}
                Some(c) => {
                    return Err(format!(
                        "curve \"{}\" is not supported (P-256)",
                        truncate(c, 32)
                    ))
                }
                None => return Err("EC key needs `crv`".into()),
            }
            KeyMaterial::Ec(ec_key(str_field("x")?, str_field("y")?)?)
        }
        "oct" => {
            return Err(
                "symmetric (`oct`) keys are not accepted inline: give HS256 secrets through \
                 `hs256_secret_env`"
                    .into(),
            )
        }
        other => {
            return Err(format!(
                "kty must be RSA or EC, found \"{}\"",
                truncate(other, 32)
            ))
        }
    };
    Ok(Some(Jwk { kid, key }))
}

fn check_alg(alg: Option<&str>, want: &str) -> Result<(), String> {
    match alg {
        None => Ok(()),
        Some(a) if a == want => Ok(()),
        Some(a) if a.eq_ignore_ascii_case("none") => Err("alg \"none\" is never accepted".into()),
        Some(a) if Alg::from_jose(a).is_some() => Err(format!(
            "alg \"{a}\" does not match the key type (expected {want})"
        )),
        Some(a) => Err(format!(
            "alg \"{}\" is not supported (RS256, ES256)",
            truncate(a, 32)
        )),
    }
}

fn rsa_key(n: Option<&str>, e: Option<&str>) -> Result<rsa::RsaPublicKey, String> {
    let n = n.and_then(b64url).ok_or("RSA key needs `n` in base64url")?;
    let e = e.and_then(b64url).ok_or("RSA key needs `e` in base64url")?;
    let n_start = n.iter().position(|&b| b != 0).unwrap_or(n.len());
    let n = &n[n_start..];
    let bits = match n.first() {
        Some(&top) => n.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    };
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "RSA key of {bits} bits: at least {MIN_RSA_BITS} are required"
        ));
    }
    if bits > MAX_RSA_BITS {
        return Err(format!(
            "RSA key of {bits} bits: at most {MAX_RSA_BITS} are supported"
        ));
    }
    rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(n),
        rsa::BigUint::from_bytes_be(&e),
    )
    .map_err(|err| format!("unusable RSA key: {err}"))
}

fn ec_key(x: Option<&str>, y: Option<&str>) -> Result<p256::ecdsa::VerifyingKey, String> {
    let coord = |c: Option<&str>, name: &str| -> Result<[u8; 32], String> {
        c.and_then(b64url)
            .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
            .ok_or_else(|| format!("EC key needs `{name}`: 32 bytes in base64url"))
    };
    let x = coord(x, "x")?;
    let y = coord(y, "y")?;
    let point = p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
    p256::ecdsa::VerifyingKey::from_encoded_point(&point)
        .map_err(|_| "`x`/`y` is not a point on P-256".to_string())
}

/// An HS256 secret, ready to use (the key schedule is computed once).
#[derive(Clone)]
pub struct HsKey(HmacSha256);

impl HsKey {
    /// From the secret bytes; `None` for an empty secret.
    pub fn new(secret: &[u8]) -> Option<Self> {
        if secret.is_empty() {
            return None;
        }
        HmacSha256::new_from_slice(secret).ok().map(HsKey)
    }

    fn verify(&self, signing_input: &[u8], sig: &[u8]) -> bool {
        let mut mac = self.0.clone();
        mac.update(signing_input);
        // `verify_slice` compares in constant time.
        mac.verify_slice(sig).is_ok()
    }
}

impl std::fmt::Debug for HsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HsKey(<redacted>)")
    }
}

/// Why a token was not accepted. [`JwtError::as_str`] names it for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    /// Longer than [`MAX_TOKEN_LEN`].
    TooLong,
    /// Not three base64url parts of a JSON-object header and payload.
    Malformed,
    /// The same credential appears more than once with different values.
    Ambiguous,
    /// `alg: none` (any case).
    AlgNone,
    /// An algorithm this source has no key for (or an unknown one).
    AlgNotAllowed,
    /// No key of the token's algorithm has its `kid`.
    UnknownKid,
    /// The signature does not verify.
    BadSignature,
    /// A `crit` header: meshward understands no JWS extension.
    Crit,
    /// `exp` is in the past (beyond the clock skew).
    Expired,
    /// `nbf` is in the future (beyond the clock skew).
    NotYetValid,
    /// No `exp` while `require_exp`.
    MissingExp,
    /// `exp`, `nbf`, `iss` or `aud` of the wrong type.
    BadClaim,
    /// `iss` not among the accepted issuers.
    Issuer,
    /// `aud` shares nothing with the accepted audiences.
    Audience,
}

impl JwtError {
    /// A short snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            JwtError::TooLong => "too_long",
            JwtError::Malformed => "malformed",
            JwtError::Ambiguous => "ambiguous",
            JwtError::AlgNone => "alg_none",
            JwtError::AlgNotAllowed => "alg_not_allowed",
            JwtError::UnknownKid => "unknown_kid",
            JwtError::BadSignature => "bad_signature",
            JwtError::Crit => "crit",
            JwtError::Expired => "expired",
            JwtError::NotYetValid => "not_yet_valid",
            JwtError::MissingExp => "missing_exp",
            JwtError::BadClaim => "bad_claim",
            JwtError::Issuer => "issuer",
            JwtError::Audience => "audience",
        }
    }
}

/// A decoded (not yet verified) compact JWS.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// `alg` of the header, as given.
    pub alg: String,
    /// `kid` of the header.
    pub kid: Option<String>,
    /// The header has `crit`.
    pub crit: bool,
    /// The payload.
    pub claims: Map<String, Value>,
    /// Length of `header.payload` (the signing input) in the token.
    signing_input_len: usize,
    /// The signature bytes.
    sig: Vec<u8>,
}

fn json_object(b64: &str) -> Option<Map<String, Value>> {
    let bytes = b64url(b64)?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Decodes a compact JWS (three base64url parts, no padding).
pub fn decode(token: &str) -> Result<Decoded, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header = json_object(h).ok_or(JwtError::Malformed)?;
    let claims = json_object(p).ok_or(JwtError::Malformed)?;
    let sig = b64url(s).ok_or(JwtError::Malformed)?;
    let alg = match header.get("alg") {
        Some(Value::String(a)) => truncate(a, 32).to_string(),
        _ => return Err(JwtError::Malformed),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(JwtError::Malformed),
    };
    Ok(Decoded {
        alg,
        kid,
        crit: header.contains_key("crit"),
        claims,
        signing_input_len: h.len() + 1 + p.len(),
        sig,
    })
}

/// What one `jwt` source checks, compiled.
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    /// Accepted `iss` (empty: any).
    pub issuers: Vec<String>,
    /// Accepted `aud` (empty: any).
    pub audiences: Vec<String>,
    /// Public keys.
    pub keys: Vec<Jwk>,
    /// HS256 secret, when configured and present in the environment.
    pub hs256: Option<HsKey>,
    /// Reject tokens without `exp`.
    pub require_exp: bool,
    /// Clock skew, ms.
    pub clock_skew_ms: u64,
}

impl Verifier {
    /// Verifies the signature of `token` (already decoded into `d`), then its claims.
    pub fn verify(&self, token: &str, d: &Decoded, now_ms: u64) -> Result<(), JwtError> {
        self.verify_signature(token, d)?;
        self.check_claims(&d.claims, now_ms)
    }

    /// What [`Verifier::verify`] checks that does not depend on the time: the header
    /// (`alg`, `crit`, `kid`) and the signature. Its verdict for given token bytes never
    /// changes under one verifier, so it can be remembered.
    pub fn verify_signature(&self, token: &str, d: &Decoded) -> Result<(), JwtError> {
        if d.alg.eq_ignore_ascii_case("none") {
            return Err(JwtError::AlgNone);
        }
        if d.crit {
            return Err(JwtError::Crit);
        }
        let alg = Alg::from_jose(&d.alg).ok_or(JwtError::AlgNotAllowed)?;
        let input = token
            .as_bytes()
            .get(..d.signing_input_len)
            .ok_or(JwtError::Malformed)?;
        match alg {
            Alg::Hs256 => {
                let key = self.hs256.as_ref().ok_or(JwtError::AlgNotAllowed)?;
                if !key.verify(input, &d.sig) {
                    return Err(JwtError::BadSignature);
                }
            }
            Alg::Rs256 | Alg::Es256 => {
                let mut of_alg = self.keys.iter().filter(|k| k.alg() == alg).peekable();
                if of_alg.peek().is_none() {
                    return Err(JwtError::AlgNotAllowed);
                }
                // A key with a `kid` is only tried for a token with the same `kid`;
                // keys without one are tried for every token (as Envoy's jwt_authn).
                let mut candidates = of_alg
                    .filter(|k| match (&k.kid, &d.kid) {
                        (Some(kk), Some(tk)) => kk == tk,
                        _ => true,
                    })
                    .peekable();
                if candidates.peek().is_none() {
                    return Err(JwtError::UnknownKid);
                }
                if !candidates.any(|k| k.verify(input, &d.sig)) {
                    return Err(JwtError::BadSignature);
                }
            }
        }
        Ok(())
    }

    /// The time, issuer and audience claims (`exp`, `nbf`, `iss`, `aud`) at `now_ms`.
    pub fn check_claims(&self, c: &Map<String, Value>, now_ms: u64) -> Result<(), JwtError> {
        let now = now_ms as f64;
        let skew = self.clock_skew_ms as f64;
        match c.get("exp") {
            None if self.require_exp => return Err(JwtError::MissingExp),
            None => {}
            Some(v) => {
                let exp = v.as_f64().ok_or(JwtError::BadClaim)?;
                if now >= exp * 1000.0 + skew {
                    return Err(JwtError::Expired);
                }
            }
        }
        if let Some(v) = c.get("nbf") {
            let nbf = v.as_f64().ok_or(JwtError::BadClaim)?;
            if now + skew < nbf * 1000.0 {
                return Err(JwtError::NotYetValid);
            }
        }
        if !self.issuers.is_empty() {
            match c.get("iss") {
                Some(Value::String(iss)) if self.issuers.iter().any(|i| i == iss) => {}
                Some(Value::String(_)) | None => return Err(JwtError::Issuer),
                Some(_) => return Err(JwtError::BadClaim),
            }
        }
        if !self.audiences.is_empty() {
            let ok = match c.get("aud") {
                Some(Value::String(a)) => self.audiences.iter().any(|x| x == a),
                Some(Value::Array(list)) => list
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|a| self.audiences.iter().any(|x| x == a)),
                None => false,
                Some(_) => return Err(JwtError::BadClaim),
            };
            if !ok {
                return Err(JwtError::Audience);
            }
        }
        Ok(())
    }
}

/// The first `max` chars of `s`.
pub fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
pub(crate) mod test_keys {
    //! Fixed test keys (generated once with `openssl genrsa 2048`) and token signing.

    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::signature::{SignatureEncoding as _, Signer as _};
    use rsa::traits::PublicKeyParts as _;

    /// PKCS#1 DER of an RSA-2048 key (`openssl genrsa -traditional 2048`).
    pub const RSA_A: &str = "MIIEowIBAAKCAQEA1/PRJORPx7MOrOPoj6BCYI0suP3z+keS173pBbgap7+LxDM5xasqBWDRbhphHg2Sx0FzWfJj5kYL7+f0+9E0xtzuMhjZGRkTBjc6jZRX7HEkRNYI9RtqKu15ypuNXYyWFHVjm1gZrs6WKkUzxGzM9RrqmvG42IXB1kvFWptciIiEDKLim2WBDBNizQMWAjURsKcpyO2c+n53ANyNKsJKC2H/Wqap014boWXCGe8r288wlj4KJcInMIQ7xfgwsI0uc4h9bUcCtvOSe4zHfNc69LXwueeHdED4S46frWvxr3/A/4O+J9jwN91+TIn7P5oXUvYDtw+/GeUPSZQ2MbfY6wIDAQABAoIBABMwa6uzC/HLU+kCAXbNv0g0Ez7G9iiNtpssGWo0L04ro6BGCwKpEH1U2pdFic6xVxMUmkrqUn0ySTpCqs67isyG8jWKZrQnubyKKM5O2bc9YIMrX7Vj/72bx4A87UVcSjO8MKMro3CYk9hiuNRh9J5tC17ETvAShqRjrEA+YO0SxoQVq5unUrQFIXp9r5ejfCD7wH9NrX8EmtdnRulatDhJYjI5HoODQWy5CfFb118Y+SnyHHF9s1i/tbult6j7Kh8tMcXYd6Zr9YzOG7eQY00a39G0Iu5PgvMU3K8nWWGV/36XGp4bVS3n/PETDiUJ0hbvZ+JG4hLAePQxUrSaqk0CgYEA+1EjjFudChN4zrJmcF4cCIG+04XkjWS0fzaU2XDgJGL/a0o3/FAEKDO3sedGu6SfefIh2YjkZA1/MLhAWKOwyRA5DU7XNsHD3ecnwVXKESNajgiMA3EPCoPyT9x4rsc9PUKAlND0gx53C56XJYE4Er1AQtjtq6/mZi44UHl4r70CgYEA2/n6ZNn/RFYXd+uck9KxGmUX4V7Jz78x1EUvwIjc9OJ+0sSnWoLbIStpgCsEuMvBYoFp6m0p3SQpAMuVMKoc5w3tKwMmKglhjpvWv0J/7SdQDBaqMqUq4kIXRxbpK8mJhzUP8dS1HOJPqVc862lo+tvCmPz1jRbBPVqmIMLNgccCgYEAuh9lTFWtAAFbvviwlRede09bnBvVIEIsyuoJYuANn+URdMwKmnpIGd3zdXXrFJze3tlL6GdRfifgwpwyS3MvQjkZh5mUGaF3Bahj8PMwK3EbZ4U87G+WzBrcIfkOB6LW37+Yqp31+AVf9OMG3WfNt1MhfGBb5ILpB1PDsRXFI6ECgYANDNd+BDDQrQrXYnL3khhPqI+yHx155a3fGfurQHNbU9SSTHhhNkIpxZmMsQCmte/TGDpgXfmN1QdZtLo1GOJ+EqVvV9B7zfKrszMaRaexOhPVo8KVHpdctO8MmJ9cqagvDUbU4fmcrRBsy3Ahxy8jMsZorRkkNaVhLm+MogHvIQKBgB06P2grADLHb1gB1kFdpJyVO31frNSIhmjzK6Znb2hPFXQTfcW6JlM2DvoVVc5mqJ24TzQ3bg1dypp4lRk7fLptgqLinblZDJ4R45dI+Nd0Ptu+7brkNxi3DIKTeAr3JKsg5bS//hNUjzsGqSApKvkNmrRL0cTeRYCUxvbzeZD+";
    /// A second, unrelated RSA-2048 key.
    pub const RSA_B: &str = "MIIEogIBAAKCAQEAqEggraOq2xNKfyhKIdJh+shaS1TVv2gMOFdw96k3l9xghIIYwa21rW/DyOjPw9kS3Y3c2O0Mup1RcuDRecUpwm3FYVfln32ZNON+vxFafWi5npZ/hiAMDRwEq+LakCz32TBlyLgSt/KR/v/iqCt3dCxfEVMTome9MKiECcDStcGc/1Mvcc/9yWQqi6DUPrkpd9LCQ5L7WsVPwo/NJ+/shIDxUUBuU3LEQM7l3Cmot8eHxyS2G+d5+3MUniXlMJg7ADxlUfivn9B8y7N5GvY/Ww5TzFIXn16KDZoEh8QIvHqRXWzkYMmB5f2vwPsLwiA+BR/skTqwlzATLq1OZ+AF6QIDAQABAoIBAAvgQTwihuIx7OnnPOoWTUIJUIQB+e6+5/k0RJLvLy70B3S6iLGRxzafoq8jrQFK6RpX0rxAEyFQDRQ2JQUQDXJ8/uHFNf2TkSkgHU0HK2jFKAUMOnY2U0YRPOF+NO4EBRQfvAMrvcMbvELFKhNeXpkFMPVe9KMGFAjiek+vkGnxYVyXb1TILKGdeQSJzLzv+p/hqGb57TZ55CuTcV5aiM+RwCLlhUCPH+OXx1Hcf/8E70uCghxQq+L+MDCzmOON+mlib+Xst/rGGxWlwW2QQZxhXWM2lAj2EEKbiOM1hDoN7IMy82IbY7uU8tnBTaqXTOz6QjoFVrGeIh6sP6mMoi0CgYEA4jQXv/Lx/o8je5PLFvV9NF4QGr62H848+WLFnkorRobn3qohPDz0xYalqMTyX7hWcbMJPT3T80r7xSdwYCWW6cX9OL0JmWbmso0WD2IMwbiqTXFL9NzRlHKduWi/2k8kZoZUXcQGIz6TmWX5SrZlVgX9EtiHzTUHdjz1P/o0VkUCgYEAvnLUmU4tUHFaUTHcheGOO3fGmKGtbPzF0HcMkwP71TQN/5Jl93jXvUEPH2pHdb9dGxdAB2xBdwjWhXWff8RfIiaCR7AjA+3vu/M+689t8ZhRfG/F5H9ziWZb0uVbFcAxPYcq1UC22doCKC0fQpqRcXsRt6uPBeyp/ZeQrKr0bVUCgYAaTsCsXE70siUITEoEY4yqOH5a/e8kh9Hjly8wl6Os0ifJZ7Px040MI/rERBOEOmYjVxUuADDUTNY3Ob0CEZ0ZlyM6JBInuyX9ghcctuSQ6y8zTofs9HmTcDkTxTD67NVo7xqExTWJh8+WuZtiqw/iD1Q9it1QamhxweksBadsmQKBgHlk3Jrzt/Kkrjs/Gx/DjFPfnxk/RTpJTRX6LGuxiF54FcwoVxKNVobt52PQ7MfjOMfB5DBXEst7OLJNLWPVmgY8oaJsZYVlrwAQprTMvXnX62j0HiHuE4krU7B0PcD5hul/NRBFdcgbLHDLgjeEKt044yw+EKZoGlrot3E4byEZAoGAXUy5ABWIWVWdne1nva0Qy23bjI9zC3nYoonC6dsaW668I5RwwNbyBwmMnumVViWRihjCzFaWQ6IdQixm3V0cySRJzWpg+bsTJjnj7anKQxCS7enYDUZGfsX6URrpM37fvd2g2/lwOlxLOlngFMvmyDr5nD3SiNhHkGezkydV9z4=";
    /// A P-256 private scalar (any value below the group order is a key).
    pub const EC_A: [u8; 32] = [
        0x1f, 0x6c, 0x2a, 0x77, 0x90, 0x03, 0x5e, 0xc1, 0x48, 0x2b, 0xaa, 0x01, 0x3c, 0x9d, 0x77,
        0x10, 0x62, 0x35, 0x88, 0xfe, 0x4d, 0x19, 0x02, 0xbe, 0x6a, 0x7c, 0x31, 0x05, 0x99, 0x48,
        0xd2, 0x13,
    ];
    /// Another P-256 scalar.
    pub const EC_B: [u8; 32] = [
        0x5a, 0x11, 0x0b, 0x7e, 0x23, 0x84, 0x6f, 0x91, 0x0c, 0xd2, 0x3e, 0x45, 0x18, 0x27, 0xa9,
        0x60, 0x3b, 0x54, 0x0e, 0x7f, 0x12, 0x88, 0x4c, 0x21, 0x9b, 0x06, 0x73, 0x5d, 0x2e, 0x41,
        0xc0, 0x07,
    ];

    /// base64url without padding.
    pub fn b64(b: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(b)
    }

    /// The RSA private key.
    pub fn rsa(der_b64: &str) -> rsa::RsaPrivateKey {
        let der = STANDARD.decode(der_b64).unwrap_or_default();
        rsa::RsaPrivateKey::from_pkcs1_der(&der).unwrap_or_else(|e| panic!("test key: {e}"))
    }

    /// The EC signing key.
    pub fn ec(scalar: &[u8; 32]) -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from_bytes(&(*scalar).into())
            .unwrap_or_else(|e| panic!("test key: {e}"))
    }

    /// The public JWK of an RSA key.
    pub fn rsa_jwk(k: &rsa::RsaPrivateKey, kid: Option<&str>) -> Value {
        let mut j = serde_json::json!({
            "kty": "RSA", "alg": "RS256", "use": "sig",
            "n": b64(&k.n().to_bytes_be()), "e": b64(&k.e().to_bytes_be()),
        });
        if let (Some(kid), Some(o)) = (kid, j.as_object_mut()) {
            o.insert("kid".into(), kid.into());
        }
        j
    }

    /// The public JWK of an EC key.
    pub fn ec_jwk(k: &p256::ecdsa::SigningKey, kid: Option<&str>) -> Value {
        let p = k.verifying_key().to_encoded_point(false);
        let mut j = serde_json::json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256",
            "x": b64(p.x().map(|x| x.as_slice()).unwrap_or_default()),
            "y": b64(p.y().map(|y| y.as_slice()).unwrap_or_default()),
        });
        if let (Some(kid), Some(o)) = (kid, j.as_object_mut()) {
            o.insert("kid".into(), kid.into());
        }
        j
    }

    /// A JWKS document.
    pub fn jwks(keys: &[Value]) -> String {
        serde_json::json!({ "keys": keys }).to_string()
    }

    /// A signing key for tokens.
    pub enum Signer<'a> {
        /// RS256.
        Rs(&'a rsa::RsaPrivateKey),
        /// ES256.
        Es(&'a p256::ecdsa::SigningKey),
        /// HS256.
        Hs(&'a [u8]),
        /// No signature (`alg` is taken from the header as given).
        Unsigned,
    }

    /// `header.payload.signature`.
    pub fn sign(header: &Value, claims: &Value, key: Signer<'_>) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = match key {
            Signer::Rs(k) => rsa::pkcs1v15::SigningKey::<Sha256>::new(k.clone())
                .sign(input.as_bytes())
                .to_vec(),
            Signer::Es(k) => {
                let s: p256::ecdsa::Signature = k.sign(input.as_bytes());
                s.to_bytes().to_vec()
            }
            Signer::Hs(secret) => {
                let mut m =
                    HmacSha256::new_from_slice(secret).unwrap_or_else(|e| panic!("hmac: {e}"));
                m.update(input.as_bytes());
                m.finalize().into_bytes().to_vec()
            }
            Signer::Unsigned => Vec::new(),
        };
        format!("{input}.{}", b64(&sig))
    }
}

#[cfg(test)]
mod tests {
    use super::test_keys::*;
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const NOW: u64 = 1_700_000_000_000;
    const NOW_S: u64 = NOW / 1000;

    fn verifier(keys: Vec<Jwk>) -> Verifier {
        Verifier {
            keys,
            require_exp: true,
            clock_skew_ms: 60_000,
            ..Verifier::default()
        }
    }

    fn check(v: &Verifier, token: &str, now: u64) -> Result<(), JwtError> {
        let d = decode(token)?;
        v.verify(token, &d, now)
    }

    fn claims() -> Value {
        json!({"sub": "u-1", "exp": NOW_S + 600, "iat": NOW_S})
    }

    #[test]
    fn rs256_valid_tampered_and_wrong_key() {
        let a = rsa(RSA_A);
        let b = rsa(RSA_B);
        let keys = parse_jwks(&jwks(&[rsa_jwk(&a, Some("a"))])).unwrap_or_default();
        assert_eq!(keys.len(), 1);
        let v = verifier(keys);
        let h = json!({"alg": "RS256", "kid": "a", "typ": "JWT"});
        let t = sign(&h, &claims(), Signer::Rs(&a));
        assert_eq!(check(&v, &t, NOW), Ok(()));

        // Tampered payload, original signature.
        let parts: Vec<&str> = t.split('.').collect();
        let forged = json!({"sub": "admin", "exp": NOW_S + 600});
        let t2 = format!(
            "{}.{}.{}",
            parts[0],
            b64(forged.to_string().as_bytes()),
            parts[2]
        );
        assert_eq!(check(&v, &t2, NOW), Err(JwtError::BadSignature));

        // Signed by another key with the same kid.
        let t3 = sign(&h, &claims(), Signer::Rs(&b));
        assert_eq!(check(&v, &t3, NOW), Err(JwtError::BadSignature));

        // Truncated signature.
        let t4 = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..40]);
        assert_eq!(check(&v, &t4, NOW), Err(JwtError::BadSignature));
    }

    #[test]
    fn es256_valid_and_wrong_signature() {
        let a = ec(&EC_A);
        let b = ec(&EC_B);
        let v = verifier(parse_jwks(&jwks(&[ec_jwk(&a, Some("e1"))])).unwrap_or_default());
        let h = json!({"alg": "ES256", "kid": "e1"});
        let t = sign(&h, &claims(), Signer::Es(&a));
        assert_eq!(
            t.rsplit('.').next().map(|s| b64url(s).map(|v| v.len())),
            Some(Some(64))
        );
        assert_eq!(check(&v, &t, NOW), Ok(()));
        let t2 = sign(&h, &claims(), Signer::Es(&b));
        assert_eq!(check(&v, &t2, NOW), Err(JwtError::BadSignature));
        // A DER-encoded (non-JOSE) signature is refused.
        let der = {
            let s: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&a, b"x");
            s.to_der().as_bytes().to_vec()
        };
        let input = t.rsplit_once('.').map(|(i, _)| i).unwrap_or("");
        let t3 = format!("{input}.{}", b64(&der));
        assert_eq!(check(&v, &t3, NOW), Err(JwtError::BadSignature));
    }

    #[test]
    fn hs256_with_secret() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let v = Verifier {
            hs256: HsKey::new(secret),
            ..verifier(Vec::new())
        };
        let h = json!({"alg": "HS256"});
        assert_eq!(
            check(&v, &sign(&h, &claims(), Signer::Hs(secret)), NOW),
            Ok(())
        );
        let wrong = sign(
            &h,
            &claims(),
            Signer::Hs(b"another secret, also 32 bytes.."),
        );
        assert_eq!(check(&v, &wrong, NOW), Err(JwtError::BadSignature));
        // No secret configured: HS256 is not an accepted algorithm.
        let none = verifier(Vec::new());
        assert_eq!(
            check(&none, &sign(&h, &claims(), Signer::Hs(secret)), NOW),
            Err(JwtError::AlgNotAllowed)
        );
        assert!(HsKey::new(b"").is_none());
    }

    #[test]
    fn alg_none_and_confusion_rejected() {
        let a = rsa(RSA_A);
        let jwk = rsa_jwk(&a, None);
        let v = verifier(parse_jwks(&jwks(std::slice::from_ref(&jwk))).unwrap_or_default());
        for alg in ["none", "None", "NONE"] {
            let t = sign(&json!({"alg": alg}), &claims(), Signer::Unsigned);
            assert_eq!(check(&v, &t, NOW), Err(JwtError::AlgNone), "{alg}");
        }
        // HS256 signed with the RSA public key as the secret (classic confusion).
        let n = jwk.get("n").and_then(Value::as_str).unwrap_or("");
        let t = sign(
            &json!({"alg": "HS256"}),
            &claims(),
            Signer::Hs(n.as_bytes()),
        );
        assert_eq!(check(&v, &t, NOW), Err(JwtError::AlgNotAllowed));
        // ES256 token while the JWKS has only an RSA key.
        let t = sign(&json!({"alg": "ES256"}), &claims(), Signer::Es(&ec(&EC_A)));
        assert_eq!(check(&v, &t, NOW), Err(JwtError::AlgNotAllowed));
        // Algorithms meshward does not verify.
        let t = sign(&json!({"alg": "RS512"}), &claims(), Signer::Rs(&a));
        assert_eq!(check(&v, &t, NOW), Err(JwtError::AlgNotAllowed));
        let t = sign(&json!({"alg": "rs256"}), &claims(), Signer::Rs(&a));
        assert_eq!(check(&v, &t, NOW), Err(JwtError::AlgNotAllowed));
        // `crit` is refused.
        let t = sign(
            &json!({"alg": "RS256", "crit": ["b64"], "b64": false}),
            &claims(),
            Signer::Rs(&a),
        );
        assert_eq!(check(&v, &t, NOW), Err(JwtError::Crit));
    }

    #[test]
    fn alg_pinned_per_key() {
        // An RSA key whose JWK says ES256 is refused at parse time; an RSA key is never
        // used for an ES256 token even with a matching kid.
        let a = rsa(RSA_A);
        let mut j = rsa_jwk(&a, Some("k"));
        if let Some(o) = j.as_object_mut() {
            o.insert("alg".into(), "ES256".into());
        }
        let e = parse_jwks(&jwks(&[j])).err().unwrap_or_default();
        assert!(e.contains("does not match the key type"), "{e}");
        let ek = ec(&EC_A);
        let v = verifier(
            parse_jwks(&jwks(&[rsa_jwk(&a, Some("k")), ec_jwk(&ek, Some("k2"))]))
                .unwrap_or_default(),
        );
        let t = sign(
            &json!({"alg": "ES256", "kid": "k"}),
            &claims(),
            Signer::Es(&ek),
        );
        assert_eq!(check(&v, &t, NOW), Err(JwtError::UnknownKid));
        let t = sign(
            &json!({"alg": "ES256", "kid": "k2"}),
            &claims(),
            Signer::Es(&ek),
        );
        assert_eq!(check(&v, &t, NOW), Ok(()));
    }

    #[test]
    fn kid_rules() {
        let a = rsa(RSA_A);
        let with_kid = verifier(parse_jwks(&jwks(&[rsa_jwk(&a, Some("a"))])).unwrap_or_default());
        let t = sign(
            &json!({"alg": "RS256", "kid": "zzz"}),
            &claims(),
            Signer::Rs(&a),
        );
        assert_eq!(check(&with_kid, &t, NOW), Err(JwtError::UnknownKid));
        // A token without kid tries every key of its algorithm.
        let t = sign(&json!({"alg": "RS256"}), &claims(), Signer::Rs(&a));
        assert_eq!(check(&with_kid, &t, NOW), Ok(()));
        // A key without kid is tried for any token (Envoy jwt_authn behaviour).
        let no_kid = verifier(parse_jwks(&jwks(&[rsa_jwk(&a, None)])).unwrap_or_default());
        let t = sign(
            &json!({"alg": "RS256", "kid": "rotated"}),
            &claims(),
            Signer::Rs(&a),
        );
        assert_eq!(check(&no_kid, &t, NOW), Ok(()));
        // The right key among several.
        let b = rsa(RSA_B);
        let two = verifier(
            parse_jwks(&jwks(&[rsa_jwk(&a, Some("a")), rsa_jwk(&b, Some("b"))]))
                .unwrap_or_default(),
        );
        let t = sign(
            &json!({"alg": "RS256", "kid": "b"}),
            &claims(),
            Signer::Rs(&b),
        );
        assert_eq!(check(&two, &t, NOW), Ok(()));
        let t = sign(&json!({"alg": "RS256"}), &claims(), Signer::Rs(&b));
        assert_eq!(check(&two, &t, NOW), Ok(()));
    }

    #[test]
    fn time_claims_and_skew_edges() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let v = Verifier {
            hs256: HsKey::new(secret),
            ..verifier(Vec::new())
        };
        let h = json!({"alg": "HS256"});
        let tok = |c: Value| sign(&h, &c, Signer::Hs(secret));
        let exp = tok(json!({"sub": "u", "exp": NOW_S}));
        // exp == now: still inside the 60 s skew; exactly at exp + skew: expired.
        assert_eq!(check(&v, &exp, NOW), Ok(()));
        assert_eq!(check(&v, &exp, NOW + 59_999), Ok(()));
        assert_eq!(check(&v, &exp, NOW + 60_000), Err(JwtError::Expired));
        let no_skew = Verifier {
            clock_skew_ms: 0,
            ..v.clone()
        };
        assert_eq!(check(&no_skew, &exp, NOW - 1), Ok(()));
        assert_eq!(check(&no_skew, &exp, NOW), Err(JwtError::Expired));
        // nbf in the future: accepted within the skew.
        let nbf = tok(json!({"sub": "u", "exp": NOW_S + 3600, "nbf": NOW_S + 60}));
        assert_eq!(check(&v, &nbf, NOW), Ok(()));
        assert_eq!(check(&v, &nbf, NOW - 1), Err(JwtError::NotYetValid));
        assert_eq!(
            check(&no_skew, &nbf, NOW + 59_999),
            Err(JwtError::NotYetValid)
        );
        assert_eq!(check(&no_skew, &nbf, NOW + 60_000), Ok(()));
        // Fractional and absurd times do not panic.
        let frac = tok(json!({"sub": "u", "exp": NOW_S as f64 + 0.5}));
        assert_eq!(check(&no_skew, &frac, NOW + 499), Ok(()));
        assert_eq!(check(&no_skew, &frac, NOW + 500), Err(JwtError::Expired));
        let huge = tok(json!({"sub": "u", "exp": 1e300}));
        assert_eq!(check(&v, &huge, NOW), Ok(()));
        let neg = tok(json!({"sub": "u", "exp": -1}));
        assert_eq!(check(&v, &neg, NOW), Err(JwtError::Expired));
        let text = tok(json!({"sub": "u", "exp": "tomorrow"}));
        assert_eq!(check(&v, &text, NOW), Err(JwtError::BadClaim));
        // require_exp.
        let none = tok(json!({"sub": "u"}));
        assert_eq!(check(&v, &none, NOW), Err(JwtError::MissingExp));
        let lax = Verifier {
            require_exp: false,
            ..v.clone()
        };
        assert_eq!(check(&lax, &none, NOW), Ok(()));
        // Overflowing numbers in the payload are a decode error, not a panic.
        let raw = format!(
            "{}.{}.{}",
            b64(br#"{"alg":"HS256"}"#),
            b64(br#"{"exp":1e999}"#),
            b64(b"x")
        );
        assert_eq!(decode(&raw).err(), Some(JwtError::Malformed));
    }

    #[test]
    fn issuer_and_audience() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let v = Verifier {
            hs256: HsKey::new(secret),
            issuers: vec!["https://idp".into()],
            audiences: vec!["orders".into(), "billing".into()],
            ..verifier(Vec::new())
        };
        let h = json!({"alg": "HS256"});
        let tok = |c: Value| sign(&h, &c, Signer::Hs(secret));
        let e = NOW_S + 60;
        let ok = [
            json!({"iss": "https://idp", "aud": "orders", "exp": e}),
            json!({"iss": "https://idp", "aud": ["x", "billing"], "exp": e}),
        ];
        for c in ok {
            assert_eq!(check(&v, &tok(c.clone()), NOW), Ok(()), "{c}");
        }
        let bad = [
            (
                json!({"iss": "https://evil", "aud": "orders", "exp": e}),
                JwtError::Issuer,
            ),
            (json!({"aud": "orders", "exp": e}), JwtError::Issuer),
            (
                json!({"iss": 7, "aud": "orders", "exp": e}),
                JwtError::BadClaim,
            ),
            (
                json!({"iss": "https://idp", "aud": "shop", "exp": e}),
                JwtError::Audience,
            ),
            (
                json!({"iss": "https://idp", "aud": ["shop"], "exp": e}),
                JwtError::Audience,
            ),
            (
                json!({"iss": "https://idp", "aud": [], "exp": e}),
                JwtError::Audience,
            ),
            (json!({"iss": "https://idp", "exp": e}), JwtError::Audience),
            (
                json!({"iss": "https://idp", "aud": {"x": 1}, "exp": e}),
                JwtError::BadClaim,
            ),
        ];
        for (c, want) in bad {
            assert_eq!(check(&v, &tok(c.clone()), NOW), Err(want), "{c}");
        }
    }

    #[test]
    fn decode_rejects_garbage() {
        let long = format!("{}.e30.x", "a".repeat(MAX_TOKEN_LEN));
        assert_eq!(decode(&long).err(), Some(JwtError::TooLong));
        for t in [
            "",
            "abc",
            "a.b",
            "a.b.c.d.e",
            "!!!.e30.",
            "e30.e30.",                             // header without alg
            "W10.e30.",                             // header is an array
            "eyJhbGciOiJIUzI1NiJ9.WzFd.",           // payload is an array
            "eyJhbGciOiJIUzI1NiJ9.bnVsbA.",         // payload is null
            "eyJhbGciOiJIUzI1NiJ9.e30=.",           // padding
            "eyJhbGciOiJIUzI1NiJ9.e30.***",         // bad signature base64
            "eyJhbGciOjF9.e30.",                    // alg not a string
            "eyJhbGciOiJIUzI1NiIsImtpZCI6MX0.e30.", // kid not a string
        ] {
            assert_eq!(decode(t).err(), Some(JwtError::Malformed), "{t}");
        }
        let ok = decode("eyJhbGciOiJIUzI1NiJ9.e30.").map(|d| (d.alg, d.claims.len()));
        assert_eq!(ok, Ok(("HS256".to_string(), 0)));
    }

    #[test]
    fn jwks_refusals() {
        let a = rsa(RSA_A);
        let good = rsa_jwk(&a, Some("a"));
        let with = |k: &str, v: Value| {
            let mut j = good.clone();
            if let Some(o) = j.as_object_mut() {
                o.insert(k.into(), v);
            }
            jwks(&[j])
        };
        let cases: Vec<(String, &str)> = vec![
            ("nope".into(), "not valid JSON"),
            ("{}".into(), "needs a `keys` list"),
            (r#"{"keys":[]}"#.into(), "has no keys"),
            (
                r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#.into(),
                "private or secret",
            ),
            (r#"{"keys":[{"kty":"oct"}]}"#.into(), "hs256_secret_env"),
            (
                r#"{"keys":[{"kty":"OKP","crv":"Ed25519"}]}"#.into(),
                "kty must be RSA or EC",
            ),
            (with("alg", "RS512".into()), "not supported"),
            (with("alg", "none".into()), "never accepted"),
            (with("d", "AAAA".into()), "private"),
            (with("n", "AQAB".into()), "at least 2048"),
            (with("n", b64(&[0xc3; 128]).into()), "1024 bits"),
            (with("n", b64(&[0xc3; 1025]).into()), "at most 4096"),
            (with("n", "!!".into()), "needs `n`"),
            (with("e", Value::Null), "`e` must be a string"),
            (with("kid", 5.into()), "`kid` must be a string"),
            (with("use", "enc".into()), "no signature keys"),
            (with("use", "other".into()), "unknown `use`"),
            (
                r#"{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]}"#.into(),
                "P-384",
            ),
            (
                r#"{"keys":[{"kty":"EC","x":"AA","y":"AA"}]}"#.into(),
                "needs `crv`",
            ),
            (
                r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}"#.into(),
                "32 bytes",
            ),
            (
                format!(
                    r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"{0}","y":"{0}"}}]}}"#,
                    b64(&[1; 32])
                ),
                "not a point on P-256",
            ),
            (r#"{"keys":[5]}"#.into(), "must be an object"),
        ];
        for (doc, want) in cases {
            let e = parse_jwks(&doc).err().unwrap_or_default();
            assert!(e.contains(want), "{doc}: {e}");
        }
        let too_many: Vec<Value> = (0..=MAX_JWKS_KEYS).map(|_| good.clone()).collect();
        assert!(parse_jwks(&jwks(&too_many)).is_err());
        // Encryption keys are skipped next to signature keys.
        let mut enc = good.clone();
        if let Some(o) = enc.as_object_mut() {
            o.insert("use".into(), "enc".into());
            o.remove("alg");
        }
        assert_eq!(parse_jwks(&jwks(&[enc, good])).map(|k| k.len()), Ok(1));
    }

    #[test]
    fn interop_with_openssl_signed_tokens() {
        // Signed outside Rust with `openssl dgst -sha256 -sign rsa_a.pem` and
        // `openssl dgst -sha256 -mac HMAC`, for the payload {"sub":"ossl","exp":4102444800}.
        let a = rsa(RSA_A);
        let v = Verifier {
            hs256: HsKey::new(b"openssl-interop-secret-32-bytes!"),
            ..verifier(parse_jwks(&jwks(&[rsa_jwk(&a, None)])).unwrap_or_default())
        };
        assert_eq!(check(&v, OPENSSL_RS256, NOW), Ok(()));
        assert_eq!(check(&v, OPENSSL_HS256, NOW), Ok(()));
    }

    const OPENSSL_RS256: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJvc3NsIiwiZXhwIjo0MTAyNDQ0ODAwfQ.eZu0A6YdZzzcOwV57fsKJiSK93kobD-ygv_MhSxJWRghTUBsHa-cLIP2x4ttJeegDXXhqF-a10xFN1oAtqS0f6cuzdP9CkkMGyhoH9gs3xyCRAX1L1PWTWkjfT-yeC7Qbs86ygP5fBuObE_T9kShP7a4JU-z9wLU-4jMbk1KGOxm0CfFfgkE7uFF05vwa0d3xLBao19vQupSuV7wdJH9f_-YRRyH342F4jxg1hkGSlfj85-u28B2vH8gwtqNsucC_6fu9MQmFVBY1iyzjKAno1unUs-8wXCFFI9Cv90YJwMCRdf0RvG7SBPYtHar8HkCpTBq9bQF49YWxdw3kjbxJA";
    const OPENSSL_HS256: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJvc3NsIiwiZXhwIjo0MTAyNDQ0ODAwfQ.UQ2KioMU2a5PGF_4-ByelHC7DWCS0utoeMOuxUo1iR8";
}
