#!/usr/bin/env bash
# The demo, from a bare machine: set-up, build, then a real Envoy with meshward in front
# of a sample API, a local collector sink, scripted traffic, and a summary.
# Optional argument: a pluginConfig YAML (default examples/demo-config.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cargo build --quiet -p meshward-e2e --bin meshward-demo
exec target/debug/meshward-demo "$@"
