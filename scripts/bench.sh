#!/usr/bin/env bash
# The benchmark of ../shared/spec/bench.md: meshward against Envoy without a filter and
# with Envoy's own rbac + local_ratelimit, in one run, setups interleaved and shuffled
# per round. Prints requests/s, p50/p99, Envoy CPU per 10k requests and resident memory
# per setup, and the target ratios (medians of paired per-round ratios) with PASS/MISS.
#
#   scripts/bench.sh                         # 13 rounds x 4 s (about 8 minutes)
#   scripts/bench.sh --rounds 3 --duration 2 # a quick look
#   scripts/bench.sh --setups off,policy     # a subset
#   scripts/bench.sh --setups off,calib-noop,calib-body,calib-bodies,full
#                                            # with the calibration filters of bench.md
#                                            # (envoy/bench/calib): what any Wasm filter
#                                            # pays for crossing, and for the bodies
#   scripts/bench.sh --count                 # instructions per request of whole Envoys
#                                            # under callgrind: plain, off, policy (~10 min)
#   scripts/bench.sh --count --setups off,policy,policy@b   # A/B of two builds, the same way
#   scripts/bench.sh --count --cache-sim     # also valgrind's simulated cache misses per
#                                            # request and a cycle estimate (slower)
#
# Set-up included (wrk, Envoy, the release module). Configs: envoy/bench/. Raw rounds,
# stats and Envoy logs: target/bench/<time>/. See docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=bench
case "${1:-}" in
  -h|--help) exec python3 envoy/bench/harness.py bench --help ;;
  --count) cmd=count; shift ;;
esac
scripts/setup.sh --bench >&2
scripts/build.sh >&2
# The calibration filter of the `calib-*` setups (envoy/bench/calib; small, seconds).
cargo build --quiet -p meshward-calib --target wasm32-wasip1 --release >&2
if [ $cmd = count ] && ! command -v valgrind >/dev/null 2>&1; then
  echo "[bench] installing valgrind (apt)" >&2
  apt-get update -qq && apt-get install -y -qq valgrind >&2
fi
exec python3 envoy/bench/harness.py "$cmd" "$@"
