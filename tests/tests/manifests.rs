//! Shipped manifests and configs: every Istio manifest validates against the CRD
//! schemas (vendored from the workspace's `shared/istio-crds` into
//! `tests/fixtures/istio-crds`), every shipped pluginConfig loads in a real Envoy,
//! and the stats settings cover every label meshward encodes.

use meshward_e2e::envoy::{Envoy, EnvoyOptions};
use meshward_e2e::paths;
use std::path::PathBuf;
use std::process::Command;

fn crd_dir() -> PathBuf {
    std::env::var_os("MESHWARD_ISTIO_CRDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| paths::root().join("tests/fixtures/istio-crds"))
}

/// The YAML files under `dir`, recursively (`istio/optional/`, `examples/policies/`, ...).
fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![paths::root().join(dir)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
            .flatten()
        {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn validate(files: &[PathBuf]) -> (bool, String) {
    assert!(
        crd_dir()
            .join("wasmplugins.extensions.istio.io.yaml")
            .exists(),
        "Istio CRDs not found at {}",
        crd_dir().display()
    );
    let out = Command::new(paths::python())
        .arg(paths::root().join("tests/tools/validate_manifests.py"))
        .arg(crd_dir())
        .args(files)
        .output()
        .expect("run the validator");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Documents of these files that are Kubernetes manifests.
fn manifests() -> Vec<PathBuf> {
    let mut files = yaml_files("istio");
    for f in yaml_files("examples") {
        let text = std::fs::read_to_string(&f).unwrap();
        if text.contains("apiVersion:") && text.contains("kind:") {
            files.push(f);
        }
    }
    files
}

#[test]
fn every_manifest_validates_against_the_istio_crds() {
    let files = manifests();
    assert!(files.len() >= 4, "{files:?}");
    let (ok, out) = validate(&files);
    assert!(ok, "{out}");
    assert!(
        out.contains("WasmPlugin meshward valid against extensions.istio.io/v1alpha1"),
        "{out}"
    );
    assert!(out.contains("RequestAuthentication"), "{out}");
    assert!(out.contains("ServiceEntry"), "{out}");
    assert!(out.contains("DestinationRule"), "{out}");
    // The scan reaches the subfolders: the optional EnvoyFilter and the use-case policies.
    assert!(
        out.contains(
            "EnvoyFilter meshward-hold-headers valid against networking.istio.io/v1alpha3"
        ),
        "{out}"
    );
    for name in [
        "meshward-pii-masking",
        "meshward-bola",
        "meshward-login",
        "meshward-shadow-api",
    ] {
        assert!(
            out.contains(&format!("WasmPlugin {name} valid against")),
            "{name}: {out}"
        );
    }
}

#[test]
fn the_validator_rejects_a_broken_wasmplugin() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    std::fs::write(
        &f,
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: x}\nspec:\n  url: oci://x\n  phase: BEFORE_EVERYTHING\n  failStrategy: FAIL_SOMETIMES\n  priority: high\n",
    )
    .unwrap();
    let (ok, out) = validate(&[f]);
    assert!(!ok, "{out}");
    assert!(out.contains("BEFORE_EVERYTHING"), "{out}");
    assert!(out.contains("FAIL_SOMETIMES"), "{out}");
    assert!(out.contains("'high' is not of type 'integer'"), "{out}");
}

/// Every pluginConfig shipped in a WasmPlugin manifest, with its file.
fn shipped_plugin_configs() -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for f in manifests() {
        let text = std::fs::read_to_string(&f).unwrap();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
            if v["kind"] == "WasmPlugin" {
                out.push((f.display().to_string(), v["spec"]["pluginConfig"].clone()));
            }
        }
    }
    out
}

#[test]
fn every_shipped_plugin_config_loads_in_a_real_envoy() {
    let configs = shipped_plugin_configs();
    assert!(!configs.is_empty());
    for (file, cfg) in configs {
        let json = serde_json::to_string(&cfg).unwrap();
        let envoy = Envoy::start(&EnvoyOptions::new(&json, 1, 1))
            .unwrap_or_else(|e| panic!("{file}: Envoy refused the pluginConfig:\n{}", e.log));
        assert!(
            envoy.prometheus().contains("meshward_config_info{"),
            "{file}: meshward did not configure"
        );
        assert!(
            envoy.vm_failures().is_empty(),
            "{file}: {:?}",
            envoy.vm_failures()
        );
    }
}

