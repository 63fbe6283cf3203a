//! Path normalisation and templating: never panics, the canonical form is idempotent
//! and starts with `/`, declared templates and heuristics always produce a template.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshward_core::api::{normalize, Templater};
use meshward_core::matcher::{PathPattern, Template};
use std::sync::OnceLock;

fn templater() -> &'static Templater {
    static T: OnceLock<Templater> = OnceLock::new();
    T.get_or_init(|| {
        let cfg = br#"{"apis": {"templates": ["GET /users/{id}", "/orders/{order_id}/items",
            "POST /users/{id}/orders/{oid}", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/{z1}/0/1/2/3/4/5/6/7/8/9",
            "/{any}", "/"]}}"#;
        let loaded = meshward_core::config::load(cfg).expect("fuzz config compiles");
        Templater::new(&loaded.policy.apis)
    })
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let (pattern, raw_path) = raw.split_once('\n').unwrap_or(("", &raw));
    let n = normalize(raw_path);
    assert!(n.path.starts_with('/'), "{:?} -> {:?}", raw_path, n.path);
    let again = normalize(&n.path);
    assert_eq!(again.path, n.path, "idempotent on {raw_path:?}");
    let mut out = String::new();
    for method in ["GET", "POST"] {
        let m = templater().template(method, &n.path, &mut out);
        assert!(out.starts_with('/'), "template {out:?} of {:?}", n.path);
        for p in m.params() {
            let _ = p.value(&n.path);
        }
        let _ = m.primary();
    }
    let template = out.clone();
    let _ = meshward_core::api::template::heuristic(&n.path, &mut out);
    // Operator-written patterns (first line) parse or are refused, and match without
    // panicking.
    if let Ok(t) = Template::parse(pattern) {
        let _ = t.matches(&n.path);
    }
    if let Ok(p) = PathPattern::parse(pattern) {
        let _ = p.matches(&n.path, &template);
    }
});
