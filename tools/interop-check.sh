#!/usr/bin/env bash
# Checks this library against live PyTorch 2.15:
# 1. writes every fixture afresh (tools/make_fixtures.py, into a temporary
#    folder) and compares `pth inspect --json` with PyTorch's own listing;
# 2. `pth rewrite` gives each of those files back byte for byte;
# 3. state dicts of 1,001 and 5,000 tensors built in Swift are byte-identical
#    to torch.save's for the same objects (tools/make_swift_built.py);
# 4. everything Swift wrote loads with torch.load(weights_only=True), equal;
# 5. `pth convert` to safetensors reads back equal with the safetensors package,
#    laid out as safetensors.torch.save lays it out, and converting it back to
#    .pth gives what torch.save(safetensors.torch.load_file(...)) writes;
# 6. the safetensors writer's own checks (SAFETENSORS_CHECK_DIR) pass;
# 7. a Swift model's state dict loads into the equivalent nn.Module with
#    load_state_dict(strict=True), extra state delivered to set_extra_state;
# 8. legacy, tar, TorchScript, big-endian and re-zipped files written afresh
#    list as PyTorch lists them and are written back as promised, and what
#    Swift writes in those layouts loads in torch.load;
# 9. TorchCheckpointTesting's closeness checks give torch.testing.assert_close's
#    verdicts and messages on pairs written afresh
#    (tools/make_assert_close_fixtures.py, PTH_ASSERT_CLOSE_DIR);
# 10. multi-file checkpoints written afresh (tools/make_multifile_fixtures.py):
#    each distributed checkpoint lists as PyTorch lists what dcp_to_torch_save
#    writes, and `pth convert DIR` writes that file's bytes; each sharded set and
#    .pt2 lists as PyTorch lists it; sharded sets converted by pth with
#    --format sharded are byte-identical to huggingface_hub's; what
#    `pth convert --format dcp` writes, dcp_to_torch_save turns back into the
#    .pth it came from, byte for byte.
#
# usage: tools/interop-check.sh        (sets up .venv with torch 2.15.0 if it is missing)
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
PYTHONPATH="$root/tools" .venv/bin/python -W ignore tools/make_fixtures.py "$work/fixtures" >/dev/null
passed=0
failed=0
while IFS= read -r listing; do
    file="${listing%.listing.json}"
    name="${file#$work/fixtures/}"
    if [ "$name" = proto1.pth ]; then
        # Protocol 1 (no PROTO opcode): read, and refused for writing with its reason.
        if list_file "$file" "$work/ours.json" &&
            out=$(.venv/bin/python tools/compare_listing.py "$listing" "$work/ours.json" 2>&1) &&
            ! "$pth" rewrite "$file" "$work/rewritten" 2>"$work/err.txt" &&
            grep -q "protocol 1" "$work/err.txt"; then
            passed=$((passed + 1))
            echo "ok     $name: $out; read only (rewrite refused: protocol 1)"
        else
            failed=$((failed + 1))
            echo "FAILED $name: $(cat "$work/err.txt") ${out:-}"
        fi
        continue
    fi
    if list_file "$file" "$work/ours.json" &&
        out=$(.venv/bin/python tools/compare_listing.py "$listing" "$work/ours.json" 2>&1) &&
        "$pth" rewrite "$file" "$work/rewritten" 2>"$work/err.txt" &&
        cmp -s "$file" "$work/rewritten" || { echo "rewrite differs" >"$work/err.txt"; false; }; then
        out="$out; rewritten byte for byte"
        passed=$((passed + 1))
        echo "ok     $name: $out"
    else
        failed=$((failed + 1))
        echo "FAILED $name: $(cat "$work/err.txt") ${out:-}"
    fi
done < <(find "$work/fixtures" -name '*.listing.json' | sort)

