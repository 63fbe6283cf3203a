//! Shipped manifests and configs: every Istio manifest validates against the CRD
//! schemas of `../shared/istio-crds`, every shipped pluginConfig loads in a real Envoy,
//! and the stats settings cover every label meshward encodes.

use meshward_e2e::envoy::{Envoy, EnvoyOptions};
use meshward_e2e::paths;
use std::path::PathBuf;
use std::process::Command;

fn crd_dir() -> PathBuf {
    std::env::var_os("MESHWARD_ISTIO_CRDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| paths::root().join("../shared/istio-crds"))
}

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(paths::root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
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