#[test]
fn stats_settings_cover_every_label() {
    let envoy_cfg = std::fs::read_to_string(paths::root().join("envoy/meshward.yaml")).unwrap();
    let istio =
        std::fs::read_to_string(paths::root().join("istio/stats-annotations-patch.yaml")).unwrap();
    for label in meshward_core::stats::LABELS {
        let regex = meshward_core::stats::tag_regex(label).replace('\\', "\\\\");
        assert!(
            envoy_cfg.contains(&format!("tag_name: {label}, regex: \"{regex}\"")),
            "envoy/meshward.yaml lacks the stats tag of `{label}`"
        );
        assert!(
            istio.contains(&format!("            - {label}\n")),
            "istio/stats-annotations-patch.yaml lacks `{label}` in extraStatTags"
        );
    }
}

/// Wasm filter configs an `EnvoyFilter` adds over ECDS (`EXTENSION_CONFIG`), with the
/// file, the extension name and the whole `config`.
fn envoy_filter_wasm_configs() -> Vec<(String, String, serde_json::Value, serde_json::Value)> {
    let mut out = Vec::new();
    for f in manifests() {
        let text = std::fs::read_to_string(&f).unwrap();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
            if v["kind"] != "EnvoyFilter" {
                continue;
            }
            for p in v["spec"]["configPatches"].as_array().into_iter().flatten() {
                let tc = &p["patch"]["value"]["typed_config"];
                if p["applyTo"] == "EXTENSION_CONFIG"
                    && tc["@type"]
                        == "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
                {
                    out.push((
                        f.display().to_string(),
                        p["patch"]["value"]["name"].as_str().unwrap().to_string(),
                        tc["config"].clone(),
                        v.clone(),
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn the_hold_headers_envoyfilter_is_coherent_and_its_plugin_config_loads_in_a_real_envoy() {
    let found = envoy_filter_wasm_configs();
    assert!(
        found
            .iter()
            .any(|(f, ..)| f.ends_with("istio/optional/hold-headers-envoyfilter.yaml")),
        "{found:?}"
    );
    for (file, name, config, doc) in found {
        // The HTTP filter refers to the extension config by name, over ADS.
        let filters: Vec<&serde_json::Value> = doc["spec"]["configPatches"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["applyTo"] == "HTTP_FILTER")
            .collect();
        assert!(
            filters.iter().any(|p| {
                let v = &p["patch"]["value"];
                v["name"] == name.as_str()
                    && v["config_discovery"]["type_urls"][0]
                        == "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
                    && p["match"]["context"] == "SIDECAR_INBOUND"
            }),
            "{file}: no inbound HTTP_FILTER for {name}"
        );
        assert_eq!(config["root_id"], "meshward", "{file}");
        assert_eq!(config["failure_policy"], "FAIL_OPEN", "{file}");
        assert_eq!(config["vm_config"]["vm_id"], "", "{file}");
        assert_eq!(
            config["configuration"]["@type"], "type.googleapis.com/google.protobuf.StringValue",
            "{file}"
        );
        let json = config["configuration"]["value"].as_str().unwrap();
        let plugin: serde_json::Value = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("{file}: configuration.value is not JSON: {e}"));
        // hold_headers only works with allow_on_headers_stop_iteration.
        if plugin["inspection"]["hold_headers"] == true {
            assert_eq!(config["allow_on_headers_stop_iteration"], true, "{file}");
        }
        let envoy = Envoy::start(&EnvoyOptions::new(json, 1, 1).allow_stop_iteration())
            .unwrap_or_else(|e| panic!("{file}: Envoy refused the configuration:\n{}", e.log));
        assert!(
            envoy.prometheus().contains("meshward_config_info{"),
            "{file}: meshward did not configure"
        );
        assert!(
            envoy.vm_failures().is_empty(),
            "{file}: {:?}",
            envoy.vm_failures()
        );
    }
}

#[test]
fn the_vendored_crds_match_the_workspace_copy_when_there_is_one() {
    let shared = paths::root().join("../shared/istio-crds");
    let vendored = paths::root().join("tests/fixtures/istio-crds");
    let Ok(entries) = std::fs::read_dir(&shared) else {
        // A clone outside the workspace: the vendored copy is the reference.
        assert!(vendored
            .join("wasmplugins.extensions.istio.io.yaml")
            .exists());
        return;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let a = std::fs::read(e.path()).unwrap();
        let b = std::fs::read(vendored.join(&name))
            .unwrap_or_else(|_| panic!("{name:?} is not vendored in tests/fixtures/istio-crds"));
        assert_eq!(a, b, "{name:?} differs from the workspace copy");
        n += 1;
    }
    assert!(n >= 8);
}
