//! Tests of account identification over whole requests: source order, trust, API
//! keys, strip, Basic, headers, cookies, jwt_authn metadata, claims and weak facts.

use super::jwt::test_keys::*;
use super::*;
use crate::config::JwtVerifyPolicy;
use crate::exchange::Header;
use serde_json::json;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const NOW: u64 = 1_700_000_000_000;
const NOW_S: u64 = NOW / 1000;
const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// Headers for a test (leaked: they live as long as the test process).
fn hs(list: &[(&str, &str)]) -> Vec<crate::exchange::Header<'static>> {
    list.iter()
        .map(|(n, v)| {
            let n: &'static [u8] = Box::leak(n.as_bytes().to_vec().into_boxed_slice());
            let v: &'static [u8] = Box::leak(v.as_bytes().to_vec().into_boxed_slice());
            (n, v)
        })
        .collect()
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn env(name: &str) -> Option<String> {
    (name == "JWT_HMAC").then(|| SECRET.to_string())
}

fn claim(s: &str) -> ClaimPath {
    ClaimPath::parse(s).unwrap()
}

fn bearer() -> Location {
    Location::Header("authorization".into())
}

fn verify_hs() -> JwtVerifyPolicy {
    JwtVerifyPolicy {
        issuers: vec!["https://idp".into()],
        audiences: vec!["orders".into()],
        jwks: None,
        hs256_secret_env: Some("JWT_HMAC".into()),
        require_exp: true,
        clock_skew_ms: 60_000,
    }
}

fn jwt_source(verify: Option<JwtVerifyPolicy>) -> SourcePolicy {
    SourcePolicy::Jwt {
        at: bearer(),
        claim: claim("sub"),
        verify,
    }
}

fn sha(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn api_key_source(at: Location, strip: bool) -> SourcePolicy {
    SourcePolicy::ApiKey {
        at,
        strip,
        keys: vec![
            ("billing-batch".into(), sha("k-billing")),
            ("reports".into(), sha("k-reports")),
        ],
    }
}

fn identifier(sources: Vec<SourcePolicy>) -> Identifier {
    let policy = IdentityPolicy {
        trust_forwarded_ip: false,
        sources,
    };
    let (id, warnings) = Identifier::new(&policy, &env);
    assert!(warnings.is_empty(), "{warnings:?}");
    id
}

fn run(id: &Identifier, headers: &HeaderList<'_>, query: Option<&str>) -> Identity {
    id.identify(
        &IdentityInput {
            headers,
            query,
            jwt_authn: None,
        },
        NOW,
    )
}

fn hs_token(claims: Value) -> String {
    sign(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &claims,
        Signer::Hs(SECRET.as_bytes()),
    )
}

fn good_claims(sub: &str) -> Value {
    json!({"sub": sub, "iss": "https://idp", "aud": "orders", "exp": NOW_S + 600,
           "iat": NOW_S, "role": ["admin", "ops"], "realm": {"level": 3}})
}

fn auth(token: &str) -> Vec<crate::exchange::Header<'static>> {
    hs(&[("authorization", &format!("Bearer {token}"))])
}

fn acc(i: &Identity) -> Option<(&str, &'static str, bool, bool)> {
    i.account
        .as_ref()
        .map(|a| (a.id.as_str(), a.via, a.trusted, a.authn_failed))
}

#[test]
fn verified_jwt_is_trusted_with_claims() {
    let id = identifier(vec![jwt_source(Some(verify_hs()))]);
    let out = run(&id, &auth(&hs_token(good_claims("u-1"))), None);
    assert_eq!(acc(&out), Some(("u-1", "jwt", true, false)));
    assert!(out.failures.is_empty());
    let claims = out.account.and_then(|a| a.claims).unwrap();
    assert_eq!(claim_values(&claims, &claim("role")), vec!["admin", "ops"]);
    assert!(out.weak.hs256);
    assert_eq!(out.weak.hs256_issuer.as_deref(), Some("https://idp"));
}

