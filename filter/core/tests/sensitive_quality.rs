#![cfg(not(target_arch = "wasm32"))]
//! Quality of the sensitive-data classifier on a labelled corpus (`support/pii.rs`):
//! precision and recall per type against the spec's bar, and zero hits on payloads
//! that carry only look-alike identifiers.

#[path = "support/pii.rs"]
mod pii;

use meshward_core::config::load;
use meshward_core::sensitive::{Classifier, Date, Hits};
use std::collections::BTreeMap;

const VALIDATED: &[&str] = &[
    "cn_resident_id",
    "cn_mobile",
    "bank_card",
    "email",
    "cn_uscc",
    "iban",
    "us_ssn",
    "jwt",
    "aws_access_key",
    "cloud_secret",
    "private_key",
    "ipv4",
    "ipv6",
    "mac_address",
    "bitcoin_address",
];

#[derive(Default, Clone, Copy)]
struct Score {
    tp: u32,
    fp: u32,
    fn_: u32,
}

#[test]
fn precision_and_recall_per_type() {
    let policy = load(b"").unwrap().policy;
    let c = Classifier::new(&policy.sensitive);
    let today = Date::new(2025, 6, 1).unwrap();
    let corpus = pii::labelled_corpus(0x5eed_0001, 240, 6);
    let mut scores: BTreeMap<String, Score> = BTreeMap::new();
    for t in pii::TYPES {
        scores.insert(t.to_string(), Score::default());
    }
    let mut hits = Hits::new();
    let mut examples: Vec<String> = Vec::new();
    for p in &corpus {
        let mut labels: Vec<(String, String)> = p
            .labels
            .iter()
            .map(|(t, v)| (t.to_string(), v.clone()))
            .collect();
        let mut found: Vec<(String, String)> = Vec::new();
        hits.clear();
        let outcome = c.scan_json_with(p.body.as_bytes(), today, &mut hits, |f| {
            found.push((
                c.type_id(f.type_idx).to_string(),
                String::from_utf8_lossy(f.text).into_owned(),
            ))
        });
        assert!(outcome.is_complete(), "{outcome:?}: {}", p.body);
        for (t, v) in found {
            let s = scores.entry(t.clone()).or_default();
            if let Some(i) = labels.iter().position(|l| l.0 == t && l.1 == v) {
                labels.swap_remove(i);
                s.tp += 1;
            } else {
                s.fp += 1;
                if examples.len() < 40 {
                    examples.push(format!("FP {t}: {v:?}"));
                }
            }
        }
        for (t, v) in labels {
            scores.entry(t.clone()).or_default().fn_ += 1;
            if examples.len() < 40 {
                examples.push(format!("FN {t}: {v:?}"));
            }
        }
    }

    // Look-alike corpus: every hit is a false positive.
    let lookalikes = pii::lookalike_corpus(0x5eed_0002, 400);
    let mut lookalike_hits = Vec::new();
    for body in &lookalikes {
        hits.clear();
        c.scan_json_with(body.as_bytes(), today, &mut hits, |f| {
            lookalike_hits.push(format!(
                "{}: {:?}",
                c.type_id(f.type_idx),
                String::from_utf8_lossy(f.text)
            ))
        });
    }

    println!(
        "\n{:<20} {:>6} {:>5} {:>5} {:>9} {:>7}  bar",
        "type", "tp", "fp", "fn", "precision", "recall"
    );
    let mut failures = Vec::new();
    for (t, s) in &scores {
        let precision = f64::from(s.tp) / f64::from((s.tp + s.fp).max(1));
        let recall = f64::from(s.tp) / f64::from((s.tp + s.fn_).max(1));
        let bar = if VALIDATED.contains(&t.as_str()) {
            0.98
        } else {
            0.95
        };
        let pbar = if VALIDATED.contains(&t.as_str()) {
            0.99
        } else {
            0.95
        };
        println!(
            "{t:<20} {:>6} {:>5} {:>5} {precision:>9.4} {recall:>7.4}  p≥{pbar} r≥{bar}",
            s.tp, s.fp, s.fn_
        );
        if s.tp + s.fn_ < 200 {
            failures.push(format!("{t}: only {} labelled values", s.tp + s.fn_));
        }
        if precision < pbar || recall < bar {
            failures.push(format!("{t}: precision {precision:.4}, recall {recall:.4}"));
        }
    }
    println!(
        "look-alike corpus: {} payloads, {} bytes, {} hits",
        lookalikes.len(),
        lookalikes.iter().map(String::len).sum::<usize>(),
        lookalike_hits.len()
    );
    for e in examples.iter().take(40) {
        println!("  {e}");
    }
    for h in lookalike_hits.iter().take(20) {
        println!("  look-alike hit {h}");
    }
    assert!(
        lookalike_hits.is_empty(),
        "hits on look-alikes: {lookalike_hits:?}"
    );
    assert!(failures.is_empty(), "below the bar: {failures:#?}");
}

#[test]
fn corpus_is_valid_json_and_deterministic() {
    let a = pii::labelled_corpus(7, 3, 5);
    let b = pii::labelled_corpus(7, 3, 5);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.body, y.body);
        serde_json::from_str::<serde_json::Value>(&x.body).unwrap();
    }
    let r = pii::bench_response(1);
    assert!((4000..4600).contains(&r.len()), "{}", r.len());
    serde_json::from_str::<serde_json::Value>(&r).unwrap();
    let q = pii::bench_request(1);
    assert!((1000..1400).contains(&q.len()), "{}", q.len());
    serde_json::from_str::<serde_json::Value>(&q).unwrap();
}
