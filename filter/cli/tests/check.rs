//! `meshward check` as operators run it: exit codes and every problem named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

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

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn rejects_three_distinct_errors_and_names_all_three() {
    let dir = tempdir();
    let f = dir.join("bad.yaml");
    std::fs::write(
        &f,
        "mode: enforse\nevents: { cluster: c, flush_interval: soon }\naccess:\n  rules:\n    - { name: a, action: allow, when: { source_ips: [10.0.0.0/99] } }\n",
    )
    .unwrap();
    let (code, out) = meshward(&["check", f.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("refused, 3 problems"), "{out}");
    assert!(
        out.contains("error: mode: unknown variant `enforse`"),
        "{out}"
    );
    assert!(
        out.contains("error: events.flush_interval: invalid duration \"soon\""),
        "{out}"
    );
    assert!(
        out.contains("error: access.rules[0].when.source_ips[0]: invalid CIDR"),
        "{out}"
    );
}

#[test]
fn reads_wasmplugin_manifests_and_prefixes_paths() {
    let dir = tempdir();
    let f = dir.join("wp.yaml");
    std::fs::write(
        &f,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: mw, namespace: shop}\nspec:\n  pluginConfig:\n    apis: { max_endpoints: -1 }\n",
    )
    .unwrap();
    let (code, out) = meshward(&["check", f.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("WasmPlugin shop/mw"), "{out}");
    assert!(
        out.contains("spec.pluginConfig.apis.max_endpoints"),
        "{out}"
    );
}

#[test]
fn accepts_every_shipped_example_and_warns_on_risky_choices() {
    let mut files = Vec::new();
    for dir in ["examples", "istio"] {
        let Ok(rd) = std::fs::read_dir(root().join(dir)) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if (name.ends_with(".yaml") || name.ends_with(".json"))
                && (dir == "examples"
                    || std::fs::read_to_string(&p)
                        .unwrap()
                        .contains("kind: WasmPlugin"))
                && !name.starts_with("collector-")
                && !name.contains("kustomization")
            {
                files.push(p.to_string_lossy().to_string());
            }
        }
    }
    assert!(!files.is_empty());
    for f in &files {
        let (code, out) = meshward(&["check", f]);
        assert_eq!(code, 0, "{f}: {out}");
    }
    let dir = tempdir();
    let f = dir.join("risky.yaml");
    std::fs::write(
        &f,
        "access:\n  rules:\n    - { name: a, action: allow, when: { headers: { x-role: [admin] } } }\n",
    )
    .unwrap();
    let (code, out) = meshward(&["check", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("warning: access.rules[0].when: allow rule relies only on headers"),
        "{out}"
    );
}

/// A scratch directory of this test's thread, removed when dropped (each run left one
/// per test in the system's temp dir).
struct TempDir(std::path::PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir() -> TempDir {
    let d = std::env::temp_dir().join(format!(
        "meshward-cli-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}
