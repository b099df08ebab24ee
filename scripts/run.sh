#!/usr/bin/env bash
# Installs everything, builds Sidekick and runs it.
#   scripts/run.sh            start the Sidekick host in the foreground (Ctrl-C stops it)
#   scripts/run.sh ARGS...    run `sidekick ARGS...` (e.g. `scripts/run.sh run "make test"`)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --quiet -p sidekick-cli
bin="${CARGO_TARGET_DIR:-target}/release/sidekick"
if [ $# -eq 0 ]; then
  echo "sidekick: built $bin; put it on your PATH to use the CLI from any repository" >&2
  exec "$bin" serve
fi
exec "$bin" "$@"
