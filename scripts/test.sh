#!/usr/bin/env bash
# Runs the whole Rust test suite with its output visible, then prints one
# closing line with the totals over every test binary.
set -uo pipefail
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# The server tests run the real `ocrchat` binary; build it first.
cargo build --release -p ocrchat 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" -eq 0 ]; then
  cargo test --workspace --release --exclude ocrchat-app "$@" -- --color never --nocapture 2>&1 | tee -a "$log"
  status=${PIPESTATUS[0]}
fi

# In-browser unit tests of the worker protocol: wasm-bindgen-test inside a
# dedicated Web Worker of headless Chromium (worker/webdriver.json: its flags).
if [ "$status" -eq 0 ]; then
  tools_bin="$(OCRCHAT_SKIP_WEB_TOOLS=1 "$(dirname "$0")/install-tools.sh" | tail -n 1)"
  PATH="$tools_bin:$PATH" CHROMEDRIVER="$(command -v chromedriver)" \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test -p ocrchat-worker --release --features pdf,docx --target wasm32-unknown-unknown --test protocol 2>&1 | tee -a "$log"
  status=${PIPESTATUS[0]}
fi
passed=$(grep -Eo '^test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '; [0-9]+ failed' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -c '^SKIP ' "$log")
echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
