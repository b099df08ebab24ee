#!/usr/bin/env bash
# Builds the .deb (scripts/package.sh), installs it, runs the installed `sidekick --version` and
# `sidekick doctor`, opens the installed app under Xvfb and finds its window, then removes the
# package and checks that the user's data stayed. Needs root (or sudo) for dpkg.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

bash scripts/package.sh >/dev/null
deb="$(ls -1t "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb | head -1)"
package="$(dpkg-deb --field "$deb" Package)"
echo "package: $deb ($package)" >&2

scratch="$(mktemp -d)"
cleanup() {
  pkill -f /usr/bin/sidekick-app 2>/dev/null || true
  $sudo dpkg -r "$package" >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT

# Its dependencies are declared: apt installs what is missing.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$deb" >/dev/null
for f in /usr/bin/sidekick /usr/bin/sidekick-app; do
  [ -x "$f" ] || { echo "package-test: $f is not installed" >&2; exit 1; }
done
ls /usr/share/applications/*.desktop | grep -qi sidekick \
  || { echo "package-test: no desktop entry" >&2; exit 1; }
dpkg-deb --field "$deb" Depends | grep -q bubblewrap \
  || { echo "package-test: bubblewrap is not a dependency" >&2; exit 1; }

export HOME="$scratch/home" XDG_CONFIG_HOME="$scratch/config" XDG_DATA_HOME="$scratch/data" \
  XDG_CACHE_HOME="$scratch/cache" XDG_RUNTIME_DIR="$scratch/runtime"
mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
cd "$scratch"

version="$(/usr/bin/sidekick --version)"
echo "installed: $version" >&2
case "$version" in sidekick\ *) ;; *) echo "package-test: unexpected --version: $version" >&2; exit 1 ;; esac

# A job through the installed CLI (its host is the installed binary), then doctor: every check
# but the desktop notifications (this session has no notification server) passes.
git init -q -b main repo
(cd repo && git -c user.name=t -c user.email=t@e commit -q --allow-empty -m first \
  && GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e \
     /usr/bin/sidekick run --wait -a shell "echo packaged > p.txt" >/dev/null)
set +e
/usr/bin/sidekick doctor --json > doctor.json
set -e
python3 - doctor.json <<'PY'
import json, sys
checks = json.load(open(sys.argv[1]))
failed = [c["name"] for c in checks if c["status"] == "fail" and c["name"] != "notifications"]
names = {c["name"] for c in checks}
assert {"git", "socket", "database", "host", "sandbox"} <= names, names
assert not failed, f"doctor failed: {failed}: {checks}"
print("doctor: " + ", ".join(f'{c["name"]} {c["status"]}' for c in checks), file=sys.stderr)
PY
/usr/bin/sidekick ls >/dev/null

# The installed app opens a window.
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c '
  /usr/bin/sidekick-app >/dev/null 2>&1 &
  for i in $(seq 1 100); do
    if xdotool search --name "^Sidekick$" >/dev/null 2>&1; then echo found; break; fi
    sleep 0.2
  done
  kill %1 2>/dev/null || true
' > window.txt
grep -q found window.txt || { echo "package-test: the installed app showed no window" >&2; exit 1; }
/usr/bin/sidekick serve --help >/dev/null
pkill -f "/usr/bin/sidekick serve" 2>/dev/null || true

# Removing the package leaves the user's data.
$sudo dpkg -r "$package" >/dev/null
[ ! -e /usr/bin/sidekick ] || { echo "package-test: /usr/bin/sidekick is still there" >&2; exit 1; }
[ -f "$XDG_DATA_HOME/sidekick/sidekick.db" ] || { echo "package-test: the user's data went with the package" >&2; exit 1; }
echo "package-test: installed, ran a job, doctor, opened the app, removed; the user's data kept" >&2
