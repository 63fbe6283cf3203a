//! Path normalisation, endpoint templating, rule path matching and access evaluation
//! (the 20 deny rules of `scripts/bench.sh`): ns per call on typical paths
//! (`cargo bench -p meshward-core --bench matching`). Prints a table; a plain copy of
//! the path into a reused buffer is the reference row.

use meshward_core::api::{normalize_into, Templater};
use meshward_core::matcher::{PathPattern, PathSet};
use meshward_core::protect::{evaluate_access, Subject};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Rounds; every case is measured once per round, cases interleaved (bench.md).
const ROUNDS: usize = 7;
/// Time per case and round (17 cases x 7 rounds x 60 ms: about 7 s in all).
const SLICE: Duration = Duration::from_millis(60);

type Case<'a> = (&'static str, Box<dyn FnMut() + 'a>);

/// Calibrates a batch of about 0.5 ms for `f`.
fn batch_size(f: &mut dyn FnMut()) -> u64 {
    let mut batch: u64 = 1;
    loop {
        let t = Instant::now();
        for _ in 0..batch {
            f();
        }
        if t.elapsed() >= Duration::from_micros(500) || batch >= 1 << 24 {
            return batch;
        }
        batch *= 2;
    }
}

/// Best batch mean (ns per call) within one slice, and the calls made.
fn slice(f: &mut dyn FnMut(), batch: u64) -> (f64, u64) {
    let start = Instant::now();
    let mut best = f64::INFINITY;
    let mut calls = 0;
    while start.elapsed() < SLICE {
        let t = Instant::now();
        for _ in 0..batch {
            f();
        }
        best = best.min(t.elapsed().as_nanos() as f64 / batch as f64);
        calls += batch;
    }
    (best, calls)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let declared: Vec<String> = (0..50)
        .map(|i| match i % 5 {
            0 => format!("GET /api/v1/res{i}/{{id}}"),
            1 => format!("/api/v1/res{i}/{{id}}/items/{{item}}"),
            2 => format!("POST /api/v1/res{i}"),
            3 => format!("/api/v2/res{i}/{{id}}/sub"),
            _ => format!("DELETE /api/v1/res{i}/{{id}}"),
        })
        .chain(["GET /api/v1/users/{id}/orders".to_string()])
        .collect();
    let policy = match meshward_core::config::load_value(serde_json::json!({
        "apis": { "templates": declared }
    })) {
        Ok(l) => l.policy,
        Err(e) => {
            eprintln!("bench config refused: {e:?}");
            return;
        }
    };
    let templater = Templater::new(&policy.apis);
    let empty = match meshward_core::config::load_value(serde_json::json!({})) {
        Ok(l) => Templater::new(&l.policy.apis),
        Err(e) => {
            eprintln!("bench config refused: {e:?}");
            return;
        }
    };

    let typical = "/api/v1/users/12345/orders";
    let ids = "/api/v1/users/12345/orders/3f2504e0-4f89-11d3-9a0c-0305e82c3301/items/ord_9xk2p";
    let tricky = "/api/v1/%2e%2e/v1/users;jsessionid=AB12//12345/./orders/%252e";
    let long: String = (0..30)
        .map(|i| {
            if i % 3 == 0 {
                format!("/seg{i}")
            } else {
                format!("/{}", 1000 + i)
            }
        })
        .collect();

    let patterns: Vec<PathPattern> = (0..20)
        .filter_map(|i| {
            let p = match i % 4 {
                0 => format!("/admin/area{i}/*"),
                1 => format!("/internal/svc{i}/{{id}}"),
                2 => format!("/exports/report{i}"),
                _ => format!("/api/v9/thing{i}/*"),
            };
            PathPattern::parse(&p).ok()
        })
        .collect();
    let set_miss = PathSet(patterns.clone());
    let mut hit = patterns;
    if let Ok(p) = PathPattern::parse("/api/v1/users/{id}/orders") {
        hit.push(p);
    }
    let set_hit = PathSet(hit);

    // The 20 deny rules (path prefix + header) of scripts/bench.sh.
    let rules: Vec<serde_json::Value> = (0..20)
        .map(|i| {
            serde_json::json!({"name": format!("deny-area-{i:02}"), "action": "deny",
                "when": {"paths": [format!("/admin/area{i:02}/*")],
                         "headers": {"x-tenant": [format!("blocked-{i:02}")]}}})
        })
        .collect();
    let access = match meshward_core::config::load_value(serde_json::json!({
        "access": { "default": "allow", "rules": rules }
    })) {
        Ok(l) => l.policy.access,
        Err(e) => {
            eprintln!("bench config refused: {e:?}");
            return;
        }
    };
    let req_headers: Vec<(&[u8], &[u8])> = vec![
        (b":authority", b"orders:8080"),
        (b"authorization", b"Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln"),
        (b"accept", b"application/json"),
        (b"user-agent", b"bench-client/1.0"),
        (b"x-request-id", b"5f0c6a4e-6d1b-4b7e-9d8a-2b1c3d4e5f60"),
        (b"x-tenant", b"blocked-19"),
    ];
    let subject = |path: &'static str, template: &'static str| Subject {
        principal: Some("spiffe://cluster.local/ns/web/sa/frontend"),
        namespace: Some("web"),
        account: None,
        claims: None,
        method: "GET",
        path,
        template,
        source_ip: "10.1.2.3".parse().ok(),
        headers: &req_headers,
    };
    let miss = subject("/api/v1/users/12345/orders", "/api/v1/users/{int}/orders");
    let path_only = subject("/admin/area07/report", "/admin/area07/report");
    let last = subject("/admin/area19/report", "/admin/area19/report");

    let mut first = String::with_capacity(1024);
    templater.template("GET", typical, &mut first);
    let template = first;
    let buf = || String::with_capacity(1024);
    let cases: Vec<Case<'_>> = vec![
        ("reference: copy path into buffer", {
            let mut b = buf();
            Box::new(move || {
                b.clear();
                b.push_str(black_box(typical));
                black_box(&b);
            })
        }),
        ("normalize typical", {
            let mut b = buf();
            Box::new(move || {
                black_box(normalize_into(black_box(typical), &mut b));
            })
        }),
        ("normalize tricky (dots, ;params, //, %252e)", {
            let mut b = buf();
            Box::new(move || {
                black_box(normalize_into(black_box(tricky), &mut b));
            })
        }),
        ("normalize long (30 segments)", {
            let mut b = buf();
            let long = long.as_str();
            Box::new(move || {
                black_box(normalize_into(black_box(long), &mut b));
            })
        }),
        ("template declared hit (51 templates)", {
            let mut t = buf();
            let tp = &templater;
            Box::new(move || {
                black_box(tp.template("GET", black_box(typical), &mut t));
            })
        }),
        ("template declared miss -> heuristic ids", {
            let mut t = buf();
            let tp = &templater;
            Box::new(move || {
                black_box(tp.template("GET", black_box(ids), &mut t));
            })
        }),
        ("template heuristic typical (none declared)", {
            let mut t = buf();
            let tp = &empty;
            Box::new(move || {
                black_box(tp.template("GET", black_box(typical), &mut t));
            })
        }),
        ("template heuristic ids (none declared)", {
            let mut t = buf();
            let tp = &empty;
            Box::new(move || {
                black_box(tp.template("GET", black_box(ids), &mut t));
            })
        }),
        ("template heuristic long (none declared)", {
            let mut t = buf();
            let tp = &empty;
            let long = long.as_str();
            Box::new(move || {
                black_box(tp.template("GET", black_box(long), &mut t));
            })
        }),
        ("normalize + template declared hit", {
            let (mut b, mut t) = (buf(), buf());
            let tp = &templater;
            Box::new(move || {
                normalize_into(black_box(typical), &mut b);
                black_box(tp.template("GET", &b, &mut t));
            })
        }),
        ("normalize + template heuristic ids", {
            let (mut b, mut t) = (buf(), buf());
            let tp = &templater;
            Box::new(move || {
                normalize_into(black_box(ids), &mut b);
                black_box(tp.template("GET", &b, &mut t));
            })
        }),
        ("normalize + template tricky", {
            let (mut b, mut t) = (buf(), buf());
            let tp = &templater;
            Box::new(move || {
                normalize_into(black_box(tricky), &mut b);
                black_box(tp.template("GET", &b, &mut t));
            })
        }),
        ("PathSet 20 patterns, no match", {
            let (set, tpl) = (&set_miss, template.as_str());
            Box::new(move || {
                black_box(set.matches(black_box(typical), black_box(tpl)));
            })
        }),
        ("PathSet 21 patterns, last matches", {
            let (set, tpl) = (&set_hit, template.as_str());
            Box::new(move || {
                black_box(set.matches(black_box(typical), black_box(tpl)));
            })
        }),
        ("access 20 deny rules, no path matches", {
            let (a, s) = (&access, &miss);
            Box::new(move || {
                black_box(evaluate_access(a, black_box(s)));
            })
        }),
        ("access 20 deny rules, path ok, header not", {
            let (a, s) = (&access, &path_only);
            Box::new(move || {
                black_box(evaluate_access(a, black_box(s)));
            })
        }),
        ("access 20 deny rules, the last denies", {
            let (a, s) = (&access, &last);
            Box::new(move || {
                black_box(evaluate_access(a, black_box(s)));
            })
        }),
    ];
    let mut cases = cases;
    let batches: Vec<u64> = cases.iter_mut().map(|(_, f)| batch_size(f)).collect();
    // ns[case][round], and the ratio to the reference of the same round.
    let mut ns = vec![Vec::with_capacity(ROUNDS); cases.len()];
    let mut ratio = vec![Vec::with_capacity(ROUNDS); cases.len()];
    let mut calls = vec![0u64; cases.len()];
    for round in 0..ROUNDS {
        let mut this = vec![0.0; cases.len()];
        // Alternate the direction of the sweep so no case always follows the same one.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..cases.len()).collect()
        } else {
            (0..cases.len()).rev().collect()
        };
        for i in order {
            if let (Some((_, f)), Some(&b)) = (cases.get_mut(i), batches.get(i)) {
                let (t, c) = slice(f, b);
                this[i] = t;
                calls[i] += c;
            }
        }
        let reference = this.first().copied().unwrap_or(1.0).max(0.01);
        for (i, t) in this.iter().enumerate() {
            ns[i].push(*t);
            ratio[i].push(t / reference);
        }
    }
    println!(
        "{:<46} {:>10} {:>8} {:>12}",
        "case", "ns/call", "x ref", "calls"
    );
    println!("{}", "-".repeat(80));
    for (i, (name, _)) in cases.iter().enumerate() {
        println!(
            "{:<46} {:>10.1} {:>8.1} {:>12}",
            name,
            median(&mut ns[i]),
            median(&mut ratio[i]),
            calls[i]
        );
    }
    println!(
        "({ROUNDS} interleaved rounds; per case the median over rounds of the best batch \
         mean, and the median of the per-round ratio to the reference row)"
    );
}
