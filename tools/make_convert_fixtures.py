#!/usr/bin/env python3
"""Write what `pth convert` must produce, with real torch (fixtures/convert/).

usage: make_convert_fixtures.py [OUTDIR]   (default: fixtures/convert/ beside tools/)

Every reference is what torch.save writes for an object torch.load (or
safetensors.torch.load_file, or torch.jit.load(...).state_dict()) gave and
Python transformed, as the README beside the files says. torch.save names
legacy storages by memory address, so the *.legacy.pth files differ from run
to run in their keys (the tests read torch's keys from them).

`--dtype` is `cast_floating` below: each floating-point tensor becomes
`tensor.to(dtype)`, once per tensor object (a memo by id, as copy.deepcopy
keeps), so distinct tensors that shared a storage each get their own.
"""
import os
import sys

import torch
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")


def cast_floating(obj, dtype, memo=None):
    """`pth convert --dtype`: tensor.to(dtype) for floating-point tensors, recursively
    through dicts (in place, so OrderedDict and its _metadata stay), lists and tuples."""
    memo = {} if memo is None else memo
    if id(obj) in memo:
        return memo[id(obj)]
    if isinstance(obj, torch.Tensor):
        out = obj.to(dtype) if obj.is_floating_point() else obj
    elif isinstance(obj, dict):
        memo[id(obj)] = obj
        for k in list(obj.keys()):
            obj[k] = cast_floating(obj[k], dtype, memo)
        out = obj
    elif isinstance(obj, list):
        memo[id(obj)] = obj
        obj[:] = [cast_floating(v, dtype, memo) for v in obj]
        out = obj
    elif type(obj) is tuple:
        out = tuple(cast_floating(v, dtype, memo) for v in obj)
    else:
        out = obj
    memo[id(obj)] = out
    return out


