#!/usr/bin/env bash
# The Delta Lake table's costs (bench/delta.py says what it runs).
# Usage: bench/delta.sh [--baseline OLD_ESS] [SCALE ...]   (default: 1000000 10000000)
# Writes the results into BENCHMARKS.md (between the delta markers) and bench/out/delta.md.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check 'moto[server]==5.2.1' 2>&1 | grep -v "root' user" || true
if [ ! -x /usr/bin/time ]; then
  (apt-get update -qq && apt-get install -y -qq time) >/dev/null
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/bench}"
cargo build --release -p ess-api
exec python3 bench/delta.py --ess "$CARGO_TARGET_DIR/release/ess" "$@"
