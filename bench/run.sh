#!/usr/bin/env bash
# Benchmark entry point (`make bench`): prepares Tesseract and the reference Python pipeline, then
# runs bench/bench.py, which measures every available engine on the shared test data and writes
# bench/results.md. Idempotent: a second run reuses the apt packages and bench/work/venv.
# Extra arguments go to bench.py (e.g. --engines tesseract,rapidocr --no-warm --repeat 3).
# `bench/run.sh pdf [--repeat N] [--skip-scanned]` runs only the PDF benchmarks (bench/pdf_bench.py:
# born-digital PDF to every format, 20-page scanned PDF with peak RSS) and rewrites only their
# section of results.md; the full run does them too.
set -euo pipefail

mode=all
if [ "${1:-}" = pdf ]; then
  mode=pdf
  shift
fi

bench="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$bench/.." && pwd)"
shared="${BENCH_SHARED:-$repo/../shared}"
work="$bench/work"
venv="$work/venv"

if [ ! -f "$shared/testdata/manifest.tsv" ] || [ ! -f "$shared/tools/score.py" ]; then
  echo "bench: skipped: shared test data not found at $shared (expected ../shared next to the repo)"
  exit 0
fi
export BENCH_SHARED="$shared"
mkdir -p "$work"

# --- Tesseract (Debian packages) -------------------------------------------------------------
if [ "$mode" = all ]; then
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "bench: not root, cannot apt-get install $*" >&2
    return 1
  fi
  local opts=(-o DPkg::Lock::Timeout=300 -y -q --no-install-recommends)
  DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" install "$@" >/dev/null \
    || { apt-get -o DPkg::Lock::Timeout=300 -q update >/dev/null \
         && DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" install "$@" >/dev/null; }
}
if ! command -v tesseract >/dev/null 2>&1; then
  echo "bench: installing tesseract-ocr"
  apt_install tesseract-ocr tesseract-ocr-eng || echo "bench: tesseract install failed; engine will be skipped" >&2
fi
if command -v tesseract >/dev/null 2>&1; then
  # small optional packs (~1.5 MB each) for the Chinese and Russian items
  langs="$(tesseract --list-langs 2>/dev/null || true)"
  for pair in chi_tra:tesseract-ocr-chi-tra rus:tesseract-ocr-rus; do
    grep -qx "${pair%%:*}" <<<"$langs" \
      || apt_install "${pair#*:}" || echo "bench: optional ${pair#*:} not installed; eng used instead" >&2
  done
fi

fi

# --- Python venv with the reference pipeline -------------------------------------------------
req="$bench/requirements.txt"
stamp="$venv/.bench-requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bench: preparing $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi

# PDF benchmarks (Pillow from the venv builds the scanned PDF); they need the release binary.
if [ ! -x "$repo/target/release/ocrchat" ] || [ "$mode" = pdf ]; then
  (cd "$repo" && cargo build --release -q -p ocrchat)
fi
if [ "$mode" = pdf ]; then
  exec "$venv/bin/python" "$bench/pdf_bench.py" "$@"
fi
"$venv/bin/python" "$bench/pdf_bench.py"

# bundled models present and matching rapidocr's own checksums (no download at run time)
"$venv/bin/python" "$bench/rapidocr_run.py" --verify

exec "$venv/bin/python" "$bench/bench.py" "$@"
