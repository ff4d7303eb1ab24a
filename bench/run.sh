#!/usr/bin/env bash
# Benchmark entry point (`make bench`): prepares Tesseract and the reference Python pipeline, then
# runs bench/bench.py, which measures every available engine on the shared test data and writes
# bench/results.md. Idempotent: a second run reuses the apt packages and bench/work/venv.
# Extra arguments go to bench.py (e.g. --engines tesseract,rapidocr --no-warm --repeat 3).
# `bench/run.sh pdf [--repeat N] [--skip-scanned]` runs only the PDF benchmarks (bench/pdf_bench.py:
# born-digital PDF to every format, 20-page scanned PDF with peak RSS) and rewrites only their
# section of results.md; the full run does them too.
# After bench.py, the API load benchmark runs (skip it with BENCH_SKIP_LOAD=1); `bash bench/run.sh
# load` runs only that one and updates only its `## API load` section of results.md. Then the chat
# benchmark (BENCH_SKIP_CHAT=1 skips it; `bash bench/run.sh chat` runs only it, `## Chat` section).
# Then the server throughput benchmark (BENCH_SKIP_POOL=1 skips it; `bash bench/run.sh pool` runs only
# it, `## Server throughput` section; BENCH_POOL_BEFORE=/path/to/ocrchat adds a baseline build).
# Then the scripts benchmark (BENCH_SKIP_SCRIPTS=1 skips it; `bash bench/run.sh scripts` runs only it,
# `## Scripts` section): non-Latin scripts, ocrchat (code and auto) against the tesseract CLI.
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

# Replaces the `## TITLE` section of results.md with the file FILE (appends it when absent);
# the rest of results.md is left as it is.
write_section() {
  python3 - "$bench/results.md" "$2" "$1" <<'EOF'
import os, re, sys, tempfile
results, section, title = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(results, encoding="utf-8").read() if os.path.isfile(results) else ""
new = open(section, encoding="utf-8").read().rstrip() + "\n"
# A section ends at the next heading, or at the browser section's start marker right above it.
m = re.search(r"^## " + re.escape(title) + r"\n.*?(?=^## |^<!-- web-bench:start -->$|\Z)", text, flags=re.S | re.M)
if m:
    rest = text[m.end():]
    text = text[:m.start()] + new + ("\n" + rest if rest else "")
else:
    text = text.rstrip() + "\n\n" + new if text else new
fd, tmp = tempfile.mkstemp(prefix=".results.", suffix=".md", dir=os.path.dirname(results))
with os.fdopen(fd, "w", encoding="utf-8") as f:
    f.write(text)
os.chmod(tmp, 0o644)
os.replace(tmp, results)
EOF
  echo "bench: $1 section written to bench/results.md"
}

# Runs CMD (which writes FILE), then puts FILE into results.md as section TITLE — also when CMD
# failed part-way and wrote what it had; returns CMD's status.
section_from() {
  local title="$1" file="$2" status=0
  shift 2
  rm -f "$file"
  "$@" || status=$?
  if [ -f "$file" ]; then
    write_section "$title" "$file"
  fi
  return "$status"
}

# --- Scripts benchmark -----------------------------------------------------------------------
# bench/scripts_bench.py: the shared Cyrillic lines and Sanskrit pages, and the 14 sentences of
# tests/data/scripts.tsv rendered with pango-view, read by ocrchat (with the language code and
# with auto) and by the tesseract CLI with the same pack, one thread each; writes the `## Scripts`
# section of results.md (its dev-item table says "skipped" when ../shared is absent). Uses the
# release binary as it is (`make bench` has just built it); builds it only when it is missing.
run_scripts() {
  mkdir -p "$work"
  if [ ! -x "$repo/target/release/ocrchat" ]; then
    (cd "$repo" && "${CARGO:-cargo}" build --release -q -p ocrchat)
  fi
  section_from "Scripts" "$work/scripts.md" python3 "$bench/scripts_bench.py" --markdown "$work/scripts.md" \
    --repo "$repo" --shared "$shared" --bin "$repo/target/release/ocrchat" "$@"
}
if [ "${1:-}" = scripts ]; then
  shift
  run_scripts "$@"
  exit $?
fi

# --- Chat benchmark --------------------------------------------------------------------------
# tests/src/bin/chatbench.rs: the question set through a real `ocrchat serve` with the built-in
# answerer, and the LLM path too when OCRCHAT_BENCH_LLM_URL names a running local model
# (scripts/local-llm.sh serve qwen-coder); writes the `## Chat` section of results.md.
run_chat() {
  mkdir -p "$work"
  (cd "$repo" && "${CARGO:-cargo}" build --release -q -p ocrchat -p ocrchat-tests)
  section_from "Chat" "$work/chat.md" env OCRCHAT_SHARED_DIR="$shared" OCRCHAT_BIN="$repo/target/release/ocrchat" \
    "$repo/target/release/chatbench" --markdown "$work/chat.md" "$@"
}
if [ "${1:-}" = chat ]; then
  shift
  run_chat "$@"
  exit $?
