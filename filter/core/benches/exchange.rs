//! The whole per-request pipeline of the core, natively, on the benchmark traffic of
//! `scripts/bench.sh` (`cargo bench -p meshward-core --bench exchange`): µs per request
//! for the `policy`, `full` and `monitor` pluginConfigs, split by stage (request
//! headers, request body, response headers, response body, end of stream and event
//! encoding), and the host calls the core makes per request (metrics, shared data,
//! clock). The host is the in-memory one, so shared data costs a hash map lookup here;
//! under Envoy each shared-data call also crosses into the host.
//!
//! It also counts the heap allocations the core makes per request (a counting global
//! allocator; the benchmark's own response-header list is not counted): in the Wasm
//! module each one is a call into its allocator.
//!
//! `cargo bench -p meshward-core --bench exchange -- --profile full` runs the `full`
//! pipeline in a loop without printing (for `valgrind --tool=callgrind`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Only for the counting allocator below (benchmark code, not in the module).
#![allow(unsafe_code)]

#[path = "../tests/support/pii.rs"]
mod pii;

use meshward_core::clock::Clock;
use meshward_core::events::{entry_into, Frame};
use meshward_core::exchange::{
    Direction, Exchange, Header, OutRecord, RequestInfo, ResponseInfo, StreamEnd,
};
use meshward_core::host::{CasOutcome, Host, HostError, MemHost};
use meshward_core::peer::Source;
use meshward_core::runtime::{NodeInfo, Runtime};
use meshward_core::stats::MetricIdx;
use serde_json::{json, Value};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const ROUNDS: usize = 7;
const SLICE: Duration = Duration::from_millis(150);

/// The system allocator, counting allocations (`alloc` and `realloc` calls).
struct CountingAlloc;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocs() -> u64 {
    ALLOCS.load(Ordering::Relaxed)
}

/// The in-memory host, counting calls by kind.
#[derive(Default)]
struct Counting {
    inner: MemHost,
    metrics: Cell<u64>,
    gets: Cell<u64>,
    sets: Cell<u64>,
    clock: Cell<u64>,
}

impl Clock for Counting {
    fn now_ms(&self) -> u64 {
        self.clock.set(self.clock.get() + 1);
        self.inner.now_ms()
    }
}

