#!/usr/bin/env bash
# The costs of downloads and exports (bench/downloads.py says what it runs).
# Usage: bench/downloads.sh --baseline OLD_ESS [SCALE ...]   (default: 1000000 10000000)
# OLD_ESS: an `ess` built before the download files. Writes the results into
# BENCHMARKS.md (between the downloads markers) and bench/out/downloads.md.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check 'duckdb==1.4.4' 'polars==2.1.0' 2>&1 | grep -v "root' user" || true
if [ ! -x /usr/bin/time ]; then
  (apt-get update -qq && apt-get install -y -qq time) >/dev/null
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/bench}"
cargo build --release -p ess-api
exec python3 bench/downloads.py --ess "$CARGO_TARGET_DIR/release/ess" "$@"
