#!/usr/bin/env bash
# The module alone under V8 (Node.js embeds the engine Envoy embeds, run here without
# its baseline tier, as Envoy runs it): the benchmark traffic of envoy/bench/harness.py
# through a minimal proxy-wasm host in JavaScript (envoy/bench/v8host.mjs). Prints µs
# per request (median of rounds) and host calls per request for each setup. With
# --profile, also a CPU profile by Wasm function (envoy/bench/v8prof.py). A profiling
# aid, not the benchmark (scripts/bench.sh measures Envoy): here the host side is
# JavaScript, and on a shared VM separate runs differ by 10-30 %, so compare modules
# with --ab (alternating runs, median of paired ratios), not across invocations.
#
#   scripts/v8bench.sh                           # off, policy, full
#   scripts/v8bench.sh --profile full            # where full's time goes, by function
#   scripts/v8bench.sh --ab B.wasm policy full   # this build against module B
#
# The default module is the release build with its name section kept
# (target/v8bench/, so function names show in profiles). Installs Node.js (apt) when
# missing; any Node.js >= 18 will do.
set -euo pipefail
cd "$(dirname "$0")/.."
module="" ab="" profile=0 requests=2000 rounds=5 pairs=7 setups=()
while [ $# -gt 0 ]; do
  case "$1" in
    --module) module="$2"; shift 2 ;;
    --ab) ab="$2"; shift 2 ;;
    --profile) profile=1; shift ;;
    --requests) requests="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --pairs) pairs="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) setups+=("$1"); shift ;;
  esac
done
[ ${#setups[@]} -gt 0 ] || setups=(off policy full)
if ! command -v node >/dev/null 2>&1; then
  echo "[v8bench] installing Node.js (apt: nodejs)" >&2
  apt-get update -qq && apt-get install -y -qq nodejs >&2
fi
if [ -z "$module" ]; then
  CARGO_PROFILE_RELEASE_STRIP=false CARGO_TARGET_DIR=target/v8bench \
    cargo build -q -p meshward --target wasm32-wasip1 --release >&2
  module=target/v8bench/wasm32-wasip1/release/meshward.wasm
fi
out=target/v8bench/run
mkdir -p "$out"
host() { # setup module [node flags...]
  local s=$1 m=$2
  shift 2
  node --no-liftoff "$@" envoy/bench/v8host.mjs "$out/$s.json" "$requests" "$rounds" "$m"
}
us() { python3 -c 'import json, sys; print(json.load(sys.stdin)["us_per_request"])'; }
for s in "${setups[@]}"; do
  python3 -c 'import json, sys; sys.path.insert(0, "envoy/bench"); import harness; print(json.dumps(harness.plugin_config(sys.argv[1])))' "$s" > "$out/$s.json"
  if [ -n "$ab" ]; then
    ratios=()
    for _ in $(seq "$pairs"); do
      a=$(host "$s" "$module" | us)
      b=$(host "$s" "$ab" | us)
      ratios+=("$(python3 -c "print($b / $a)")")
    done
    python3 - "$s" "${ratios[@]}" <<'PY'
import statistics, sys
s, r = sys.argv[1], sorted(float(x) for x in sys.argv[2:])
print(f"{s:<8} B/A µs per request: median {statistics.median(r):.3f} (min {r[0]:.3f}, max {r[-1]:.3f}, {len(r)} pairs)")
PY
  elif [ $profile = 1 ]; then
    rm -rf "$out/prof-$s"
    printf '%-8s ' "$s"
    host "$s" "$module" --cpu-prof --cpu-prof-dir="$out/prof-$s" --cpu-prof-interval 100
    python3 envoy/bench/v8prof.py "$out"/prof-"$s"/*.cpuprofile
  else
    printf '%-8s ' "$s"
    host "$s" "$module"
  fi
done
