#!/usr/bin/env bash
# How much room a job's output takes in Sidekick's database against its log file.
#   scripts/db-size.sh [path/to/sidekick]     (default: the release build, built if missing)
# Two shell jobs in a scratch home: `seq 1 200000` (short lines) and 100,000 lines of ~55 bytes.
# Prints the logs' and the database's bytes (WAL included) and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-}"
if [ -z "$bin" ]; then
  bin="${CARGO_TARGET_DIR:-target}/release/sidekick"
  [ -x "$bin" ] || cargo build --release --quiet -p sidekick-cli
fi
bin="$(realpath "$bin")"
scratch="$(mktemp -d)"
export SIDEKICK_HOME="$scratch/home"
trap 'pkill -f -- "$SIDEKICK_HOME" 2>/dev/null || true; rm -rf "$scratch"' EXIT
git init -q "$scratch/repo"
git -C "$scratch/repo" -c user.name=bench -c user.email=bench@example.com commit -q --allow-empty -m init
cd "$scratch/repo"
"$bin" run -a shell --wait -- 'seq 1 200000' >/dev/null
"$bin" run -a shell --wait -- 'yes "a line of ordinary build output, about fifty-five bytes" | head -n 100000' >/dev/null
# Let the host checkpoint its WAL as it would at rest.
sleep 1
logs=$(cat "$SIDEKICK_HOME"/logs/*.log | wc -c)
db=$(cat "$SIDEKICK_HOME"/sidekick.db* | wc -c)
echo "logs: $logs bytes, database: $db bytes, ratio $(awk "BEGIN { printf \"%.2f\", $db / $logs }")"
