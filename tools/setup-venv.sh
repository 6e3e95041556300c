#!/usr/bin/env bash
# Makes .venv (kept out of git) hold the pinned PyTorch and the packages the
# interoperability checks use, installing them when missing. The one place
# the pin lives: .ci/run, tools/interop-check.sh and tools/check-files.sh call it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import torch, numpy, safetensors' 2>/dev/null; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet torch==2.15.0 numpy safetensors
fi