# The other formats, written afresh: legacy and tar (tools/make_old_fixtures.py),
# TorchScript (tools/make_torchscript_fixtures.py), big-endian and re-zipped
# (tools/make_layout_fixtures.py). Each lists as PyTorch lists it; each is
# written back byte for byte, except what this library reads but does not
# write: tar files of PyTorch 0.1 and protocol-1 pickles (refused, with the
# reason), and re-zipped files, which come back in PyTorch's own layout:
# identical to the file torch.save wrote before it was re-zipped (the order
# of records kept).
PYTHONPATH="$root/tools" .venv/bin/python -W ignore tools/make_old_fixtures.py "$work/old" >/dev/null
PYTHONPATH="$root/tools" .venv/bin/python -W ignore tools/make_torchscript_fixtures.py "$work/old/torchscript" >/dev/null
PYTHONPATH="$root/tools" .venv/bin/python -W ignore tools/make_layout_fixtures.py "$work/old" >/dev/null
while IFS= read -r listing; do
    file="${listing%.listing.json}"
    name="${file#$work/old/}"
    case "$name" in
        tar/*|legacy/protocol1.pth) expect=refused ;;
        rezipped/reordered.pth) expect=loads ;;
        rezipped/*) expect="$work/old/rezipped/source.pth" ;;
        *) expect="$file" ;;
    esac
    out=""
    if list_file "$file" "$work/ours.json" &&
        out=$(.venv/bin/python tools/compare_listing.py "$listing" "$work/ours.json" 2>&1); then
        rm -f "$work/rewritten"
        if "$pth" rewrite "$file" "$work/rewritten" 2>"$work/err.txt"; then
            case "$expect" in
                refused) result="written back, but should have been refused" ;;
                loads) .venv/bin/python -W ignore -c "import sys, torch; torch.load(sys.argv[1], weights_only=True)" "$work/rewritten" &&
                       result=ok || result="written back, but torch.load fails" ;;
                *) cmp -s "$expect" "$work/rewritten" && result=ok || result="written back differently from ${expect#$work/old/}" ;;
            esac
        else
            [ "$expect" = refused ] && [ ! -e "$work/rewritten" ] && result=ok || result="rewrite failed: $(cat "$work/err.txt")"
        fi
    else
        result="listing differs: $(cat "$work/err.txt") $out"
    fi
    if [ "$result" = ok ]; then
        passed=$((passed + 1))
        case "$expect" in
            refused) echo "ok     $name: $out; read only (rewrite refused with its reason)" ;;
            loads) echo "ok     $name: $out; written back in PyTorch's layout, loads" ;;
            "$file") echo "ok     $name: $out; rewritten byte for byte" ;;
            *) echo "ok     $name: $out; rewritten as ${expect#$work/old/}, byte for byte" ;;
        esac
    else
        failed=$((failed + 1))
        echo "FAILED $name: $result"
    fi
done < <(find "$work/old" -name '*.listing.json' | sort)

# What Swift writes in the legacy format, big-endian and from re-zipped files loads in PyTorch.
mkdir -p "$work/legacy-out"
if PTH_LEGACY_OUT="$work/legacy-out" swift test --filter LegacyWritingTests 2>&1 | tail -1 | grep -q passed &&
    .venv/bin/python -W ignore tools/make_old_fixtures.py --check-swift-written "$work/legacy-out" >"$work/err.txt" 2>&1; then
    echo "ok     legacy files written by Swift load in torch.load and list as torch's own ($(grep -c loads "$work/err.txt") files)"
    passed=$((passed + 1))
else
    echo "FAILED legacy files written by Swift: $(tail -5 "$work/err.txt")"
    failed=$((failed + 1))
fi
if .venv/bin/python -W ignore tools/layout-check.py >"$work/err.txt" 2>&1; then
    echo "ok     big-endian and re-zipped files written by Swift load in torch.load ($(tail -1 "$work/err.txt"))"
    passed=$((passed + 1))
else
    echo "FAILED byte order / re-zipped: $(grep -v '^ok' "$work/err.txt" | tail -5)"
    failed=$((failed + 1))
fi

# Swift-built state dicts against torch.save, and weights_only loading of what Swift wrote.
.venv/bin/python -W ignore tools/make_swift_built.py "$work/built" 1001 5000
mkdir -p "$work/written"
if PTH_SWIFT_BUILT_DIR="$work/built" PTH_SWIFT_BUILT_OUT="$work/written" swift test --filter SwiftBuiltTests 2>&1 | tail -1 | grep -q "passed"; then
    echo "ok     Swift-built state dicts of 1,001 and 5,000 tensors are byte-identical to torch.save"
    passed=$((passed + 1))
else
    echo "FAILED Swift-built state dicts differ from torch.save (PTH_SWIFT_BUILT_DIR=... swift test --filter SwiftBuiltTests)"
    failed=$((failed + 1))
fi
if .venv/bin/python tools/weights_only_check.py "$work"/written/*.pth; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

# pth convert, both ways, against the safetensors package and torch.save.
mkdir -p "$work/convert"
# (flat state dicts: the package's checker compares the root dict's tensors)
for name in state_dict.pth extra_state.pth prefixes/pytorch_model.bin; do
    base=$(basename "${name%.*}")
    st="$work/convert/$base.safetensors"
    back="$work/convert/$base.pth"
    if "$pth" convert "$work/fixtures/$name" "$st" &&
        .venv/bin/python -W ignore tools/safetensors-roundtrip-check.py "$st" "$work/fixtures/$name" >"$work/err.txt" 2>&1 &&
        "$pth" convert "$st" "$back" &&
        mkdir -p "$work/convert/torch" &&
        .venv/bin/python -W ignore -c "import sys, torch, safetensors.torch as s; torch.save(s.load_file(sys.argv[1]), sys.argv[2])" "$st" "$work/convert/torch/$base.pth" &&
        cmp -s "$back" "$work/convert/torch/$base.pth"; then
        echo "ok     convert $name -> safetensors (checked by the safetensors package) -> .pth (identical to torch.save)"
        passed=$((passed + 1))
    else
        echo "FAILED convert $name: $(cat "$work/err.txt")"
        failed=$((failed + 1))
    fi
done
mkdir -p "$work/st-check"
if SAFETENSORS_CHECK_DIR="$work/st-check" swift test --filter Safetensors 2>&1 | tail -1 | grep -q passed &&
    .venv/bin/python -W ignore tools/safetensors-roundtrip-check.py --manifest "$work/st-check/manifest.json" >"$work/err.txt" 2>&1; then
    echo "ok     safetensors writer output checked by the safetensors package"
    passed=$((passed + 1))
else
    echo "FAILED safetensors writer check: $(tail -5 "$work/err.txt")"
    failed=$((failed + 1))
fi

# A Swift model exported, loaded by the equivalent nn.Module (tools/module_classes.py).
mkdir -p "$work/module"
if PTH_MODULE_OUT="$work/module" swift test --filter ModuleTests 2>&1 | tail -1 | grep -q passed &&
    .venv/bin/python -W ignore - "$work/module/net.pth" <<'PY' >"$work/err.txt" 2>&1; then
import sys
sys.path.insert(0, "tools")
import torch
from module_classes import Net
net = Net()
net.classes = []
net.encoder.layers[1].conv2.label = "changed"
result = net.load_state_dict(torch.load(sys.argv[1], weights_only=True), strict=True)
assert not result.missing_keys and not result.unexpected_keys, result
assert net.classes == ["cat", "dog", "bird"], net.classes
assert net.encoder.layers[1].conv2.label == "block1/conv2", net.encoder.layers[1].conv2.label
PY
    echo "ok     a Swift model's state dict loads into nn.Module strictly, extra state included"
    passed=$((passed + 1))
else
    echo "FAILED Swift model -> nn.Module: $(tail -3 "$work/err.txt")"
    failed=$((failed + 1))
fi
# assert_close's verdicts and messages on pairs written afresh.
.venv/bin/python -W ignore tools/make_assert_close_fixtures.py "$work/assert_close" >/dev/null
if PTH_ASSERT_CLOSE_DIR="$work/assert_close" swift test --filter AssertCloseFixtureTests >"$work/err.txt" 2>&1 &&
    tail -1 "$work/err.txt" | grep -q passed; then
    echo "ok     TorchCheckpointTesting: assert_close's verdicts and messages on pairs written afresh"
    passed=$((passed + 1))
else
    echo "FAILED TorchCheckpointTesting against assert_close: $(grep -m 5 '✘' "$work/err.txt")"
    failed=$((failed + 1))
fi
# Multi-file checkpoints written afresh by torch.distributed.checkpoint, huggingface_hub and torch.export.
.venv/bin/python -W ignore tools/make_multifile_fixtures.py "$work/multi" >/dev/null 2>"$work/err.txt"
for name in single threads zstd_bf16 two_ranks; do
    dir="$work/multi/dcp/$name"
    mkdir -p "$work/multi/out"
    if list_file "$dir" "$work/ours.json" &&
        out=$(.venv/bin/python tools/compare_listing.py "$dir.pth.listing.json" "$work/ours.json" 2>&1) &&
        "$pth" convert "$dir" "$work/multi/out/$name.pth" 2>"$work/err.txt" &&
        cmp -s "$work/multi/out/$name.pth" "$dir.pth"; then
        echo "ok     dcp/$name: $out; pth convert writes dcp_to_torch_save's bytes"
        passed=$((passed + 1))
    else
        echo "FAILED dcp/$name: $(cat "$work/err.txt") ${out:-}"
        failed=$((failed + 1))
    fi
done
for name in sharded/bin sharded/safetensors pt2/model.pt2; do
    listing="$work/multi/$name.listing.json"
    if list_file "$work/multi/$name" "$work/ours.json" &&
        out=$(.venv/bin/python tools/compare_listing.py "$listing" "$work/ours.json" 2>&1); then
        echo "ok     $name: $out"
        passed=$((passed + 1))
    else
        echo "FAILED $name: $(cat "$work/err.txt") ${out:-}"
        failed=$((failed + 1))
    fi
done
for kind in bin safetensors; do
    rm -rf "$work/multi/resharded"
    if "$pth" convert "$work/multi/sharded/bin" "$work/multi/resharded" --format sharded --shard-type "$kind" \
            --max-shard-size 150 2>"$work/err.txt" &&
        diff -r "$work/multi/resharded" "$work/multi/sharded/$kind" >"$work/err.txt" 2>&1; then
        echo "ok     pth convert --format sharded --shard-type $kind: byte-identical to huggingface_hub.save_torch_state_dict"
        passed=$((passed + 1))
    else
        echo "FAILED sharded $kind: $(head -5 "$work/err.txt")"
        failed=$((failed + 1))
    fi
done
for name in single two_ranks zstd_bf16; do
    flags=""
    [ "$name" = zstd_bf16 ] && flags="--zstd"
    rm -rf "$work/multi/written" && mkdir -p "$work/multi/written/back"
    # shellcheck disable=SC2086
    if "$pth" convert "$work/multi/dcp/$name.pth" "$work/multi/written/$name" --format dcp $flags 2>"$work/err.txt" &&
        .venv/bin/python -W ignore -c "import sys; from torch.distributed.checkpoint.format_utils import dcp_to_torch_save as f; f(sys.argv[1], sys.argv[2])" \
            "$work/multi/written/$name" "$work/multi/written/back/$name.pth" >"$work/err.txt" 2>&1 &&
        cmp -s "$work/multi/written/back/$name.pth" "$work/multi/dcp/$name.pth"; then
        echo "ok     pth convert $name.pth --format dcp $flags: dcp_to_torch_save gives the .pth back, byte for byte"
        passed=$((passed + 1))
    else
        echo "FAILED dcp writing $name: $(tail -3 "$work/err.txt")"
        failed=$((failed + 1))
    fi
done
echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
