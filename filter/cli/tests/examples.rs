//! The shipped examples, offline: every pluginConfig snippet and every WasmPlugin under
//! `examples/` passes `meshward check`; every YAML/JSON file there parses; each
//! collector recipe listens where its `events` block sends (port, path, format); the
//! shadow-API policy declares exactly the operations of its OpenAPI file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).to_path_buf()
}

fn meshward(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meshward"))
        .args(args)
        .output()
        .expect("run meshward");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Every file under `dir`, recursively, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn ext_is(p: &Path, exts: &[&str]) -> bool {
    p.extension()
        .and_then(|x| x.to_str())
        .is_some_and(|x| exts.contains(&x))
}

/// All documents of a YAML (or JSON) file.
fn docs(p: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(p).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .filter(|v| !v.is_null())
        .collect()
}

fn one_doc(rel: &str) -> Value {
    let mut d = docs(&root().join(rel));
    assert_eq!(d.len(), 1, "{rel}");
    d.remove(0)
}

/// `outbound|PORT||HOST` → (port, host)
fn cluster(events: &Value) -> (u16, String) {
    let c = events["cluster"].as_str().unwrap();
    let parts: Vec<&str> = c.split('|').collect();
    assert_eq!(parts.len(), 4, "{c}");
    assert_eq!(parts[0], "outbound", "{c}");
    (parts[1].parse().unwrap(), parts[3].to_string())
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn every_plugin_config_under_examples_passes_check() {
    let mut snippets = 0;
    let mut plugins = 0;
    let mut files = Vec::new();
    for p in files_under(&root().join("examples")) {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".pluginconfig.yaml") {
            snippets += 1;
        } else if ext_is(&p, &["yaml", "yml"]) && docs(&p).iter().any(|d| d["kind"] == "WasmPlugin")
        {
            plugins += 1;
        } else {
            continue;
        }
        files.push(p.to_string_lossy().to_string());
    }
    assert!(snippets >= 3, "collector snippets: {files:?}");
    assert!(plugins >= 4, "policies: {files:?}");
    let args: Vec<&str> = std::iter::once("check")
        .chain(files.iter().map(String::as_str))
        .collect();
    let (code, out) = meshward(&args);
    assert_eq!(code, 0, "{out}");
    for f in &files {
        assert!(
            out.lines()
                .any(|l| l.starts_with(f.as_str()) && l.contains(": ok")),
            "{f} not reported ok:\n{out}"
        );
    }
    assert!(!out.contains("refused"), "{out}");
    // `check` is not fooled by a collector config handed to it by mistake.
    let otel = root().join("examples/collectors/otel-collector.yaml");
    let (code, out) = meshward(&["check", otel.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("receivers: unknown field"), "{out}");
}

#[test]
fn every_yaml_and_json_file_under_examples_parses() {
    let mut n = 0;
    for p in files_under(&root().join("examples")) {
        if ext_is(&p, &["yaml", "yml"]) {
            assert!(!docs(&p).is_empty(), "{}: empty", p.display());
            n += 1;
        } else if ext_is(&p, &["json"]) {
            let text = std::fs::read_to_string(&p).unwrap();
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            n += 1;
        }
    }
    assert!(n >= 12, "{n} files");
}

#[test]
fn the_otel_collector_recipe_receives_what_its_events_block_sends() {
    let ev = &one_doc("examples/collectors/otel-collector.pluginconfig.yaml")["events"];
    let col = one_doc("examples/collectors/otel-collector.yaml");
    let (port, host) = cluster(ev);
    assert_eq!(ev["authority"], host.as_str());
    assert_eq!(ev["format"], "otlp");
    // The OTLP/HTTP receiver serves logs on /v1/logs unless logs_url_path says otherwise.
    let http = &col["receivers"]["otlp"]["protocols"]["http"];
    assert_eq!(port_of(http["endpoint"].as_str().unwrap()), port);
    assert_eq!(port, 4318);
    let logs_path = http["logs_url_path"].as_str().unwrap_or("/v1/logs");
    assert_eq!(ev["path"], logs_path);
    // A logs pipeline from that receiver to both exporters, all of them defined.
    let pipelines = col["service"]["pipelines"].as_object().unwrap();
    let (_, logs) = pipelines
        .iter()
        .find(|(k, _)| *k == "logs" || k.starts_with("logs/"))
        .expect("a logs pipeline");
    assert!(logs["receivers"]
        .as_array()
        .unwrap()
        .contains(&"otlp".into()));
    let exporters: BTreeSet<&str> = logs["exporters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(exporters.contains("file") && exporters.contains("kafka"));
    for e in &exporters {
        assert!(col["exporters"].get(*e).is_some(), "exporter {e} undefined");
    }
    for p in logs["processors"].as_array().into_iter().flatten() {
        assert!(col["processors"].get(p.as_str().unwrap()).is_some(), "{p}");
    }
    assert!(col["exporters"]["kafka"]["logs"]["topic"].is_string());
    assert!(col["exporters"]["file"]["path"].is_string());
}

#[test]
fn the_vector_recipe_receives_what_its_events_block_sends() {
    let ev = &one_doc("examples/collectors/vector.pluginconfig.yaml")["events"];
    let v = one_doc("examples/collectors/vector.yaml");
    let (port, host) = cluster(ev);
    assert_eq!(ev["authority"], host.as_str());
    assert_eq!(ev["format"], "ndjson");
    let sources = v["sources"].as_object().unwrap();
    let (name, src) = sources
        .iter()
        .find(|(_, s)| s["type"] == "http_server")
        .expect("an http_server source");
    assert_eq!(port_of(src["address"].as_str().unwrap()), port);
    assert_eq!(src["path"], ev["path"]);
    assert_eq!(src["method"], "POST");
    assert_eq!(src["framing"]["method"], "newline_delimited");
    assert_eq!(src["decoding"]["codec"], "json");
    let sinks = v["sinks"].as_object().unwrap();
    let types: BTreeSet<&str> = sinks
        .values()
        .map(|s| {
            assert!(
                s["inputs"]
                    .as_array()
                    .unwrap()
                    .contains(&name.as_str().into()),
                "{s}"
            );
            s["type"].as_str().unwrap()
        })
        .collect();
    assert_eq!(types, BTreeSet::from(["console", "file"]));
}

#[test]
fn the_fluent_bit_recipe_receives_what_its_events_block_sends() {
    let ev = &one_doc("examples/collectors/fluent-bit.pluginconfig.yaml")["events"];
    let fb = one_doc("examples/collectors/fluent-bit.yaml");
    let (port, host) = cluster(ev);
    assert_eq!(ev["authority"], host.as_str());
    // Fluent Bit's `http` input answers 400 to `application/x-ndjson`; its
    // `opentelemetry` input takes OTLP/HTTP JSON on /v1/logs.
    assert_eq!(ev["format"], "otlp");
    assert_eq!(ev["path"], "/v1/logs");
    let inputs = fb["pipeline"]["inputs"].as_array().unwrap();
    let input = inputs
        .iter()
        .find(|i| i["name"] == "opentelemetry")
        .expect("an opentelemetry input");
    assert_eq!(input["port"].as_u64().unwrap(), u64::from(port));
    let tag = input["tag"].as_str().unwrap();
    assert_eq!(
        input["tag_from_uri"], false,
        "the tag must not follow the URI"
    );
    let parser = fb["pipeline"]["filters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "parser")
        .expect("a parser filter");
    assert_eq!(parser["match"], tag);
    assert_eq!(parser["key_name"], "log");
    let parser_name = parser["parser"].as_str().unwrap();
    assert!(fb["parsers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == parser_name && p["format"] == "json"));
    let outputs: BTreeSet<&str> = fb["pipeline"]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(o["match"], tag, "{o}");
            o["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(outputs, BTreeSet::from(["file", "stdout"]));
}

#[test]
fn the_shadow_api_policy_declares_exactly_the_openapi_operations() {
    let spec = one_doc("examples/policies/orders-openapi.yaml");
    let mut from_spec = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                from_spec.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(from_spec.len() >= 5, "{from_spec:?}");
    let wp = one_doc("examples/policies/shadow-api-lockdown.yaml");
    let cfg = &wp["spec"]["pluginConfig"];
    let declared: BTreeSet<String> = cfg["apis"]["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    assert_eq!(declared, from_spec);
    // `meshward templates` (what the policy's comment tells teams to run) agrees.
    let spec_path = root().join("examples/policies/orders-openapi.yaml");
    let (code, out) = meshward(&["templates", spec_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let generated: Value = serde_yaml_ng::from_str(&out).unwrap();
    let generated: BTreeSet<String> = generated["apis"]["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    assert_eq!(generated, declared);
    assert_eq!(cfg["apis"]["undeclared"], "block");
    assert_eq!(cfg["mode"], "enforce");
}
