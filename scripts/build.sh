#!/usr/bin/env bash
# Builds the release module target/wasm32-wasip1/release/meshward.wasm and checks its size.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet -p meshward --target wasm32-wasip1 --release
wasm=target/wasm32-wasip1/release/meshward.wasm
size=$(stat -c %s "$wasm")
limit=$((3 * 1024 * 1024 / 2))
awk -v s="$size" -v w="$wasm" 'BEGIN { printf "[build] %s: %d bytes (%.2f MiB, limit 1.5 MiB)\n", w, s, s / 1048576 }'
if [ "$size" -gt "$limit" ]; then
  echo "[build] module exceeds 1.5 MiB" >&2
  exit 1
fi
