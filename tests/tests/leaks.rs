//! Issue 8: sensitive values never reach events, stats or logs. A representative
//! traffic mix (PII in the query, the path, request and response bodies of every
//! inspected content type, configured headers and cookies; bearer tokens, API keys,
//! Basic credentials, passwords, cloud keys, private keys; a blocked injection
//! carrying PII; a verbose 5xx page) goes through Envoy with events in both formats,
//! `events.values: hash` and `account_ids: hash`, meshward logging at debug. Every
//! emitted record (raw POST bodies and parsed records), the Prometheus text and every
//! Envoy log line are scanned for each injected value and its obvious variants.
//!
//! `value_hashes` carry keyed hashes: the same value under two `MESHWARD_HASH_KEY`s
//! gives two different hashes, neither of which is the unkeyed SHA-256 (the unit test
//! `sensitive::mask::tests::hashes_are_keyed_and_canonical` checks the function).

use base64::Engine as _;
use meshward_e2e::client::{get, post_json, send};
use meshward_e2e::envoy::{Envoy, EnvoyOptions};
use meshward_e2e::paths;
use meshward_e2e::sink::Sink;
use meshward_e2e::upstream::{Answer, Upstream};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

const API_KEY: &str = "mk_live_7Hq2ZpX9aVn4Rt8Lw3YcQ";
const BASIC_PASSWORD: &str = "Basic-Pa55word";
const PASSWORD: &str = "S3cret-Passw0rd!";
const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const PRIVATE_KEY_LINE: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
const SECOND_KEY: &str = "second-hash-key";

