//! Issue 10 end to end in a real Envoy with `--concurrency 2`: a scripted upstream with
//! one weak endpoint per finding yields exactly one record per endpoint and finding,
//! with evidence and no values; a well-behaved endpoint set yields none.

use meshward_e2e::client::{agent, send_on};
use meshward_e2e::envoy::{Envoy, EnvoyOptions};
use meshward_e2e::sink::Sink;
use meshward_e2e::upstream::{Answer, Upstream};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const ID: &str = "11010519491231002X";

fn weak_upstream() -> Upstream {
    Upstream::start(Arc::new(|req| {
        let path = req.url.split('?').next().unwrap_or("");
        match path {
            // A test endpoint that hands out ID numbers to anyone.
            "/test/customers" => Answer::json(200, &format!(r#"{{"customers":[{{"id_card":"{ID}"}}]}}"#)),
            // Over-exposure: 60 mobile numbers in one answer.
            "/export" => {
                let rows: Vec<String> = (0..60).map(|i| format!(r#"{{"n":{i},"mobile":"1381234{:04}"}}"#, 5000 + i)).collect();
                Answer::json(200, &format!("[{}]", rows.join(",")))
            }
            "/lookup" => Answer::json(200, r#"{"found":true}"#),
            "/crash" => Answer::text(
                500,
                "java.lang.NullPointerException: null\n\tat com.shop.api.Orders.get(Orders.java:42)\n\tat java.base/java.lang.Thread.run(Thread.java:829)\n",
            ),
            "/broken" => Answer::json(500, r#"{"error":"internal error","request_id":"abc"}"#),
            "/internal/debug" => Answer::json(200, r#"{"goroutines":12}"#),
            "/orders/1" | "/orders/2" => Answer::json(200, r#"{"order_id":"20231129143055123456","status":"paid"}"#),
            _ => Answer::json(404, r#"{"error":"not found"}"#),
        }
    }))
}

fn start(up: &Upstream, sink: &Sink, templates: serde_json::Value) -> Envoy {
    let cfg = json!({
        "apis": {"templates": templates},
        "identity": {"sources": [{"basic": {}}]},
        "events": {"cluster": "outbound|4318||collector.local", "format": "ndjson", "flush_interval": "200ms"}
    });
    Envoy::start(&EnvoyOptions::new(&cfg.to_string(), up.port, sink.port).concurrency(2))
        .unwrap_or_else(|e| panic!("Envoy did not start: {}", e.log))
}

/// A request: method, path and query, headers.
type Req = (&'static str, String, Vec<(&'static str, &'static str)>);

/// Sends each request `times` times from 4 threads (both workers see them).
fn hammer(envoy: &Envoy, reqs: &[Req], times: usize) {
    let reqs = Arc::new(reqs.to_vec());
    let base = Arc::new(envoy.url(""));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let reqs = reqs.clone();
            let base = base.clone();
            std::thread::spawn(move || {
                for _ in 0..times {
                    let a = agent();
                    for (m, p, h) in reqs.iter() {
                        send_on(&a, m, &format!("{base}{p}"), h, None).unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn each_weak_endpoint_yields_exactly_one_finding_with_evidence() {
    let up = weak_upstream();
    let sink = Sink::start();
    let envoy = start(
        &up,
        &sink,
        json!([
            "/test/customers",
            "/export",
            "/lookup",
            "/crash",
            "/orders/{id}",
            "/broken"
        ]),
    );
    hammer(
        &envoy,
        &[
            ("GET", "/test/customers".into(), vec![]),
            (
                "GET",
                "/export".into(),
                vec![("authorization", "Basic dXNlcjpwYXNz")],
            ),
            ("GET", format!("/lookup?id_card={ID}"), vec![]),
            ("GET", "/crash".into(), vec![]),
            ("GET", "/internal/debug".into(), vec![]),
        ],
        3,
    );
    sink.wait_records(Duration::from_secs(10), |r| {
        r.iter().filter(|x| x["kind"] == "finding").count() >= 10
    });
    // Any duplicate from the other worker would arrive within a flush interval or two.
    std::thread::sleep(Duration::from_millis(800));
    let recs = sink.records();
    let findings: Vec<&serde_json::Value> =
        recs.iter().filter(|r| r["kind"] == "finding").collect();
    let mut got: Vec<(String, String)> = findings
        .iter()
        .map(|f| {
            (
                f["finding"].as_str().unwrap().to_string(),
                f["api"]["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = [
        ("unauthenticated_sensitive", "/test/customers"),
        ("plaintext_sensitive", "/test/customers"),
        ("excessive_exposure", "/export"),
        // Basic auth is no trusted identity: mobiles went to an unauthenticated caller.
        ("unauthenticated_sensitive", "/export"),
        ("plaintext_sensitive", "/export"),
        ("weak_auth", "/export"),
        ("sensitive_in_url", "/lookup"),
        ("plaintext_sensitive", "/lookup"),
        ("verbose_errors", "/crash"),
        ("undeclared", "/internal/debug"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    want.sort();
    assert_eq!(
        got, want,
        "exactly one record per endpoint and finding across 2 workers"
    );
    let ev = |id: &str, path: &str| {
        findings
            .iter()
            .find(|f| f["finding"] == id && f["api"]["path"] == path)
            .map(|f| f["evidence"].clone())
            .unwrap()
    };
    assert_eq!(
        ev("unauthenticated_sensitive", "/test/customers"),
        json!({"status": 200, "types": {"cn_resident_id": 1}, "request_id": ev("unauthenticated_sensitive", "/test/customers")["request_id"]})
    );
    assert_eq!(
        ev("excessive_exposure", "/export")["types"]["cn_mobile"],
        60
    );
    assert_eq!(ev("weak_auth", "/export")["detail"], "basic_auth");
    assert_eq!(
        ev("sensitive_in_url", "/lookup")["types"],
        json!({"cn_resident_id": 1})
    );
    assert_eq!(
        ev("verbose_errors", "/crash"),
        json!({"status": 500, "request_id": ev("verbose_errors", "/crash")["request_id"], "detail": "java_stack_trace"})
    );
    assert_eq!(
        envoy.metric(r#"meshward_findings_total{finding="plaintext_sensitive"}"#),
        3.0
    );
    assert_eq!(
        envoy.metric(r#"meshward_findings_total{finding="weak_auth"}"#),
        1.0
    );
    // Evidence never carries values.
    let text = sink
        .posts()
        .iter()
        .map(|p| String::from_utf8_lossy(&p.body).to_string())
        .collect::<String>();
    assert!(!text.contains(ID));
    assert!(!text.contains("13812345000"));
    meshward_e2e::schema::validate_records(&recs).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_well_behaved_endpoint_set_yields_no_finding() {
    let up = weak_upstream();
    let sink = Sink::start();
    let envoy = start(&up, &sink, json!(["/orders/{id}", "/broken"]));
    hammer(
        &envoy,
        &[
            ("GET", "/orders/1".into(), vec![]),
            ("GET", "/orders/2".into(), vec![]),
            ("GET", "/broken".into(), vec![]),
        ],
        2,
    );
    let recs = sink.wait_records(Duration::from_secs(10), |r| {
        r.iter().filter(|x| x["kind"] == "call").count() >= 24
    });
    assert!(recs.iter().all(|r| r["kind"] != "finding"), "{recs:#?}");
    assert_eq!(
        envoy.metric(r#"meshward_findings_total{finding="verbose_errors"}"#),
        0.0
    );
}
