#!/usr/bin/env bash
# Installs the build tools `make test` / `make run` need, idempotently:
# the wasm32 target, wasm-bindgen-cli at the exact version in Cargo.lock, and
# for the web app (`make web`, the browser tests): trunk, wasm-opt (npm
# binaryen), playwright-core and Debian's chromium. Each is skipped when the
# right version is present, so a second run takes about a second.
# Tools go to a per-user cache (not the checkout) so fresh clones reuse them.
# The last line printed is the directory to put on PATH.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${OCRCHAT_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ocrchat/tools}"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

# The CLI must match the wasm-bindgen crate exactly.
wb_version="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$root/Cargo.lock")"
if [ -z "$wb_version" ]; then
  echo "install-tools: cannot find wasm-bindgen in Cargo.lock" >&2
  exit 1
fi
if [ "$("$tools/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  echo "install-tools: building wasm-bindgen-cli $wb_version (one-off, a few minutes)" >&2
  # Not --locked: the CLI's own lockfile pins a crate version the registry lacks.
  cargo install --quiet wasm-bindgen-cli --version "$wb_version" --root "$tools"
fi

if [ "${OCRCHAT_SKIP_WEB_TOOLS:-}" != 1 ]; then
  # Trunk 0.22 needs a newer rustc than the workspace's; 0.21.14 works offline.
  trunk_version=0.21.14
  if [ "$("$tools/bin/trunk" --version 2>/dev/null | awk '{print $2}')" != "$trunk_version" ]; then
    echo "install-tools: building trunk $trunk_version (one-off, ~10 minutes)" >&2
    cargo install --quiet trunk --version "$trunk_version" --locked --root "$tools"
  fi
  # npm packages: wasm-opt (Debian's binaryen 108 emits modules that fail in
  # the browser) and playwright-core (drives Debian's chromium; no browser download).
  npm_dir="$tools/npm"
  if [ "$("$npm_dir/node_modules/.bin/wasm-opt" --version 2>/dev/null | awk '{print $3}')" != 132 ] \
     || [ ! -f "$npm_dir/node_modules/playwright-core/package.json" ]; then
    echo "install-tools: npm install binaryen@132 playwright-core" >&2
    mkdir -p "$npm_dir"
    npm install --silent --no-audit --no-fund --prefix "$npm_dir" binaryen@132 playwright-core@1 >&2
  fi
  ln -sf "$npm_dir/node_modules/.bin/wasm-opt" "$tools/bin/wasm-opt"
  # chromium-driver: wasm-bindgen-test-runner drives the in-browser unit tests with it.
  # brotli: scripts/web_assets.py precompresses dist/ with it.
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 \
     || ! command -v brotli >/dev/null 2>&1; then
    echo "install-tools: apt-get install chromium chromium-driver brotli" >&2
    as_root=""; [ "$(id -u)" = 0 ] || as_root="sudo"
    pkgs=(chromium chromium-driver brotli)
    $as_root apt-get -o DPkg::Lock::Timeout=300 install -y -q "${pkgs[@]}" >&2 \
      || { $as_root apt-get -o DPkg::Lock::Timeout=300 update -q >&2 && $as_root apt-get -o DPkg::Lock::Timeout=300 install -y -q "${pkgs[@]}" >&2; }
  fi
fi
echo "$tools/bin"
