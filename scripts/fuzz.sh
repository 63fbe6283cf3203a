#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for N seconds each (default 30: the CI smoke),
# one after the other, starting from the committed seeds in fuzz/corpus/<target>/.
# Exits non-zero on the first crash; libFuzzer writes the input to
# fuzz/artifacts/<target>/. Uses the nightly toolchain when it is installed, else the
# stable one with RUSTC_BOOTSTRAP=1 (cargo fuzz passes -Z flags; the stable std ships
# the sanitizer runtimes); installs cargo-fuzz from crates.io when missing.
# Usage: scripts/fuzz.sh [seconds] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
shift || true

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=+nightly
else
  toolchain=+stable
  export RUSTC_BOOTSTRAP=1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "[fuzz] installing cargo-fuzz" >&2
  cargo install --locked cargo-fuzz
fi

cd fuzz
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo "$toolchain" fuzz list)
fi
# Build once, then run each target with a time budget; the corpus directory gathers
# new inputs (ignored by git except the seed-* files).
cargo "$toolchain" fuzz build --release
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "[fuzz] $t for ${secs}s"
  log="$(mktemp)"
  if ! cargo "$toolchain" fuzz run --release "$t" "corpus/$t" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "[fuzz] $t: CRASH (input in fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  runs=$(grep -Eo '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n1 | grep -Eo '[0-9]+' || echo '?')
  echo "[fuzz] $t: ok, ${runs} runs, coverage ${cov} edges"
  rm -f "$log"
done
echo "[fuzz] all ${#targets[@]} targets ran ${secs}s each without a crash"