#[test]
fn rs256_and_es256_through_identifier() {
    let a = rsa(RSA_A);
    let e = ec(&EC_A);
    let doc = jwks(&[rsa_jwk(&a, Some("r")), ec_jwk(&e, Some("e"))]);
    let v = JwtVerifyPolicy {
        jwks: Some(doc.clone()),
        hs256_secret_env: None,
        ..verify_hs()
    };
    assert_eq!(jwks_check(&doc), Ok(()));
    let id = identifier(vec![jwt_source(Some(v))]);
    let rs = sign(
        &json!({"alg": "RS256", "kid": "r"}),
        &good_claims("r-user"),
        Signer::Rs(&a),
    );
    let es = sign(
        &json!({"alg": "ES256", "kid": "e"}),
        &good_claims("e-user"),
        Signer::Es(&e),
    );
    assert_eq!(
        acc(&run(&id, &auth(&rs), None)),
        Some(("r-user", "jwt", true, false))
    );
    assert_eq!(
        acc(&run(&id, &auth(&es), None)),
        Some(("e-user", "jwt", true, false))
    );
    // HS256 is not allowed for this source (no secret configured).
    let out = run(&id, &auth(&hs_token(good_claims("h"))), None);
    assert_eq!(acc(&out), Some(("h", "jwt", false, true)));
    assert_eq!(out.failure_reasons, vec!["alg_not_allowed"]);
}

#[test]
fn failed_verification_is_untrusted_and_counted() {
    let id = identifier(vec![jwt_source(Some(verify_hs()))]);
    let cases = [
        (
            json!({"sub": "x", "iss": "https://idp", "aud": "orders", "exp": NOW_S - 3600}),
            "expired",
        ),
        (
            json!({"sub": "x", "iss": "https://idp", "aud": "orders", "exp": NOW_S + 9999,
                "nbf": NOW_S + 3600}),
            "not_yet_valid",
        ),
        (
            json!({"sub": "x", "iss": "https://idp", "aud": "shop", "exp": NOW_S + 60}),
            "audience",
        ),
        (
            json!({"sub": "x", "iss": "https://evil", "aud": "orders", "exp": NOW_S + 60}),
            "issuer",
        ),
        (
            json!({"sub": "x", "iss": "https://idp", "aud": "orders"}),
            "missing_exp",
        ),
    ];
    for (c, why) in cases {
        let out = run(&id, &auth(&hs_token(c.clone())), None);
        assert_eq!(acc(&out), Some(("x", "jwt", false, true)), "{c}");
        assert_eq!(out.failures, vec!["jwt"], "{c}");
        assert_eq!(out.failure_reasons, vec![why], "{c}");
        assert!(out.trusted().is_none());
        assert!(out.authn_failed());
        assert!(!out.weak.any(), "rejected tokens raise no weak facts: {c}");
    }
    // alg none with a verifying source.
    let none = sign(
        &json!({"alg": "none"}),
        &good_claims("root"),
        Signer::Unsigned,
    );
    let out = run(&id, &auth(&none), None);
    assert_eq!(acc(&out), Some(("root", "jwt", false, true)));
    assert_eq!(out.failure_reasons, vec!["alg_none"]);
    assert!(!out.weak.alg_none);
    // Garbage and oversized tokens: a failure, no account.
    for t in ["not-a-jwt", "a.b.c", &"x".repeat(MAX_TOKEN_LEN + 1)] {
        let out = run(&id, &auth(t), None);
        assert_eq!(out.account, None);
        assert_eq!(out.failures, vec!["jwt"]);
    }
    let out = run(&id, &hs(&[("authorization", "Bearer \u{00e9}")]), None);
    assert_eq!(out.failures, vec!["jwt"]);
    // Two different bearer tokens: ambiguous, a failure.
    let two = hs(&[
        (
            "authorization",
            &format!("Bearer {}", hs_token(good_claims("a"))),
        ),
        (
            "authorization",
            &format!("Bearer {}", hs_token(good_claims("b"))),
        ),
    ]);
    let out = run(&id, &two, None);
    assert_eq!(
        (out.account, out.failure_reasons),
        (None, vec!["ambiguous"])
    );
}

