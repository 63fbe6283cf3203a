//! The request pipeline in memory (fake clock, `MemHost`): the order of evaluation,
//! dry runs and monitor mode, what the adapter is told to change, and the records.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshward_core::config::load_value;
use meshward_core::events::CallRecord;
use meshward_core::exchange::{
    BodyMode, BodyResult, Direction, Exchange, Header, OutRecord, RequestInfo, RequestPlan,
    ResponseInfo, ResponsePlan, StreamEnd,
};
use meshward_core::host::MemHost;
use meshward_core::identity::parse_spiffe;
use meshward_core::peer::Source;
use meshward_core::runtime::{NodeInfo, Runtime};
use serde_json::{json, Value};
use std::rc::Rc;

fn rt(cfg: Value) -> Runtime {
    Runtime::new(
        load_value(cfg).unwrap().policy,
        &NodeInfo {
            plugin_name: "test.meshward".into(),
            seed: 7,
            ..Default::default()
        },
    )
}

type Headers = Vec<Header<'static>>;

/// Headers for a test (leaked: they live as long as the test process).
fn h(list: &[(&str, &str)]) -> Headers {
    list.iter()
        .map(|(k, v)| {
            let k: &'static [u8] = Box::leak(k.as_bytes().to_vec().into_boxed_slice());
            let v: &'static [u8] = Box::leak(v.as_bytes().to_vec().into_boxed_slice());
            (k, v)
        })
        .collect()
}

/// A parsed `source.address` for a test (leaked like the headers).
fn source(addr: &str) -> &'static Rc<Source> {
    Box::leak(Box::new(Rc::new(Source::parse(addr))))
}

fn req<'a>(method: &'a str, path: &'a str, headers: &'a Headers) -> RequestInfo<'a> {
    RequestInfo {
        method,
        path,
        authority: "svc",
        headers,
        direction: Direction::Inbound,
        source: Some(source("10.1.2.3:1234")),
        workload: None,
        mtls: false,
        jwt_authn: None,
        end_of_stream: true,
    }
}

