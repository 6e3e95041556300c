#!/usr/bin/env bash
# Runs pth over the public corpora in ../shared/corpus/ (173 real checkpoints
# from 19 repositories, 370 malicious, tricky and benign pickles from the
# scanners' test suites) and checks that every file is answered as PyTorch
# answers it (tools/corpus_check.py says how, file by file). The corpora are
# beside the project in CI only; without them this says it skipped them.
#
# usage: tools/corpus-check.sh [--only external|malicious] [--verbose] [FILTER...]
#        PTH_CORPUS=DIR tools/corpus-check.sh   (another folder of the same layout)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${PTH_CORPUS:-../shared/corpus}"
if [ ! -d "$corpus" ]; then
    echo "corpus-check: skipped: no corpus at $corpus (it is beside the project in CI only)"
    exit 0
fi
tools/setup-venv.sh
swift build -c release --product pth >/dev/null
exec .venv/bin/python -W ignore tools/corpus_check.py --pth .build/release/pth --python .venv/bin/python \
    --corpus "$corpus" "$@"
