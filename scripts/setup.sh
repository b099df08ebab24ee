#!/usr/bin/env bash
# Installs what building, running and testing Sidekick needs on Debian/Ubuntu: a C compiler
# (SQLite and libgit2 are compiled in), git, Rust, Node.js + npm for the UI, and the WebKitGTK
# libraries Tauri builds the desktop app with; then the UI's npm packages. Safe to run again: it
# only installs what is missing. Set SIDEKICK_SETUP_GUI_TESTS=1 to add what the app's end-to-end
# tests need (Xvfb, D-Bus, WebKitWebDriver, tauri-driver).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

apt_packages=(git build-essential curl ca-certificates pkg-config libssl-dev
  libwebkit2gtk-4.1-dev libjavascriptcoregtk-4.1-dev libsoup-3.0-dev libgtk-3-dev
  libayatana-appindicator3-dev librsvg2-dev libxdo-dev
  # The jobs' sandbox (sandbox = "worktree", on by default where it works).
  bubblewrap)
if [ "${SIDEKICK_SETUP_GUI_TESTS:-0}" = 1 ]; then
  apt_packages+=(xvfb xauth webkit2gtk-driver dbus dbus-x11 imagemagick python3-venv xdotool
    # A real terminal for the CLI's prompts (tmux).
    tmux
    # A real OpenSSH server on loopback for the other-machines tests.
    openssh-server)
fi
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  echo "setup: the UI needs Node.js 20 or newer (found $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: installing the Rust toolchain with rustup" >&2
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
export PATH="$HOME/.cargo/bin:$PATH"

if [ "${SIDEKICK_SETUP_GUI_TESTS:-0}" = 1 ] && ! command -v tauri-driver >/dev/null 2>&1; then
  echo "setup: installing tauri-driver" >&2
  cargo install tauri-driver --locked --quiet
fi

# The real agents for the agent tests (crates/cli/tests/real_agents.rs), pinned, in a cache of
# their own.
AGENT_PACKAGES=("@anthropic-ai/claude-code@2.1.330" "@openai/codex@0.169.0" "@google/gemini-cli@0.61.0")
if [ "${SIDEKICK_SETUP_GUI_TESTS:-0}" = 1 ]; then
  agents="$HOME/.cache/sidekick-agents"
  wanted="${AGENT_PACKAGES[*]}"
  if [ "$(cat "$agents/.installed" 2>/dev/null)" != "$wanted" ]; then
    echo "setup: installing $wanted for the agent tests" >&2
    mkdir -p "$agents"
    npm install --prefix "$agents" --no-audit --no-fund --loglevel=error "${AGENT_PACKAGES[@]}"
    echo "$wanted" > "$agents/.installed"
  fi
  # Aider, from PyPI, in a virtualenv of its own; linked beside the others.
  AIDER_VERSION=0.86.1
  if [ "$(cat "$agents/.aider-installed" 2>/dev/null)" != "$AIDER_VERSION" ]; then
    echo "setup: installing aider-chat $AIDER_VERSION for the agent tests" >&2
    command -v python3 >/dev/null 2>&1 || { echo "setup: python3 is needed for aider" >&2; exit 1; }
    python3 -m venv "$agents/aider"
    "$agents/aider/bin/pip" install --quiet --disable-pip-version-check "aider-chat==$AIDER_VERSION"
    echo "$AIDER_VERSION" > "$agents/.aider-installed"
  fi
  ln -sf "$agents/aider/bin/aider" "$agents/node_modules/.bin/aider"
fi

# The UI's packages, exactly as locked; again only when the lock file changed.
stamp="$root/ui/node_modules/.sidekick-lock"
if ! cmp -s "$root/ui/package-lock.json" "$stamp" 2>/dev/null; then
  echo "setup: installing the UI's npm packages" >&2
  (cd "$root/ui" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$root/ui/package-lock.json" "$stamp"
fi