/// Runs one request; returns the plan and the call record.
fn run(
    rt: &Runtime,
    host: &MemHost,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (RequestPlan, Value) {
    let hs = h(headers);
    let (ex, plan) = Exchange::start(rt, host, &req(method, path, &hs));
    let status = plan.answer.as_ref().map_or(200, |a| a.status);
    let recs = ex.unwrap().finish(
        rt,
        host,
        &StreamEnd {
            status,
            ..Default::default()
        },
    );
    let call = recs
        .into_iter()
        .find_map(|r| match r {
            OutRecord::Call(c) => Some(serde_json::to_value(&*c).unwrap()),
            _ => None,
        })
        .expect("a call record");
    (plan, call)
}

/// Starts `GET /u/1` and hands it a 200 with response headers `rh`, body to come.
fn answered(rt: &Runtime, host: &MemHost, rh: &Headers) -> (Exchange, ResponsePlan) {
    answered_at(rt, host, "/u/1", rh)
}

/// [`answered`] for `GET path`.
fn answered_at(rt: &Runtime, host: &MemHost, path: &str, rh: &Headers) -> (Exchange, ResponsePlan) {
    let get = h(&[]);
    let (ex, _) = Exchange::start(rt, host, &req("GET", path, &get));
    let mut ex = ex.unwrap();
    let plan = ex.response_headers(
        rt,
        host,
        &ResponseInfo {
            status: 200,
            headers: rh,
            end_of_stream: false,
        },
    );
    (ex, plan)
}

/// Asserts a local answer's status and JSON body fields.
fn assert_answer(
    a: &meshward_core::protect::answer::Answer,
    status: u16,
    error: &str,
    reason: &str,
    rule: &str,
) {
    assert_eq!(a.status, status);
    let body: Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(body["error"], error);
    assert_eq!(body["reason"], reason);
    assert_eq!(body["rule"], rule);
}

/// Ends `ex` with status 200; returns every record it yields.
fn finish_all(ex: Exchange, rt: &Runtime, host: &MemHost) -> Vec<OutRecord> {
    ex.finish(
        rt,
        host,
        &StreamEnd {
            status: 200,
            ..Default::default()
        },
    )
}

/// Ends `ex` with status 200; returns its call record.
fn finish_call(ex: Exchange, rt: &Runtime, host: &MemHost) -> CallRecord {
    let recs = finish_all(ex, rt, host);
    match recs.into_iter().next() {
        Some(OutRecord::Call(c)) => *c,
        other => panic!("no call record: {other:?}"),
    }
}

#[test]
fn an_access_denial_ends_evaluation_and_spends_no_token() {
    let rt = rt(json!({"mode": "enforce",
        "access": {"rules": [{"name": "no-admin", "action": "deny", "when": {"paths": ["/admin/*"]}}]},
        "rate_limits": [{"name": "one", "key": "source_ip", "limit": {"requests": 1, "per": "1h"}}]}));
    let host = MemHost::at(1_000_000);
    for _ in 0..3 {
        let (plan, rec) = run(
            &rt,
            &host,
            "GET",
            "/admin/x?q=1%27%20OR%20%271%27%3D%271",
            &[],
        );
        assert_eq!(plan.answer.unwrap().status, 403);
        assert_eq!(
            rec["decisions"].as_array().unwrap().len(),
            1,
            "threats and limits not evaluated"
        );
        assert_eq!(rec["action"], "denied");
    }
    let (plan, _) = run(&rt, &host, "GET", "/ok", &[]);
    assert!(
        plan.answer.is_none(),
        "the token was never spent by denied requests"
    );
    let (plan, rec) = run(&rt, &host, "GET", "/ok", &[]);
    assert_eq!(plan.answer.unwrap().status, 429);
    assert_eq!(rec["action"], "rate_limited");
}

#[test]
fn monitor_records_the_would_be_decision_and_changes_nothing() {
    let cfg = json!({"mode": "monitor",
        "access": {"rules": [{"name": "no-admin", "action": "deny", "when": {"paths": ["/admin/*"]}}]}});
    let rt = rt(cfg);
    let host = MemHost::default();
    let (plan, rec) = run(&rt, &host, "GET", "/admin/x", &[]);
    assert!(plan.answer.is_none());
    assert_eq!(rec["action"], "allowed");
    assert_eq!(
        rec["decisions"],
        json!([{"rule": "no-admin", "kind": "access", "outcome": "denied", "dry_run": true}])
    );
}

#[test]
fn the_adapter_is_told_to_strip_keys_and_untrusted_headers() {
    let sha = "0d0c6a7f36a5c1a0a5c1a3d0b6f6e4b0b1a3e2b7c8d9e0f1a2b3c4d5e6f7a8b9";
    let rt = rt(json!({"identity": {"sources": [
        {"api_key": {"query": "api_key", "strip": true, "keys": [{"name": "k", "sha256": sha}]}}]}}));
    let host = MemHost::default();
    let hs = h(&[("x-meshward-account", "admin"), ("accept-encoding", "gzip")]);
    let (_, plan) = Exchange::start(&rt, &host, &req("GET", "/a?x=1&api_key=secret&y=2", &hs));
    assert!(plan
        .remove_headers
        .contains(&"x-meshward-account".to_string()));
    assert!(plan.remove_headers.contains(&"accept-encoding".to_string()));
    assert_eq!(plan.new_path.as_deref(), Some("/a?x=1&y=2"));
}

#[test]
fn grpc_calls_are_answered_trailers_only() {
    let rt = rt(json!({"mode": "enforce", "access": {"default": "deny"}}));
    let host = MemHost::default();
    let hs = h(&[("content-type", "application/grpc")]);
    let (_, plan) = Exchange::start(&rt, &host, &req("POST", "/pkg.Svc/Get", &hs));
    let a = plan.answer.unwrap();
    assert_eq!(a.grpc_status, Some(7));
    assert!(a.body.is_empty());
}

#[test]
fn body_blocking_buffers_only_when_it_can_block() {
    let hs = h(&[("content-type", "application/json")]);
    let mut r = req("POST", "/notes", &hs);
    r.end_of_stream = false;
    let monitor = rt(json!({}));
    let (_, plan) = Exchange::start(&monitor, &MemHost::default(), &r);
    assert_eq!(
        plan.body,
        BodyMode::Observe,
        "monitor never blocks: no buffering"
    );
    let enforce = rt(json!({"mode": "enforce"}));
    let (ex, plan) = Exchange::start(&enforce, &MemHost::default(), &r);
    assert_eq!(plan.body, BodyMode::Buffer);
    let a = ex
        .unwrap()
        .request_body(
            &enforce,
            &MemHost::default(),
            br#"{"q":"1' OR '1'='1"}"#,
            false,
        )
        .unwrap();
    assert_eq!(a.status, 403);
    let held = rt(json!({"mode": "enforce", "inspection": {"hold_headers": true}}));
    let (_, plan) = Exchange::start(&held, &MemHost::default(), &r);
    assert_eq!(plan.body, BodyMode::Hold);
}

#[test]
fn masking_replaces_the_body_and_names_the_headers_to_drop() {
    let rt = rt(json!({"mode": "enforce", "masking": [{"name": "m", "types": ["cn_mobile"]}]}));
    let host = MemHost::default();
    let hs = h(&[]);
    let rh = h(&[
        ("content-type", "application/json"),
        ("content-length", "30"),
    ]);
    let (mut ex, plan) = answered(&rt, &host, &rh);
    assert_eq!(plan.body, BodyMode::Buffer);
    assert!(
        plan.remove_headers.contains(&"content-length"),
        "headers leave first: dropped up front"
    );
    match ex.response_body(&rt, &host, &rh, br#"{"m":"13812345678","n":1}"#, false) {
        BodyResult::Replace { body, .. } => assert_eq!(body, br#"{"m":"138****5678","n":1}"#),
        other => panic!("{other:?}"),
    }
    assert_eq!(finish_call(ex, &rt, &host).action, "masked");
    // HEAD and 204 are never masked.
    let (ex, _) = Exchange::start(&rt, &host, &req("HEAD", "/u/1", &hs));
    let mut ex = ex.unwrap();
    let p = ex.response_headers(
        &rt,
        &host,
        &ResponseInfo {
            status: 200,
            headers: &rh,
            end_of_stream: false,
        },
    );
    assert_eq!(p.body, BodyMode::Observe);
}

#[test]
fn masking_rules_apply_in_order_and_without_types_to_every_type() {
    let rh = h(&[("content-type", "application/json")]);
    let body = br#"{"m":"13812345678","e":"alice@example.com"}"#;
    let masked = |cfg: Value| {
        let rt = rt(cfg);
        let host = MemHost::default();
        let (mut ex, _) = answered(&rt, &host, &rh);
        match ex.response_body(&rt, &host, &rh, body, false) {
            BodyResult::Replace { body, .. } => String::from_utf8(body).unwrap(),
            other => panic!("{other:?}"),
        }
    };
    // The first rule naming a type decides its style; a rule without `types` takes
    // every type no earlier rule took.
    let out = masked(json!({"mode": "enforce", "masking": [
        {"name": "phones", "types": ["cn_mobile"], "style": "full"},
        {"name": "rest", "style": "partial"},
    ]}));
    assert_eq!(out, r#"{"m":"***********","e":"a***@example.com"}"#);
    // Only the named types.
    let out = masked(json!({"mode": "enforce", "masking": [
        {"name": "mails", "types": ["email"], "style": "full"},
    ]}));
    assert_eq!(out, r#"{"m":"13812345678","e":"*****************"}"#);
}

#[test]
fn behavioural_blocks_answer_later_requests_of_the_actor() {
    let rt = rt(json!({"mode": "enforce", "detection": {"behavior": {
        "auth_failure_burst": {"count": 3, "per": "5m", "action": "block"}}}}));
    let host = MemHost::at(10_000_000);
    let hs = h(&[]);
    for _ in 0..3 {
        let (ex, _) = Exchange::start(&rt, &host, &req("POST", "/login", &hs));
        ex.unwrap().finish(
            &rt,
            &host,
            &StreamEnd {
                status: 401,
                ..Default::default()
            },
        );
    }
    let (plan, rec) = run(&rt, &host, "GET", "/anything", &[]);
    let a = plan.answer.unwrap();
    assert_eq!(a.status, 403);
    assert_eq!(rec["action"], "blocked");
    host.advance(300_000);
    let (plan, _) = run(&rt, &host, "GET", "/anything", &[]);
    assert!(plan.answer.is_none(), "the block ends with the window");
}

#[test]
fn sampling_keeps_everything_but_plain_allowed_calls() {
    let rt = rt(json!({"events": {"sample": 0}, "mode": "enforce",
        "access": {"rules": [{"name": "d", "action": "deny", "when": {"paths": ["/x"]}}]}}));
    let host = MemHost::default();
    let hs = h(&[]);
    let (ex, _) = Exchange::start(&rt, &host, &req("GET", "/plain", &hs));
    let recs = ex.unwrap().finish(
        &rt,
        &host,
        &StreamEnd {
            status: 200,
            ..Default::default()
        },
    );
    assert!(
        recs.iter().all(|r| !matches!(r, OutRecord::Call(_))),
        "plain allowed call not sampled"
    );
    let (_, rec) = run(&rt, &host, "GET", "/x", &[]);
    assert_eq!(rec["action"], "denied", "decisions are always recorded");
}

#[test]
fn value_hashes_are_keyed_and_never_values() {
    let cfg = json!({"events": {"values": "hash", "hash_key_env": "K"}});
    let hashes = |key: &str| {
        let rt = Runtime::new(
            load_value(cfg.clone()).unwrap().policy,
            &NodeInfo {
                env: vec![("K".into(), key.into())],
                ..Default::default()
            },
        );
        let host = MemHost::default();
        let hs = h(&[("content-type", "application/json")]);
        let mut r = req("POST", "/u", &hs);
        r.end_of_stream = false;
        let (ex, _) = Exchange::start(&rt, &host, &r);
        let mut ex = ex.unwrap();
        ex.request_body(&rt, &host, br#"{"mobile":"13812345678"}"#, false);
        let recs = finish_all(ex, &rt, &host);
        let OutRecord::Call(c) = &recs[0] else {
            panic!()
        };
        let text = serde_json::to_string(&**c).unwrap();
        assert!(!text.contains("13812345678"));
        c.value_hashes.clone()
    };
    let a = hashes("key-a");
    assert_eq!(a.len(), 1);
    assert!(
        a[0].starts_with("cn_mobile:") && a[0].len() == "cn_mobile:".len() + 12,
        "{a:?}"
    );
    assert_eq!(a, hashes("key-a"), "stable for one key");
    assert_ne!(a, hashes("key-b"), "keyed");
}

/// `inspection.oversize`: `pass` lets a truncated body through (counted), `block`
/// refuses it only where a decision needs the whole body, and never in monitor mode.
#[test]
fn oversize_block_refuses_what_cannot_be_inspected_whole() {
    let body_start = br#"{"note":"a long note that goes on"#;
    // Request side: body blocking (enforce, detection in block mode by default).
    let hs = h(&[("content-type", "application/json")]);
    let mut r = req("POST", "/notes", &hs);
    r.end_of_stream = false;
    let request_answer = |cfg: Value| {
        let rt = rt(cfg);
        let host = MemHost::default();
        let (ex, _) = Exchange::start(&rt, &host, &r);
        ex.unwrap().request_body(&rt, &host, body_start, true)
    };
    assert!(request_answer(json!({"mode": "enforce"})).is_none(), "pass");
    let a = request_answer(json!({"mode": "enforce", "inspection": {"oversize": "block"}}))
        .expect("block");
    assert_answer(
        &a,
        413,
        "payload_too_large",
        "oversize",
        "inspection.oversize",
    );
    assert!(
        request_answer(json!({"inspection": {"oversize": "block"}})).is_none(),
        "monitor never blocks"
    );
    // A whole body under the limit is never refused.
    {
        let rt = rt(json!({"mode": "enforce", "inspection": {"oversize": "block"}}));
        let host = MemHost::default();
        let (ex, _) = Exchange::start(&rt, &host, &r);
        assert!(ex
            .unwrap()
            .request_body(&rt, &host, br#"{"note":"short"}"#, false)
            .is_none());
    }

    // Response side: only when masking (or a per-response limit) needs the body.
    let response = |cfg: Value| {
        let rt = rt(cfg);
        let host = MemHost::default();
        let rh = h(&[("content-type", "application/json")]);
        let (mut ex, _) = answered(&rt, &host, &rh);
        let result = ex.response_body(&rt, &host, &rh, br#"{"m":"13812345678","n":"#, true);
        let c = finish_call(ex, &rt, &host);
        (result, c.action, c.truncated)
    };
    let masking = json!([{"name": "m", "types": ["cn_mobile"]}]);
    match response(json!({"mode": "enforce", "masking": masking})) {
        (BodyResult::Continue, "allowed", true) => {}
        other => panic!("pass: {other:?}"),
    }
    match response(
        json!({"mode": "enforce", "masking": masking, "inspection": {"oversize": "block"}}),
    ) {
        (BodyResult::Answer(a), "blocked", true) => {
            assert_eq!(a.status, 502);
            let body: Value = serde_json::from_slice(&a.body).unwrap();
            assert_eq!(body["error"], "bad_gateway");
            assert_eq!(body["reason"], "oversize");
        }
        other => panic!("block: {other:?}"),
    }
    match response(json!({"mode": "enforce", "inspection": {"oversize": "block"}})) {
        (BodyResult::Continue, "allowed", true) => {}
        other => panic!("nothing needs the whole body: {other:?}"),
    }
}

#[test]
fn injections_under_ignored_keys_are_still_blocked() {
    // `ignore_keys` exempts a subtree from classification, not from the detectors:
    // the request body is walked once without it, twice with it. Either way, what
    // the walker cannot parse (nesting too deep, a syntax error) is inspected as text.
    use meshward_core::stats::Message;
    let hs = h(&[("content-type", "application/json")]);
    let mut r = req("POST", "/notes", &hs);
    r.end_of_stream = false;
    let deep = format!(
        r#"{{"payload":{}"1' OR '1'='1"{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let blocked: [&[u8]; 3] = [
        br#"{"m":"13812345678","payload":{"q":"1' OR '1'='1"}}"#,
        deep.as_bytes(),
        br#"{"payload":{"a":1,,"q":"1' OR '1'='1"}}"#,
    ];
    for ignore in [json!([]), json!(["payload"])] {
        let rt = rt(json!({"mode": "enforce", "sensitive": {"ignore_keys": ignore}}));
        let host = MemHost::default();
        for body in blocked {
            let (ex, _) = Exchange::start(&rt, &host, &r);
            let a = ex
                .unwrap()
                .request_body(&rt, &host, body, false)
                .unwrap_or_else(|| {
                    panic!(
                        "not blocked with ignore_keys {ignore}: {}",
                        String::from_utf8_lossy(body)
                    )
                });
            assert_eq!(a.status, 403, "ignore_keys {ignore}");
        }
        assert_eq!(
            host.metric(rt.layout.invalid(Message::Request)),
            2,
            "the deep and the invalid body are counted, ignore_keys {ignore}"
        );
        // Classification still skips the ignored subtree.
        let (ex, _) = Exchange::start(&rt, &host, &r);
        let mut ex = ex.unwrap();
        let plain = br#"{"payload":{"q":"plain words","m":"13812345678"}}"#;
        assert!(ex.request_body(&rt, &host, plain, false).is_none());
        let counted = finish_call(ex, &rt, &host)
            .sensitive
            .request
            .get("cn_mobile")
            .copied();
        let want = if ignore.as_array().is_some_and(|a| a.is_empty()) {
            Some(1)
        } else {
            None
        };
        assert_eq!(counted, want, "ignore_keys {ignore}");
    }
    // Without detection in bodies, JSON bodies are still classified.
    let rt = rt(json!({"mode": "enforce", "detection": {"injection": {"where": ["path"]}}}));
    let host = MemHost::default();
    let (ex, _) = Exchange::start(&rt, &host, &r);
    let mut ex = ex.unwrap();
    assert!(ex.request_body(&rt, &host, blocked[0], false).is_none());
    let rec = finish_call(ex, &rt, &host);
    assert_eq!(rec.sensitive.request.get("cn_mobile"), Some(&1));
}

#[test]
fn bodies_that_are_not_valid_json_are_masked_and_inspected_as_text() {
    use meshward_core::stats::Message;
    // Response: masking needs the JSON walk; an invalid body is masked as text rather
    // than passed unmasked, and counted.
    let rt = rt(json!({"mode": "enforce", "masking": [{"name": "m", "types": ["cn_mobile"]}]}));
    let host = MemHost::default();
    let rh = h(&[("content-type", "application/json")]);
    let mask = |body: &[u8]| {
        let (mut ex, _) = answered(&rt, &host, &rh);
        ex.response_body(&rt, &host, &rh, body, false)
    };
    let mut bad = br#"{"m":"13812345678","x":""#.to_vec();
    bad.extend_from_slice(&[0xff, 0xc0]);
    bad.extend_from_slice(br#""}"#);
    let mut want = br#"{"m":"138****5678","x":""#.to_vec();
    want.extend_from_slice(&[0xff, 0xc0]);
    want.extend_from_slice(br#""}"#);
    match mask(&bad) {
        BodyResult::Replace { body, .. } => assert_eq!(body, want, "invalid UTF-8"),
        other => panic!("{other:?}"),
    }
    let deep = format!("{}\"13812345678\"{}", "[".repeat(300), "]".repeat(300));
    match mask(deep.as_bytes()) {
        BodyResult::Replace { body, .. } => {
            assert_eq!(body, deep.replace("13812345678", "138****5678").as_bytes());
        }
        other => panic!("too deep: {other:?}"),
    }
    match mask(br#"{"m":"13812345678"}"#) {
        BodyResult::Replace { body, .. } => assert_eq!(body, br#"{"m":"138****5678"}"#),
        other => panic!("valid: {other:?}"),
    }
    assert_eq!(
        host.metric(rt.layout.invalid(Message::Response)),
        2,
        "the valid body is not counted"
    );

    // Request: what follows a syntax error is still inspected for injections.
    let rt = self::rt(json!({"mode": "enforce"}));
    let host = MemHost::default();
    let hs = h(&[("content-type", "application/json")]);
    let mut r = req("POST", "/notes", &hs);
    r.end_of_stream = false;
    let answer = |body: &[u8]| {
        let (ex, _) = Exchange::start(&rt, &host, &r);
        ex.unwrap().request_body(&rt, &host, body, false)
    };
    let a = answer(br#"{"a":1,,"q":"1' OR '1'='1"}"#).expect("blocked after the error");
    assert_eq!(a.status, 403);
    assert!(answer(br#"{"a":1,,"q":"plain words"}"#).is_none());
    assert!(answer(br#"{"a":1,"q":"plain words"}"#).is_none());
    assert_eq!(host.metric(rt.layout.invalid(Message::Request)), 2);
}

#[test]
fn compressed_block_refuses_compressed_bodies_a_decision_needs() {
    // Request: body blocking (enforce, detection blocks by default) cannot see a gzip
    // body; `compressed: block` answers 415 before the body is read.
    let hs = h(&[
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ]);
    let mut r = req("POST", "/notes", &hs);
    r.end_of_stream = false;
    let start = |cfg: Value| {
        let rt = rt(cfg);
        let (_, plan) = Exchange::start(&rt, &MemHost::default(), &r);
        plan.answer
    };
    let a =
        start(json!({"mode": "enforce", "inspection": {"compressed": "block"}})).expect("refused");
    assert_answer(
        &a,
        415,
        "unsupported_media_type",
        "compressed",
        "inspection.compressed",
    );
    assert!(
        start(json!({"mode": "enforce"})).is_none(),
        "identity: passes"
    );
    assert!(
        start(json!({"inspection": {"compressed": "block"}})).is_none(),
        "monitor never blocks"
    );
    assert!(
        start(
            json!({"mode": "enforce", "inspection": {"compressed": "block"},
                     "detection": {"injection": {"sqli": "alert", "xss": "alert",
                       "path_traversal": "alert", "command": "alert", "jndi": "alert"}}})
        )
        .is_none(),
        "nothing blocks on the body: nothing needs it"
    );

    // Response: masking cannot rewrite a gzip body; it is replaced by a 502 answer and
    // the headers that would describe the original are dropped up front.
    let response = |cfg: Value| {
        let rt = rt(cfg);
        let host = MemHost::default();
        let rh = h(&[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ]);
        let (mut ex, plan) = answered(&rt, &host, &rh);
        let result = (plan.body != BodyMode::Skip)
            .then(|| ex.response_body(&rt, &host, &rh, b"\x1f\x8b\x08\x00", false));
        let c = finish_call(ex, &rt, &host);
        (plan, result, c.action, c.skipped)
    };
    let masking = json!([{"name": "m", "types": ["cn_mobile"]}]);
    let (plan, result, action, skipped) = response(
        json!({"mode": "enforce", "masking": masking, "inspection": {"compressed": "block"}}),
    );
    assert_eq!(plan.body, BodyMode::Buffer);
    assert!(plan.remove_headers.contains(&"content-encoding"));
    match result {
        Some(BodyResult::Answer(a)) => {
            assert_eq!(a.status, 502);
            let body: Value = serde_json::from_slice(&a.body).unwrap();
            assert_eq!(body["error"], "bad_gateway");
            assert_eq!(body["reason"], "compressed");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((action, skipped), ("blocked", Some("compressed")));
    let (plan, result, action, _) = response(json!({"mode": "enforce", "masking": masking}));
    assert_eq!((plan.body, action), (BodyMode::Skip, "allowed"), "identity");
    assert!(result.is_none());
    let (plan, _, _, _) =
        response(json!({"mode": "enforce", "inspection": {"compressed": "block"}}));
    assert_eq!(plan.body, BodyMode::Skip, "nothing to mask: passes");
}

#[test]
fn an_endpoints_level_is_recorded_when_it_first_rises() {
    let rt = rt(json!({}));
    let host = MemHost::default();
    let rh = h(&[("content-type", "application/json")]);
    let endpoint_levels = |body: &[u8]| -> Vec<u8> {
        let (mut ex, _) = answered(&rt, &host, &rh);
        ex.response_body(&rt, &host, &rh, body, false);
        finish_all(ex, &rt, &host)
            .iter()
            .filter_map(|r| match r {
                OutRecord::Endpoint(e) => Some(e.level),
                _ => None,
            })
            .collect()
    };
    // First sight (level 0: no `level` field), then level 3 (a mobile number).
    assert_eq!(endpoint_levels(br#"{"m":"13812345678"}"#), vec![0, 3]);
    assert_eq!(endpoint_levels(br#"{"m":"13812345678"}"#), Vec::<u8>::new());
    assert_eq!(endpoint_levels(br#"{"n":1}"#), Vec::<u8>::new());
    // An ID number raises it to 4, once.
    assert_eq!(endpoint_levels(br#"{"id":"11010519491231002X"}"#), vec![4]);
    assert_eq!(
        endpoint_levels(br#"{"id":"11010519491231002X"}"#),
        Vec::<u8>::new()
    );
    // Lower levels never follow a higher one: 2 was marked seen with 4. (On a new
    // endpoint the same value is recorded as level 2.)
    assert_eq!(
        endpoint_levels(br#"{"mac":"00:1A:2B:3C:4D:5E"}"#),
        Vec::<u8>::new()
    );
    let (mut ex, _) = answered_at(&rt, &host, "/devices/1", &rh);
    ex.response_body(&rt, &host, &rh, br#"{"mac":"00:1A:2B:3C:4D:5E"}"#, false);
    let recs = finish_all(ex, &rt, &host);
    let json: Vec<Value> = recs
        .iter()
        .filter_map(|r| match r {
            OutRecord::Endpoint(e) => Some(serde_json::to_value(e).unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(json.len(), 2);
    assert!(json[0].get("level").is_none(), "first sight: {}", json[0]);
    assert_eq!(json[1]["level"], 2);
    assert_eq!(json[1]["api"]["path"], "/devices/{int}");
}

#[test]
fn records_carry_method_host_and_template_as_read() {
    let rt = rt(json!({"mode": "enforce"}));
    let host = MemHost::at(1_000_000);
    // A path that normalisation changes, a standard and a non-standard method.
    for (method, path, template) in [
        ("GET", "/users//42/./orders?x=1", "/users/{int}/orders"),
        ("PROPFIND", "/files/7", "/files/{int}"),
    ] {
        let (_, rec) = run(&rt, &host, method, path, &[("x-request-id", "rid-1")]);
        assert_eq!(rec["api"]["method"], method);
        assert_eq!(rec["api"]["host"], "svc");
        assert_eq!(rec["api"]["path"], template);
        assert_eq!(rec["request_id"], "rid-1");
    }
}

#[test]
fn an_address_envoy_took_from_a_header_is_never_trusted() {
    // Port 0: Envoy parsed the address from a header (x-forwarded-for, or another
    // through an original-IP detection extension), even when x-forwarded-for is absent.
    let cfg = |trust: bool| {
        json!({"mode": "enforce", "identity": {"trust_forwarded_ip": trust},
            "access": {"default": "deny", "rules": [
                {"name": "from-pods", "action": "allow", "when": {"source_ips": ["10.0.0.0/8"]}}]}})
    };
    let host = MemHost::at(1_000_000);
    let strict = rt(cfg(false));
    let trusting = rt(cfg(true));
    let none = h(&[]);
    for (addr, rt, allowed, forwarded) in [
        ("10.1.2.3:1234", &strict, true, false),
        ("10.1.2.3:0", &strict, false, true),
        ("[fd00::1]:0", &strict, false, true),
        ("10.1.2.3:0", &trusting, true, true),
    ] {
        let mut r = req("GET", "/x", &none);
        r.source = Some(source(addr));
        let (ex, plan) = Exchange::start(rt, &host, &r);
        assert_eq!(plan.answer.is_none(), allowed, "{addr}");
        let rec = finish_call(ex.unwrap(), rt, &host);
        let rec = serde_json::to_value(&rec).unwrap();
        // (`ip_forwarded` is left out when false.)
        assert_eq!(
            rec["source"]["ip_forwarded"] == true,
            forwarded,
            "{addr}: {rec}"
        );
    }
}

#[test]
fn the_peer_workload_and_address_reach_the_records() {
    // The adapter parses the SPIFFE id and the address once per connection; the
    // records show them as they were: the call's `source`, the endpoint's
    // `first_seen_by`, and (forwarded) `ip_forwarded`.
    let rt = rt(json!({"mode": "enforce"}));
    let host = MemHost::at(1_000_000);
    let workload = parse_spiffe("spiffe://cluster.local/ns/web/sa/frontend").map(Rc::new);
    assert!(workload.is_some());
    let none = h(&[]);
    let xff = h(&[("x-forwarded-for", "192.0.2.9")]);
    for (headers, forwarded) in [(&none, false), (&xff, true)] {
        let mut r = req("GET", "/peer/1", headers);
        r.workload = workload.as_ref();
        let (ex, _) = Exchange::start(&rt, &host, &r);
        let recs = finish_all(ex.unwrap(), &rt, &host);
        let call = recs
            .iter()
            .find_map(|r| match r {
                OutRecord::Call(c) => Some(serde_json::to_value(&**c).unwrap()),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            call["source"]["principal"], "spiffe://cluster.local/ns/web/sa/frontend",
            "{call}"
        );
        assert_eq!(call["source"]["ip"], "10.1.2.3", "{call}");
        assert_eq!(call["source"]["ip_forwarded"] == true, forwarded, "{call}");
        if !forwarded {
            // The endpoint's first call: its record names who saw it first.
            let ep = recs
                .iter()
                .find_map(|r| match r {
                    OutRecord::Endpoint(e) => Some(serde_json::to_value(e).unwrap()),
                    _ => None,
                })
                .expect("an endpoint record for the first call");
            assert_eq!(
                ep["first_seen_by"]["principal"], "spiffe://cluster.local/ns/web/sa/frontend",
                "{ep}"
            );
        }
    }
}
