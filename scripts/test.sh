#!/usr/bin/env bash
# Installs everything and runs all checks and tests: formatting, clippy, the UI's type check
# and component tests, then unit, integration and end-to-end tests (real repositories, real
# processes, the real sidekick binary, and the real app under Xvfb driven by WebDriver).
set -euo pipefail
cd "$(dirname "$0")/.."
export SIDEKICK_SETUP_GUI_TESTS=1
source scripts/setup.sh
(
  cd ui
  npm run --silent check
  npm run --silent test
  # The app embeds ui/dist, so it is built before cargo compiles the app.
  npm run --silent build
)
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
# The release package: built, installed, used, removed (scripts/package-test.sh).
scripts/package-test.sh
echo "test: app screenshots are in ${CARGO_TARGET_DIR:-target}/e2e-screens" >&2