#[test]
fn missing_secret_fails_closed_with_a_message() {
    let policy = IdentityPolicy {
        trust_forwarded_ip: false,
        sources: vec![jwt_source(Some(verify_hs()))],
    };
    let (id, warnings) = Identifier::new(&policy, &no_env);
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("JWT_HMAC is not set"),
        "{}",
        warnings[0]
    );
    let out = run(&id, &auth(&hs_token(good_claims("u-1"))), None);
    assert_eq!(acc(&out), Some(("u-1", "jwt", false, true)));
    // A short secret works but is warned about.
    let short = |_: &str| Some("short".to_string());
    let (_, warnings) = Identifier::new(&policy, &short);
    assert!(
        warnings[0].contains("shorter than 32 bytes"),
        "{warnings:?}"
    );
    // An unusable JWKS (refused by config checks, but never trusted if it gets here).
    let bad = IdentityPolicy {
        trust_forwarded_ip: false,
        sources: vec![jwt_source(Some(JwtVerifyPolicy {
            jwks: Some("{}".into()),
            hs256_secret_env: None,
            ..verify_hs()
        }))],
    };
    let (id, warnings) = Identifier::new(&bad, &no_env);
    assert!(warnings[0].contains("jwks"), "{warnings:?}");
    let a = rsa(RSA_A);
    let rs = sign(&json!({"alg": "RS256"}), &good_claims("r"), Signer::Rs(&a));
    assert_eq!(run(&id, &auth(&rs), None).failures, vec!["jwt"]);
}

#[test]
fn unverified_jwt_is_decoded_untrusted() {
    let id = identifier(vec![jwt_source(None)]);
    let forged = sign(
        &json!({"alg": "HS256"}),
        &good_claims("u-9"),
        Signer::Hs(b"whatever"),
    );
    let out = run(&id, &auth(&forged), None);
    assert_eq!(acc(&out), Some(("u-9", "jwt", false, false)));
    assert!(out.failures.is_empty());
    assert_eq!(out.account.and_then(|a| a.claims), None);
    // A token without the claim yields nothing; garbage is a failure.
    let out = run(&id, &auth(&hs_token(json!({"exp": 1}))), None);
    assert_eq!((out.account, out.failures.len()), (None, 0));
    assert_eq!(run(&id, &auth("garbage"), None).failures, vec!["jwt"]);
}

#[test]
fn trusted_first_rule_and_source_order() {
    let id = identifier(vec![
        SourcePolicy::Header {
            name: "x-user-id".into(),
        },
        SourcePolicy::Basic,
        jwt_source(Some(verify_hs())),
        api_key_source(Location::Header("x-api-key".into()), false),
    ]);
    // Header first in order but untrusted: the verified JWT wins.
    let tok = hs_token(good_claims("u-jwt"));
    let mut h = auth(&tok);
    h.extend(hs(&[
        ("x-user-id", "forged-admin"),
        ("x-api-key", "k-reports"),
    ]));
    let out = run(&id, &h, None);
    assert_eq!(acc(&out), Some(("u-jwt", "jwt", true, false)));
    // Without the JWT, the API key (later) wins over the header (earlier).
    let h = hs(&[("x-user-id", "forged-admin"), ("x-api-key", "k-reports")]);
    assert_eq!(
        acc(&run(&id, &h, None)),
        Some(("reports", "api_key", true, false))
    );
    // Nothing trusted: the first untrusted account in source order is recorded.
    let h = hs(&[
        ("x-user-id", "hdr-user"),
        ("authorization", "Basic YWxpY2U6cHc="),
    ]);
    assert_eq!(
        acc(&run(&id, &h, None)),
        Some(("hdr-user", "header", false, false))
    );
    let h = hs(&[("authorization", "Basic YWxpY2U6cHc=")]);
    let out = run(&id, &h, None);
    assert_eq!(acc(&out), Some(("alice", "basic", false, false)));
    assert!(out.weak.basic);
    // A failed JWT, then a matching key: the key wins, the failure is still counted.
    let bad = hs_token(json!({"sub": "x", "exp": NOW_S - 9999}));
    let mut h = auth(&bad);
    h.extend(hs(&[("x-api-key", "k-billing")]));
    let out = run(&id, &h, None);
    assert_eq!(acc(&out), Some(("billing-batch", "api_key", true, false)));
    assert_eq!(out.failures, vec!["jwt"]);
    // A failed JWT and a plain header: the header came first in order.
    let mut h = auth(&bad);
    h.extend(hs(&[("x-user-id", "hdr")]));
    assert_eq!(
        acc(&run(&id, &h, None)),
        Some(("hdr", "header", false, false))
    );
    // Nothing at all.
    assert_eq!(run(&id, &[], None), Identity::default());
}

