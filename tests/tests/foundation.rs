//! Issue 2, end to end in a real Envoy: the module loads the way Istio loads it,
//! traffic passes, stats carry labels, bad config is refused with every path named,
//! records reach a collector in both formats, and a failing collector never fails a
//! request while its drops are counted.

use meshward_e2e::client::{get, send};
use meshward_e2e::envoy::{Envoy, EnvoyOptions};
use meshward_e2e::sink::{Mode, ResetSink, Sink};
use meshward_e2e::upstream::Upstream;
use meshward_e2e::{otlp, paths, schema};
use std::time::Duration;

const SINK_CLUSTER: &str = "outbound|4318||collector.local";

fn events(format: &str, extra: &str) -> String {
    format!(
        r#"{{"events": {{"cluster": "{SINK_CLUSTER}", "format": "{format}", "flush_interval": "200ms"{extra}}}}}"#
    )
}

fn start(cfg: &str, up: &Upstream, sink_port: u16) -> Envoy {
    Envoy::start(&EnvoyOptions::new(cfg, up.port, sink_port))
        .unwrap_or_else(|e| panic!("Envoy did not start: {}", e.log))
}

fn assert_no_vm_failure(envoy: &Envoy) {
    let f = envoy.vm_failures();
    assert!(f.is_empty(), "VM failures in the Envoy log: {f:#?}");
}

