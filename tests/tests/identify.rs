//! Issue 3 end to end in a real Envoy: templates (heuristic and declared), GraphQL and
//! gRPC operations, identities from every source with the right `trusted` flag (keys
//! generated in the test), the mTLS workload, undeclared endpoints blocked in enforce,
//! and the inventory bound under 100k distinct random paths.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::Mac;
use meshward_e2e::client::{agent, get, post_json, send_on};
use meshward_e2e::envoy::{Envoy, EnvoyOptions};
use meshward_e2e::sink::Sink;
use meshward_e2e::upstream::{Answer, Upstream};
use p256::ecdsa::signature::Signer;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ISSUER: &str = "https://idp.example.com";

fn upstream() -> Upstream {
    Upstream::start(Arc::new(|_req| Answer::json(200, r#"{"ok":true}"#)))
}

fn sink_cfg(mut cfg: Value) -> String {
    cfg["events"] = json!({"cluster": "outbound|4318||collector.local", "format": "ndjson",
                           "flush_interval": "200ms"});
    cfg.to_string()
}

fn start(cfg: Value, up: &Upstream, sink: &Sink) -> Envoy {
    Envoy::start(&EnvoyOptions::new(&sink_cfg(cfg), up.port, sink.port).concurrency(2))
        .unwrap_or_else(|e| panic!("Envoy did not start: {}", e.log))
}

fn records(sink: &Sink, n: usize) -> Vec<Value> {
    let recs = sink.wait_records(Duration::from_secs(10), |r| {
        r.iter().filter(|x| x["kind"] == "call").count() >= n
    });
    std::thread::sleep(Duration::from_millis(300));
    let more = sink.records();
    if more.len() > recs.len() {
        more
    } else {
        recs
    }
}

fn call<'a>(recs: &'a [Value], id: &str) -> &'a Value {
    recs.iter()
        .find(|r| r["kind"] == "call" && r["request_id"] == id)
        .unwrap_or_else(|| panic!("no call record {id}"))
}

#[test]
fn paths_become_templates_and_declared_templates_win() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(
        json!({"apis": {"templates": ["GET /users/{user_id}/orders", "/orders/{order}"]}}),
        &up,
        &sink,
    );
    let cases = [
        ("/users/123", "/users/{int}"),
        ("/users/456", "/users/{int}"),
        (
            "/api/v1/items/6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
            "/api/v1/items/{uuid}",
        ),
        (
            "/blobs/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "/blobs/{hex}",
        ),
        ("/reports/2024-01-31/summary", "/reports/{date}/summary"),
        ("/invoices/INV-000123", "/invoices/{id}"),
        ("/users/42/orders", "/users/{user_id}/orders"),
        ("/orders/A-1", "/orders/{order}"),
        ("/accounts/me/settings", "/accounts/me/settings"),
    ];
    for (i, (path, _)) in cases.iter().enumerate() {
        get(&envoy.url(path), &[("x-request-id", &format!("p-{i}"))]);
    }
    let recs = records(&sink, cases.len());
    for (i, (path, want)) in cases.iter().enumerate() {
        assert_eq!(
            call(&recs, &format!("p-{i}"))["api"]["path"],
            *want,
            "{path}"
        );
    }
    // First sights (records of an endpoint's level carry `level`).
    let endpoints: Vec<&Value> = recs
        .iter()
        .filter(|r| r["kind"] == "endpoint" && r.get("level").is_none())
        .collect();
    let users = endpoints
        .iter()
        .filter(|e| e["api"]["path"] == "/users/{int}")
        .count();
    assert_eq!(
        users, 1,
        "one endpoint record for /users/123 and /users/456"
    );
    let declared = endpoints
        .iter()
        .find(|e| e["api"]["path"] == "/orders/{order}")
        .unwrap();
    assert_eq!(declared["declared"], true);
    assert_eq!(envoy.metric("meshward_endpoints{}"), 8.0);
}

