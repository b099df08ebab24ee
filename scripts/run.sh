#!/usr/bin/env bash
# Installs everything, builds Sidekick and opens the desktop app.
#   scripts/run.sh            build and open the app (it starts the host in the background)
#   scripts/run.sh ARGS...    run the CLI instead: `sidekick ARGS...` (e.g. `scripts/run.sh ls`)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
(cd ui && npm run --silent build)
cargo build --release --quiet -p sidekick-cli -p sidekick-app
bin="${CARGO_TARGET_DIR:-target}/release"
if [ $# -gt 0 ]; then
  exec "$bin/sidekick" "$@"
fi
echo "sidekick: opening the app; the CLI is $bin/sidekick (put it on your PATH)" >&2
exec "$bin/sidekick-app"
