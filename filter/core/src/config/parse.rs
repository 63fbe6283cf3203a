//! From configuration bytes to `RawConfig`, collecting every problem with its path.
//!
//! serde stops at the first error. To report all of them in one message, the document
//! is parsed into a JSON tree, deserialized, and on each error the offending node is
//! recorded and cut out of the tree before trying again, until the rest deserializes.
//! Paths are reported against the document as written, even after list elements were
//! cut out.

use super::raw::{RawConfig, SUPPORTED_CONFIG_VERSION};
use super::Problem;
use serde_json::Value;
use std::collections::BTreeMap;

/// Upper bound of repair rounds: a document with more errors than this reports the
/// first ones only.
const MAX_ROUNDS: usize = 64;

/// Outcome of the parse stage: the tree that deserialized (with bad nodes cut out),
/// the problems found, and warnings (unknown keys under a newer `config_version`).
#[derive(Debug)]
pub struct Parsed {
    /// The configuration with offending nodes replaced by their defaults.
    pub raw: RawConfig,
    /// Errors with their paths; non-empty means the config must be refused.
    pub errors: Vec<Problem>,
    /// Ignored keys of a newer schema version.
    pub warnings: Vec<Problem>,
}

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn render(segs: &[Seg]) -> String {
    let mut out = String::new();
    for s in segs {
        match s {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// Parses a pluginConfig given as JSON bytes (empty means defaults).
pub fn parse_json(bytes: &[u8]) -> Parsed {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return Parsed {
                raw: RawConfig::default(),
                errors: vec![Problem::new("", format!("configuration is not UTF-8: {e}"))],
                warnings: Vec::new(),
            }
        }
    };
    if text.trim().is_empty() {
        return parse_value(Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v) => parse_value(v),
        Err(e) => Parsed {
            raw: RawConfig::default(),
            errors: vec![Problem::new(
                "",
                format!("configuration is not valid JSON: {e}"),
            )],
            warnings: Vec::new(),
        },
    }
}

/// Parses a pluginConfig already in tree form (the CLI converts YAML to this).
pub fn parse_value(mut doc: Value) -> Parsed {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    if doc.is_null() {
        doc = Value::Object(serde_json::Map::new());
    }
    if !doc.is_object() {
        errors.push(Problem::new(
            "",
            format!(
                "configuration must be a table of settings, found {}",
                super::de::value_kind(&doc)
            ),
        ));
        return Parsed {
            raw: RawConfig::default(),
            errors,
            warnings,
        };
    }
    let newer = doc
        .get("config_version")
        .and_then(Value::as_f64)
        .is_some_and(|v| v > f64::from(SUPPORTED_CONFIG_VERSION));

    // Original indices cut out of each list, keyed by the list's original path.
    let mut cut: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut seen_paths: Vec<String> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let err = match serde_path_to_error::deserialize::<_, RawConfig>(&doc) {
            Ok(raw) => {
                return Parsed {
                    raw,
                    errors,
                    warnings,
                }
            }
            Err(e) => e,
        };
        let current: Vec<Seg> = err
            .path()
            .iter()
            .filter_map(|s| match s {
                serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
                serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
                serde_path_to_error::Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        let original = to_original(&current, &cut);
        let path = render(&original);
        let message = err.inner().to_string();
        let unknown_key = message.starts_with("unknown field");
        // A required key that was cut out earlier makes its parent fail with
        // "missing field": a consequence, not a new problem.
        let consequence = missing_field(&message)
            .map(|f| {
                if path.is_empty() {
                    f.to_string()
                } else {
                    format!("{path}.{f}")
                }
            })
            .is_some_and(|child| seen_paths.contains(&child));
        let problem = Problem::new(&path, tidy(&message));
        if consequence {
            // Nothing to report; the parent is cut below.
        } else if newer && unknown_key {
            warnings.push(Problem::new(
                &path,
                format!("ignored: unknown key under config_version > {SUPPORTED_CONFIG_VERSION}"),
            ));
        } else if !seen_paths.contains(&path) {
            errors.push(problem);
        }
        seen_paths.push(path);
        // Cut the node out; if that is impossible, cut its parent, up to the root.
        let mut target = current;
        loop {
            if target.is_empty() {
                // The root itself does not deserialize: nothing more can be learned.
                return Parsed {
                    raw: RawConfig::default(),
                    errors,
                    warnings,
                };
            }
            if let Some(removed_index) = remove(&mut doc, &target) {
                if let Some(i) = removed_index {
                    let list_path = render(&to_original(&target[..target.len() - 1], &cut));
                    let orig_i = original_index(i, cut.get(&list_path).map(Vec::as_slice));
                    let entry = cut.entry(list_path).or_default();
                    entry.push(orig_i);
                    entry.sort_unstable();
                }
                break;
            }
            target.pop();
        }
    }
    errors.push(Problem::new(
        "",
        "too many problems; only the first ones are listed",
    ));
    Parsed {
        raw: RawConfig::default(),
        errors,
        warnings,
    }
}

/// The field named by serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
}

/// Makes serde's messages read as operator messages.
fn tidy(message: &str) -> String {
    message
        .replace("invalid type: map", "invalid type: table")
        .replace("invalid type: sequence", "invalid type: list")
        .replace("a sequence", "a list")
        .replace("struct ", "")
}

/// Maps the index of a list element in the current (cut) tree to its index in the
/// document as written.
fn original_index(current: usize, cut: Option<&[usize]>) -> usize {
    let mut idx = current;
    if let Some(removed) = cut {
        for &r in removed {
            if r <= idx {
                idx += 1;
            }
        }
    }
    idx
}

fn to_original(current: &[Seg], cut: &BTreeMap<String, Vec<usize>>) -> Vec<Seg> {
    let mut out: Vec<Seg> = Vec::with_capacity(current.len());
    for seg in current {
        match seg {
            Seg::Key(k) => out.push(Seg::Key(k.clone())),
            Seg::Index(i) => {
                let list_path = render(&out);
                out.push(Seg::Index(original_index(
                    *i,
                    cut.get(&list_path).map(Vec::as_slice),
                )));
            }
        }
    }
    out
}

/// Removes the node at `path`. Returns `None` when it is not there, `Some(None)` when
/// a key was removed, `Some(Some(i))` when list element `i` was removed.
fn remove(doc: &mut Value, path: &[Seg]) -> Option<Option<usize>> {
    let (last, parent_path) = path.split_last()?;
    let mut node = doc;
    for seg in parent_path {
        node = match (seg, node) {
            (Seg::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (Seg::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    match (last, node) {
        (Seg::Key(k), Value::Object(m)) => m.remove(k).map(|_| None),
        (Seg::Index(i), Value::Array(a)) if *i < a.len() => {
            a.remove(*i);
            Some(Some(*i))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn paths(p: &Parsed) -> Vec<String> {
        p.errors.iter().map(|e| e.path.clone()).collect()
    }

    #[test]
    fn empty_config_is_defaults() {
        let p = parse_json(b"");
        assert!(p.errors.is_empty());
        assert!(p.raw.enabled);
        assert_eq!(p.raw.apis.max_endpoints, 5000);
        let p = parse_json(b"{}");
        assert!(p.errors.is_empty());
        let p = parse_json(b"null");
        assert!(p.errors.is_empty());
    }

    #[test]
    fn every_problem_is_collected_with_its_path() {
        let p = parse_value(json!({
            "bogus": 1,
            "events": {"flush_interval": "soon", "max_batch": 10.0},
            "access": {"rules": [
                {"name": "a", "action": "allow", "when": {"paths": ["/x", 5]}},
                {"name": "b", "action": "explode"},
                {"name": "c", "action": "deny", "when": {"methodz": ["GET"]}}
            ]},
            "rate_limits": [{"name": "r", "limit": {"requests": 1.5, "per": "1m"}}]
        }));
        let got = paths(&p);
        for want in [
            "bogus",
            "events.flush_interval",
            "access.rules[0].when.paths[1]",
            "access.rules[1].action",
            "access.rules[2].when.methodz",
            "rate_limits[0].limit.requests",
        ] {
            assert!(got.contains(&want.to_string()), "missing {want} in {got:?}");
        }
        assert_eq!(got.len(), 6, "{:?}", p.errors);
        assert!(p.errors[0].message.contains("unknown field `bogus`"));
    }

    #[test]
    fn paths_stay_true_after_cutting_list_elements() {
        let p = parse_value(json!({
            "masking": [
                {"name": "m0", "style": "weird"},
                {"name": "m1", "styl": "full"},
                {"name": "m2", "types": [1]}
            ]
        }));
        assert_eq!(
            paths(&p),
            vec!["masking[0].style", "masking[1].styl", "masking[2].types[0]"]
        );
    }

    #[test]
    fn newer_config_version_turns_unknown_keys_into_warnings() {
        let p = parse_value(json!({"config_version": 2, "shiny": true,
                                   "events": {"flush_interval": "bad"}}));
        assert_eq!(paths(&p), vec!["events.flush_interval"]);
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(p.warnings[0].path, "shiny");
        let p = parse_value(json!({"config_version": 2, "shiny": true}));
        assert!(p.errors.is_empty());
    }

    #[test]
    fn not_json_or_not_a_table() {
        assert_eq!(parse_json(b"{").errors.len(), 1);
        assert!(parse_json(b"[1]").errors[0].message.contains("table"));
        assert!(parse_json(&[0xff, 0xfe]).errors[0]
            .message
            .contains("UTF-8"));
    }

    #[test]
    fn yaml_off_as_false_and_integral_doubles() {
        let p = parse_value(json!({
            "detection": {"injection": {"sqli": false, "xss": "alert"},
                           "behavior": {"off_hours": {"min_level": 3.0}}},
            "apis": {"max_endpoints": 100.0}
        }));
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.raw.apis.max_endpoints, 100);
    }
}
