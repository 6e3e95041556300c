#!/usr/bin/env python3
"""Write fixtures/repr/: tensors and values with what Python prints for them.

usage: make_repr_fixtures.py [OUTDIR]   (default: fixtures/repr/ beside tools/)

- tensors.pth: a dict of named tensors (torch.save), covering torch's print
  rules: fixed and scientific notation, whole numbers ("1."), nan/inf and
  -0.0, summarization past 1000 elements in 1 to 3 dimensions, line
  wrapping at 80 characters, 0-d, empty, dtypes with and without a suffix,
  complex, bool, requires_grad, a Parameter, a meta, a sparse COO and a
  quantized tensor.
- values.pth: a dict of plain Python values (containers, str escapes, bytes,
  numbers) whose repr the Swift value model must print the same.
- tensors.repr.json / values.repr.json: name -> repr(obj) from real Python.

Needs torch (the .venv).
"""
import collections
import json
import os
import sys
import warnings

import torch

warnings.filterwarnings("ignore")
torch.set_num_threads(1)


def tensors():
    g = torch.Generator().manual_seed(5)
    t = collections.OrderedDict()
    t["small"] = torch.randn(2, 2, generator=g)
    t["whole"] = torch.tensor([1.0, 2.0, -3.0])
    t["whole_big"] = torch.tensor([1.0, 20000.0])
    t["sci_small"] = torch.tensor([1e-5, 1.0, 2.5])
    t["sci_large"] = torch.tensor([1e9, 1.0])
    t["sci_whole"] = torch.tensor([1e10, 3.0])
    t["nonfinite"] = torch.tensor([float("nan"), float("inf"), -float("inf"), 1.5])
    t["nonfinite_whole"] = torch.tensor([float("nan"), 2.0, float("inf")])
    t["negative_zero"] = torch.tensor([-0.0, 0.0, 1.25])
    t["zeros"] = torch.zeros(3)
    t["scalar"] = torch.tensor(1.5)
    t["scalar_int"] = torch.tensor(7)
    t["empty"] = torch.zeros(0)
    t["empty_2d"] = torch.zeros(2, 0)
    t["empty_int"] = torch.zeros(0, dtype=torch.int64)
    t["long_row"] = torch.arange(100, dtype=torch.float32) / 7
    t["long_ints"] = torch.arange(60)
    t["summarized_1d"] = torch.arange(2000, dtype=torch.float32) * 0.5
    t["summarized_2d"] = torch.randn(50, 50, generator=g)
    t["at_threshold"] = torch.randn(10, 10, 10, generator=g)
    t["summarized_3d"] = torch.randn(11, 10, 10, generator=g)
    t["float64"] = torch.randn(3, generator=g, dtype=torch.float64)
    t["float16"] = torch.randn(3, generator=g).half()
    t["bfloat16"] = torch.randn(3, generator=g).bfloat16()
    t["int32"] = torch.tensor([[1, -20], [300, 4]], dtype=torch.int32)
    t["uint8"] = torch.tensor([0, 255, 7], dtype=torch.uint8)
    t["int8"] = torch.tensor([-128, 127], dtype=torch.int8)
    t["bool"] = torch.tensor([[True, False], [False, True]])
    t["complex"] = torch.tensor([1 + 2j, -0.5 - 1j, 3j])
    t["requires_grad"] = torch.ones(2, requires_grad=True)
    t["parameter"] = torch.nn.Parameter(torch.tensor([0.5, -1.0]))
    t["transposed"] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()
    t["expanded"] = torch.tensor([1.0, 2.0]).expand(3, 2)
    t["meta"] = torch.empty(2, 3, device="meta")
    t["meta_int"] = torch.empty(4, dtype=torch.int32, device="meta")
    t["sparse"] = torch.sparse_coo_tensor([[0, 1], [1, 0]], [3.0, 4.0], (2, 2))
    t["quantized"] = torch.quantize_per_tensor(torch.tensor([0.5, -1.0, 2.0]), 0.1, 3, torch.qint8)
    return t


def values():
    return collections.OrderedDict([
        ("dict", {"labels": ["cat", "dog"], "lr": 0.1, "step": 3, "flag": True, "none": None}),
        ("ordered", collections.OrderedDict([("a", 1), ("b", (2, 3))])),
        ("empty_ordered", collections.OrderedDict()),
        ("tuple1", (1,)),
        ("nested", [[], (), {}, [1.0, 1e-05, 1e16, -0.0]]),
        ("strings", ["it's", 'say "hi"', "both ' and \"", "tab\tnewline\n", "é ✓ \x00"]),
        ("bytes", b"\x00\x01ab'\""),
        ("bytearray", bytearray(b"xyz")),
        ("big", 2 ** 100),
        ("int_keys", {0: "a", 1: "b"}),
        ("complex", 1.5 - 2j),
    ])


def main(argv):
    out = argv[0] if argv else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "repr")
    os.makedirs(out, exist_ok=True)
    for name, obj in (("tensors", tensors()), ("values", values())):
        path = os.path.join(out, name + ".pth")
        torch.save(obj, path)
        loaded = torch.load(path, weights_only=False)
        reprs = {key: repr(value) for key, value in loaded.items()}
        with open(os.path.join(out, name + ".repr.json"), "w", encoding="utf-8", newline="\n") as f:
            json.dump(reprs, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print(f"{os.path.getsize(path):8d}  {name}.pth ({len(reprs)} entries)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
