#!/usr/bin/env bash
# Builds Sidekick's release package with the Tauri bundler into <target>/release/bundle/:
# a .deb holding the desktop app (/usr/bin/sidekick-app, its desktop entry and icons) and the
# `sidekick` command line (/usr/bin/sidekick), with its dependencies declared.
# (An AppImage needs linuxdeploy, which the bundler downloads from GitHub; where that is
# reachable, SIDEKICK_BUNDLES=deb,appimage builds it too.)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
bundles="${SIDEKICK_BUNDLES:-deb}"

[ -x ui/node_modules/.bin/tauri ] || (cd ui && npm ci --no-audit --no-fund >/dev/null)
# The app embeds ui/dist (built here: the bundler would look for the UI from another folder).
(cd ui && npm run --silent build >/dev/null)

# The command line goes in as the app's side binary (the bundler wants the target triple in
# its name and installs it beside the app, as /usr/bin/sidekick).
triple="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --locked -p sidekick-cli
mkdir -p packaging/bin
cp "$CARGO_TARGET_DIR/release/sidekick" "packaging/bin/sidekick-$triple"

ui/node_modules/.bin/tauri build --ci --bundles "$bundles" --config packaging/bundle.json
ls -1 "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb
