#!/usr/bin/env bash
# Checks this library against live PyTorch: writes every fixture afresh with
# the pinned PyTorch (tools/make_fixtures.py, into a temporary folder), then
# compares `pth inspect --json` with PyTorch's own listing of each file.
#
# usage: tools/interop-check.sh        (sets up .venv with torch 2.15.0 if it is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import torch, numpy, safetensors' 2>/dev/null; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet torch==2.15.0 numpy safetensors
fi
swift build -c release --product pth >/dev/null
pth="$root/.build/release/pth"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PYTHONPATH="$root/tools" .venv/bin/python -W ignore tools/make_fixtures.py "$work/fixtures" >/dev/null
passed=0
failed=0
while IFS= read -r listing; do
    file="${listing%.listing.json}"
    name="${file#$work/fixtures/}"
    if "$pth" inspect --json "$file" >"$work/ours.json" 2>"$work/err.txt" &&
        out=$(.venv/bin/python tools/compare_listing.py "$listing" "$work/ours.json" 2>&1); then
        passed=$((passed + 1))
        echo "ok     $name: $out"
    else
        failed=$((failed + 1))
        echo "FAILED $name: $(cat "$work/err.txt") ${out:-}"
    fi
done < <(find "$work/fixtures" -name '*.listing.json' | sort)
echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