impl Host for Counting {
    fn incr(&self, m: MetricIdx, n: u64) {
        self.metrics.set(self.metrics.get() + 1);
        self.inner.incr(m, n)
    }
    fn set_gauge(&self, m: MetricIdx, v: u64) {
        self.metrics.set(self.metrics.get() + 1);
        self.inner.set_gauge(m, v)
    }
    fn record(&self, m: MetricIdx, v: u64) {
        self.metrics.set(self.metrics.get() + 1);
        // Histogram samples are not kept (the in-memory host would grow).
        black_box((m, v));
    }
    fn shared_get(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostError> {
        self.gets.set(self.gets.get() + 1);
        self.inner.shared_get(key)
    }
    fn shared_set(&self, key: &str, value: &[u8], cas: u32) -> Result<CasOutcome, HostError> {
        self.sets.set(self.sets.get() + 1);
        self.inner.shared_set(key, value, cas)
    }
}

fn deny_rules() -> Value {
    Value::Array(
        (0..20)
            .map(|i| {
                json!({"name": format!("deny-area-{i:02}"), "action": "deny",
                       "when": {"paths": [format!("/admin/area{i:02}/*")],
                                "headers": {"x-tenant": [format!("blocked-{i:02}")]}}})
            })
            .collect(),
    )
}

/// The pluginConfigs of envoy/bench/harness.py.
fn config(setup: &str) -> Value {
    let never = json!({"requests": 100_000_000, "per": "1s"});
    if setup == "policy" {
        return json!({
            "mode": "enforce",
            "inspection": {"request_body": false, "response_body": false},
            "detection": {"injection": {"sqli": "off", "xss": "off", "path_traversal": "off",
                                        "command": "off", "ssrf": "off", "jndi": "off"},
                          "scanners": "off",
                          "behavior": {"not_found_burst": false, "auth_failure_burst": false,
                                       "enumeration": false, "off_hours": false}},
            "findings": {"unauthenticated_sensitive": false, "excessive_exposure": false,
                         "sensitive_in_url": false, "plaintext_sensitive": false,
                         "weak_auth": false, "verbose_errors": false, "undeclared": false},
            "access": {"default": "allow", "rules": deny_rules()},
            "rate_limits": [{"name": "per-source", "key": "source_ip", "limit": never}],
        });
    }
    json!({
        "mode": if setup == "monitor" { "monitor" } else { "enforce" },
        "service": "bench.default",
        "apis": {"templates": ["GET /api/v1/users/{id}", "GET /api/v1/users/{id}/orders",
                               "GET /api/v1/orders/{id}", "GET /api/v1/products/{id}/reviews",
                               "POST /api/v1/orders"]},
        "identity": {"sources": [{"jwt": {"header": "authorization", "claim": "sub"}}]},
        "sensitive": {"types": "all"},
        "masking": [{"name": "mask-pii", "types": ["cn_resident_id", "bank_card", "cn_mobile", "email"],
                     "style": "partial"}],
        "access": {"default": "allow", "rules": deny_rules()},
        "rate_limits": [{"name": "per-account", "key": "account", "limit": never},
                        {"name": "per-api", "key": "api", "limit": never}],
        "detection": {"injection": {"sqli": "block", "xss": "block", "path_traversal": "block",
                                    "command": "block", "ssrf": "alert", "jndi": "block",
                                    "where": ["path", "query", "headers", "body"]},
                      "scanners": "alert"},
        "events": {"cluster": "outbound|4318||collector.local", "authority": "collector.local",
                   "path": "/v1/logs", "format": "otlp", "flush_interval": "1s", "sample": 1.0},
    })
}

fn b64url(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// One request of the benchmark traffic (3 GETs, then a POST of the 1 KiB body).
struct Req {
    method: &'static str,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
}

fn traffic() -> Vec<Req> {
    let body = pii::bench_request(42).into_bytes();
    let gets = [
        "/api/v1/users/{id}",
        "/api/v1/users/{id}/orders",
        "/api/v1/orders/{id}",
        "/api/v1/products/{id}/reviews",
    ];
    (0..400usize)
        .map(|k| {
            let payload = format!(
                r#"{{"iss":"https://idp.example.com","sub":"user-{:04}","aud":"bench","iat":1735689600,"exp":4102444800,"role":"customer"}}"#,
                k % 100
            );
            let token = format!(
                "{}.{}.{}",
                b64url(br#"{"alg":"HS256","typ":"JWT"}"#),
                b64url(payload.as_bytes()),
                b64url(&[7u8; 32])
            );
            let (method, path, post) = if k % 4 == 3 {
                ("POST", "/api/v1/orders".to_string(), true)
            } else {
                let id = 100_000 + (k * 7919) % 100;
                ("GET", gets[k % 4].replace("{id}", &id.to_string()), false)
            };
            let mut headers: Vec<(String, Vec<u8>)> = vec![
                (":authority".into(), b"127.0.0.1:8080".to_vec()),
                (":path".into(), path.clone().into_bytes()),
                (":method".into(), method.as_bytes().to_vec()),
                (":scheme".into(), b"http".to_vec()),
                ("authorization".into(), format!("Bearer {token}").into_bytes()),
                ("accept".into(), b"application/json".to_vec()),
                ("user-agent".into(), b"bench-client/1.0".to_vec()),
                ("x-forwarded-proto".into(), b"http".to_vec()),
                (
                    "x-request-id".into(),
                    b"5f0c6a4e-6d1b-4b7e-9d8a-2b1c3d4e5f60".to_vec(),
                ),
            ];
            if post {
                headers.push(("content-type".into(), b"application/json".to_vec()));
                headers.push(("content-length".into(), body.len().to_string().into_bytes()));
            }
            Req {
                method,
                path,
                headers,
                body: post.then(|| body.clone()),
            }
        })
        .collect()
}

fn response_headers(len: usize) -> Vec<(String, Vec<u8>)> {
    vec![
        (":status".into(), b"200".to_vec()),
        ("content-length".into(), len.to_string().into_bytes()),
        ("content-type".into(), b"application/json".to_vec()),
        ("date".into(), b"Sat, 29 Nov 2025 03:00:00 GMT".to_vec()),
        ("server".into(), b"envoy".to_vec()),
        ("x-envoy-upstream-service-time".into(), b"0".to_vec()),
    ]
}

/// Nanoseconds spent per stage.
#[derive(Default, Clone, Copy)]
struct Stages([f64; 6]);

const STAGE_NAMES: [&str; 6] = [
    "request headers",
    "request body",
    "response headers",
    "response body",
    "end of stream",
    "event encoding",
];

/// Runs one request through every stage; adds the time of each stage to `t`.
fn one(rt: &Runtime, host: &dyn Host, r: &Req, resp: &[u8], t: &mut Stages, timed: bool) -> usize {
    let mut clock = Instant::now();
    let mut lap = |t: &mut Stages, i: usize| {
        if timed {
            let now = Instant::now();
            t.0[i] += (now - clock).as_nanos() as f64;
            clock = now;
        }
    };
    // The connection's parsed address (the adapter keeps one per connection).
    thread_local!(static SOURCE: Rc<Source> = Rc::new(Source::parse("127.0.0.1:40000")));
    let source = SOURCE.with(Rc::clone);
    // The adapter's view of the serialised header map (one vector per read).
    let headers: Vec<Header<'_>> = r
        .headers
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_slice()))
        .collect();
    let req = RequestInfo {
        method: r.method,
        path: &r.path,
        authority: "127.0.0.1:8080",
        headers: &headers,
        direction: Direction::Inbound,
        source: Some(&source),
        workload: None,
        mtls: false,
        jwt_authn: None,
        end_of_stream: r.body.is_none(),
    };
    let (ex, plan) = Exchange::start(rt, host, &req);
    black_box(&plan);
    lap(t, 0);
    let Some(mut ex) = ex else {
        return 0;
    };
    if let Some(b) = &r.body {
        black_box(ex.request_body(rt, host, b, false));
    }
    lap(t, 1);
    // The host's header list, not the core's allocations: taken out of the count.
    let before = allocs();
    let owned = response_headers(resp.len());
    ALLOCS.fetch_sub(allocs() - before, Ordering::Relaxed);
    let rh: Vec<Header<'_>> = owned
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_slice()))
        .collect();
    let plan = ex.response_headers(
        rt,
        host,
        &ResponseInfo {
            status: 200,
            headers: &rh,
            end_of_stream: false,
        },
    );
    black_box(&plan);
    lap(t, 2);
    black_box(ex.response_body(rt, host, &rh, resp, false));
    lap(t, 3);
    // As the adapter does: no call record is built without `events`.
    let end = StreamEnd {
        status: 200,
        duration_ms: 1,
        request_bytes: r.body.as_ref().map_or(0, |b| b.len() as u64),
        response_bytes: resp.len() as u64,
    };
    let records = ex.finish_lazy(rt, host, rt.policy.events.is_some(), move || end);
    lap(t, 4);
    let mut bytes = 0;
    if let Some(ev) = rt.policy.events.as_ref() {
        // As the filter does: appended to the event queue's buffer, then joined into a
        // batch body (here: every request; OTLP entries get their envelope there).
        QUEUE_BUF.with_borrow_mut(|(buf, ends, frame)| {
            buf.clear();
            ends.clear();
            for rec in &records {
                let _ = match rec {
                    OutRecord::Call(c) => entry_into(ev.format, c.as_ref(), buf),
                    OutRecord::Endpoint(e) => entry_into(ev.format, e, buf),
                    OutRecord::Alert(a) => entry_into(ev.format, a, buf),
                    OutRecord::Finding(f) => entry_into(ev.format, f, buf),
                };
                ends.push(buf.len());
            }
            // Built once per worker (and format), as the filter's queue does.
            if frame.as_ref().map(|f| f.format) != Some(ev.format) {
                *frame = Some(Frame::new(ev.format, "bench.svc", meshward_core::VERSION));
            }
            let Some(frame) = frame.as_ref() else {
                return;
            };
            let starts = std::iter::once(0).chain(ends.iter().copied());
            let parts = starts.zip(ends.iter()).map(|(s, &e)| &buf[s..e]);
            bytes = black_box(frame.body(parts, buf.len()).len());
        });
    }
    lap(t, 5);
    bytes
}

