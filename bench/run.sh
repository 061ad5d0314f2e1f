#!/usr/bin/env bash
# The benchmark: ess against DuckDB on the same files, at 1M and 10M organisations.
# Usage: bench/run.sh [SCALE ...]   (default: 1000000 10000000)
# Writes the results into BENCHMARKS.md (between the results markers) and bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check 'duckdb==1.*' 2>&1 | grep -v "root' user" || true
if ! command -v wrk >/dev/null || [ ! -x /usr/bin/time ]; then
  (apt-get update -qq && apt-get install -y -qq wrk time) >/dev/null
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/bench}"
cargo build --release -p ess-api
exec python3 bench/bench.py --ess "$CARGO_TARGET_DIR/release/ess" "$@"
