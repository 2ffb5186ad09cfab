#!/usr/bin/env bash
# Runs every benchmark harness once with tiny sizes and times, so they cannot
# rot. Checks they run and produce their outputs; asserts no figures.
set -euo pipefail
build=${1:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CONFAB_QUIET=1 python3 bench/echo_compare.py --build "$build" --runs 1 --connections 4 --bytes 64 \
  --warmup-ms 50 --duration-ms 200 --idle 50 --out "$out" > "$out/table.md"
test -s "$out/echo_compare.json"
test -s "$out/echo_compare.svg"
grep -q 'confab-uring' "$out/table.md"
echo "bench smoke: echo_compare ran ($(grep -c '^| 4 ' "$out/table.md") rows)"
