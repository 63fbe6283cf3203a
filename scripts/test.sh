#!/usr/bin/env bash
# The whole test suite, from a bare machine: set-up, formatting, lints (native and
# wasm32), core unit tests natively and under wasm-bindgen-test (Node's V8), the release
# module, the end-to-end tests against real Envoy processes, and a fuzz smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n=== %s ===\n' "$*"; }

step "set-up"
scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy (native, all targets)"
cargo clippy --quiet --workspace --all-targets -- -D warnings

step "clippy (wasm32: core, adapter and the bench's calibration filter)"
cargo clippy --quiet -p meshward-core -p meshward -p meshward-calib --target wasm32-wasip1 -- -D warnings

step "unit tests (native)"
cargo test --quiet -p meshward-core -p meshward-cli

step "core unit tests on wasm32 (wasm-bindgen-test in Node's V8)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test -p meshward-core --target wasm32-unknown-unknown

step "release module"
scripts/build.sh

step "end-to-end tests (real Envoy 1.40)"
cargo test --quiet -p meshward-e2e -- --test-threads 2

step "fuzz smoke (every cargo-fuzz target, 20 s each, from the committed seeds)"
scripts/fuzz.sh 20

step "all tests passed"
