#!/usr/bin/env bash
# Installs the build tools `make test` / `make run` need, idempotently:
# the wasm32 target and wasm-bindgen-cli at the exact version in Cargo.lock.
# Tools go to a per-user cache (not the checkout) so fresh clones reuse them.
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
  echo "install-tools: building wasm-bindgen-cli $wb_version (one-off, a few minutes)"
  # Not --locked: the CLI's own lockfile pins a crate version the registry lacks.
  cargo install --quiet wasm-bindgen-cli --version "$wb_version" --root "$tools"
fi
echo "$tools/bin"
