#!/usr/bin/env bash
# Fuzzes one target of pth-fuzz with libFuzzer and AddressSanitizer.
#
#   tools/fuzz.sh zip|pickle|checkpoint|verify [SECONDS] [-- libFuzzer flags...]
#
# Builds pth-fuzz in .build-fuzz (release, libFuzzer and AddressSanitizer,
# -DFUZZING), seeds a working corpus in .build-fuzz/corpus/TARGET from the
# fixtures (the pickles of zip files for the pickle target), and runs for
# SECONDS (default 60) with a 10 s per-input timeout and a 2 GiB memory cap.
# Inputs that crash, time out or exceed the cap land in .build-fuzz/findings/TARGET/:
# once fixed, copy each into fixtures/fuzz/TARGET/, where the test suite replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: tools/fuzz.sh zip|pickle|checkpoint|verify [SECONDS] [-- libFuzzer flags...]}
seconds=${2:-60}
shift $(( $# < 2 ? $# : 2 ))
[ "${1:-}" = "--" ] && shift

# swiftc keeps only the last -sanitize= it is given, and SwiftPM passes one per
# --sanitize: alone, those two build Swift code with ASan but without libFuzzer's
# coverage counters. The combined flag, last, gives Swift code both.
build=(swift build -c release --product pth-fuzz --scratch-path .build-fuzz
       --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING)
"${build[@]}" >&2
bin="$("${build[@]}" --show-bin-path)/pth-fuzz"

corpus=.build-fuzz/corpus/$target
findings=.build-fuzz/findings/$target
mkdir -p "$corpus" "$findings"
seeds=.build-fuzz/seeds/$target
rm -rf "$seeds" && mkdir -p "$seeds"
python3 - "$target" "$seeds" <<'PY'
import os, sys, zipfile, hashlib
target, out = sys.argv[1], sys.argv[2]
def add(data):
    if 0 < len(data) <= 65536:
        open(os.path.join(out, hashlib.sha1(data).hexdigest()), "wb").write(data)
for root, _, files in os.walk("fixtures"):
    for name in files:
        path = os.path.join(root, name)
        if target == "pickle" and name == "pickle_vectors.json":
            # CPython's pickles of plain data and more, at every protocol (the fast path's inputs).
            import json
            for v in json.load(open(path)):
                add(bytes.fromhex(v["hex"]))
            continue
        if name.endswith((".json", ".md", ".txt")):
            continue
        data = open(path, "rb").read()
        if target == "pickle":
            if zipfile.is_zipfile(path):
                try:
                    with zipfile.ZipFile(path) as z:
                        for info in z.infolist():
                            if info.filename.endswith(".pkl"):
                                add(z.read(info))
                except Exception:
                    pass  # a malformed fixture: its pickles are not seeds
            elif name.endswith(".pkl"):
                add(data)
        elif target == "zip":
            if zipfile.is_zipfile(path):
                add(data)
        else:
            add(data)
PY
echo "fuzz $target: $(ls "$seeds" | wc -l) seeds, $(ls "$corpus" | wc -l) in the corpus, $seconds s" >&2

PTH_FUZZ_TARGET=$target "$bin" "$corpus" "$seeds" \
    -dict=tools/fuzz/$target.dict \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$findings/" "$@"
