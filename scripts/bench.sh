#!/usr/bin/env bash
# The benchmark of ../shared/spec/bench.md: meshward against Envoy without a filter and
# with Envoy's own rbac + local_ratelimit, in one run, setups interleaved and shuffled
# per round. Prints requests/s, p50/p99, Envoy CPU per 10k requests and resident memory
# per setup, and the target ratios (medians of paired per-round ratios) with PASS/MISS.
#
#   scripts/bench.sh                         # 13 rounds x 4 s (about 8 minutes)
#   scripts/bench.sh --rounds 3 --duration 2 # a quick look
#   scripts/bench.sh --setups off,policy     # a subset
#
# Set-up included (wrk, Envoy, the release module). Configs: envoy/bench/. Raw rounds,
# stats and Envoy logs: target/bench/<time>/. See docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h|--help) exec python3 envoy/bench/harness.py bench --help ;;
esac
scripts/setup.sh --bench >&2
scripts/build.sh >&2
exec python3 envoy/bench/harness.py bench "$@"
