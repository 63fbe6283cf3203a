#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::panic)]
//! Detection quality: detection rate per family on the attack corpora in
//! `tests/corpus/`, and false-positive rate on the benign corpus (a file of
//! hand-written values plus deterministic generated ones). Fails unless every family
//! is at least 90 % and benign false positives are at most 1 %.
//!
//! Corpus format: one value per line, as it arrives (raw or percent-encoded); a
//! literal `\n` stands for a newline; lines starting with `## ` are comments; a
//! prefix `@path `, `@header `, `@body ` or `@ua ` selects how the value is inspected
//! (default: a query value).

use meshward_core::detect::{Detector, Family, FamilySet, Place};

const MIN_DETECTION: f64 = 0.90;
const MAX_FALSE_POSITIVES: f64 = 0.01;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    Path,
    Ua,
    Value(Place),
}

struct Sample {
    value: Vec<u8>,
    place: Where,
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() || line.starts_with("## ") || line == "##" {
        return None;
    }
    let (place, rest) = if let Some(r) = line.strip_prefix("@path ") {
        (Where::Path, r)
    } else if let Some(r) = line.strip_prefix("@header ") {
        (Where::Value(Place::Header), r)
    } else if let Some(r) = line.strip_prefix("@body ") {
        (Where::Value(Place::Body), r)
    } else if let Some(r) = line.strip_prefix("@ua ") {
        (Where::Ua, r)
    } else {
        (Where::Value(Place::Query), line)
    };
    Some(Sample {
        value: rest.replace("\\n", "\n").into_bytes(),
        place,
    })
}

fn load(name: &str) -> Vec<Sample> {
    // MESHWARD_CORPUS_DIR: run the same test on another set of corpora (hold-out sets).
    let dir = std::env::var("MESHWARD_CORPUS_DIR")
        .unwrap_or_else(|_| format!("{}/tests/corpus", env!("CARGO_MANIFEST_DIR")));
    let path = format!("{dir}/{name}");
    if !std::path::Path::new(&path).exists() && std::env::var("MESHWARD_CORPUS_DIR").is_ok() {
        return Vec::new();
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines().filter_map(parse_line).collect()
}

fn run(d: &Detector, s: &Sample) -> FamilySet {
    match s.place {
        Where::Path => d.inspect_path(&s.value),
        Where::Ua => {
            let mut f = d.inspect(&s.value, Place::Header);
            if d.scanner_user_agent(&s.value) {
                f.insert(Family::Scanner);
            }
            f
        }
        Where::Value(p) => d.inspect(&s.value, p),
    }
}

/// Deterministic generator (64-bit LCG).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.next() % xs.len()]
    }
}

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "Wei",
    "Li",
    "Fatima",
    "Sean",
    "Siobhán",
    "José",
    "Aoife",
    "Chloé",
    "Dmitri",
    "Priya",
    "Kenji",
    "Ngozi",
    "Lars",
    "Ana",
    "Mohammed",
    "Yuki",
    "Olga",
    "Pierre",
    "Ma'ayan",
    "De'Andre",
    "Jean-Paul",
    "Zoë",
    "Bob",
];
const LAST: &[&str] = &[
    "O'Brien",
    "O'Neil",
    "D'Angelo",
    "O'Connor",
    "Smith",
    "Zhang",
    "García",
    "Müller",
    "Nguyen",
    "D'Souza",
    "McCarthy",
    "O'Hara",
    "Kowalski",
    "Dell'Orto",
    "L'Heureux",
    "Singh",
    "Tanaka",
    "Okafor",
    "Johansson",
    "Ivanova",
    "Da Silva",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "mail.example.net",
    "shop.example.co.uk",
    "api.example.io",
    "cdn.example.com",
    "docs.example.dev",
    "github.com",
    "www.wikipedia.org",
    "news.example.cn",
];
const WORDS: &[&str] = &[
    "select",
    "union",
    "drop",
    "order",
    "by",
    "or",
    "and",
    "delete",
    "update",
    "insert",
    "from",
    "where",
    "table",
    "sleep",
    "benchmark",
    "exec",
    "script",
    "alert",
    "cat",
    "id",
    "ping",
    "echo",
    "host",
    "file",
    "path",
    "env",
    "user",
    "admin",
    "null",
    "true",
    "like",
    "having",
    "group",
    "limit",
    "join",
    "into",
    "values",
    "set",
    "case",
    "shipping",
    "order",
    "price",
    "discount",
    "winter",
    "jacket",
    "red",
    "blue",
    "size",
    "large",
    "coffee",
    "tea",
];
const VERBS: &[&str] = &[
    "select", "choose", "pick", "update", "delete", "drop", "order", "insert", "join", "set",
    "check", "cancel",
];
const OBJECTS: &[&str] = &[
    "your plan",
    "one option",
    "the table",
    "my account",
    "a size",
    "the union dues",
    "all items",
    "the order",
    "the file",
    "your region",
    "a date",
    "the null values",
    "the host",
    "an id",
    "the script",
    "a user",
];
const TAILS: &[&str] = &[
    "or cancel",
    "and continue",
    "or contact support",
    "by Friday",
    "from the list",
    "where possible",
    "if needed",
    "or not",
    "and then sleep",
    "-- thanks",
    "; thanks!",
    "(optional)",
    "as soon as possible",
    "or 1 of the others",
    "& more",
    "| see FAQ",
    "before 5pm",
    "in 2 or 3 days",
];
const ADJ: &[&str] = &[
    "Great",
    "Terrible",
    "Okay",
    "Awesome",
    "Didn't like the",
    "Wasn't sure about the",
    "Can't complain about the",
    "Love the",
    "It's a solid",
    "Wouldn't buy the",
];
const PRODUCTS: &[&str] = &[
    "jacket",
    "coffee maker",
    "desk chair",
    "\"Pro\" headphones",
    "table lamp",
    "union-made boots",
    "drop-leaf table",
    "sleep mask",
    "script font pack",
    "cat tree",
    "select-grade olive oil",
];
const CN: &[&str] = &[
    "请",
    "选择",
    "删除",
    "订单",
    "用户",
    "表格",
    "数据",
    "发货",
    "退款",
    "联系",
    "客服",
    "我们",
    "的",
    "，",
    "。",
    "（测试）",
    "：",
    "；",
    "！",
    "？",
    "是否",
    "或者",
    "并且",
    "时间",
    "地址",
];
const SEARCH: &[&str] = &[
    "union square hotels",
    "drop shipping suppliers",
    "select comfort mattress",
    "sql union vs join",
    "how to delete facebook account",
    "order by price low to high",
    "cat 6 ethernet cable",
    "ping pong table",
    "echo dot 5th gen",
    "sleep apnea treatment",
    "alert dog harness",
    "script writing software",
    "shell gas station near me",
    "bash birthday party ideas",
    "curl hair products",
    "nc state basketball",
    "table or chair",
    "1 or 2 bedroom apartment",
    "where to buy o'neill wetsuit",
    "men's shoes size 10",
    "kids' books & toys",
    "c++ vs rust",
    "what does 'null' mean",
    "sleep(5) python",
    "etc passwd meaning",
    "localhost 8080",
    "javascript tutorial",
];
const JSON_KEYS: &[&str] = &[
    "name",
    "note",
    "comment",
    "title",
    "query",
    "filter",
    "sort",
    "description",
];

