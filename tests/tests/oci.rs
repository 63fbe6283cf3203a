//! `scripts/oci.sh`: both image variants Istio pulls with `oci://` are valid OCI image
//! layouts (oci-layout version, index.json, every referenced blob present with its
//! sha256 equal to its name and to the descriptor digest, sizes and media types as
//! specified), the tarballs hold exactly the layouts, the build is reproducible, and the
//! module comes back byte for byte the way Istio's wasm puller
//! (`pkg/wasm/imagefetcher.go`) extracts it.

use meshward_e2e::paths;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const WASM_CONFIG: &str = "application/vnd.module.wasm.config.v1+json";
const WASM_LAYER: &str = "application/vnd.module.wasm.content.layer.v1+wasm";

fn sha256(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Output of one run of the script.
struct Run {
    out: PathBuf,
    /// variant → printed manifest digest
    digests: BTreeMap<String, String>,
}

fn run_script(module: &Path, out: &Path) -> Result<Run, String> {
    let o = Command::new("bash")
        .arg(paths::root().join("scripts/oci.sh"))
        .arg("--wasm")
        .arg(module)
        .arg("--out")
        .arg(out)
        .arg("--tag")
        .arg("9.9.9")
        .output()
        .expect("run scripts/oci.sh");
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    if !o.status.success() {
        return Err(format!("{stdout}{stderr}"));
    }
    let mut digests = BTreeMap::new();
    for line in stdout.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() == 4 {
            digests.insert(parts[0].to_string(), parts[1].to_string());
        }
    }
    assert!(
        stderr.contains("WasmPlugin.spec.sha256"),
        "the script must say where the digest goes: {stderr}"
    );
    Ok(Run {
        out: out.to_path_buf(),
        digests,
    })
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Checks a descriptor against the blob store: digest form, presence, sha256 of the
/// content equal to the name and to the descriptor, size. Returns the blob.
fn blob<'a>(
    blobs: &'a BTreeMap<String, Vec<u8>>,
    desc: &Value,
    what: &str,
) -> Result<&'a [u8], String> {
    let digest = desc["digest"]
        .as_str()
        .ok_or(format!("{what}: no digest"))?;
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or(format!("{what}: digest {digest} is not sha256"))?;
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(format!("{what}: malformed digest {digest}"));
    }
    let data = blobs
        .get(hex)
        .ok_or(format!("{what}: blob {digest} missing"))?;
    if sha256(data) != digest {
        return Err(format!("{what}: blob content does not hash to {digest}"));
    }
    let size = desc["size"].as_u64().ok_or(format!("{what}: no size"))?;
    if size != data.len() as u64 {
        return Err(format!(
            "{what}: size {size} but the blob has {} bytes",
            data.len()
        ));
    }
    if desc["mediaType"].as_str().is_none() {
        return Err(format!("{what}: no mediaType"));
    }
    Ok(data)
}

/// A verified layout: its one manifest (with digest) and its blobs.
struct Layout {
    manifest_digest: String,
    manifest: Value,
    blobs: BTreeMap<String, Vec<u8>>,
}

