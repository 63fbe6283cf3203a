//! `meshward check FILE...`: every problem of every pluginConfig, with its path, and
//! the warnings about risky choices. Accepts a bare pluginConfig (YAML or JSON) or
//! Kubernetes manifests (one or many YAML documents) whose `WasmPlugin`s carry a
//! `spec.pluginConfig`. Exit status 1 when any config is refused.

use meshward_core::config::{load_value, Problem};
use serde::Deserialize;
use serde_json::Value;
use std::process::ExitCode;

/// One pluginConfig found in a file.
#[derive(Debug)]
pub struct Found {
    /// Where it came from: the file, and the manifest name for WasmPlugins.
    pub origin: String,
    /// Path prefix of the config inside the document.
    pub prefix: &'static str,
    /// The config.
    pub config: Value,
}

/// Splits a file's text into the pluginConfigs it holds.
pub fn configs_in(file: &str, text: &str) -> Result<Vec<Found>, String> {
    let mut docs = Vec::new();
    for d in serde_yaml_ng::Deserializer::from_str(text) {
        let v = Value::deserialize(d).map_err(|e| format!("{file}: not YAML/JSON: {e}"))?;
        docs.push(v);
    }
    let mut out = Vec::new();
    let manifests = docs
        .iter()
        .any(|d| d.get("kind").is_some() && d.get("apiVersion").is_some());
    for d in docs {
        if d.is_null() {
            continue;
        }
        if manifests {
            if d.get("kind").and_then(Value::as_str) != Some("WasmPlugin") {
                continue;
            }
            let name = d
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let ns = d
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default");
            let cfg = d
                .pointer("/spec/pluginConfig")
                .cloned()
                .unwrap_or(Value::Null);
            out.push(Found {
                origin: format!("{file} (WasmPlugin {ns}/{name})"),
                prefix: "spec.pluginConfig.",
                config: cfg,
            });
        } else {
            out.push(Found {
                origin: file.to_string(),
                prefix: "",
                config: d,
            });
        }
    }
    Ok(out)
}

fn show(prefix: &str, p: &Problem) -> String {
    if p.path.is_empty() {
        p.message.clone()
    } else {
        format!("{prefix}{}: {}", p.path, p.message)
    }
}

/// Checks every file; prints a report; non-zero exit when any config is refused.
pub fn run(files: &[String]) -> ExitCode {
    let mut bad = false;
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{file}: cannot read: {e}");
                bad = true;
                continue;
            }
        };
        let found = match configs_in(file, &text) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{e}");
                bad = true;
                continue;
            }
        };
        if found.is_empty() {
            eprintln!("{file}: no pluginConfig found (no WasmPlugin in the manifests)");
            bad = true;
        }
        for f in found {
            match load_value(f.config) {
                Ok(l) => {
                    println!("{}: ok (config {})", f.origin, l.policy.hash);
                    for w in &l.warnings {
                        println!("  warning: {}", show(f.prefix, w));
                    }
                }
                Err(e) => {
                    bad = true;
                    println!(
                        "{}: refused, {} problem{}:",
                        f.origin,
                        e.problems.len(),
                        if e.problems.len() == 1 { "" } else { "s" }
                    );
                    for p in &e.problems {
                        println!("  error: {}", show(f.prefix, p));
                    }
                }
            }
        }
    }
    if bad {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
