#!/usr/bin/env bash
# Installs schemathesis (PyPI, pinned) into a per-user cached venv, idempotently:
# `make test` runs it against the real server's /openapi.json
# (tests/tests/openapi_fuzz.rs). The last line printed is the `st` executable.
set -euo pipefail
version="4.32.5"
venv="${OCRCHAT_SCHEMATHESIS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ocrchat/schemathesis}"
st="$venv/bin/st"

if ! "$venv/bin/python" -c "import importlib.metadata as m; assert m.version('schemathesis') == '$version'" >/dev/null 2>&1; then
  if ! command -v python3 >/dev/null; then
    echo "install-schemathesis: python3 is required (apt-get install python3 python3-venv)" >&2
    exit 1
  fi
  echo "install-schemathesis: creating $venv with schemathesis $version (one-off)" >&2
  mkdir -p "$(dirname "$venv")"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$version" >&2
fi
"$st" --version >/dev/null
echo "$st"
