#!/usr/bin/env bash
# The public server under a crowd, with its limits on (bench/load.py says what it runs).
# Usage: bench/load.sh [--scale N] [--seconds S] [--clients C] [--baseline OLD_ESS]
# Writes the results into BENCHMARKS.md (between the load markers) and bench/out/load.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/bench}"
cargo build --release -p ess-api
exec python3 bench/load.py --ess "$CARGO_TARGET_DIR/release/ess" "$@"