/// Every injected value with its variants (separators removed, other spellings).
fn secrets() -> Vec<String> {
    let mut v: Vec<String> = [
        "13812345678",
        "13912345678",
        "139-1234-5678",
        "13712345678",
        "13612345678",
        "11010519491231002X",
        "11010519491231002x",
        "6222021234567890128",
        "6222 0212 3456 7890 128",
        "4111111111111111",
        "zhang.wei@example.com",
        "li.si@example.org",
        "536-22-4913",
        "536224913",
        "DE89370400440532013000",
        "DE89 3704 0044 0532 0130 00",
        "张伟",
        "建国路88号",
        "E12345678",
        API_KEY,
        BASIC_PASSWORD,
        PASSWORD,
        AWS_KEY,
        PRIVATE_KEY_LINE,
        "hunter2-in-form",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(base64::engine::general_purpose::STANDARD.encode(format!("alice:{BASIC_PASSWORD}")));
    let (token, sig) = jwt();
    v.push(token);
    v.push(sig);
    v
}

fn b64url(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// An unverified bearer token (decoded for attribution only) and its signature part.
fn jwt() -> (String, String) {
    let sig = "c2lnbmF0dXJlLXRoYXQtbXVzdC1uZXZlci1sZWFr".to_string();
    let token = format!(
        "{}.{}.{sig}",
        b64url(r#"{"alg":"HS256","typ":"JWT"}"#),
        b64url(
            r#"{"sub":"zhang.wei@example.com","phone":"13812345678","iss":"https://idp.example.com"}"#
        )
    );
    (token, sig)
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn upstream() -> Upstream {
    Upstream::start(Arc::new(|req| {
        let path = req.url.split('?').next().unwrap_or("");
        match path {
            "/users/1001" => Answer::json(
                200,
                r#"{"id":"1001","name":"张伟","mobile":"13812345678","id_card":"11010519491231002X","email":"zhang.wei@example.com","card_no":"6222021234567890128","address":"北京市朝阳区建国路88号","passport":"E12345678"}"#,
            ),
            "/notes.txt" => Answer::text(
                200,
                "call 13812345678 or mail zhang.wei@example.com; card 6222021234567890128",
            ),
            "/boom" => Answer::text(
                500,
                "java.lang.IllegalStateException: user 13812345678 zhang.wei@example.com\n\tat com.shop.Users.get(Users.java:42)\n\tat com.shop.Api.handle(Api.java:7)",
            ),
            "/graphql" => Answer::json(
                200,
                r#"{"data":{"user":{"name":"张伟","mobile":"13812345678"}}}"#,
            ),
            _ => Answer::json(200, r#"{"ok":true}"#),
        }
    }))
}

fn config(format: &str) -> serde_json::Value {
    json!({
        "mode": "enforce",
        "identity": {"sources": [
            {"api_key": {"header": "x-api-key", "keys": [{"name": "batch", "sha256": sha256_hex(API_KEY)}]}},
            {"jwt": {"header": "authorization", "claim": "sub"}},
            {"basic": {}}
        ]},
        "sensitive": {"headers": ["x-customer-phone"]},
        "masking": [{"name": "mask-pii", "types": ["cn_resident_id", "cn_mobile", "bank_card", "email"],
                     "style": "partial"}],
        "events": {"cluster": "outbound|4318||collector.local", "format": format,
                   "flush_interval": "200ms", "values": "hash", "account_ids": "hash"}
    })
}

/// `envoy/meshward.yaml` with another `MESHWARD_HASH_KEY`, in a temporary file that is
/// removed when dropped.
fn template_with_hash_key(key: &str) -> tempfile::TempPath {
    let base = std::fs::read_to_string(paths::root().join("envoy/meshward.yaml")).unwrap();
    let patched = base.replace(
        r#"MESHWARD_HASH_KEY: "local-test-hash-key""#,
        &format!(r#"MESHWARD_HASH_KEY: "{key}""#),
    );
    assert_ne!(base, patched);
    let mut f = tempfile::Builder::new()
        .prefix("meshward-second-key-")
        .suffix(".yaml")
        .tempfile()
        .unwrap();
    std::io::Write::write_all(&mut f, patched.as_bytes()).unwrap();
    f.into_temp_path()
}

/// The traffic mix; returns the request ids that must be recorded.
fn traffic(envoy: &Envoy) -> Vec<&'static str> {
    let (token, _) = jwt();
    let bearer = format!("Bearer {token}");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{BASIC_PASSWORD}"))
    );
    // Query, configured header, cookie, bearer token; PII in the response.
    let r = get(
        &envoy.url("/users/1001?mobile=13812345678&idno=11010519491231002X&card=6222%200212%203456%207890%20128"),
        &[
            ("x-request-id", "l-1"),
            ("x-customer-phone", "13712345678"),
            ("cookie", "session=abc; phone=13612345678"),
            ("authorization", &bearer),
        ],
    );
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("13812345678"), "masked: {}", r.body);
    // A JSON request body with every kind of value, spelled with separators.
    let body = json!({
        "phone": "139-1234-5678", "card": "6222 0212 3456 7890 128", "email": "li.si@example.org",
        "ssn": "536-22-4913", "iban": "DE89 3704 0044 0532 0130 00", "password": PASSWORD,
        "aws": AWS_KEY, "token": token,
        "key": format!("-----BEGIN PRIVATE KEY-----\n{PRIVATE_KEY_LINE}\n-----END PRIVATE KEY-----")
    });
    let r = post_json(
        &envoy.url("/profile"),
        &[("x-request-id", "l-2"), ("x-api-key", API_KEY)],
        &body.to_string(),
    );
    assert_eq!(r.status, 200);
    // A form body with Basic credentials.
    let r = send(
        "POST",
        &envoy.url("/login"),
        &[
            ("x-request-id", "l-3"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", &basic),
        ],
        Some(b"username=alice&password=hunter2-in-form&card=4111111111111111"),
    );
    assert_eq!(r.status, 200);
    // PII in the path (the template replaces it).
    let r = get(
        &envoy.url("/accounts/13812345678/orders"),
        &[("x-request-id", "l-4")],
    );
    assert_eq!(r.status, 200);
    let r = get(
        &envoy.url("/people/zhang.wei@example.com"),
        &[("x-request-id", "l-5")],
    );
    assert_eq!(r.status, 200);
    // A blocked injection that carries PII.
    let r = get(
        &envoy.url("/search?q=1%27%20OR%20%271%27%3D%271%2013812345678"),
        &[("x-request-id", "l-6")],
    );
    assert_eq!(r.status, 403);
    // Text answers, a verbose error page, GraphQL variables.
    let r = get(&envoy.url("/notes.txt"), &[("x-request-id", "l-7")]);
    assert!(!r.body.contains("13812345678"), "{}", r.body);
    let r = get(&envoy.url("/boom"), &[("x-request-id", "l-8")]);
    assert_eq!(r.status, 500);
    let r = post_json(
        &envoy.url("/graphql"),
        &[("x-request-id", "l-9")],
        r#"{"query":"query Find($p: String) { user(phone: $p) { name mobile } }","variables":{"p":"13812345678"}}"#,
    );
    assert_eq!(r.status, 200);
    vec![
        "l-1", "l-2", "l-3", "l-4", "l-5", "l-6", "l-7", "l-8", "l-9",
    ]
}

struct Run {
    envoy: Envoy,
    sink: Sink,
    records: Vec<serde_json::Value>,
}

fn run(format: &str, template: Option<std::path::PathBuf>, up: &Upstream) -> Run {
    let sink = Sink::start();
    let mut opts =
        EnvoyOptions::new(&config(format).to_string(), up.port, sink.port).concurrency(2);
    if let Some(t) = template {
        opts.template = t;
    }
    let envoy = Envoy::start(&opts).unwrap_or_else(|e| panic!("Envoy did not start: {}", e.log));
    envoy.admin_post("/logging?wasm=debug");
    let ids = traffic(&envoy);
    let records = sink.wait_records(Duration::from_secs(15), |r| {
        ids.iter()
            .all(|id| r.iter().any(|x| x["request_id"] == *id))
            && r.iter().any(|x| x["kind"] == "finding")
    });
    for id in &ids {
        assert!(
            records.iter().any(|x| x["request_id"] == *id),
            "{format}: no record for {id}"
        );
    }
    Run {
        envoy,
        sink,
        records,
    }
}

fn scan(format: &str, run: &Run) {
    let mut texts: Vec<(String, String)> = Vec::new();
    for (i, p) in run.sink.posts().iter().enumerate() {
        texts.push((
            format!("{format} POST {i}"),
            String::from_utf8_lossy(&p.body).to_string(),
        ));
    }
    for r in &run.records {
        texts.push((format!("{format} record"), r.to_string()));
    }
    texts.push((format!("{format} stats"), run.envoy.prometheus()));
    for (i, line) in run.envoy.log().lines().enumerate() {
        texts.push((format!("{format} log line {i}"), line.to_string()));
    }
    let secrets = secrets();
    for (where_, text) in &texts {
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "{s:?} leaked into {where_}: {text}"
            );
        }
    }
    // The scan saw real data: records with sensitive counts, threats, findings,
    // hashed accounts, and debug logging from meshward.
    let l1 = run
        .records
        .iter()
        .find(|r| r["request_id"] == "l-1")
        .unwrap();
    assert_eq!(l1["sensitive"]["response"]["cn_mobile"], 1, "{l1}");
    assert!(
        l1["sensitive"]["request"]["cn_mobile"].as_u64() >= Some(2),
        "query, header, cookie: {l1}"
    );
    assert_eq!(l1["account"]["via"], "jwt");
    let id = l1["account"]["id"].as_str().unwrap();
    assert!(!id.contains('@'), "account ids are hashed: {id}");
    let l6 = run
        .records
        .iter()
        .find(|r| r["request_id"] == "l-6")
        .unwrap();
    assert_eq!(l6["action"], "blocked");
    assert!(run.records.iter().any(|r| r["kind"] == "finding"));
    assert!(texts.iter().filter(|(w, _)| w.contains("log line")).count() > 0);
    let f = run.envoy.vm_failures();
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn no_sensitive_value_in_records_stats_or_logs_and_hashes_are_keyed() {
    let up = upstream();
    let ndjson = run("ndjson", None, &up);
    scan("ndjson", &ndjson);
    let second_key = template_with_hash_key(SECOND_KEY);
    let otlp = run("otlp", Some(second_key.to_path_buf()), &up);
    scan("otlp", &otlp);

    // value_hashes: `type:12 hex` of HMAC-SHA256 under the VM's MESHWARD_HASH_KEY.
    let hashes = |r: &Run, id: &str| -> Vec<String> {
        r.records
            .iter()
            .find(|x| x["request_id"] == id)
            .and_then(|x| x["value_hashes"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|h| h.as_str().map(str::to_string))
            .collect()
    };
    let first =
        meshward_core::sensitive::value_hash(b"local-test-hash-key", "cn_mobile", b"13812345678");
    let second =
        meshward_core::sensitive::value_hash(SECOND_KEY.as_bytes(), "cn_mobile", b"13812345678");
    assert_ne!(first, second, "same value, different key, different hash");
    let h1 = hashes(&ndjson, "l-1");
    let h2 = hashes(&otlp, "l-1");
    assert!(h1.contains(&first), "{h1:?}");
    assert!(!h1.contains(&second), "{h1:?}");
    assert!(h2.contains(&second), "{h2:?}");
    assert!(!h2.contains(&first), "{h2:?}");
    for h in h1.iter().chain(&h2) {
        let (t, hex) = h.split_once(':').expect("type:hex");
        assert!(
            !t.is_empty() && hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "{h}"
        );
    }
    // Never the unkeyed digest of a value.
    let plain = &sha256_hex("13812345678")[..12];
    for r in ndjson.records.iter().chain(&otlp.records) {
        assert!(!r.to_string().contains(plain), "{r}");
    }
    // Bodies of every request carried hashes too (the form body, the JSON body).
    assert!(!hashes(&ndjson, "l-2").is_empty());
    assert!(!hashes(&ndjson, "l-3").is_empty());
}