def floats_source():
    """Float tensors with the values casts get wrong: every kind of NaN (quiet,
    signalling, payloads, both signs), infinities, overflow to inf, subnormals,
    ties at every rounding boundary, plus random bit patterns. The *_tail
    tensors put NaNs where torch's AVX-512 kernels convert element by element
    (the last count % 8 of a float16 -> float32 cast, count % 16 of float64 ->
    bfloat16), which gives them other bits (see the README)."""
    g = torch.Generator().manual_seed(6)
    f32_bits = [0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FA34567, 0x7FFFFFFF, 0xFFD23456,
                0x7F800000, 0xFF800000, 0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x33800000,
                0x33800001, 0x337FFFFF, 0x33000000, 0x33000001, 0x38800000, 0x387FE000, 0x387FF000,
                0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x7F7FFFFF, 0x3F801000, 0x3F803000,
                0x3F808000, 0x3F818000, 0x3F800001, 0x3F807FFF, 0x7F7F8000, 0x7F7F7FFF]
    random = torch.randint(-2**31, 2**31, (1024 - len(f32_bits),), generator=g, dtype=torch.int64)
    f32 = torch.tensor([b - 2**32 if b >= 2**31 else b for b in f32_bits] + random.tolist(),
                       dtype=torch.int64).to(torch.int32).view(torch.float32)
    f64_bits = [0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001, 0x7FFA345678901234,
                0x7FF0000000000000, 0xFFF0000000000000, 0x3FF0010000000001, 0x3FF0010000000000,
                0x3FF0000010000000, 0x3FF0000010000001, 0x40EFFE0000000000, 0x40EFFE0000000001,
                0x0000000000000001, 0x3E70000000000001, 0x47EFFFFFF0000000, 0x47EFFFFFEFFFFFFF]
    f64_random = torch.randn(48, generator=g, dtype=torch.float64) * 10.0 ** torch.randint(-40, 40, (48,), generator=g)
    f64 = torch.cat([torch.tensor([b - 2**64 if b >= 2**63 else b for b in f64_bits], dtype=torch.int64)
                     .view(torch.float64), f64_random])
    f16 = torch.randint(-2**15, 2**15, (1024,), generator=g, dtype=torch.int64).to(torch.int16).view(torch.float16)
    f16[:8] = torch.tensor([0x7E00, 0x7C01, 0xFE00 - 2**16, 0x7D23, 0x7FFF, 0xFC01 - 2**16, 0x7C00, 0x0001],
                           dtype=torch.int16).view(torch.float16)
    bf16 = torch.randint(-2**15, 2**15, (1024,), generator=g, dtype=torch.int64).to(torch.int16).view(torch.bfloat16)
    bf16[:6] = torch.tensor([0x7FC0, 0x7F81, 0xFFC0 - 2**16, 0x7FA3, 0x7F80, 0x0001],
                            dtype=torch.int16).view(torch.bfloat16)
    nan16 = torch.tensor([0x7E00, 0x7C01, 0xFE00 - 2**16], dtype=torch.int16).view(torch.float16)
    f16_tail = torch.cat([nan16, torch.ones(7, dtype=torch.float16), nan16])  # 13: 8 vectorised, 5 not
    f64_tail = torch.cat([torch.full((18,), float("nan"), dtype=torch.float64), -f64[:2]])  # 20: 16 and 4
    t = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    return {
        "float32": f32, "float64": f64, "float16": f16, "bfloat16": bf16, "float16_tail": f16_tail,
        "float64_tail": f64_tail, "float16_strided": f16[:64:3],
        # Layouts .to() keeps (dense: same strides) or infers (not dense: same stride order).
        "transposed": t.transpose(0, 2), "sliced": t[:, :, ::2], "channels_last": t.reshape(1, 2, 3, 4)
        .contiguous(memory_format=torch.channels_last), "expanded": t[0, 0].expand(3, 4), "offset_row": t[1, 2],
        "ints": torch.arange(5), "flag": True,
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(FIXTURES, "convert")
    os.makedirs(out, exist_ok=True)

    def load(name, **kw):
        return torch.load(os.path.join(FIXTURES, name), **kw)

    def save(obj, name, legacy=False):
        torch.save(obj, os.path.join(out, name), _use_new_zipfile_serialization=not legacy)

    # The floats source is committed too: it is the input of the cast tests.
    torch.save(floats_source(), os.path.join(out, "floats.pth"))
    for name in ["float16", "bfloat16", "float32", "float64"]:
        save(cast_floating(load("convert/floats.pth"), getattr(torch, name)), f"floats.{name}.pth")

    # Other formats to zip: torch.save(torch.load(old), new).
    save(load("legacy/state_dict.pth"), "legacy_state_dict.pth")
    save(load("legacy/training_checkpoint.pth"), "legacy_training_checkpoint.pth")
    save(load("legacy/views_tied.pth"), "legacy_views_tied.pth")
    save(load("legacy/python2_cpickle.pth"), "legacy_python2_cpickle.pth")
    save(load("tar/state_dict_0_1.pt", weights_only=False), "tar_state_dict.pth")  # weights_only refuses tar files
    for name in ["scripted", "traced", "tied"]:
        save(torch.jit.load(os.path.join(FIXTURES, f"torchscript/{name}.pt")).state_dict(), f"torchscript_{name}.pth")

    # Zip to legacy.
    save(load("state_dict.pth"), "state_dict.legacy.pth", legacy=True)
    save(load("views.pth"), "views.legacy.pth", legacy=True)

    # Casts.
    save(cast_floating(load("views.pth"), torch.float16), "views.float16.pth")
    save(cast_floating(load("state_dict.pth"), torch.bfloat16), "state_dict.bfloat16.pth")
    save(cast_floating(load("meta.pth"), torch.float16), "meta.float16.pth")
    # torch has no copy kernel for float4_e2m1fn_x2 (and pth refuses it too): without that one.
    for name in ["float32", "bfloat16", "float16", "float64"]:
        dtypes = load("dtypes.pth")
        del dtypes["float4_e2m1fn_x2"]
        save(cast_floating(dtypes, getattr(torch, name)), f"dtypes.{name}.pth")
    save(cast_floating(load("training_checkpoint.ckpt"), torch.float64), "training_checkpoint.float64.pth")
    save(cast_floating(load_file(os.path.join(FIXTURES, "safetensors/names.safetensors")), torch.float16),
         "names.float16.pth")

    # Selection.
    save(load("training_checkpoint.ckpt")["model_state_dict"], "training_checkpoint.model_state_dict.pth")
    save(load("training_checkpoint.ckpt")["optimizer_state_dict"]["state"][0], "training_checkpoint.optimizer_state_0.pth")

    # map_location.
    save(load("cuda_tagged.pth", map_location="cpu"), "cuda_tagged.cpu.pth")

    # Combined.
    save(cast_floating(load("training_checkpoint.ckpt")["model_state_dict"], torch.bfloat16),
         "training_checkpoint.model_state_dict.bfloat16.pth")
    save(cast_floating(load("cuda_tagged.pth", map_location="cpu"), torch.float16), "cuda_tagged.cpu.float16.pth")
    save(cast_floating(load("legacy/training_checkpoint.pth")["model_state_dict"], torch.float16),
         "legacy_training_checkpoint.model_state_dict.float16.legacy.pth", legacy=True)


if __name__ == "__main__":
    main()
