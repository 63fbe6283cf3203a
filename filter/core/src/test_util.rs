//! Helpers shared by the unit tests.

use crate::config::{load_value, ConfigError, Loaded};

/// Loads a YAML pluginConfig the way Istio hands it over (as JSON).
pub fn load_yaml(doc: &str) -> Result<Loaded, ConfigError> {
    let v: serde_json::Value = serde_yaml_ng::from_str(doc).expect("test YAML parses");
    load_value(v)
}

/// The cases a detector gets wrong: with `want_detected`, the ones `detect` misses;
/// without, the ones it flags.
pub fn wrong<'a>(
    cases: &[&'a str],
    want_detected: bool,
    detect: impl Fn(&str) -> bool,
) -> Vec<&'a str> {
    cases
        .iter()
        .copied()
        .filter(|c| detect(c) != want_detected)
        .collect()
}

/// A value of `words`, each followed by its separator, after `lead` (the property tests
/// of the prose prefilters, native only), without trailing spaces.
#[cfg(not(target_arch = "wasm32"))]
pub fn joined(lead: &str, words: &[(String, String)]) -> String {
    let mut v = lead.to_string();
    for (w, sep) in words {
        v.push_str(w);
        v.push_str(sep);
    }
    v.trim_end().to_string()
}
