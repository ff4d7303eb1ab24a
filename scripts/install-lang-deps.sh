#!/usr/bin/env bash
# Installs what the script-family test (tests/tests/scripts.rs) renders its
# sentences with: pango-view (pango1.0-tools) and Debian's Noto fonts for
# every script it covers. Idempotent: does nothing when all are present.
set -euo pipefail
packages=(pango1.0-tools fonts-noto-core fonts-noto-cjk)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "ok installed" >/dev/null || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]}" >&2
    apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}" >&2 \
        || { apt-get -o DPkg::Lock::Timeout=300 update >&2 \
            && apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}" >&2; }
else
    echo "warning: ${missing[*]} missing; the script-family test will skip (install them as root)" >&2
fi