#[test]
fn sources_after_the_winner_are_not_evaluated() {
    let id = identifier(vec![
        api_key_source(Location::Header("x-api-key".into()), true),
        jwt_source(Some(verify_hs())),
    ]);
    let mut h = hs(&[("x-api-key", "k-billing")]);
    h.extend(auth("garbage"));
    let out = run(&id, &h, None);
    assert_eq!(acc(&out), Some(("billing-batch", "api_key", true, false)));
    assert!(out.failures.is_empty());
    assert_eq!(out.strip, vec![Strip::Header("x-api-key".into())]);
}

#[test]
fn api_keys_right_wrong_absent_and_strip() {
    let id = identifier(vec![api_key_source(
        Location::Header("x-api-key".into()),
        true,
    )]);
    let out = run(&id, &hs(&[("x-api-key", " k-billing ")]), None);
    assert_eq!(acc(&out), Some(("billing-batch", "api_key", true, false)));
    assert_eq!(out.strip, vec![Strip::Header("x-api-key".into())]);
    // Wrong key: a failure, no account, still stripped.
    let out = run(&id, &hs(&[("x-api-key", "k-billinG")]), None);
    assert_eq!(out.account, None);
    assert_eq!(out.failures, vec!["api_key"]);
    assert_eq!(out.strip, vec![Strip::Header("x-api-key".into())]);
    // Absent: nothing.
    assert_eq!(
        run(&id, &hs(&[("x-other", "k-billing")]), None),
        Identity::default()
    );
    // Two different keys: ambiguous; oversized key: failure.
    let two = hs(&[("x-api-key", "k-billing"), ("x-api-key", "k-nope")]);
    assert_eq!(run(&id, &two, None).failure_reasons, vec!["ambiguous"]);
    let big = "k".repeat(MAX_CREDENTIAL_LEN + 1);
    assert_eq!(
        run(&id, &hs(&[("x-api-key", &big)]), None).failure_reasons,
        vec!["too_long"]
    );
    // Without strip nothing is removed.
    let keep = identifier(vec![api_key_source(
        Location::Header("x-api-key".into()),
        false,
    )]);
    assert!(run(&keep, &hs(&[("x-api-key", "k-billing")]), None)
        .strip
        .is_empty());
}

#[test]
fn api_key_in_query_is_stripped_from_the_path() {
    let id = identifier(vec![api_key_source(
        Location::Query("api_key".into()),
        true,
    )]);
    let out = run(&id, &[], Some("x=1&api_key=k-reports"));
    assert_eq!(acc(&out), Some(("reports", "api_key", true, false)));
    assert_eq!(out.strip, vec![Strip::QueryParam("api_key".into())]);
    assert_eq!(
        remove_query_param("/r?x=1&api_key=k-reports", "api_key").as_deref(),
        Some("/r?x=1")
    );
    let out = run(&id, &[], Some("api_key=wrong"));
    assert_eq!((out.account, out.failures), (None, vec!["api_key"]));
    assert!(run(&id, &[], Some("x=1")).strip.is_empty());
}

#[test]
fn constant_time_match_selects_the_right_key() {
    let keys: Vec<(String, [u8; 32])> = (0..5)
        .map(|i| (format!("key-{i}"), sha(&format!("secret-{i}"))))
        .collect();
    for i in 0..5 {
        assert_eq!(
            match_api_key(&keys, format!("secret-{i}").as_bytes()),
            Some(format!("key-{i}").as_str())
        );
    }
    assert_eq!(match_api_key(&keys, b"secret-5"), None);
    assert_eq!(match_api_key(&[], b"secret-0"), None);
    // A configured hash equal to the presented *hash* is no match for the hash itself.
    let h = sha("secret-0");
    assert_eq!(match_api_key(&keys, &h), None);
    // Duplicate hashes: the first configured name wins.
    let dup = vec![("first".to_string(), h), ("second".to_string(), h)];
    assert_eq!(match_api_key(&dup, b"secret-0"), Some("first"));
}

