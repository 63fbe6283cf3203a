//! Classification and masking of a body: never panics; when the input is complete
//! valid JSON, masked output is valid JSON too, and equals the input when nothing was
//! masked. Text and form scanning and masking run on the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshward_core::config::raw::MaskStyle;
use meshward_core::sensitive::{Classifier, Date, Hits};
use std::sync::OnceLock;

fn classifier() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(|| {
        // Built-ins plus a custom type with keys, as an operator would add one.
        let cfg = br#"{"sensitive": {"custom": [{"id": "employee_id", "pattern": "EMP\\d{6}",
                       "level": 3, "keys": ["emp_id"]}]}}"#;
        let loaded = meshward_core::config::load(cfg).expect("fuzz config compiles");
        Classifier::new(&loaded.policy.sensitive)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let c = classifier();
    let style = match sel % 3 {
        0 => MaskStyle::Partial,
        1 => MaskStyle::Full,
        _ => MaskStyle::Hash,
    };
    // Plan a subset of the types from the selector bits (all when bit 7 is set).
    let plan: Vec<Option<MaskStyle>> = (0..c.type_count())
        .map(|i| (sel & 0x80 != 0 || (i + usize::from(sel)) % 3 == 0).then_some(style))
        .collect();
    let today = Date::new(2025, 6, 1).expect("date");
    let mut hits = Hits::new();
    let mut out = Vec::new();
    let stats = c.mask_json_with(body, &plan, b"fuzz-key", today, &mut out, &mut hits);
    if serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        let stats = stats.expect("complete valid JSON is masked");
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&out) {
            panic!(
                "masked output is not JSON ({e}):\n in: {}\nout: {}",
                String::from_utf8_lossy(body),
                String::from_utf8_lossy(&out)
            );
        }
        if stats.total == 0 {
            assert_eq!(out, body, "nothing masked: byte-identical");
        }
    } else if stats.is_none() {
        assert!(out.is_empty(), "a refused body leaves the output as it was");
    }
    let mut h2 = Hits::new();
    let _ = c.scan_json(body, today, &mut h2);
    c.scan_form(body, today, &mut h2);
    c.scan_text(body, today, &mut h2);
    out.clear();
    let _ = c.mask_text(body, &plan, b"fuzz-key", today, &mut out);
    if let Ok(s) = std::str::from_utf8(body) {
        c.scan_value(Some("id_card"), s.as_bytes(), today, &mut h2);
    }
});