/// The OCI image-layout rules, as far as one image goes.
fn verify_layout(dir: &Path) -> Result<Layout, String> {
    let layout = read_json(&dir.join("oci-layout"))?;
    if layout != serde_json::json!({"imageLayoutVersion": "1.0.0"}) {
        return Err(format!("oci-layout: {layout}"));
    }
    let mut blobs = BTreeMap::new();
    let store = dir.join("blobs/sha256");
    for e in std::fs::read_dir(&store).map_err(|e| format!("{}: {e}", store.display()))? {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        let data = std::fs::read(e.path()).unwrap();
        if sha256(&data) != format!("sha256:{name}") {
            return Err(format!("blob {name}: content hashes to {}", sha256(&data)));
        }
        blobs.insert(name, data);
    }
    let index = read_json(&dir.join("index.json"))?;
    if index["schemaVersion"] != 2 {
        return Err(format!(
            "index.json schemaVersion: {}",
            index["schemaVersion"]
        ));
    }
    if index["mediaType"] != INDEX {
        return Err(format!("index.json mediaType: {}", index["mediaType"]));
    }
    let manifests = index["manifests"]
        .as_array()
        .ok_or("index.json: no manifests")?;
    if manifests.len() != 1 {
        return Err(format!("index.json: {} manifests, want 1", manifests.len()));
    }
    let desc = &manifests[0];
    if desc["mediaType"] != MANIFEST {
        return Err(format!(
            "index.json manifest mediaType: {}",
            desc["mediaType"]
        ));
    }
    if desc["annotations"]["org.opencontainers.image.ref.name"] != "9.9.9" {
        return Err(format!("index.json: no ref.name tag: {desc}"));
    }
    let manifest_bytes = blob(&blobs, desc, "manifest")?;
    let manifest: Value =
        serde_json::from_slice(manifest_bytes).map_err(|e| format!("manifest: {e}"))?;
    if manifest["schemaVersion"] != 2 || manifest["mediaType"] != MANIFEST {
        return Err(format!("manifest header: {manifest}"));
    }
    let mut referenced = vec![desc["digest"].as_str().unwrap().to_string()];
    blob(&blobs, &manifest["config"], "config")?;
    referenced.push(manifest["config"]["digest"].as_str().unwrap().to_string());
    let layers = manifest["layers"].as_array().ok_or("manifest: no layers")?;
    for (i, l) in layers.iter().enumerate() {
        blob(&blobs, l, &format!("layers[{i}]"))?;
        referenced.push(l["digest"].as_str().unwrap().to_string());
    }
    for name in blobs.keys() {
        if !referenced.contains(&format!("sha256:{name}")) {
            return Err(format!("blob {name} is referenced by nothing"));
        }
    }
    Ok(Layout {
        manifest_digest: desc["digest"].as_str().unwrap().to_string(),
        manifest,
        blobs,
    })
}

fn layer_blob<'a>(l: &'a Layout, desc: &Value) -> &'a [u8] {
    let hex = &desc["digest"].as_str().unwrap()[7..];
    &l.blobs[hex]
}

/// One regular file of a ustar archive.
#[derive(Debug)]
struct TarEntry {
    name: String,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    kind: u8,
    data: Vec<u8>,
}

fn octal(field: &[u8]) -> u64 {
    let s: String = field
        .iter()
        .take_while(|b| **b != 0 && **b != b' ')
        .map(|b| *b as char)
        .collect();
    u64::from_str_radix(s.trim(), 8).unwrap_or_else(|_| panic!("bad octal field {field:?}"))
}

/// A minimal ustar reader (POSIX headers, checksums verified).
fn untar(data: &[u8]) -> Vec<TarEntry> {
    assert_eq!(data.len() % 512, 0, "tar size is not a multiple of 512");
    let mut out = Vec::new();
    let mut off = 0;
    while off + 512 <= data.len() {
        let h = &data[off..off + 512];
        if h.iter().all(|b| *b == 0) {
            break;
        }
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    *b as u64
                }
            })
            .sum();
        assert_eq!(sum, octal(&h[148..156]), "tar header checksum");
        assert_eq!(&h[257..262], b"ustar", "not a ustar header");
        let cut = |f: &[u8]| {
            String::from_utf8(f.iter().take_while(|b| **b != 0).copied().collect()).unwrap()
        };
        let prefix = cut(&h[345..500]);
        let name = cut(&h[0..100]);
        let name = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let size = octal(&h[124..136]) as usize;
        let body = off + 512;
        out.push(TarEntry {
            name,
            mode: octal(&h[100..108]) as u32,
            uid: octal(&h[108..116]),
            gid: octal(&h[116..124]),
            mtime: octal(&h[136..148]),
            kind: h[156],
            data: data[body..body + size].to_vec(),
        });
        off = body + size.div_ceil(512) * 512;
    }
    out
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("layer.gz");
    std::fs::write(&f, data).unwrap();
    let o = Command::new("gzip")
        .arg("-dc")
        .arg(&f)
        .output()
        .expect("run gzip");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

