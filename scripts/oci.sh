#!/usr/bin/env bash
# Packages the release module as OCI images that Istio's `oci://` puller accepts, without
# Docker: for each variant an OCI image-layout directory and a tarball of it.
#
#   scripts/oci.sh [--wasm FILE] [--out DIR] [--tag TAG]
#
# defaults: --wasm target/wasm32-wasip1/release/meshward.wasm, --out out/oci,
#           --tag the workspace version (Cargo.toml).
#
# Variants (what istio/pkg/wasm/imagefetcher.go parses, in the order it tries them):
#   compat  manifest application/vnd.oci.image.manifest.v1+json, config
#           application/vnd.oci.image.config.v1+json, ONE layer
#           application/vnd.oci.image.layer.v1.tar+gzip: a tar.gz holding `plugin.wasm`;
#           manifest annotation module.wasm.image/variant=compat.
#   wasm    the Wasm artifact ("oci") variant: config application/vnd.module.wasm.config.v1+json
#           (the runtime config: type envoy_proxy, ABI, root ids), and the TWO layers Istio
#           requires: that runtime config again (runtime-config.json) and
#           application/vnd.module.wasm.content.layer.v1+wasm = the raw module.
#
# Output under DIR: compat/ and wasm/ (oci-layout, index.json, blobs/sha256/...),
# meshward-compat-TAG.oci.tar and meshward-wasm-TAG.oci.tar, digests.txt. Everything is
# reproducible: the same module gives the same bytes and digests (fixed mtime 0, uid/gid
# 0, sorted entries, gzip without name and with mtime 0). The printed manifest digests go
# into WasmPlugin.spec.sha256 (hex, without "sha256:"); see docs/istio.md.
#
# Push with any OCI-layout-aware tool that keeps the manifest bytes, e.g.
#   oras cp --from-oci-layout out/oci/compat:0.1.0 registry.example.com/meshward/meshward:0.1.0
#   skopeo copy --preserve-digests oci:out/oci/compat:0.1.0 docker://registry.example.com/meshward/meshward:0.1.0
set -euo pipefail
cd "$(dirname "$0")/.."

wasm=target/wasm32-wasip1/release/meshward.wasm
out=out/oci
tag=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
while [ $# -gt 0 ]; do
  case "$1" in
    --wasm) wasm=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "[oci] unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ ! -f "$wasm" ]; then
  echo "[oci] $wasm is missing: run scripts/build.sh first" >&2
  exit 1
fi

python3 - "$wasm" "$out" "$tag" <<'PY'
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile

wasm_path, out, tag = sys.argv[1], sys.argv[2], sys.argv[3]
module = open(wasm_path, "rb").read()
if module[:4] != b"\0asm":
    sys.exit(f"[oci] {wasm_path} is not a Wasm module (no \\0asm magic)")

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
WASM_CONFIG = "application/vnd.module.wasm.config.v1+json"
WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm"


def canonical(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_bytes(files):
    """A reproducible ustar archive of (name, bytes, mode) entries, in the given order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data, mode in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzip_bytes(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def descriptor(media_type, data, annotations=None):
    d = {"mediaType": media_type, "digest": sha256(data), "size": len(data)}
    if annotations:
        d["annotations"] = annotations
    return d


def write_layout(name, blobs, manifest):
    """Writes DIR/name as an OCI image layout and DIR/meshward-name-TAG.oci.tar."""
    root = os.path.join(out, name)
    if os.path.exists(root):
        shutil.rmtree(root)
    manifest_bytes = canonical(manifest)
    blobs = list(blobs) + [manifest_bytes]
    files = {
        "oci-layout": canonical({"imageLayoutVersion": "1.0.0"}),
        "index.json": canonical({
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": [descriptor(MANIFEST, manifest_bytes,
                                     {"org.opencontainers.image.ref.name": tag})],
        }),
    }
    for b in blobs:
        files["blobs/sha256/" + hashlib.sha256(b).hexdigest()] = b
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    entries = []
    for d in ["blobs/", "blobs/sha256/"]:
        entries.append(d)
    names = sorted(files)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for d in entries:
            info = tarfile.TarInfo(d.rstrip("/"))
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tf.addfile(info)
        for rel in names:
            info = tarfile.TarInfo(rel)
            info.size = len(files[rel])
            info.mode = 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tf.addfile(info, io.BytesIO(files[rel]))
    tarball = os.path.join(out, f"meshward-{name}-{tag}.oci.tar")
    with open(tarball, "wb") as f:
        f.write(buf.getvalue())
    return sha256(manifest_bytes), root, tarball


os.makedirs(out, exist_ok=True)
title = {"org.opencontainers.image.title": "meshward",
         "org.opencontainers.image.version": tag,
         "org.opencontainers.image.description": "meshward Proxy-Wasm API security filter"}

# compat: one tar+gzip layer with plugin.wasm.
layer_tar = tar_bytes([("plugin.wasm", module, 0o644)])
layer = gzip_bytes(layer_tar)
image_config = canonical({
    "architecture": "wasm",
    "os": "wasip1",
    "config": {},
    "rootfs": {"type": "layers", "diff_ids": [sha256(layer_tar)]},
})
compat_manifest = {
    "schemaVersion": 2,
    "mediaType": MANIFEST,
    "config": descriptor(IMAGE_CONFIG, image_config),
    "layers": [descriptor(TAR_GZIP, layer)],
    "annotations": dict(title, **{"module.wasm.image/variant": "compat"}),
}
compat = write_layout("compat", [image_config, layer], compat_manifest)

# wasm: the Wasm artifact variant; the runtime config is both the config and a layer.
runtime_config = canonical({
    "type": "envoy_proxy",
    "abiVersions": ["proxy_abi_version_0_2_1"],
    "config": {"root_ids": ["meshward"]},
})
wasm_manifest = {
    "schemaVersion": 2,
    "mediaType": MANIFEST,
    "config": descriptor(WASM_CONFIG, runtime_config),
    "layers": [
        descriptor(WASM_CONFIG, runtime_config,
                   {"org.opencontainers.image.title": "runtime-config.json"}),
        descriptor(WASM_LAYER, module, {"org.opencontainers.image.title": "plugin.wasm"}),
    ],
    "annotations": title,
}
wasm = write_layout("wasm", [runtime_config, module], wasm_manifest)

module_digest = sha256(module)
lines = [
    f"compat {compat[0]} {compat[1]} {compat[2]}",
    f"wasm {wasm[0]} {wasm[1]} {wasm[2]}",
    f"module {module_digest} {wasm_path} -",
]
with open(os.path.join(out, "digests.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
for line in lines:
    print(line)
print(f"[oci] WasmPlugin.spec.sha256 for the compat image: {compat[0][7:]}", file=sys.stderr)
print(f"[oci] WasmPlugin.spec.sha256 for the wasm image:   {wasm[0][7:]}", file=sys.stderr)
PY
