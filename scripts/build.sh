#!/usr/bin/env bash
# Builds the release module target/wasm32-wasip1/release/meshward.wasm and checks its size.
#   scripts/build.sh           optimised for speed (opt-level 3, the default)
#   scripts/build.sh --small   optimised for size (opt-level "s"): a 7 % smaller module,
#                              ~1 MiB less resident memory per Envoy, but counted in Envoy
#                              +42 % instructions per request in `full` and +2 % in
#                              `policy` (docs/performance.md, thirteenth pass)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  "") ;;
  --small) export CARGO_PROFILE_RELEASE_OPT_LEVEL=s ;;
  *) echo "usage: scripts/build.sh [--small]" >&2; exit 2 ;;
esac
cargo build --quiet -p meshward --target wasm32-wasip1 --release
wasm=target/wasm32-wasip1/release/meshward.wasm
size=$(stat -c %s "$wasm")
limit=$((3 * 1024 * 1024 / 2))
awk -v s="$size" -v w="$wasm" 'BEGIN { printf "[build] %s: %d bytes (%.2f MiB, limit 1.5 MiB)\n", w, s, s / 1048576 }'
if [ "$size" -gt "$limit" ]; then
  echo "[build] module exceeds 1.5 MiB" >&2
  exit 1
fi
# No giant functions: V8 keeps the scratch memory of compiling the largest ones.
python3 scripts/wasm_functions.py "$wasm" --limit 20480
