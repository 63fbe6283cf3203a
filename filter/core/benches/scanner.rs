//! Scanner micro-benchmark (bench.md): classification and masking throughput in MB/s on
//! the benchmark bodies (a 4 KiB JSON response with 20 sensitive values, a 1 KiB JSON
//! request), next to a plain byte loop over the same bytes as the reference limit.
//! Setups are interleaved (A B C A B C ...) over several rounds; medians are printed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/pii.rs"]
mod pii;

use meshward_core::config::raw::MaskStyle;
use meshward_core::sensitive::{Classifier, Date, Hits};
use std::hint::black_box;
use std::time::{Duration, Instant};

const ROUNDS: usize = 7;
const SLICE: Duration = Duration::from_millis(120);

/// Runs `f` repeatedly for about `SLICE`; returns MB/s over `bytes` per call.
fn measure(bytes: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < SLICE {
        for _ in 0..16 {
            f();
        }
        n += 16;
    }
    let secs = start.elapsed().as_secs_f64();
    (bytes as f64 * n as f64) / secs / 1e6
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn byte_loop(body: &[u8]) -> usize {
    let body = black_box(body);
    body.iter().filter(|&&b| b == b'"').count()
}

fn main() {
    let policy = meshward_core::config::load(b"")
        .expect("default config")
        .policy;
    let c = Classifier::new(&policy.sensitive);
    let today = Date::from_unix_ms(1_735_689_600_000);
    let mut plan = vec![None; c.type_count()];
    for id in ["cn_resident_id", "bank_card", "cn_mobile", "email"] {
        if let Some(i) = c.type_index(id) {
            plan[i] = Some(MaskStyle::Partial);
        }
    }
    let bodies = [
        ("response 4 KiB", pii::bench_response(42)),
        ("request 1 KiB", pii::bench_request(42)),
    ];
    println!(
        "{:<16} {:>6} {:>5} {:>12} {:>12} {:>12} {:>8} {:>8}",
        "body", "bytes", "hits", "bytes MB/s", "scan MB/s", "mask MB/s", "scan/ref", "mask/ref"
    );
    for (name, body) in &bodies {
        let b = body.as_bytes();
        let mut hits = Hits::new();
        let mut out = Vec::with_capacity(b.len() + 64);
        c.scan_json(b, today, &mut hits);
        let found = hits.total();
        let (mut r, mut s, mut m, mut rs, mut rm) = (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..ROUNDS {
            let reference = measure(b.len(), || {
                black_box(byte_loop(b));
            });
            let scan = measure(b.len(), || {
                hits.clear();
                black_box(c.scan_json(black_box(b), today, &mut hits));
            });
            let mask = measure(b.len(), || {
                out.clear();
                hits.clear();
                black_box(c.mask_json_with(
                    black_box(b),
                    &plan,
                    b"key",
                    today,
                    &mut out,
                    &mut hits,
                ));
            });
            rs.push(scan / reference);
            rm.push(mask / reference);
            r.push(reference);
            s.push(scan);
            m.push(mask);
        }
        println!(
            "{:<16} {:>6} {:>5} {:>12.0} {:>12.1} {:>12.1} {:>8.4} {:>8.4}",
            name,
            b.len(),
            found,
            median(r),
            median(s),
            median(m),
            median(rs),
            median(rm)
        );
    }
    println!(
        "(medians of {ROUNDS} interleaved rounds; ratio = scanner / plain byte loop, per round)"
    );
}