#[test]
fn graphql_and_grpc_operations_are_named() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(json!({}), &up, &sink);
    post_json(
        &envoy.url("/graphql"),
        &[("x-request-id", "g-1")],
        r#"{"query":"query GetUser($id: ID!) { user(id: $id) { name } }","operationName":"GetUser"}"#,
    );
    post_json(
        &envoy.url("/graphql"),
        &[("x-request-id", "g-2")],
        r#"[{"query":"mutation Pay { pay { ok } }"},{"query":"{ me { id } }"}]"#,
    );
    get(
        &envoy.url("/graphql?query=query%20Search%20%7B%20items%20%7B%20id%20%7D%20%7D"),
        &[("x-request-id", "g-3")],
    );
    meshward_e2e::client::send(
        "POST",
        &envoy.url("/shop.v1.Orders/Get"),
        &[
            ("content-type", "application/grpc"),
            ("x-request-id", "r-1"),
        ],
        Some(b"\0\0\0\0\0"),
    );
    let recs = records(&sink, 4);
    assert_eq!(call(&recs, "g-1")["api"]["operation"], "query GetUser");
    assert_eq!(call(&recs, "g-1")["api"]["protocol"], "graphql");
    assert_eq!(
        call(&recs, "g-2")["api"]["operation"],
        "mutation Pay, query"
    );
    assert_eq!(call(&recs, "g-3")["api"]["operation"], "query Search");
    assert_eq!(call(&recs, "r-1")["api"]["protocol"], "grpc");
    assert_eq!(call(&recs, "r-1")["api"]["operation"], "shop.v1.Orders/Get");
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Es256 {
    key: p256::ecdsa::SigningKey,
}

impl Es256 {
    fn generate() -> Self {
        Self {
            key: p256::ecdsa::SigningKey::random(&mut rand_core::OsRng),
        }
    }
    fn jwks(&self) -> String {
        let p = self.key.verifying_key().to_encoded_point(false);
        json!({"keys": [{"kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "k1", "use": "sig",
                         "x": B64.encode(p.x().unwrap()), "y": B64.encode(p.y().unwrap())}]})
        .to_string()
    }
    fn sign(&self, claims: &Value) -> String {
        let head = B64.encode(json!({"alg": "ES256", "kid": "k1", "typ": "JWT"}).to_string());
        let body = B64.encode(claims.to_string());
        let input = format!("{head}.{body}");
        let sig: p256::ecdsa::Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(sig.to_bytes()))
    }
}

