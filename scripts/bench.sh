#!/usr/bin/env bash
# Benchmarks Sidekick against git in one run and prints the ratios (see crates/bench).
#   scripts/bench.sh [--files 5000,30000] [--runs 7] [--lines 1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --quiet -p sidekick-cli -p sidekick-bench
target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/sidekick-bench" --sidekick "$target_dir/release/sidekick" "$@"