fi

# --- Server throughput benchmark ------------------------------------------------------------
# tests/src/bin/poolbench.rs: a 20-page scanned PDF through a real `ocrchat serve` on one core
# (taskset -c 0, workers=1) and on two (taskset -c 0,1, workers=2): pages/s, the ratio, peak RSS,
# threads; writes the `## Server throughput` section of results.md. It skips (and the section is
# left as it is) without ../shared/testdata. Extra arguments go to poolbench (e.g. --model tiny,
# --env MALLOC_ARENA_MAX=8); BENCH_POOL_BEFORE names another build's binary to measure as well.
run_pool() {
  mkdir -p "$work"
  (cd "$repo" && "${CARGO:-cargo}" build --release -q -p ocrchat -p ocrchat-tests)
  local before=()
  if [ -n "${BENCH_POOL_BEFORE:-}" ]; then before=(--before "$BENCH_POOL_BEFORE"); fi
  section_from "Server throughput" "$work/server_throughput.md" env OCRCHAT_SHARED_DIR="$shared" \
    "$repo/target/release/poolbench" --markdown "$work/server_throughput.md" "${before[@]}" "$@"
}
if [ "${1:-}" = pool ]; then
  shift
  run_pool "$@"
  exit $?
fi

# --- API load benchmark ----------------------------------------------------------------------
# tests/src/bin/loadgen.rs runs the same load (200 concurrent submissions, 2,000 polls) against
# one `ocrchat serve` on SQLite and against two nodes on one PostgreSQL (a throw-away one started
# here with scripts/postgres.sh, stopped on exit), and writes its section to work/api_load.md;
# that section then replaces the `## API load` section of results.md (the rest of the file is
# left as it is). BENCH_LOAD_POSTGRES=skip leaves PostgreSQL out (the section says so).
# Extra arguments go to loadgen (e.g. --submissions 50 --polls 500 --pg-nodes 3).
run_load() {
  mkdir -p "$work"
  # Incremental: a no-op when `make bench` has just built both.
  (cd "$repo" && "${CARGO:-cargo}" build --release -q -p ocrchat -p ocrchat-tests)
  local section="$work/api_load.md" status=0 pgdir="" pgurl=""
  rm -f "$section"
  if [ "${BENCH_LOAD_POSTGRES:-}" != skip ]; then
    pgdir="$(mktemp -d -u "${TMPDIR:-/tmp}/ocrchat-bench-pg.XXXXXX")"
    pgurl="$("$repo/scripts/postgres.sh" start "$pgdir" | tail -n 1)" || return 1
  fi
  OCRCHAT_SHARED_DIR="$shared" OCRCHAT_TEST_DATABASE_URL="$pgurl" \
    "$repo/target/release/loadgen" --markdown "$section" "$@" || status=$?
  if [ -n "$pgdir" ]; then "$repo/scripts/postgres.sh" stop "$pgdir"; fi
  # Written on failure too, so a failed run is on record in results.md.
  if [ -f "$section" ]; then
    write_section "API load" "$section"
  fi
  return "$status"
}
if [ "${1:-}" = load ]; then
  shift
  run_load "$@"
  exit $?
fi


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

"$venv/bin/python" "$bench/bench.py" "$@"
# Per-stage / per-operator profile of the A4 page (bench.py made the image) and the speed levers
# against accuracy on every dataset (target/release/levers; BENCH_SKIP_LEVERS=1 skips them), then re-render.
if "$venv/bin/python" "$bench/profile.py"; then
  if [ "${BENCH_SKIP_LEVERS:-0}" != 1 ]; then
    "$venv/bin/python" "$bench/levers.py" || echo "bench: levers failed; its section keeps the last run" >&2
  fi
  "$venv/bin/python" "$bench/bench.py" --report-only
fi
if [ "${BENCH_SKIP_LOAD:-0}" != 1 ]; then
  run_load
fi
if [ "${BENCH_SKIP_CHAT:-0}" != 1 ]; then
  run_chat
fi
if [ "${BENCH_SKIP_POOL:-0}" != 1 ]; then
  run_pool
fi
if [ "${BENCH_SKIP_SCRIPTS:-0}" != 1 ]; then
  run_scripts
fi