fn hs256(secret: &[u8], claims: &Value) -> String {
    let head = B64.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let input = format!("{head}.{}", B64.encode(claims.to_string()));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn identities_from_every_source_with_their_trust() {
    let es = Es256::generate();
    let up = upstream();
    let sink = Sink::start();
    let cfg = json!({
        "mode": "enforce",
        "identity": {"sources": [
            {"jwt": {"claim": "sub", "verify": {"issuers": [ISSUER], "audiences": ["orders"], "jwks": es.jwks()}}},
            {"jwt": {"header": "x-internal-token", "claim": "sub",
                     "verify": {"issuers": ["https://internal"], "hs256_secret_env": "JWT_HMAC", "require_exp": false}}},
            {"api_key": {"header": "x-api-key", "keys": [{"name": "billing-batch", "sha256": sha256_hex("k-billing")}]}},
            {"basic": {}},
            {"header": {"name": "x-user-id"}}
        ]},
        "access": {"rules": [
            {"name": "admins-only", "action": "allow", "when": {"paths": ["/admin/*"], "accounts": ["admin-*"]}},
            {"name": "admin-closed", "action": "deny", "when": {"paths": ["/admin/*"]}}
        ]}
    });
    let envoy = start(cfg, &up, &sink);
    let good = json!({"iss": ISSUER, "aud": "orders", "sub": "u-1001", "exp": now() + 600});
    let expired = json!({"iss": ISSUER, "aud": "orders", "sub": "u-1002", "exp": now() - 600});
    let wrong_aud = json!({"iss": ISSUER, "aud": "billing", "sub": "u-1003", "exp": now() + 600});
    let tampered = {
        let t = es.sign(&good);
        let parts: Vec<&str> = t.split('.').collect();
        let forged = B64.encode(
            json!({"iss": ISSUER, "aud": "orders", "sub": "admin-root", "exp": now() + 600})
                .to_string(),
        );
        format!("{}.{}.{}", parts[0], forged, parts[2])
    };
    let bearer = |t: &str| format!("Bearer {t}");
    let reqs: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("jwt-ok", vec![("authorization", bearer(&es.sign(&good)))]),
        (
            "jwt-expired",
            vec![("authorization", bearer(&es.sign(&expired)))],
        ),
        (
            "jwt-aud",
            vec![("authorization", bearer(&es.sign(&wrong_aud)))],
        ),
        ("jwt-tampered", vec![("authorization", bearer(&tampered))]),
        (
            "hs-ok",
            vec![(
                "x-internal-token",
                hs256(
                    b"local-test-hmac-secret",
                    &json!({"iss": "https://internal", "sub": "svc-batch"}),
                ),
            )],
        ),
        (
            "hs-bad",
            vec![(
                "x-internal-token",
                hs256(
                    b"wrong-secret",
                    &json!({"iss": "https://internal", "sub": "svc-batch"}),
                ),
            )],
        ),
        ("key-ok", vec![("x-api-key", "k-billing".to_string())]),
        ("key-bad", vec![("x-api-key", "k-guess".to_string())]),
        (
            "basic",
            vec![("authorization", "Basic YWxpY2U6c2VjcmV0".to_string())],
        ),
        ("header", vec![("x-user-id", "admin-eve".to_string())]),
    ];
    for (id, headers) in &reqs {
        let mut h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        h.push(("x-request-id", id));
        assert_eq!(get(&envoy.url("/orders/1"), &h).status, 200, "{id}");
    }
    // Forgeable identity never opens a door; a verified one does.
    let admin =
        es.sign(&json!({"iss": ISSUER, "aud": "orders", "sub": "admin-ann", "exp": now() + 600}));
    assert_eq!(
        get(&envoy.url("/admin/x"), &[("x-user-id", "admin-eve")]).status,
        403
    );
    assert_eq!(
        get(
            &envoy.url("/admin/x"),
            &[("authorization", &bearer(&tampered))]
        )
        .status,
        403
    );
    assert_eq!(
        get(
            &envoy.url("/admin/x"),
            &[("authorization", &bearer(&admin))]
        )
        .status,
        200
    );

    let recs = records(&sink, reqs.len() + 3);
    let acct = |id: &str| call(&recs, id)["account"].clone();
    assert_eq!(
        acct("jwt-ok"),
        json!({"id": "u-1001", "via": "jwt", "trusted": true})
    );
    for id in ["jwt-expired", "jwt-aud", "jwt-tampered"] {
        let a = acct(id);
        assert_eq!(a["via"], "jwt", "{id}");
        assert!(a.get("trusted").is_none(), "{id} must not be trusted: {a}");
        assert_eq!(a["authn_failed"], true, "{id}");
    }
    assert_eq!(
        acct("hs-ok"),
        json!({"id": "svc-batch", "via": "jwt", "trusted": true})
    );
    assert_eq!(acct("hs-bad")["authn_failed"], true);
    assert_eq!(
        acct("key-ok"),
        json!({"id": "billing-batch", "via": "api_key", "trusted": true})
    );
    assert!(call(&recs, "key-bad")
        .get("account")
        .is_none_or(|a| a.get("trusted").is_none()));
    assert_eq!(acct("basic"), json!({"id": "alice", "via": "basic"}));
    assert_eq!(acct("header"), json!({"id": "admin-eve", "via": "header"}));
    assert!(envoy.metric(r#"meshward_authn_failures_total{via="jwt"}"#) >= 4.0);
    assert_eq!(
        envoy.metric(r#"meshward_authn_failures_total{via="api_key"}"#),
        1.0
    );
    // No token or key ever reaches a record.
    let text: String = sink
        .posts()
        .iter()
        .map(|p| String::from_utf8_lossy(&p.body).to_string())
        .collect();
    assert!(
        !text.contains("k-billing") && !text.contains("eyJ"),
        "credentials leaked into records"
    );
}

#[test]
fn envoy_jwt_reads_what_jwt_authn_verified_never_a_header() {
    let es = Es256::generate();
    let up = upstream();
    let sink = Sink::start();
    let cfg = sink_cfg(json!({
        "mode": "enforce",
        "identity": {"sources": [{"envoy_jwt": {"issuer": ISSUER, "claim": "sub"}}, {"header": {"name": "x-user-id"}}]},
        "access": {"rules": [{"name": "login", "action": "authenticate", "when": {"paths": ["/private/*"]}}]}
    }));
    let envoy = Envoy::start(
        &EnvoyOptions::new(&cfg, up.port, sink.port)
            .concurrency(2)
            .jwt_authn(ISSUER, &es.jwks()),
    )
    .unwrap_or_else(|e| panic!("{}", e.log));
    let tok = es.sign(&json!({"iss": ISSUER, "sub": "u-77", "aud": "orders", "exp": now() + 600}));
    let r = get(
        &envoy.url("/private/a"),
        &[
            ("authorization", &format!("Bearer {tok}")),
            ("x-request-id", "e-1"),
        ],
    );
    assert_eq!(r.status, 200);
    // A forged payload header and no token: no trusted account.
    let forged = B64.encode(json!({"iss": ISSUER, "sub": "admin"}).to_string());
    let r = get(
        &envoy.url("/private/a"),
        &[
            ("x-jwt-payload", &forged),
            ("x-user-id", "admin"),
            ("x-request-id", "e-2"),
        ],
    );
    assert_eq!(r.status, 401);
    let recs = records(&sink, 2);
    assert_eq!(
        call(&recs, "e-1")["account"],
        json!({"id": "u-77", "via": "envoy_jwt", "trusted": true})
    );
    assert_eq!(
        call(&recs, "e-2")["account"],
        json!({"id": "admin", "via": "header"})
    );
}

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=mesh-ca",
        ]);
        for (name, san) in [
            ("server", "DNS:localhost,IP:127.0.0.1"),
            ("client", "URI:spiffe://cluster.local/ns/web/sa/frontend"),
        ] {
            run(&[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ]);
            std::fs::write(
                d.join(format!("{name}.ext")),
                format!("subjectAltName={san}\n"),
            )
            .unwrap();
            run(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
            ]);
        }
        Pki { dir }
    }
    fn path(&self, f: &str) -> std::path::PathBuf {
        self.dir.path().join(f)
    }
}

