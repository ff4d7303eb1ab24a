#!/usr/bin/env bash
# Runs the whole Rust test suite with its output visible, then prints one
# closing line with the totals over every test binary.
set -uo pipefail
log="$(mktemp)"
pgdir=""
cleanup() {
  rm -f "$log"
  if [ -n "$pgdir" ]; then "$(dirname "$0")/postgres.sh" stop "$pgdir"; fi
}
trap cleanup EXIT
# A real PostgreSQL for the storage story and the cluster drill, stopped on exit
# (OCRCHAT_TEST_POSTGRES=skip disables those tests loudly; an already exported
# OCRCHAT_TEST_DATABASE_URL is used as is).
if [ -z "${OCRCHAT_TEST_DATABASE_URL:-}" ] && [ "${OCRCHAT_TEST_POSTGRES:-}" != skip ]; then
  pgdir="$(mktemp -d -u "${TMPDIR:-/tmp}/ocrchat-pg.XXXXXX")"
  OCRCHAT_TEST_DATABASE_URL="$("$(dirname "$0")/postgres.sh" start "$pgdir" | tail -n 1)" || exit 1
  export OCRCHAT_TEST_DATABASE_URL
fi
# The server tests run the real `ocrchat` binary at target/release/ocrchat. The
# workspace test build makes it (the server's own integration tests need it), with
# the features the workspace unifies; a separate `cargo build -p ocrchat` first
# would compile the engine and its PDF stack a second time with other features.
cargo test --workspace --release --exclude ocrchat-app "$@" -- --color never --nocapture 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# In-browser unit tests of the worker protocol: wasm-bindgen-test inside a
# dedicated Web Worker of headless Chromium (worker/webdriver.json: its flags).
if [ "$status" -eq 0 ]; then
  tools_bin="$(OCRCHAT_SKIP_WEB_TOOLS=1 "$(dirname "$0")/install-tools.sh" | tail -n 1)"
  PATH="$tools_bin:$PATH" CHROMEDRIVER="$(command -v chromedriver)" \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test -p ocrchat-worker --profile wasm-release --features pdf,docx --target wasm32-unknown-unknown --test protocol 2>&1 | tee -a "$log"
  status=${PIPESTATUS[0]}
fi
passed=$(grep -Eo '^test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '; [0-9]+ failed' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -c '^SKIP ' "$log")
echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