fn generated() -> Vec<Sample> {
    let mut r = Rng(0x5eed_1234_abcd);
    let mut out = Vec::new();
    let mut push = |v: String, p: Place| {
        out.push(Sample {
            value: v.into_bytes(),
            place: Where::Value(p),
        })
    };
    for i in 0..2200 {
        let kind = i % 14;
        let v = match kind {
            0 => format!("{} {}", r.pick(FIRST), r.pick(LAST)),
            1 => {
                let f = r.pick(FIRST).to_lowercase().replace(['\'', ' '], "");
                let l = r.pick(LAST).to_lowercase().replace([' '], "");
                format!("{f}.{l}@{}", r.pick(DOMAINS))
            }
            2 => format!(
                "Please {} {} {}.",
                r.pick(VERBS),
                r.pick(OBJECTS),
                r.pick(TAILS)
            ),
            3 => format!("{} {}, {}!", r.pick(ADJ), r.pick(PRODUCTS), r.pick(TAILS)),
            4 => format!(
                "https://{}/{}/{}?{}={}&page={}",
                r.pick(DOMAINS),
                r.pick(WORDS),
                r.next() % 10_000,
                r.pick(WORDS),
                r.pick(WORDS),
                r.next() % 50
            ),
            5 => r.pick(SEARCH).to_string(),
            6 => {
                let n = 4 + r.next() % 10;
                (0..n).map(|_| r.pick(CN)).collect::<String>()
            }
            7 => format!(
                "{{\"{}\":\"{} {}\",\"qty\":{}}}",
                r.pick(JSON_KEYS),
                r.pick(WORDS),
                r.pick(WORDS),
                r.next() % 100
            ),
            8 => format!(
                "{}-{:02}-{:02}T{:02}:{:02}:00Z",
                2020 + r.next() % 6,
                1 + r.next() % 12,
                1 + r.next() % 28,
                r.next() % 24,
                r.next() % 60
            ),
            9 => format!("{} {} {}", r.pick(WORDS), r.pick(WORDS), r.pick(WORDS)),
            10 => format!(
                "{} {} {} {}",
                r.pick(WORDS),
                r.pick(WORDS),
                r.pick(WORDS),
                r.pick(WORDS)
            ),
            11 => format!(
                "{}_{}.{}",
                r.pick(WORDS),
                r.next() % 1000,
                [
                    "pdf",
                    "final.pdf",
                    "tar.gz",
                    "csv",
                    "png",
                    "docx",
                    "v2.json"
                ][r.next() % 7]
            ),
            12 => format!(
                "{} {}'s {} {}",
                r.pick(FIRST),
                r.pick(LAST),
                r.pick(WORDS),
                r.pick(TAILS)
            ),
            _ => format!(
                "{} {} = {}",
                r.next() % 100,
                ["+", "-", "*", "/", "<", ">"][r.next() % 6],
                r.next() % 100
            ),
        };
        let place = match i % 3 {
            0 => Place::Query,
            1 => Place::Body,
            _ => Place::Header,
        };
        // Query values arrive form-encoded.
        let v = if place == Place::Query {
            form_encode(&v)
        } else {
            v
        };
        push(v, place);
    }
    // Benign API paths.
    let segs = [
        "users",
        "orders",
        "v1",
        "v2",
        "api",
        "items",
        "search",
        "files",
        "reports",
        "union-square",
        "drop-ins",
    ];
    for i in 0..200 {
        let n = 2 + i % 4;
        let mut p = String::new();
        for _ in 0..n {
            p.push('/');
            p.push_str(r.pick(&segs));
        }
        p.push_str(&format!("/{}", r.next() % 100_000));
        if i % 5 == 0 {
            p.push_str("/report.final.pdf");
        }
        out.push(Sample {
            value: p.into_bytes(),
            place: Where::Path,
        });
    }
    out
}