#[test]
fn empty_config_loads_and_traffic_passes() {
    let up = Upstream::sample();
    let envoy = start("", &up, 1);
    for i in 0..5 {
        let r = get(&envoy.url(&format!("/users/{i}")), &[]);
        assert_eq!(r.status, 200);
        assert!(r.body.contains(&format!("\"id\":\"{i}\"")), "{}", r.body);
    }
    assert_eq!(up.seen().len(), 5, "every request reached the upstream");
    let prom = envoy.prometheus();
    assert_eq!(
        meshward_e2e::envoy::metric_in(&prom, r#"meshward_requests_total{protocol="rest"}"#),
        5.0,
        "{prom}"
    );
    let info = prom
        .lines()
        .find(|l| l.starts_with("meshward_config_info{"))
        .expect("config info gauge");
    assert!(
        info.contains(r#"version="0.1.0""#) && info.ends_with(" 1"),
        "{info}"
    );
    assert_no_vm_failure(&envoy);
}

#[test]
fn full_example_config_loads() {
    let yaml = std::fs::read_to_string(paths::root().join("examples/full-config.yaml")).unwrap();
    let v: serde_json::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let up = Upstream::sample();
    let sink = Sink::start();
    let cfg = serde_json::to_string(&v).unwrap();
    let envoy = start(&cfg, &up, sink.port);
    let r = get(&envoy.url("/orders/7"), &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!envoy.prometheus().is_empty());
    assert_no_vm_failure(&envoy);
}

#[test]
fn bad_config_is_refused_naming_every_field() {
    let up = Upstream::sample();
    let cfg = r#"{"evnts": {}, "events": {"cluster": "x", "flush_interval": "10 parsecs"},
                  "access": {"rules": [{"name": "Bad Name", "action": "deny"}]}}"#;
    let err = Envoy::start(&EnvoyOptions::new(cfg, up.port, 1))
        .expect_err("Envoy must refuse the plugin");
    assert!(err.exited.is_some_and(|c| c != 0), "Envoy exited non-zero");
    let line = err
        .log
        .lines()
        .find(|l| l.contains("meshward: invalid pluginConfig"))
        .unwrap_or_else(|| panic!("no meshward error in the log:\n{}", err.log));
    assert!(line.contains("[error]"), "logged at error level: {line}");
    assert!(line.contains("3 problems"), "{line}");
    assert!(line.contains("evnts: unknown field `evnts`"), "{line}");
    assert!(
        line.contains("events.flush_interval: invalid duration \"10 parsecs\""),
        "{line}"
    );
    assert!(
        line.contains("access.rules[0].name: invalid name \"Bad Name\""),
        "{line}"
    );
}

#[test]
fn records_reach_the_sink_as_ndjson_batches() {
    let up = Upstream::sample();
    let sink = Sink::start();
    let envoy = start(&events("ndjson", r#", "max_batch": 4"#), &up, sink.port);
    let ids: Vec<String> = (0..10).map(|i| format!("req-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let r = get(
            &envoy.url(&format!("/users/{i}?q=1")),
            &[("x-request-id", id)],
        );
        assert_eq!(r.status, 200);
    }
    let calls = |r: &[serde_json::Value]| r.iter().filter(|x| x["kind"] == "call").count();
    let all = sink.wait_records(Duration::from_secs(10), |r| calls(r) >= 10);
    let recs: Vec<serde_json::Value> = all
        .iter()
        .filter(|x| x["kind"] == "call")
        .cloned()
        .collect();
    assert_eq!(recs.len(), 10, "{all:#?}");
    let posts = sink.posts();
    assert!(
        posts.len() >= 3,
        "batched by max_batch 4: {} posts",
        posts.len()
    );
    for p in &posts {
        assert_eq!(p.header("content-type"), Some("application/x-ndjson"));
        assert_eq!(p.path, "/v1/logs");
        assert!(p.records().len() <= 4);
    }
    // Endpoint records: first sight of `GET /users/{int}` on this pod, once, and once
    // the first data of level 4 it carried (an ID number in every answer).
    let endpoints: Vec<_> = all.iter().filter(|x| x["kind"] == "endpoint").collect();
    assert_eq!(endpoints.len(), 2, "{endpoints:#?}");
    assert!(endpoints.iter().all(|e| e["api"]["path"] == "/users/{int}"));
    let levels: Vec<_> = endpoints.iter().map(|e| e["level"].as_u64()).collect();
    assert!(
        levels.contains(&None) && levels.contains(&Some(4)),
        "{levels:?}"
    );
    for id in &ids {
        let r = recs
            .iter()
            .find(|r| r["request_id"] == id.as_str())
            .unwrap_or_else(|| panic!("no record for {id}"));
        assert_eq!(r["v"], 1);
        assert_eq!(r["kind"], "call");
        assert_eq!(r["direction"], "inbound");
        assert_eq!(r["status"], 200);
        assert_eq!(r["action"], "allowed");
        assert_eq!(r["api"]["method"], "GET");
        assert_eq!(r["api"]["protocol"], "rest");
        assert_eq!(r["source"]["ip"], "127.0.0.1");
        assert!(r["ts"].as_u64().unwrap() > 1_700_000_000_000);
        assert!(r["bytes"]["response"].as_u64().unwrap() > 100);
        assert!(!r["api"]["path"].as_str().unwrap().contains('?'));
        assert_eq!(r["service"], "istio-system.meshward");
        assert_eq!(r["config"].as_str().unwrap().len(), 8);
    }
    schema::validate_records(&all).unwrap_or_else(|e| panic!("{e}"));
    assert!(envoy.metric("meshward_events_sent_total{}") >= 11.0);
    assert!(envoy.metric(r#"meshward_event_batches_total{result="ok"}"#) >= 3.0);
    assert_no_vm_failure(&envoy);
}

#[test]
fn records_count_request_bytes_as_envoy_does() {
    // `bytes.request` is Envoy's `request.size`: the `content-length` when there is
    // one, else the body bytes received. meshward takes it from the headers when they
    // tell it (no body, or a `content-length`) and asks Envoy otherwise (chunked).
    let up = Upstream::sample();
    let sink = Sink::start();
    let envoy = start(&events("ndjson", ""), &up, sink.port);
    let body = r#"{"name":"Ana","note":"twelve bytes"}"#;
    let chunked = format!(
        "{}{}0\r\n\r\n",
        String::from_utf8_lossy(&meshward_e2e::raw::chunk(&body.as_bytes()[..10])),
        String::from_utf8_lossy(&meshward_e2e::raw::chunk(&body.as_bytes()[10..]))
    );
    let requests = [
        ("b-get", "GET /users/1 HTTP/1.1\r\nhost: svc\r\n".to_string(), String::new()),
        (
            "b-length",
            format!("POST /login HTTP/1.1\r\nhost: svc\r\ncontent-type: application/json\r\ncontent-length: {}\r\n", body.len()),
            body.to_string(),
        ),
        (
            "b-chunked",
            "POST /login HTTP/1.1\r\nhost: svc\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n".to_string(),
            chunked,
        ),
    ];
    for (id, head, payload) in &requests {
        let req = format!("{head}x-request-id: {id}\r\nconnection: close\r\n\r\n{payload}");
        let r = meshward_e2e::raw::parse(&meshward_e2e::raw::exchange(envoy.port, req.as_bytes()));
        assert_eq!(r.status, 200, "{id}: {}", r.text());
    }
    let recs = sink.wait_records(Duration::from_secs(10), |r| {
        ["b-get", "b-length", "b-chunked"]
            .iter()
            .all(|id| r.iter().any(|x| x["request_id"] == *id))
    });
    let bytes = |id: &str| {
        let r = recs
            .iter()
            .find(|r| r["request_id"] == id)
            .unwrap_or_else(|| panic!("no record for {id}"));
        r["bytes"]["request"].as_u64().unwrap_or(0) // left out when 0
    };
    assert_eq!(bytes("b-get"), 0);
    assert_eq!(bytes("b-length"), body.len() as u64);
    assert_eq!(bytes("b-chunked"), body.len() as u64);
    assert_no_vm_failure(&envoy);
}

#[test]
fn otlp_batches_parse_as_export_logs_service_requests() {
    let up = Upstream::sample();
    let sink = Sink::start();
    let envoy = start(&events("otlp", ""), &up, sink.port);
    for i in 0..6 {
        get(&envoy.url(&format!("/orders/{i}")), &[]);
    }
    // 6 calls and the endpoint record of `GET /orders/{int}`.
    let recs = sink.wait_records(Duration::from_secs(10), |r| r.len() >= 7);
    assert_eq!(recs.iter().filter(|r| r["kind"] == "call").count(), 6);
    assert_eq!(recs.iter().filter(|r| r["kind"] == "endpoint").count(), 1);
    let mut total = 0;
    for p in sink.posts() {
        assert_eq!(p.header("content-type"), Some("application/json"));
        total += otlp::parse_export_logs(&p.body).unwrap_or_else(|e| panic!("{e}"));
        let v: serde_json::Value = serde_json::from_slice(&p.body).unwrap();
        let rl = &v["resourceLogs"][0];
        assert_eq!(
            rl["resource"]["attributes"][0]["key"], "service.name",
            "resource names the service"
        );
        assert_eq!(rl["scopeLogs"][0]["scope"]["name"], "meshward");
        let lr = rl["scopeLogs"][0]["logRecords"]
            .as_array()
            .unwrap()
            .iter()
            .find(|lr| {
                lr["body"]["stringValue"]
                    .as_str()
                    .unwrap()
                    .contains("\"kind\":\"call\"")
            })
            .expect("a call record");
        assert_eq!(lr["severityText"], "INFO");
        let keys: Vec<&str> = lr["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["key"].as_str().unwrap())
            .collect();
        for k in [
            "meshward.kind",
            "meshward.action",
            "http.request.method",
            "url.template",
            "http.response.status_code",
        ] {
            assert!(keys.contains(&k), "{k} missing in {keys:?}");
        }
    }
    assert_eq!(total, 7);
    schema::validate_records(&recs).unwrap_or_else(|e| panic!("{e}"));
    assert_no_vm_failure(&envoy);
}

/// Sends `n` requests; every one must succeed whatever the collector does.
fn traffic_unaffected(envoy: &Envoy, n: usize) {
    for i in 0..n {
        let r = get(&envoy.url(&format!("/users/{i}")), &[]);
        assert_eq!(
            r.status, 200,
            "request {i} failed while the collector misbehaves"
        );
    }
}

fn wait_metric(envoy: &Envoy, sample: &str, min: f64, timeout: Duration) -> f64 {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let v = envoy.metric(sample);
        if v >= min || std::time::Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn failing_collector_never_fails_requests_and_drops_are_counted() {
    let up = Upstream::sample();
    let sink = Sink::start();
    sink.set_mode(Mode::Status(503));
    let envoy = start(&events("ndjson", ""), &up, sink.port);
    traffic_unaffected(&envoy, 5);
    // 4 attempts with 0.5s, 1s, 2s backoff, then the batch is dropped.
    let dropped = wait_metric(
        &envoy,
        r#"meshward_events_dropped_total{cause="collector_error"}"#,
        5.0,
        Duration::from_secs(15),
    );
    assert!(dropped >= 5.0, "dropped {dropped}");
    assert!(sink.hits() >= 4, "retried: {} attempts", sink.hits());
    assert!(envoy.metric(r#"meshward_event_batches_total{result="error"}"#) >= 4.0);
    assert_eq!(envoy.metric("meshward_events_sent_total{}"), 0.0);
    assert_no_vm_failure(&envoy);
}

#[test]
fn absent_collector_and_missing_cluster_are_counted() {
    let up = Upstream::sample();
    // A port nobody listens on: connections are refused.
    let dead = meshward_e2e::envoy::free_port();
    let envoy = start(&events("ndjson", ""), &up, dead);
    traffic_unaffected(&envoy, 3);
    let dropped = wait_metric(
        &envoy,
        r#"meshward_events_dropped_total{cause="collector_error"}"#,
        3.0,
        Duration::from_secs(15),
    );
    assert!(dropped >= 3.0, "dropped {dropped}");

    let cfg =
        r#"{"events": {"cluster": "outbound|4318||nowhere.local", "flush_interval": "200ms"}}"#;
    let envoy2 = start(cfg, &up, dead);
    traffic_unaffected(&envoy2, 3);
    let dropped = wait_metric(
        &envoy2,
        r#"meshward_events_dropped_total{cause="no_cluster"}"#,
        3.0,
        Duration::from_secs(10),
    );
    assert!(dropped >= 3.0, "dropped {dropped}");
    assert!(envoy2.log().contains("does not exist on this proxy"));
    assert_no_vm_failure(&envoy);
    assert_no_vm_failure(&envoy2);
}

#[test]
fn hanging_and_resetting_collectors_are_counted() {
    let up = Upstream::sample();
    let sink = Sink::start();
    sink.set_mode(Mode::Hang(Duration::from_secs(30)));
    let envoy = start(&events("ndjson", r#", "timeout": "300ms""#), &up, sink.port);
    traffic_unaffected(&envoy, 3);
    let dropped = wait_metric(
        &envoy,
        r#"meshward_events_dropped_total{cause="timeout"}"#,
        3.0,
        Duration::from_secs(20),
    );
    assert!(dropped >= 3.0, "dropped on timeout: {dropped}");

    let reset = ResetSink::start();
    let envoy2 = start(&events("ndjson", ""), &up, reset.port);
    traffic_unaffected(&envoy2, 3);
    let dropped = wait_metric(
        &envoy2,
        r#"meshward_events_dropped_total{cause="collector_error"}"#,
        3.0,
        Duration::from_secs(15),
    );
    assert!(dropped >= 3.0, "dropped on reset: {dropped}");
    assert!(reset.accepted() >= 1);
    assert_no_vm_failure(&envoy);
    assert_no_vm_failure(&envoy2);
}

#[test]
fn full_buffer_drops_new_records_and_counts_them() {
    let up = Upstream::sample();
    let sink = Sink::start();
    sink.set_mode(Mode::Hang(Duration::from_secs(30)));
    let cfg = events(
        "ndjson",
        r#", "max_batch": 2, "max_buffered": 4, "timeout": "20s""#,
    );
    let envoy = start(&cfg, &up, sink.port);
    for i in 0..20 {
        let r = get(&envoy.url(&format!("/orders/{i}")), &[]);
        assert_eq!(r.status, 200);
    }
    let dropped = wait_metric(
        &envoy,
        r#"meshward_events_dropped_total{cause="buffer_full"}"#,
        17.0,
        Duration::from_secs(5),
    );
    assert_eq!(
        dropped, 17.0,
        "20 calls + 1 endpoint record: 4 kept (2 in flight + 2 queued), 17 dropped"
    );
    assert_no_vm_failure(&envoy);
}

#[test]
fn stats_appear_with_labels_in_prometheus() {
    let up = Upstream::sample();
    let sink = Sink::start();
    let envoy = start(&events("ndjson", ""), &up, sink.port);
    get(&envoy.url("/users/1"), &[]);
    send(
        "POST",
        &envoy.url("/graphql"),
        &[("content-type", "application/json")],
        Some(br#"{"query":"{ user { id } }"}"#),
    );
    send(
        "POST",
        &envoy.url("/pkg.Users/Get"),
        &[("content-type", "application/grpc")],
        Some(b""),
    );
    sink.wait_records(Duration::from_secs(5), |r| {
        r.iter().filter(|x| x["kind"] == "call").count() >= 3
    });
    let prom = envoy.prometheus();
    assert!(envoy.metric("meshward_events_sent_total{}") >= 3.0);
    for sample in [
        r#"meshward_requests_total{protocol="rest"} 1"#,
        r#"meshward_requests_total{protocol="graphql"} 1"#,
        r#"meshward_requests_total{protocol="grpc"} 1"#,
        r#"meshward_events_dropped_total{cause="buffer_full"} 0"#,
        r#"meshward_decisions_total{kind="access",outcome="denied",rule="default",dry_run="false"} 0"#,
        r#"meshward_sensitive_values_total{type="cn_mobile",message="response"} 1"#,
        r#"meshward_masked_values_total{type="cn_mobile"} 0"#,
        r#"meshward_threats_total{type="sqli",action="block"} 0"#,
        r#"meshward_authn_failures_total{via="jwt"} 0"#,
        "meshward_endpoints{} 3",
    ] {
        assert!(
            prom.lines().any(|l| l == sample),
            "missing `{sample}` in:\n{prom}"
        );
    }
    // No raw encoded name leaks: every meshward metric had its labels extracted.
    assert!(!prom.contains("=.="), "unextracted label in:\n{prom}");
    assert_no_vm_failure(&envoy);
}