/// What Istio's `ImageFetcher` does with a pulled image (`pkg/wasm/imagefetcher.go`):
/// first the compat variant (last layer `tar+gzip`, the file whose base name is
/// `plugin.wasm`), else the oci variant (exactly two layers, one of them the Wasm
/// content layer, taken raw); then the Wasm magic check of `cache.go`.
fn istio_extract(l: &Layout) -> Result<Vec<u8>, String> {
    let layers = l.manifest["layers"].as_array().unwrap();
    let compat = (|| {
        let last = layers
            .last()
            .ok_or("number of layers must be greater than zero")?;
        if last["mediaType"] != TAR_GZIP {
            return Err(format!("invalid media type {}", last["mediaType"]));
        }
        untar(&gunzip(layer_blob(l, last)))
            .into_iter()
            .find(|e| e.name.rsplit('/').next() == Some("plugin.wasm"))
            .map(|e| e.data)
            .ok_or("plugin.wasm not found in the archive".to_string())
    })();
    let module = compat.or_else(|e1| {
        if layers.len() != 2 {
            return Err(format!(
                "compat: {e1}; oci: number of layers must be 2 but got {}",
                layers.len()
            ));
        }
        layers
            .iter()
            .find(|d| d["mediaType"] == WASM_LAYER)
            .map(|d| layer_blob(l, d).to_vec())
            .ok_or(format!(
                "compat: {e1}; oci: could not find the layer of type {WASM_LAYER}"
            ))
    })?;
    if module.len() < 8 || &module[..4] != b"\0asm" {
        return Err("fetched Wasm binary is invalid".into());
    }
    Ok(module)
}

/// The layout tarball holds exactly the files of the layout directory, owned by 0:0
/// with mtime 0.
fn verify_tarball(tarball: &Path, dir: &Path) {
    let entries = untar(&std::fs::read(tarball).unwrap());
    let mut files = BTreeMap::new();
    for e in entries {
        assert_eq!((e.uid, e.gid, e.mtime), (0, 0, 0), "{}: {e:?}", e.name);
        match e.kind {
            b'5' => assert!(dir.join(&e.name).is_dir(), "{}", e.name),
            b'0' | 0 => {
                files.insert(e.name.clone(), e.data);
            }
            k => panic!("{}: unexpected entry type {k}", e.name),
        }
    }
    let mut on_disk = BTreeMap::new();
    for rel in ["oci-layout", "index.json"] {
        on_disk.insert(rel.to_string(), std::fs::read(dir.join(rel)).unwrap());
    }
    for e in std::fs::read_dir(dir.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        on_disk.insert(
            format!("blobs/sha256/{}", e.file_name().to_string_lossy()),
            std::fs::read(e.path()).unwrap(),
        );
    }
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        on_disk.keys().collect::<Vec<_>>(),
        "{} does not hold the layout",
        tarball.display()
    );
    assert!(files == on_disk, "{}: contents differ", tarball.display());
}

/// A private copy of the release module (others may rebuild it meanwhile).
fn module_copy(dir: &Path) -> (PathBuf, Vec<u8>) {
    let src = paths::wasm();
    let bytes = std::fs::read(&src)
        .unwrap_or_else(|e| panic!("{}: {e} (scripts/build.sh builds it)", src.display()));
    let p = dir.join("meshward.wasm");
    std::fs::write(&p, &bytes).unwrap();
    (p, bytes)
}

#[test]
fn both_variants_are_valid_layouts_and_unpack_to_the_exact_module() {
    let tmp = tempfile::tempdir().unwrap();
    let (wasm, module) = module_copy(tmp.path());
    let run = run_script(&wasm, &tmp.path().join("oci")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        run.digests.keys().collect::<Vec<_>>(),
        ["compat", "module", "wasm"],
        "printed: {:?}",
        run.digests
    );
    assert_eq!(run.digests["module"], sha256(&module));

    // compat: one tar+gzip layer holding plugin.wasm.
    let dir = run.out.join("compat");
    let compat = verify_layout(&dir).unwrap_or_else(|e| panic!("compat: {e}"));
    assert_eq!(run.digests["compat"], compat.manifest_digest);
    let m = &compat.manifest;
    assert_eq!(m["config"]["mediaType"], IMAGE_CONFIG);
    assert_eq!(m["annotations"]["module.wasm.image/variant"], "compat");
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{m}");
    assert_eq!(layers[0]["mediaType"], TAR_GZIP);
    let gz = layer_blob(&compat, &layers[0]);
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "not gzip");
    assert_eq!(&gz[4..8], &[0, 0, 0, 0], "gzip mtime must be 0");
    assert_eq!(gz[3] & 0x08, 0, "gzip must not carry a file name");
    let tar = gunzip(gz);
    let entries = untar(&tar);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(e.name, "plugin.wasm");
    assert_eq!(
        (e.uid, e.gid, e.mtime, e.mode, e.kind),
        (0, 0, 0, 0o644, b'0')
    );
    assert!(e.data == module, "plugin.wasm differs from the module");
    let config: Value = serde_json::from_slice(layer_blob(&compat, &m["config"])).unwrap();
    assert_eq!(config["rootfs"]["type"], "layers");
    assert_eq!(config["rootfs"]["diff_ids"][0], sha256(&tar), "{config}");
    assert!(config["architecture"].is_string() && config["os"].is_string());
    assert!(istio_extract(&compat).unwrap() == module);
    verify_tarball(&run.out.join("meshward-compat-9.9.9.oci.tar"), &dir);

    // wasm: the Wasm artifact variant.
    let dir = run.out.join("wasm");
    let art = verify_layout(&dir).unwrap_or_else(|e| panic!("wasm: {e}"));
    assert_eq!(run.digests["wasm"], art.manifest_digest);
    let m = &art.manifest;
    assert_eq!(m["config"]["mediaType"], WASM_CONFIG);
    let runtime: Value = serde_json::from_slice(layer_blob(&art, &m["config"])).unwrap();
    assert_eq!(runtime["type"], "envoy_proxy");
    assert_eq!(runtime["config"]["root_ids"][0], "meshward");
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "Istio wants exactly two layers: {m}");
    let content: Vec<&Value> = layers
        .iter()
        .filter(|l| l["mediaType"] == WASM_LAYER)
        .collect();
    assert_eq!(content.len(), 1, "{m}");
    assert!(layer_blob(&art, content[0]) == module, "raw layer differs");
    assert!(layers.iter().any(|l| l["mediaType"] == WASM_CONFIG));
    assert!(istio_extract(&art).unwrap() == module);
    verify_tarball(&run.out.join("meshward-wasm-9.9.9.oci.tar"), &dir);

    // digests.txt repeats what was printed.
    let listed = std::fs::read_to_string(run.out.join("digests.txt")).unwrap();
    assert!(listed.contains(&format!("compat {}", run.digests["compat"])));
    assert!(listed.contains(&format!("wasm {}", run.digests["wasm"])));
}

