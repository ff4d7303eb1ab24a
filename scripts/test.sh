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
passed=$(grep -Eo '^test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '; [0-9]+ failed' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -c '^SKIP ' "$log")
echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