fn curl_mtls(pki: &Pki, url: &str, extra: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "--cacert"])
        .arg(pki.path("ca.pem"))
        .arg("--cert")
        .arg(pki.path("client.pem"))
        .arg("--key")
        .arg(pki.path("client.key"))
        .args(extra)
        .arg(url)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn the_mtls_peer_is_the_workload_and_rules_key_on_it() {
    let pki = Pki::new();
    let up = Upstream::start(Arc::new(|_r| {
        Answer::json(200, r#"{"id_card":"11010519491231002X"}"#)
    }));
    let sink = Sink::start();
    let cfg = sink_cfg(json!({
        "mode": "enforce",
        "access": {"default": "deny", "rules": [
            {"name": "frontend-reads", "action": "allow",
             "when": {"principals": ["spiffe://cluster.local/ns/web/sa/*"], "namespaces": ["web"], "methods": ["GET"]}}
        ]}
    }));
    let envoy = Envoy::start(&EnvoyOptions::new(&cfg, up.port, sink.port).mtls(
        &pki.path("server.pem"),
        &pki.path("server.key"),
        &pki.path("ca.pem"),
    ))
    .unwrap_or_else(|e| panic!("{}", e.log));
    let url = format!("https://localhost:{}/users/1", envoy.port);
    let (code, body) = curl_mtls(&pki, &url, &["-H", "x-request-id: m-1"]);
    assert_eq!(code, 200, "{body}");
    let (code, _) = curl_mtls(&pki, &url, &["-X", "DELETE", "-H", "x-request-id: m-2"]);
    assert_eq!(code, 403);
    let recs = records(&sink, 2);
    let m1 = call(&recs, "m-1");
    assert_eq!(
        m1["source"]["principal"],
        "spiffe://cluster.local/ns/web/sa/frontend"
    );
    assert_eq!(call(&recs, "m-2")["decisions"][0]["rule"], "default");
    // Sensitive data over mTLS is no plaintext finding.
    assert!(
        recs.iter().all(|r| r["finding"] != "plaintext_sensitive"),
        "{recs:#?}"
    );
    assert!(recs
        .iter()
        .any(|r| r["finding"] == "unauthenticated_sensitive"));
    let _ = Path::new("");
}

#[test]
fn undeclared_endpoints_are_blocked_in_enforce() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(
        json!({"mode": "enforce", "apis": {"templates": ["GET /users/{id}"], "undeclared": "block"}}),
        &up,
        &sink,
    );
    assert_eq!(get(&envoy.url("/users/1"), &[]).status, 200);
    let r = get(
        &envoy.url("/internal/debug/vars"),
        &[("x-request-id", "u-1")],
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"error": "forbidden", "reason": "undeclared", "rule": "undeclared", "request_id": "u-1"})
    );
    let r = meshward_e2e::client::send("DELETE", &envoy.url("/users/1"), &[], None);
    assert_eq!(
        r.status, 403,
        "method-qualified templates: DELETE is undeclared"
    );
    assert_eq!(up.seen().len(), 1);
}

