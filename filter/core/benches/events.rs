//! Event encoding per record (`cargo bench -p meshward-core --bench events`): the
//! records one call of the `full` benchmark setup produces (a `call` record of a
//! masked 4 KiB response with 20 sensitive values and its decisions, an `endpoint`
//! record), encoded as OTLP/HTTP JSON log records and as NDJSON lines, in ns per record
//! and bytes; a `serde_json::to_vec` of a same-size byte string is the reference row.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/pii.rs"]
mod pii;

use meshward_core::config::raw::EventFormat;
use meshward_core::events::entry;
use meshward_core::exchange::{
    Direction, Exchange, OutRecord, RequestInfo, ResponseInfo, StreamEnd,
};
use meshward_core::host::MemHost;
use meshward_core::identity::parse_spiffe;
use meshward_core::peer::Source;
use meshward_core::runtime::{NodeInfo, Runtime};
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

const ROUNDS: usize = 7;
const SLICE: Duration = Duration::from_millis(100);

fn ns_per_call(mut f: impl FnMut() -> usize) -> f64 {
    let mut sink = 0usize;
    for _ in 0..64 {
        sink = sink.wrapping_add(f());
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < SLICE {
        for _ in 0..64 {
            sink = sink.wrapping_add(f());
        }
        n += 64;
    }
    black_box(sink);
    start.elapsed().as_nanos() as f64 / n as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let cfg = serde_json::json!({
        "mode": "enforce",
        "service": "bench.default",
        "apis": {"templates": ["POST /api/v1/orders"]},
        "identity": {"sources": [{"jwt": {"header": "authorization", "claim": "sub"}}]},
        "masking": [{"name": "mask-pii", "types": ["cn_resident_id", "bank_card", "cn_mobile", "email"],
                     "style": "partial"}],
        "rate_limits": [{"name": "per-account", "key": "account",
                         "limit": {"requests": 100_000_000, "per": "1s"}}],
        "events": {"cluster": "outbound|4318||collector.local", "format": "otlp"},
    });
    let policy = meshward_core::config::load_value(cfg)
        .expect("config")
        .policy;
    let rt = Runtime::new(
        policy,
        &NodeInfo {
            plugin_name: "istio-system.meshward".into(),
            seed: 1,
            ..Default::default()
        },
    );
    let host = MemHost::at(1_764_385_200_000);
    let _ = rt.prepare(&host);
    let body = pii::bench_request(42).into_bytes();
    let resp = pii::bench_response(42).into_bytes();
    let headers: Vec<(&[u8], &[u8])> = vec![
        (b":authority", b"orders:8080"),
        (b":path", b"/api/v1/orders"),
        (b":method", b"POST"),
        (
            b"authorization",
            b"Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTAwMDEiLCJleHAiOjQxMDI0NDQ4MDB9.c2ln",
        ),
        (b"content-type", b"application/json"),
        (b"x-request-id", b"5f0c6a4e-6d1b-4b7e-9d8a-2b1c3d4e5f60"),
    ];
    let (ex, _) = Exchange::start(
        &rt,
        &host,
        &RequestInfo {
            method: "POST",
            path: "/api/v1/orders",
            authority: "orders:8080",
            headers: &headers,
            direction: Direction::Inbound,
            source: Some(&Rc::new(Source::parse("10.1.2.3:40000"))),
            workload: parse_spiffe("spiffe://cluster.local/ns/web/sa/frontend")
                .map(Rc::new)
                .as_ref(),
            mtls: true,
            jwt_authn: None,
            end_of_stream: false,
        },
    );
    let mut ex = ex.expect("an exchange");
    ex.request_body(&rt, &host, &body, false);
    let rh: Vec<(&[u8], &[u8])> =
        vec![(b":status", b"200"), (b"content-type", b"application/json")];
    ex.response_headers(
        &rt,
        &host,
        &ResponseInfo {
            status: 200,
            headers: &rh,
            end_of_stream: false,
        },
    );
    ex.response_body(&rt, &host, &rh, &resp, false);
    let records = ex.finish(
        &rt,
        &host,
        &StreamEnd {
            status: 200,
            duration_ms: 3,
            request_bytes: body.len() as u64,
            response_bytes: resp.len() as u64,
        },
    );
    let call = records.iter().find_map(|r| match r {
        OutRecord::Call(c) => Some(c.as_ref().clone()),
        _ => None,
    });
    let endpoint = records.iter().find_map(|r| match r {
        OutRecord::Endpoint(e) => Some(e.clone()),
        _ => None,
    });
    let (Some(call), Some(endpoint)) = (call, endpoint) else {
        eprintln!("the pipeline produced no call or endpoint record");
        return;
    };
    let size = entry(EventFormat::Ndjson, &call).map_or(0, |e| e.len());
    let filler = "x".repeat(size);
    type Case<'a> = (&'static str, Box<dyn FnMut() -> usize + 'a>);
    let mut cases: Vec<Case<'_>> = vec![
        (
            "reference: serde_json string of the same size",
            Box::new(|| serde_json::to_vec(black_box(&filler)).map_or(0, |v| v.len())),
        ),
        (
            "call record, ndjson",
            Box::new(|| entry(EventFormat::Ndjson, black_box(&call)).map_or(0, |v| v.len())),
        ),
        (
            "call record, otlp",
            Box::new(|| entry(EventFormat::Otlp, black_box(&call)).map_or(0, |v| v.len())),
        ),
        (
            "endpoint record, ndjson",
            Box::new(|| entry(EventFormat::Ndjson, black_box(&endpoint)).map_or(0, |v| v.len())),
        ),
        (
            "endpoint record, otlp",
            Box::new(|| entry(EventFormat::Otlp, black_box(&endpoint)).map_or(0, |v| v.len())),
        ),
        (
            "call record clone (what finish builds)",
            Box::new(|| black_box(call.clone()).decisions.len()),
        ),
    ];
    let mut ns = vec![Vec::new(); cases.len()];
    let mut bytes = vec![0usize; cases.len()];
    for round in 0..ROUNDS {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..cases.len()).collect()
        } else {
            (0..cases.len()).rev().collect()
        };
        for i in order {
            let f = &mut cases[i].1;
            bytes[i] = f();
            ns[i].push(ns_per_call(f));
        }
    }
    println!(
        "{:<46} {:>10} {:>8} {:>8}",
        "case", "ns/record", "x ref", "bytes"
    );
    println!("{}", "-".repeat(76));
    let reference = median(ns[0].clone());
    for (i, (name, _)) in cases.iter().enumerate() {
        let m = median(ns[i].clone());
        println!(
            "{:<46} {:>10.0} {:>8.1} {:>8}",
            name,
            m,
            m / reference,
            bytes[i]
        );
    }
    println!(
        "(medians of {ROUNDS} interleaved rounds; bytes: encoded size, or decisions for the clone)"
    );
}
