#!/usr/bin/env bash
# The module alone under V8 (Node.js embeds the same engine as Envoy): runs the
# benchmark traffic of envoy/bench/harness.py through a minimal proxy-wasm host in
# JavaScript (envoy/bench/v8host.mjs) and prints µs per request and host calls per
# request for each setup. With --profile, also a CPU profile by Wasm function
# (envoy/bench/v8prof.py). A profiling aid, not the benchmark: scripts/bench.sh
# measures Envoy; here the host side is JavaScript and only the module is real.
#
#   scripts/v8bench.sh                      # off, policy, full; 100k requests each
#   scripts/v8bench.sh --profile full       # where full's time goes, by function
#   scripts/v8bench.sh --module B.wasm policy  # another build (A/B: run both)
#
# The default module is the release build with its name section kept
# (target/v8bench/, so function names show in profiles). Needs node (>= 18).
set -euo pipefail
cd "$(dirname "$0")/.."
module="" profile=0 requests=100000 setups=()
while [ $# -gt 0 ]; do
  case "$1" in
    --module) module="$2"; shift 2 ;;
    --profile) profile=1; shift ;;
    --requests) requests="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) setups+=("$1"); shift ;;
  esac
done
[ ${#setups[@]} -gt 0 ] || setups=(off policy full)
command -v node >/dev/null || { echo "v8bench: node (Node.js >= 18) is required" >&2; exit 1; }
if [ -z "$module" ]; then
  CARGO_PROFILE_RELEASE_STRIP=false CARGO_TARGET_DIR=target/v8bench \
    cargo build -q -p meshward --target wasm32-wasip1 --release >&2
  module=target/v8bench/wasm32-wasip1/release/meshward.wasm
fi
out=target/v8bench/run
mkdir -p "$out"
for s in "${setups[@]}"; do
  python3 -c 'import json, sys; sys.path.insert(0, "envoy/bench"); import harness; print(json.dumps(harness.plugin_config(sys.argv[1])))' "$s" > "$out/$s.json"
  if [ $profile = 1 ]; then
    rm -rf "$out/prof-$s"
    printf '%-8s ' "$s"
    node --cpu-prof --cpu-prof-dir="$out/prof-$s" --cpu-prof-interval 100 \
      envoy/bench/v8host.mjs "$module" "$out/$s.json" "$requests"
    python3 envoy/bench/v8prof.py "$out"/prof-"$s"/*.cpuprofile
  else
    printf '%-8s ' "$s"
    node envoy/bench/v8host.mjs "$module" "$out/$s.json" "$requests"
  fi
done
