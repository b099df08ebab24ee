#!/usr/bin/env bash
# Benchmarks Sidekick against git in one run and prints the ratios (see crates/bench).
#   scripts/bench.sh [--files 5000,30000] [--runs 7] [--lines 1000000]
#   scripts/bench.sh --ui     the desktop app under Xvfb: 1,000 jobs, a 50,000-line diff,
#                             a 5,000-row transcript, 20 jobs streaming, a million-line output
#                             (tests/e2e/bench.rs)
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
if [ "${1:-}" = "--ui" ]; then
  export SIDEKICK_SETUP_GUI_TESTS=1
  source scripts/setup.sh
  (cd ui && npm run --silent build)
  # The app finds the host program beside itself.
  cargo build --release --quiet -p sidekick-cli
  exec cargo bench --quiet -p sidekick-app --bench ui
fi
source scripts/setup.sh
cargo build --release --quiet -p sidekick-cli -p sidekick-bench
exec "$target_dir/release/sidekick-bench" --sidekick "$target_dir/release/sidekick" "$@"
