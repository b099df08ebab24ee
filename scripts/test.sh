#!/usr/bin/env bash
# Installs everything and runs all checks and tests: formatting, clippy, unit, integration and
# end-to-end tests (real repositories, real processes, the real sidekick binary).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