#[test]
fn the_inventory_stays_bounded_under_100k_random_paths() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(json!({"apis": {"max_endpoints": 500}}), &up, &sink);
    let url = Arc::new(envoy.url(""));
    let run = |from: u64, to: u64| {
        let hs: Vec<_> = (0..4u64)
            .map(|t| {
                let url = url.clone();
                std::thread::spawn(move || {
                    let a = agent();
                    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (from + t);
                    for _ in (from + t..to).step_by(4) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        // Random words: templating keeps them literal, so each is a new endpoint.
                        let w: String = (0..8)
                            .map(|k| (b'a' + ((x >> (k * 5)) % 26) as u8) as char)
                            .collect();
                        send_on(&a, "GET", &format!("{url}/{w}/list"), &[], None).unwrap();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    };
    run(0, 20_000);
    let warm = envoy.rss_kib();
    run(20_000, 100_000);
    let end = envoy.rss_kib();
    assert_eq!(
        envoy.metric("meshward_endpoints{}"),
        500.0,
        "inventory capped"
    );
    let overflow = envoy.metric("meshward_endpoint_overflow_total{}");
    assert!(overflow > 99_000.0 - 500.0, "overflow counted: {overflow}");
    assert!(
        end < warm + 16 * 1024,
        "RSS grew from {warm} kB to {end} kB"
    );
    let prom = envoy.prometheus();
    let series = prom.lines().filter(|l| l.starts_with("meshward_")).count();
    assert!(
        series < 400,
        "labels stay bounded: {series} meshward series"
    );
    println!("inventory: RSS {warm} kB after 20k paths, {end} kB after 100k");
}
