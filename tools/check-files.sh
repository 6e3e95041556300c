#!/usr/bin/env bash
# Checks real checkpoints (model-zoo files, files of old PyTorch releases,
# anything kept aside) against live PyTorch 2.15:
#
# 1. `pth inspect --json FILE` lists what torch.load (for TorchScript,
#    torch.jit.load(...).state_dict()) lists, by ../shared/LISTING.md's rule;
# 2. `pth verify FILE` finds no damage;
# 3. `pth rewrite FILE` gives the file back byte for byte, or refuses with its
#    reason for what this library reads but does not write (tar files of
#    PyTorch 0.1, protocol-1 pickles), or, for a file another tool re-zipped,
#    writes PyTorch's own layout, which torch.load must read equal.
#
# usage: tools/check-files.sh FILE_OR_DIR...
#   Directories are searched for *.pth, *.pt, *.ckpt, *.bin and *.tar files.
#   Files whose classes live in other packages need those packages importable
#   by .venv/bin/python (PYTHONPATH); files torch.load itself cannot read are
#   reported as such, with torch's error.
# Prints one line per file and a last line "check-files: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tools/setup-venv.sh
swift build -c release --product pth >/dev/null
pth="$root/.build/release/pth"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The listing of FILE into OUT: pth inspect exits 2 (after printing it) when the file's pickles
# name globals outside weights_only's allowlist, which the comparison does not mind.
list_file() {
    local status=0
    "$pth" inspect --json "$1" >"$2" 2>"$work/err.txt" || status=$?
    [ "$status" -eq 0 ] || [ "$status" -eq 2 ]
}

files=()
for arg in "$@"; do
    if [ -d "$arg" ]; then
        while IFS= read -r f; do files+=("$f"); done < <(find "$arg" -type f \( -name '*.pth' -o -name '*.pt' -o -name '*.ckpt' -o -name '*.bin' -o -name '*.tar' \) | sort)
    else
        files+=("$arg")
    fi
done
[ "${#files[@]}" -gt 0 ] || { echo "usage: tools/check-files.sh FILE_OR_DIR..." >&2; exit 2; }

passed=0
failed=0
for file in "${files[@]}"; do
    problems=()
    if ! PYTHONPATH="$root/tools${PYTHONPATH:+:$PYTHONPATH}" .venv/bin/python -W ignore tools/torch_listing.py --stdout "$file" >"$work/torch.json" 2>"$work/torch-err.txt"; then
        echo "SKIP   $file: torch.load cannot read it either: $(tail -1 "$work/torch-err.txt")"
        continue
    fi
    listed=""
    if list_file "$file" "$work/ours.json"; then
        listed=$(.venv/bin/python tools/compare_listing.py "$work/torch.json" "$work/ours.json" 2>&1) || problems+=("listing differs: $listed")
    else
        problems+=("inspect failed: $(cat "$work/err.txt")")
    fi
    "$pth" verify "$file" >"$work/verify.txt" 2>&1 || [ $? -eq 2 ] || problems+=("verify: $(grep -v '^ok' "$work/verify.txt" | head -3 | tr '\n' ' ')")
    rm -f "$work/rewritten"
    rewrite=""
    if "$pth" rewrite "$file" "$work/rewritten" 2>"$work/err.txt"; then
        if cmp -s "$file" "$work/rewritten"; then
            rewrite="rewritten byte for byte"
        elif .venv/bin/python - "$file" <<'PY'; then
import sys, zipfile
# Re-zipped by another tool: a compressed record, or records not in PyTorch's
# layout (no data descriptors, flag bit 3, on stored records).
try:
    with zipfile.ZipFile(sys.argv[1]) as z:
        infos = [i for i in z.infolist() if not i.is_dir()]
        sys.exit(0 if any(i.compress_type != zipfile.ZIP_STORED or not i.flag_bits & 8 for i in infos)
                 or len(infos) != len(z.infolist()) else 1)
except zipfile.BadZipFile:
    sys.exit(1)
PY
            if .venv/bin/python -W ignore - "$file" "$work/rewritten" <<'PY' 2>"$work/err.txt"; then
import sys, torch
a = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
b = torch.load(sys.argv[2], map_location="cpu", weights_only=False)
def same(x, y):
    if isinstance(x, torch.Tensor):
        return isinstance(y, torch.Tensor) and x.dtype == y.dtype and x.shape == y.shape and torch.equal(x.cpu(), y.cpu())
    if isinstance(x, dict):
        return isinstance(y, dict) and list(x) == list(y) and all(same(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return type(x) is type(y) and len(x) == len(y) and all(same(p, q) for p, q in zip(x, y))
    return True
sys.exit(0 if same(a, b) else 1)
PY
                rewrite="re-zipped: written back in PyTorch's layout, torch.load equal"
            else
                problems+=("re-zipped file written back does not load equal: $(tail -1 "$work/err.txt")")
            fi
        else
            problems+=("rewrite differs from the file (first difference: $(cmp "$file" "$work/rewritten" 2>&1 | sed 's/.*differ: //'))")
        fi
    elif grep -q "cannot write" "$work/err.txt" && [ ! -e "$work/rewritten" ]; then
        rewrite="read only: $(sed 's/.*cannot write: //' "$work/err.txt" | head -c 100)"
    else
        problems+=("rewrite failed: $(cat "$work/err.txt")")
    fi
    if [ "${#problems[@]}" -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok     $file: $listed; $rewrite"
    else
        failed=$((failed + 1))
        echo "FAILED $file: ${problems[*]}"
    fi
done
echo "check-files: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
