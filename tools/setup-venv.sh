#!/usr/bin/env bash
# Makes .venv (kept out of git) hold the pinned PyTorch and the packages the
# interoperability checks use, installing them when missing. The one place
# the pins live: .ci/run, tools/interop-check.sh and tools/check-files.sh call it.
# pyzstd lets torch.distributed.checkpoint's ZStandard extension work and
# huggingface_hub writes sharded sets (tools/make_multifile_fixtures.py).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import torch, numpy, safetensors, pyzstd, huggingface_hub' 2>/dev/null; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet torch==2.15.0 numpy safetensors pyzstd==0.20.0 huggingface_hub==2.5.0
fi
