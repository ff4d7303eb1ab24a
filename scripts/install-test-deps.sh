#!/usr/bin/env bash
# Installs the independent tools the tests check our output with, idempotently:
# a Python venv with python-docx (reads our .docx exports the way other
# programs do) and requests (runs the OCR.chat docs' Python client example). It lives in a per-user cache (not the checkout) so fresh
# clones reuse it. The last line printed is the venv's python.
set -euo pipefail
venv="${OCRCHAT_PYENV_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ocrchat/pyenv}"
py="$venv/bin/python"

if ! "$py" -c "import docx, requests, importlib.metadata as m; assert m.version('python-docx') == '1.2.0' and m.version('requests') == '2.32.3'" >/dev/null 2>&1; then
  if ! command -v python3 >/dev/null; then
    echo "install-test-deps: python3 is required (apt-get install python3 python3-venv)" >&2
    exit 1
  fi
  echo "install-test-deps: creating $venv with python-docx and requests (one-off)" >&2
  mkdir -p "$(dirname "$venv")"
  [ -x "$py" ] || python3 -m venv "$venv" >&2
  "$py" -m pip install --quiet --disable-pip-version-check "python-docx==1.2.0" "requests==2.32.3" >&2
  "$py" -c 'import docx, requests' >&2
fi
echo "$py"
