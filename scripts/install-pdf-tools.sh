#!/usr/bin/env bash
# Installs pdftotext (poppler-utils), which the searchable-PDF test uses to
# check the invisible text layer. Idempotent: does nothing when present.
set -euo pipefail
if command -v pdftotext >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing poppler-utils (pdftotext)" >&2
    apt-get -o DPkg::Lock::Timeout=300 install -y poppler-utils >&2 \
        || { apt-get -o DPkg::Lock::Timeout=300 update >&2 && apt-get -o DPkg::Lock::Timeout=300 install -y poppler-utils >&2; }
else
    echo "warning: pdftotext is missing; install poppler-utils (the searchable-PDF test needs it)" >&2
fi
