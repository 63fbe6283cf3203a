#!/usr/bin/env bash
# The module alone under V8 (Node.js embeds the engine Envoy embeds, run here without
# its baseline tier, as Envoy runs it): the benchmark traffic of envoy/bench/harness.py
# through a minimal proxy-wasm host in JavaScript (envoy/bench/v8host.mjs). Prints µs
# per request (median of rounds) and host calls per request for each setup. With
# --profile, also a CPU profile by Wasm function (envoy/bench/v8prof.py). A profiling
# aid, not the benchmark (scripts/bench.sh measures Envoy): here the host side is
# JavaScript, and on a shared VM separate runs differ by 10-30 %, so compare modules
# with --ab (alternating runs, median of paired ratios), not across invocations.
# For effects smaller than that noise, --count runs the host under valgrind's
# callgrind at two request counts and prints instructions per request (the difference
# divided by the extra requests, so start-up and compilation cancel out): close to
# deterministic; minutes per setup and module, ~15 for `full` (installs valgrind).
# --functions counts the same way by Wasm function (envoy/bench/v8count.py: callgrind's
# instruction addresses joined with V8's code log), self cost and calls per request;
# with --ab, both modules side by side. --functions --cache-sim also simulates the
# caches (valgrind --cache-sim=yes) and prints first-level instruction cache misses per
# request by function (a second table): how much code each function touches.
# --top N: rows of the --functions table (default 40).
#
#   scripts/v8bench.sh                           # off, policy, full
#   scripts/v8bench.sh --profile full            # where full's time goes, by function
#   scripts/v8bench.sh --ab B.wasm policy full   # this build against module B
#   scripts/v8bench.sh --count --ab B.wasm policy  # the same in instructions
#   scripts/v8bench.sh --functions --ab B.wasm policy  # instructions by function
#   scripts/v8bench.sh --functions --cache-sim policy  # and instruction cache misses
#
# The default module is the release build with its name section kept
# (target/v8bench/, so function names show in profiles). Installs Node.js (apt) when
# missing; any Node.js >= 18 will do.
set -euo pipefail
cd "$(dirname "$0")/.."
module="" ab="" profile=0 count=0 cache_sim=0 top=40 count_requests=5000 requests=2000 rounds=5 pairs=7 setups=()
while [ $# -gt 0 ]; do
  case "$1" in
    --module) module="$2"; shift 2 ;;
    --ab) ab="$2"; shift 2 ;;
    --profile) profile=1; shift ;;
    --count) count=1; shift ;;
    --functions) count=2; shift ;;
    --cache-sim) cache_sim=1; shift ;;
    --top) top="$2"; shift 2 ;;
    --count-requests) count_requests="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --pairs) pairs="$2"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) setups+=("$1"); shift ;;
  esac
done
[ ${#setups[@]} -gt 0 ] || setups=(off policy full)
if [ $cache_sim = 1 ] && [ $count != 2 ]; then
  echo "[v8bench] --cache-sim goes with --functions" >&2
  exit 2
fi
if [ $count != 0 ] && ! command -v valgrind >/dev/null 2>&1; then
  echo "[v8bench] installing valgrind (apt)" >&2
  apt-get update -qq && apt-get install -y -qq valgrind >&2
fi
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
# Instructions per request of module $2 on setup $1: callgrind totals at
# $count_requests / 5 and $count_requests requests (one round each), difference over
# the extra requests.
instructions() {
  local s=$1 m=$2 n total=()
  for n in $((count_requests / 5)) "$count_requests"; do
    total+=("$(valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/dev/null \
      node --no-liftoff --single-threaded envoy/bench/v8host.mjs "$out/$s.json" "$n" 1 "$m" 2>&1 >/dev/null |
      awk '/Collected :/ {print $4}')")
  done
  python3 -c "import sys; a, b, n = map(int, sys.argv[1:]); print(f'{(b - a) / (n - n // 5):,.0f} instructions per request')" "${total[@]}" "$count_requests"
}
# Callgrind profiles with instruction addresses and V8's code log of module $2 on
# setup $1, at $count_requests / 5 and $count_requests requests (both runs at once):
# $out/$3.short.{cg,log} and $out/$3.long.{cg,log}.
traces() {
  local s=$1 m=$2 tag=$3 n which p pids=()
  for which in short long; do
    n=$count_requests
    [ $which = short ] && n=$((count_requests / 5))
    valgrind --tool=callgrind --smc-check=all-non-file --dump-instr=yes \
      $([ $cache_sim = 1 ] && echo --cache-sim=yes) \
      --callgrind-out-file="$out/$tag.$which.cg" \
      node --no-liftoff --single-threaded --log-code --logfile="$out/$tag.$which.log" \
      --no-logfile-per-isolate envoy/bench/v8host.mjs "$out/$s.json" "$n" 1 "$m" \
      >/dev/null 2>"$out/$tag.$which.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do
    if ! wait "$p"; then
      echo "[v8bench] a traced run of $s failed:" >&2
      tail -5 "$out/$tag".*.err >&2
      exit 1
    fi
  done
}
for s in "${setups[@]}"; do
  python3 -c 'import json, sys; sys.path.insert(0, "envoy/bench"); import harness; print(json.dumps(harness.plugin_config(sys.argv[1])))' "$s" > "$out/$s.json"
  if [ $count = 2 ]; then
    echo "== $s: instructions per request by Wasm function (self), A = $module${ab:+, B = $ab}"
    traces "$s" "$module" a
    b_args=()
    if [ -n "$ab" ]; then
      traces "$s" "$ab" b
      b_args=(--b "$out/b.short.cg" "$out/b.short.log" "$out/b.long.cg" "$out/b.long.log")
    fi
    python3 envoy/bench/v8count.py "$out/a.short.cg" "$out/a.short.log" "$out/a.long.cg" \
      "$out/a.long.log" $((count_requests - count_requests / 5)) ${b_args[@]+"${b_args[@]}"} \
      --top "$top"
    if [ $cache_sim = 1 ]; then
      echo "== $s: first-level instruction cache misses per request by Wasm function"
      python3 envoy/bench/v8count.py "$out/a.short.cg" "$out/a.short.log" "$out/a.long.cg" \
        "$out/a.long.log" $((count_requests - count_requests / 5)) ${b_args[@]+"${b_args[@]}"} \
        --event I1mr --top 30
    fi
    rm -f "$out"/[ab].{short,long}.{cg,log,err}
  elif [ $count = 1 ]; then
    for m in "$module" ${ab:+"$ab"}; do
      printf '%-8s %s: ' "$s" "$m"
      instructions "$s" "$m"
    done
  elif [ -n "$ab" ]; then
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