#[test]
fn header_source() {
    let id = identifier(vec![SourcePolicy::Header {
        name: "x-user-id".into(),
    }]);
    assert_eq!(
        acc(&run(&id, &hs(&[("x-user-id", " u-7 ")]), None)),
        Some(("u-7", "header", false, false))
    );
    assert_eq!(run(&id, &hs(&[("x-user-id", "")]), None).account, None);
    let bin: [Header<'_>; 1] = [(b"x-user-id", &[0xff, 0xfe])];
    assert_eq!(run(&id, &bin, None).account, None);
    let long = "é".repeat(1000);
    let out = run(&id, &hs(&[("x-user-id", &long)]), None);
    assert_eq!(
        out.account.map(|a| a.id.chars().count()),
        Some(MAX_ID_CHARS)
    );
}

#[test]
fn cookie_location() {
    let id = identifier(vec![SourcePolicy::Jwt {
        at: Location::Cookie("session".into()),
        claim: claim("sub"),
        verify: Some(verify_hs()),
    }]);
    let tok = hs_token(good_claims("c-user"));
    let h = hs(&[("cookie", &format!("theme=dark; session={tok}; x=1"))]);
    assert_eq!(
        acc(&run(&id, &h, None)),
        Some(("c-user", "jwt", true, false))
    );
    // A bearer header is not read by a cookie source.
    assert_eq!(run(&id, &auth(&tok), None).account, None);
}

#[test]
fn envoy_jwt_from_metadata_only() {
    let id = identifier(vec![
        SourcePolicy::EnvoyJwt {
            issuer: "https://idp".into(),
            claim: claim("/https:~1~1idp~1uid"),
        },
        SourcePolicy::Header {
            name: "x-user-id".into(),
        },
    ]);
    let meta = json!({"https://idp": {"https://idp/uid": "m-1", "exp": NOW_S + 60,
                                       "iat": NOW_S - 90_000, "groups": ["a"]}});
    let meta = meta.as_object().unwrap();
    let h = hs(&[
        ("x-jwt-payload", "eyJzdWIiOiJmb3JnZWQifQ"),
        ("x-user-id", "hdr"),
    ]);
    let out = id.identify(
        &IdentityInput {
            headers: &h,
            query: None,
            jwt_authn: Some(meta),
        },
        NOW,
    );
    assert_eq!(acc(&out), Some(("m-1", "envoy_jwt", true, false)));
    let claims = out.account.as_ref().and_then(|a| a.claims.clone()).unwrap();
    assert_eq!(claim_values(&claims, &claim("groups")), vec!["a"]);
    assert!(out.weak.long_lived);
    // Without metadata (a forged payload header does not count) the header is used.
    let out = run(&id, &h, None);
    assert_eq!(acc(&out), Some(("hdr", "header", false, false)));
    // Another issuer's payload, or a non-object, is not read.
    for m in [
        json!({"https://other": {"https://idp/uid": "m-1"}}),
        json!({"https://idp": "x"}),
    ] {
        let out = id.identify(
            &IdentityInput {
                headers: &[],
                query: None,
                jwt_authn: m.as_object(),
            },
            NOW,
        );
        assert_eq!(out.account, None, "{m}");
    }
}

#[test]
fn claim_values_paths() {
    let c = json!({
        "sub": "u", "n": 42, "f": 1.5, "d": 1001.0, "big": 1e300, "b": true, "nul": null,
        "realm_access": {"roles": ["admin", 7, false, {"x": 1}, ["nested"]]},
        "https://x.io/uid": "p-1",
        "a.b": "dotted-key",
        "list": [{"id": "first"}],
    });
    let c = c.as_object().unwrap();
    let v = |p: &str| claim_values(c, &claim(p));
    assert_eq!(v("sub"), vec!["u"]);
    assert_eq!(v("n"), vec!["42"]);
    assert_eq!(v("f"), vec!["1.5"]);
    assert_eq!(
        v("d"),
        vec!["1001"],
        "integral doubles (jwt_authn metadata) read as integers"
    );
    assert_eq!(v("big"), vec!["1e+300"]);
    assert_eq!(v("b"), vec!["true"]);
    assert!(v("nul").is_empty());
    assert_eq!(v("realm_access.roles"), vec!["admin", "7", "false"]);
    assert!(v("realm_access").is_empty());
    assert_eq!(v("/https:~1~1x.io~1uid"), vec!["p-1"]);
    assert_eq!(v("/a.b"), vec!["dotted-key"]);
    assert!(v("a.b").is_empty(), "a dotted path walks objects");
    assert_eq!(v("/list/0/id"), vec!["first"]);
    assert!(v("/list/9/id").is_empty());
    assert!(v("missing.deep.path").is_empty());
    assert!(v("sub.deeper").is_empty());
    let many = json!({"r": (0..500).collect::<Vec<u32>>()});
    assert_eq!(
        claim_values(many.as_object().unwrap(), &claim("r")).len(),
        MAX_CLAIM_VALUES
    );
    // Account ids: strings and numbers only.
    assert_eq!(claim_id(c, &claim("n")).as_deref(), Some("42"));
    assert_eq!(claim_id(c, &claim("d")).as_deref(), Some("1001"));
    assert_eq!(claim_id(c, &claim("b")), None);
    assert_eq!(claim_id(c, &claim("realm_access")), None);
}

#[test]
fn weak_auth_facts() {
    let id = identifier(vec![jwt_source(None)]);
    let none = sign(
        &json!({"alg": "none"}),
        &json!({"sub": "u"}),
        Signer::Unsigned,
    );
    let w = run(&id, &auth(&none), None).weak;
    assert!(w.alg_none && w.no_exp && !w.long_lived && !w.hs256 && !w.basic);
    let long = hs_token(json!({"sub": "u", "iat": NOW_S, "exp": NOW_S + 86_401}));
    let w = run(&id, &auth(&long), None).weak;
    assert!(w.long_lived && w.hs256 && !w.no_exp && !w.alg_none);
    let day = hs_token(json!({"sub": "u", "iat": NOW_S, "exp": NOW_S + 86_400}));
    assert!(!run(&id, &auth(&day), None).weak.long_lived);
    // Basic is a fact whatever the sources.
    let nobody = identifier(vec![]);
    let out = run(&nobody, &hs(&[("authorization", "basic dTpw")]), None);
    assert!(out.weak.basic && out.account.is_none());
    // A verified, well-formed RS256 token is no weak fact.
    let a = rsa(RSA_A);
    let v = JwtVerifyPolicy {
        jwks: Some(jwks(&[rsa_jwk(&a, None)])),
        hs256_secret_env: None,
        ..verify_hs()
    };
    let id = identifier(vec![jwt_source(Some(v))]);
    let rs = sign(&json!({"alg": "RS256"}), &good_claims("r"), Signer::Rs(&a));
    let out = run(&id, &auth(&rs), None);
    assert!(out.trusted().is_some() && !out.weak.any());
}

#[test]
fn from_compiled_configuration() {
    let a = rsa(RSA_A);
    let key = "k-from-config";
    let hex: String = sha(key).iter().map(|b| format!("{b:02x}")).collect();
    let loaded = crate::config::load_value(json!({
        "identity": {"sources": [
            {"jwt": {"claim": "sub", "verify": {
                "issuers": ["https://idp"], "audiences": ["orders"],
                "jwks": jwks(&[rsa_jwk(&a, Some("r"))]), "clock_skew": "30s"}}},
            {"api_key": {"query": "api_key", "strip": true,
                         "keys": [{"name": "cfg-key", "sha256": hex}]}},
        ]}
    }))
    .unwrap();
    let (id, warnings) = Identifier::new(&loaded.policy.identity, &no_env);
    assert!(warnings.is_empty(), "{warnings:?}");
    let rs = sign(
        &json!({"alg": "RS256", "kid": "r"}),
        &good_claims("u-cfg"),
        Signer::Rs(&a),
    );
    let out = run(&id, &auth(&rs), Some("api_key=k-from-config"));
    assert_eq!(acc(&out), Some(("u-cfg", "jwt", true, false)));
    assert_eq!(out.strip, vec![Strip::QueryParam("api_key".into())]);
    let out = run(&id, &[], Some("api_key=k-from-config"));
    assert_eq!(acc(&out), Some(("cfg-key", "api_key", true, false)));
    // An unusable JWKS is refused by the configuration itself.
    let err = crate::config::load_value(json!({"identity": {"sources": [
        {"jwt": {"verify": {"jwks": r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#}}}
    ]}}))
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("at least 2048"), "{err}");
}

#[test]
fn no_panics_on_garbage_requests() {
    let id = identifier(vec![
        jwt_source(Some(verify_hs())),
        jwt_source(None),
        SourcePolicy::Jwt {
            at: Location::Cookie("s".into()),
            claim: claim("/"),
            verify: None,
        },
        api_key_source(Location::Query("k".into()), true),
        SourcePolicy::Basic,
        SourcePolicy::Header { name: "x-u".into() },
    ]);
    let junk: Vec<Vec<u8>> = vec![
        b"Bearer ...".to_vec(),
        b"Bearer e30.e30.e30".to_vec(),
        b"Bearer eyJhbGciOiJub25lIn0.WzEsMiwzXQ.".to_vec(),
        b"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOjFlOTk5OTl9.".to_vec(),
        b"Basic ====".to_vec(),
        b"Basic Og==".to_vec(),
        vec![0xff; 20_000],
        b"bearer".to_vec(),
    ];
    for v in &junk {
        let h: [Header<'_>; 3] = [(b"authorization", v), (b"cookie", v), (b"x-u", v)];
        let _ = run(&id, &h, Some("k=%zz&k&&=&k=%FF"));
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn identify_never_panics(
            auth in proptest::collection::vec(any::<u8>(), 0..300),
            token in "[A-Za-z0-9_.=-]{0,200}",
            query in "[a-z_=&%0-9A-F+]{0,80}",
        ) {
            let id = identifier(vec![
                jwt_source(Some(verify_hs())),
                jwt_source(None),
                api_key_source(Location::Query("api_key".into()), true),
                SourcePolicy::Basic,
                SourcePolicy::Header { name: "x-u".into() },
            ]);
            let bearer = format!("Bearer {token}");
            let h: [Header<'_>; 4] = [
                (b"authorization", &auth),
                (b"authorization", bearer.as_bytes()),
                (b"cookie", &auth),
                (b"x-u", token.as_bytes()),
            ];
            let out = run(&id, &h, Some(&query));
            prop_assert!(out.trusted().is_none());
            prop_assert_eq!(out.failures.len(), out.failure_reasons.len());
        }

        #[test]
        fn decode_and_spiffe_never_panic(s in "\\PC{0,300}") {
            let _ = jwt::decode(&s);
            let _ = parse_spiffe(&s);
            let _ = jwks_check(&s);
        }
    }
}

#[test]
fn a_token_seen_again_is_judged_again_at_the_new_time() {
    // The second presentation comes from the VM's token cache: the signature verdict
    // is remembered, the time claims are checked at each request's own time.
    let id = identifier(vec![jwt_source(Some(verify_hs()))]);
    let token = hs_token(good_claims("u-7"));
    let at = |now_ms: u64| {
        id.identify(
            &IdentityInput {
                headers: &auth(&token),
                query: None,
                jwt_authn: None,
            },
            now_ms,
        )
    };
    for _ in 0..2 {
        let out = at(NOW);
        assert_eq!(acc(&out), Some(("u-7", "jwt", true, false)));
        assert!(out.account.and_then(|a| a.claims).is_some());
    }
    let later = at(NOW + 3600 * 1000);
    assert_eq!(acc(&later), Some(("u-7", "jwt", false, true)));
    assert_eq!(later.failure_reasons, vec!["expired"]);
    assert_eq!(acc(&at(NOW)), Some(("u-7", "jwt", true, false)));
    // A forged signature stays rejected when presented again.
    let mut forged = token.clone().into_bytes();
    let k = forged.len() - 10;
    forged[k] = if forged[k] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for _ in 0..2 {
        let out = run(&id, &auth(&forged), None);
        assert_eq!(acc(&out), Some(("u-7", "jwt", false, true)));
        assert_eq!(out.failure_reasons, vec!["bad_signature"]);
    }
    // The same token under an unverified source is its own entry: untrusted.
    let both = identifier(vec![jwt_source(None), jwt_source(Some(verify_hs()))]);
    for _ in 0..2 {
        let out = both.identify(
            &IdentityInput {
                headers: &auth(&token),
                query: None,
                jwt_authn: None,
            },
            NOW,
        );
        assert_eq!(acc(&out), Some(("u-7", "jwt", true, false)));
    }
}