fn form_encode(s: &str) -> String {
    let mut o = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b' ' => o.push('+'),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

fn show(v: &[u8]) -> String {
    String::from_utf8_lossy(v).chars().take(120).collect()
}

#[test]
fn detection_quality() {
    let d = Detector::new(FamilySet::ALL);
    let corpora: [(Family, &str); 7] = [
        (Family::Sqli, "sqli.txt"),
        (Family::Xss, "xss.txt"),
        (Family::PathTraversal, "path_traversal.txt"),
        (Family::Command, "command.txt"),
        (Family::Ssrf, "ssrf.txt"),
        (Family::Jndi, "jndi.txt"),
        (Family::Scanner, "scanner.txt"),
    ];
    let mut failures = Vec::new();
    println!(
        "{:<16} {:>7} {:>9} {:>8}",
        "family", "attacks", "detected", "rate"
    );
    for (family, file) in corpora {
        let samples = load(file);
        let mut hit = 0usize;
        let mut missed = Vec::new();
        for s in &samples {
            if run(&d, s).contains(family) {
                hit += 1;
            } else {
                missed.push(show(&s.value));
            }
        }
        let rate = hit as f64 / samples.len().max(1) as f64;
        println!(
            "{:<16} {:>7} {:>9} {:>7.1}%",
            family.as_str(),
            samples.len(),
            hit,
            rate * 100.0
        );
        for m in &missed {
            println!("    missed: {m}");
        }
        if rate < MIN_DETECTION {
            failures.push(format!(
                "{}: {:.1}% < {:.0}%",
                family.as_str(),
                rate * 100.0,
                MIN_DETECTION * 100.0
            ));
        }
    }
    let mut benign = load("benign.txt");
    let handwritten = benign.len();
    benign.extend(generated());
    let mut fp = 0usize;
    let mut per_family = [0usize; 7];
    for s in &benign {
        let f = run(&d, s);
        if !f.is_empty() {
            fp += 1;
            for fam in f.iter() {
                per_family[fam.index()] += 1;
            }
            let names: Vec<_> = f.iter().map(Family::as_str).collect();
            println!("    false positive {names:?}: {}", show(&s.value));
        }
    }
    let rate = fp as f64 / benign.len() as f64;
    println!(
        "benign: {} values ({} hand-written, {} generated), {} flagged, false-positive rate {:.2}%",
        benign.len(),
        handwritten,
        benign.len() - handwritten,
        fp,
        rate * 100.0
    );
    for f in Family::ALL {
        if per_family[f.index()] > 0 {
            println!("    {}: {}", f.as_str(), per_family[f.index()]);
        }
    }
    assert!(
        benign.len() >= 2000,
        "benign corpus too small: {}",
        benign.len()
    );
    if rate > MAX_FALSE_POSITIVES {
        failures.push(format!(
            "benign false positives {:.2}% > {:.0}%",
            rate * 100.0,
            MAX_FALSE_POSITIVES * 100.0
        ));
    }
    assert!(failures.is_empty(), "quality bar not met: {failures:?}");
}

#[test]
fn corpus_sizes() {
    for (file, min) in [
        ("sqli.txt", 150),
        ("xss.txt", 150),
        ("path_traversal.txt", 150),
        ("command.txt", 150),
        ("ssrf.txt", 50),
        ("jndi.txt", 50),
    ] {
        let n = load(file).len();
        assert!(n >= min, "{file}: {n} < {min}");
    }
}
