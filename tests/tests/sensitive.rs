//! Issue 4 end to end in a real Envoy: responses with mixed PII come back masked and
//! valid JSON with every other field byte-identical; records count each type; no
//! value appears in any record or log; big, compressed and exempted responses.

use meshward_e2e::client::get;
use meshward_e2e::envoy::{Envoy, EnvoyOptions};
use meshward_e2e::sink::Sink;
use meshward_e2e::upstream::{Answer, Upstream};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Sensitive values the upstream hands out; none may reach a record or a log.
const VALUES: [&str; 5] = [
    "11010519491231002X",
    "13812345678",
    "zhang.wei@example.com",
    "6222021234567890128",
    "张伟",
];

const USER: &str = r#"{"id":"1001","name":"张伟","mobile":"13812345678","id_card":"11010519491231002X","email":"zhang.wei@example.com","card_no":"6222021234567890128","order_id":"20231129143055123456","created_at":1764375000123,"note":"call 13812345678 after 6pm"}"#;

fn upstream() -> Upstream {
    Upstream::start(Arc::new(|req| {
        let path = req.url.split('?').next().unwrap_or("");
        match path {
            "/users/1001" => Answer::json(200, USER),
            "/big" => {
                // ~84 KB: over the 64 KiB inspection limit.
                let items: Vec<String> = (0..2500)
                    .map(|i| format!(r#"{{"i":{i},"mobile":"13812345678"}}"#))
                    .collect();
                Answer::json(200, &format!("[{}]", items.join(",")))
            }
            "/mid" => {
                // ~40 KB: several body chunks, masked as one.
                let items: Vec<String> = (0..1200)
                    .map(|i| format!(r#"{{"i":{i},"mobile":"13812345678"}}"#))
                    .collect();
                Answer::json(200, &format!("[{}]", items.join(",")))
            }
            "/gz" => {
                let mut a = Answer::json(200, "\u{1f}\u{8b}not-really-gzip");
                a.headers.push(("content-encoding".into(), "gzip".into()));
                a
            }
            _ => Answer::json(404, r#"{"error":"not found"}"#),
        }
    }))
}

fn start(cfg: serde_json::Value, up: &Upstream, sink: &Sink) -> Envoy {
    let mut cfg = cfg;
    cfg["events"] = json!({"cluster": "outbound|4318||collector.local", "format": "ndjson",
                           "flush_interval": "200ms"});
    Envoy::start(&EnvoyOptions::new(&cfg.to_string(), up.port, sink.port).concurrency(2))
        .unwrap_or_else(|e| panic!("Envoy did not start: {}", e.log))
}

fn masking() -> serde_json::Value {
    json!({
        "mode": "enforce",
        "identity": {"sources": [{"api_key": {"header": "x-api-key", "strip": true,
            "keys": [{"name": "admin-console", "sha256": sha256_hex("admin-key")}]}}]},
        "masking": [{"name": "mask-pii", "types": ["cn_resident_id", "bank_card", "cn_mobile", "email", "cn_name"],
                     "style": "partial", "unless": {"accounts": ["admin-*"]}}]
    })
}

fn sha256_hex(s: &str) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(s.as_bytes())?;
            c.wait_with_output()
        })
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn mixed_pii_comes_back_masked_valid_and_otherwise_byte_identical() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(masking(), &up, &sink);
    let r = get(&envoy.url("/users/1001"), &[("x-request-id", "mask-1")]);
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["id_card"], "110***********002X");
    assert_eq!(v["mobile"], "138****5678");
    assert_eq!(v["card_no"], "622202*********0128");
    assert_eq!(v["email"], "z***@example.com");
    assert_eq!(v["name"], "张*");
    assert_eq!(v["note"], "call 138****5678 after 6pm");
    // Everything else is byte-identical: the body equals the original with only the
    // sensitive string tokens replaced.
    let mut expect = USER.to_string();
    for (from, to) in [
        ("\"11010519491231002X\"", "\"110***********002X\""),
        ("\"13812345678\"", "\"138****5678\""),
        ("\"zhang.wei@example.com\"", "\"z***@example.com\""),
        ("\"6222021234567890128\"", "\"622202*********0128\""),
        ("\"张伟\"", "\"张*\""),
        ("call 13812345678 after", "call 138****5678 after"),
    ] {
        expect = expect.replace(from, to);
    }
    assert_eq!(r.body, expect);
    assert!(r
        .header("content-length")
        .is_none_or(|l| l == r.body.len().to_string()));
    assert!(r.header("etag").is_none());

    // An exempt (trusted) caller gets the clear body; the key never reaches the upstream.
    let r = get(&envoy.url("/users/1001"), &[("x-api-key", "admin-key")]);
    assert_eq!(r.body, USER);
    assert!(
        up.seen().iter().all(|s| s.header("x-api-key").is_none()),
        "api key stripped"
    );

    let recs = sink.wait_records(Duration::from_secs(10), |r| {
        r.iter().any(|x| x["request_id"] == "mask-1")
    });
    let rec = recs.iter().find(|r| r["request_id"] == "mask-1").unwrap();
    assert_eq!(rec["action"], "masked");
    assert_eq!(rec["level"], 4);
    let resp = &rec["sensitive"]["response"];
    for (t, n) in [
        ("cn_resident_id", 1),
        ("cn_mobile", 2),
        ("email", 1),
        ("bank_card", 1),
        ("cn_name", 1),
    ] {
        assert_eq!(resp[t], n, "{t} in {resp}");
    }
    assert_eq!(
        rec["decisions"],
        json!([{"rule": "mask-pii", "kind": "masking", "outcome": "masked"}])
    );
    assert_eq!(
        envoy.metric(r#"meshward_masked_values_total{type="cn_mobile"}"#),
        2.0
    );
    assert_eq!(
        envoy
            .metric(r#"meshward_sensitive_values_total{type="cn_resident_id",message="response"}"#),
        2.0
    );
    // No value anywhere in what meshward emitted.
    let everything = format!(
        "{}\n{}",
        sink.posts()
            .iter()
            .map(|p| String::from_utf8_lossy(&p.body).to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        envoy.log()
    );
    for v in VALUES {
        assert!(!everything.contains(v), "{v} leaked into records or logs");
    }
    assert!(envoy.vm_failures().is_empty());
}

#[test]
fn bodies_over_several_chunks_are_masked_whole_and_oversize_passes_counted() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(masking(), &up, &sink);
    let r = get(&envoy.url("/mid"), &[]);
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("13812345678"), "every value masked");
    assert_eq!(r.body.matches("138****5678").count(), 1200);
    serde_json::from_str::<serde_json::Value>(&r.body).expect("still valid JSON");

    let r = get(&envoy.url("/big"), &[("x-request-id", "big-1")]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body.matches("13812345678").count(),
        2500,
        "oversize: passes unmasked"
    );
    assert_eq!(
        envoy.metric(r#"meshward_bodies_truncated_total{message="response"}"#),
        1.0
    );
    let recs = sink.wait_records(Duration::from_secs(10), |r| {
        r.iter().any(|x| x["request_id"] == "big-1")
    });
    let rec = recs.iter().find(|r| r["request_id"] == "big-1").unwrap();
    assert_eq!(rec["truncated"], true);
}

#[test]
fn compressed_answers_are_skipped_and_counted() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(masking(), &up, &sink);
    let r = get(&envoy.url("/gz"), &[("accept-encoding", "gzip")]);
    assert_eq!(r.status, 200);
    assert!(
        up.seen()
            .iter()
            .all(|s| s.header("accept-encoding").is_none()),
        "compressed: identity asks upstreams for plain answers"
    );
    assert_eq!(
        envoy.metric(r#"meshward_bodies_skipped_total{cause="compressed"}"#),
        1.0
    );
}

#[test]
fn classification_without_masking_counts_request_and_response() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(json!({}), &up, &sink);
    let body = r#"{"phone":"13912345678","comment":"id 11010519491231002X"}"#;
    let r = meshward_e2e::client::post_json(
        &envoy.url("/users/1001?mobile=13812345678"),
        &[("x-request-id", "c-1")],
        body,
    );
    assert_eq!(r.status, 200);
    let r = get(&envoy.url("/users/1001"), &[("x-request-id", "c-2")]);
    assert_eq!(r.body, USER, "monitor mode and no masking: untouched");
    // The two requests may be served by different workers, which flush separately.
    let recs = sink.wait_records(Duration::from_secs(10), |r| {
        ["c-1", "c-2"]
            .iter()
            .all(|id| r.iter().any(|x| x["request_id"] == *id))
    });
    let c1 = recs.iter().find(|r| r["request_id"] == "c-1").unwrap();
    assert_eq!(c1["sensitive"]["request"]["cn_mobile"], 2, "query and body");
    assert_eq!(c1["sensitive"]["request"]["cn_resident_id"], 1);
    let c2 = recs.iter().find(|r| r["request_id"] == "c-2").unwrap();
    assert_eq!(c2["sensitive"]["response"]["bank_card"], 1);
    assert!(c2["sensitive"]["response"].get("order_id").is_none());
    assert_eq!(c2["action"], "allowed");
}
