//! Every payload detector and tokenizer (sqli, xss, traversal, command, ssrf, jndi,
//! scanner) through `Detector::inspect` in each place, `inspect_path` and the
//! user-agent check: never panics on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshward_core::detect::{self, Detector, FamilySet, Place};

fuzz_target!(|data: &[u8]| {
    let mut all = FamilySet::EMPTY;
    for f in detect::Family::ALL {
        all.insert(f);
    }
    let d = Detector::new(all);
    let mut found = FamilySet::EMPTY;
    for place in [Place::Path, Place::Query, Place::Header, Place::Body] {
        found = found.union(d.inspect(data, place));
    }
    let _ = d.inspect_path(data);
    let _ = d.scanner_user_agent(data);
    // The tokenizers one by one, on the raw bytes (no decoding).
    let _ = detect::sqli::detect(data);
    let _ = detect::xss::detect(data);
    let _ = detect::xss::script_url(data);
    let _ = detect::traversal::detect(data, true);
    let _ = detect::traversal::detect(data, false);
    let _ = detect::command::detect(data);
    let _ = detect::ssrf::detect(data);
    let _ = detect::jndi::detect(data);
    let _ = detect::decode::normalize(data, true);
    assert!(found.intersection(all) == found, "only enabled families");
});