thread_local! {
    static QUEUE_BUF: std::cell::RefCell<(Vec<u8>, Vec<usize>, Option<Frame>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new(), None)) };
}

fn runtime(setup: &str) -> Runtime {
    let loaded = meshward_core::config::load_value(config(setup)).expect("bench config");
    Runtime::new(
        loaded.policy,
        &NodeInfo {
            plugin_name: "istio-system.meshward".into(),
            seed: 42,
            env: vec![("MESHWARD_HASH_KEY".into(), "bench-hash-key".into())],
            ..Default::default()
        },
    )
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let resp = pii::bench_response(42).into_bytes();
    let reqs = traffic();
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--profile") {
        let setup = args.get(i + 1).map_or("full", String::as_str);
        let n: usize = args
            .get(i + 2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(20_000);
        let rt = runtime(setup);
        let host = Counting::default();
        host.inner.now.set(1_764_385_200_000);
        let _ = rt.prepare(&host);
        let mut t = Stages::default();
        for k in 0..n {
            host.inner.advance(1);
            black_box(one(&rt, &host, &reqs[k % reqs.len()], &resp, &mut t, false));
        }
        return;
    }
    println!(
        "{:<8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}   host calls/request: {:>7} {:>6} {:>6} {:>6} {:>9} {:>7}",
        "setup", "µs/req", "req hdrs", "req body", "resp hdr", "resp body", "end", "encode",
        "metrics", "get", "set", "clock", "event B", "allocs"
    );
    for setup in ["policy", "full", "monitor"] {
        let rt = runtime(setup);
        let host = Counting::default();
        host.inner.now.set(1_764_385_200_000);
        let _ = rt.prepare(&host);
        // Warm-up: discovery, findings and the first records happen here.
        let mut t = Stages::default();
        for k in 0..2_000 {
            host.inner.advance(1);
            one(&rt, &host, &reqs[k % reqs.len()], &resp, &mut t, false);
        }
        let mut totals = vec![Vec::new(); 7];
        let (m0, g0, s0, c0, a0) = (
            host.metrics.get(),
            host.gets.get(),
            host.sets.get(),
            host.clock.get(),
            allocs(),
        );
        let mut n_all = 0u64;
        let mut bytes = 0usize;
        let mut k = 0usize;
        for _ in 0..ROUNDS {
            let mut t = Stages::default();
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < SLICE {
                for _ in 0..reqs.len() {
                    host.inner.advance(1);
                    bytes += one(&rt, &host, &reqs[k % reqs.len()], &resp, &mut t, true);
                    k += 1;
                    n += 1;
                }
            }
            n_all += n;
            let sum: f64 = t.0.iter().sum();
            totals[0].push(sum / n as f64 / 1000.0);
            for (i, v) in t.0.iter().enumerate() {
                totals[i + 1].push(v / n as f64 / 1000.0);
            }
        }
        let per = |x: u64| x as f64 / n_all as f64;
        println!(
            "{:<8} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}   {:>26.1} {:>6.1} {:>6.1} {:>6.1} {:>9.0} {:>7.1}",
            setup,
            median(&mut totals[0]),
            median(&mut totals[1]),
            median(&mut totals[2]),
            median(&mut totals[3]),
            median(&mut totals[4]),
            median(&mut totals[5]),
            median(&mut totals[6]),
            per(host.metrics.get() - m0),
            per(host.gets.get() - g0),
            per(host.sets.get() - s0),
            per(host.clock.get() - c0),
            bytes as f64 / n_all as f64,
            per(allocs() - a0),
        );
    }
    println!(
        "(medians of {ROUNDS} rounds; 3 GETs and 1 POST of 1 KiB per 4 requests, every response the \
         4 KiB body; stages: {})",
        STAGE_NAMES.join(", ")
    );
}