#[test]
fn the_build_is_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let (wasm, _) = module_copy(tmp.path());
    let a = run_script(&wasm, &tmp.path().join("a")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = run_script(&wasm, &tmp.path().join("b")).unwrap();
    assert_eq!(a.digests, b.digests);
    for variant in ["compat", "wasm"] {
        let t = format!("meshward-{variant}-9.9.9.oci.tar");
        assert!(
            std::fs::read(a.out.join(&t)).unwrap() == std::fs::read(b.out.join(&t)).unwrap(),
            "{t} differs between two runs"
        );
    }
    // A run over an existing output replaces it (no stale blobs).
    let mut other = std::fs::read(&wasm).unwrap();
    other.extend_from_slice(&[0, 0]);
    let w2 = tmp.path().join("other.wasm");
    std::fs::write(&w2, &other).unwrap();
    let c = run_script(&w2, &a.out).unwrap();
    assert_ne!(c.digests["compat"], a.digests["compat"]);
    verify_layout(&a.out.join("compat")).unwrap();
    verify_layout(&a.out.join("wasm")).unwrap();
}

#[test]
fn the_checks_catch_a_tampered_layout_and_the_script_refuses_a_non_module() {
    let tmp = tempfile::tempdir().unwrap();
    let (wasm, _) = module_copy(tmp.path());
    let run = run_script(&wasm, &tmp.path().join("oci")).unwrap();

    // A flipped byte in the Wasm layer blob.
    let dir = run.out.join("wasm");
    let art = verify_layout(&dir).unwrap();
    let layer = art.manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["mediaType"] == WASM_LAYER)
        .unwrap()["digest"]
        .as_str()
        .unwrap()[7..]
        .to_string();
    let p = dir.join("blobs/sha256").join(&layer);
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&p, bytes).unwrap();
    let err = verify_layout(&dir).err().expect("tampered blob accepted");
    assert!(err.contains("hashes to"), "{err}");

    // A missing blob.
    let dir = run.out.join("compat");
    let compat = verify_layout(&dir).unwrap();
    let cfg = compat.manifest["config"]["digest"].as_str().unwrap()[7..].to_string();
    std::fs::remove_file(dir.join("blobs/sha256").join(cfg)).unwrap();
    let err = verify_layout(&dir).err().expect("missing blob accepted");
    assert!(err.contains("missing"), "{err}");

    // Not a Wasm module.
    let bad = tmp.path().join("bad.wasm");
    std::fs::write(&bad, b"#!/bin/sh\n").unwrap();
    let err = run_script(&bad, &tmp.path().join("bad"))
        .err()
        .expect("a non-module was packaged");
    assert!(err.contains("not a Wasm module"), "{err}");
}
