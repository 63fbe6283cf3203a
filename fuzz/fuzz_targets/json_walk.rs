//! The streaming JSON walker on arbitrary bytes: never panics, visits tokens inside
//! the body, and agrees with serde_json on what is a complete valid document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshward_core::json::{Kind, Outcome, Step, Walker};

fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut walker = Walker::default();
    let n = data.len();
    let mut last_end = 0usize;
    let outcome = walker.walk(data, |v| {
        assert!(v.start <= v.end && v.end <= n, "token inside the body");
        assert!(v.start >= last_end, "document order");
        last_end = v.end;
        if matches!(v.kind, Kind::String | Kind::Key) {
            assert_eq!(data[v.start], b'"');
            assert_eq!(data[v.end - 1], b'"');
            if !v.escaped {
                assert_eq!(v.text, &data[v.start + 1..v.end - 1]);
            }
        }
        if v.kind == Kind::Number {
            assert_eq!(v.text, &data[v.start..v.end]);
        }
        Step::Continue
    });
    if let Some(at) = outcome.stopped_at() {
        assert!(at <= n);
    }
    match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(v) if depth(&v) <= meshward_core::json::DEFAULT_MAX_DEPTH => {
            assert_eq!(outcome, Outcome::Complete, "valid JSON is complete");
        }
        Ok(_) => {}
        Err(e) => {
            // serde_json refuses lone surrogates (`"\ud800"`, `"\ud83d^"`), which
            // RFC 8259's grammar allows and the walker reads as U+FFFD, and stops at
            // depth 128 where the walker's limit is its own, and refuses numbers beyond
            // f64 (`2e888`), which the grammar allows and the walker keeps as text.
            let msg = e.to_string();
            let tolerated = ["surrogate", "hex escape", "recursion", "out of range"];
            if outcome == Outcome::Complete && !tolerated.iter().any(|t| msg.contains(t)) {
                panic!("walker says complete, serde_json says {msg}");
            }
        }
    }
    // A second walk with a tiny depth limit and an early stop.
    let mut small = Walker::new(usize::from(data.first().copied().unwrap_or(1) % 8));
    let mut count = 0;
    let _ = small.walk(data, |_| {
        count += 1;
        if count > 5 {
            Step::Stop
        } else {
            Step::Skip
        }
    });
});
