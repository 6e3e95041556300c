#!/usr/bin/env python3
"""Write pairs of checkpoints for `pth diff` with real PyTorch, and what
PyTorch says about each pair.

usage: make_diff_fixtures.py [OUTDIR]   (default: fixtures/diff/ beside tools/)

Each pair is NAME.a.pth and NAME.b.pth. expected.json maps NAME to:
  description                  what the pair covers
  added, removed               paths only in b, only in a (listing paths: str keys as
                               strings, int keys and indices as integers)
  dtype_changed, shape_changed paths of tensors on both sides whose dtype or shape differ
  type_changed                 paths that are a tensor on one side and a plain value on
                               the other, or plain values of different Python types
  values_changed               [path, repr(a), repr(b)] for plain values of one type that
                               are not equal (floats: nan equal to nan)
  not_compared                 paths of tensors whose values cannot be compared
                               elementwise (sparse tensors with different indices)
  tensors                      for every path that is a tensor of one dtype and shape on
                               both sides (quantized: int_repr; sparse: values, when the
                               indices are equal):
                                 max_abs   max |a - b| over elements, in float64 (complex:
                                           abs of the complex difference); positions equal
                                           by ==, or both NaN, count 0; a pair that is not
                                           equal and not both finite counts inf
                                 max_rel   max |a - b| / |b| over elements where b != 0, as
                                           max_abs counts them (inf where not both finite);
                                           elements where b == 0 are left out
                                 checks    for each tolerance: rtol, atol,
                                           torch.allclose(a, b, rtol, atol, equal_nan=True),
                                           the count of elements torch.isclose finds not
                                           close, and the row-major index of the first
                                           (float8: of the tensors widened to float32, as
                                           torch.isclose has no float8 kernels; integers:
                                           the same rule evaluated exactly in Python, with
                                           torch's own verdict as torch_allclose and
                                           torch_mismatched, since torch.isclose computes it
                                           in float32 and calls 2**53 and 2**53 + 1 close
                                           under any nonzero tolerance)
  equal                        for each tolerance, whether the pair is equal: nothing
                               added, removed or changed, and every tensor allclose

Floats are written as repr() text ("inf", "1e-07") so nothing is lost to JSON.
Deterministic: fixed seeds; files differ from run to run only in
.data/serialization_id.
"""
import json
import math
import os
import sys
from collections import OrderedDict

import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "diff")

TOLERANCES = [(0.0, 0.0), (1e-05, 1e-08), (0.001, 0.0), (0.0, 0.001), (0.0, 1.0)]

PAIRS = []


def pair(name, description):
    def register(make):
        PAIRS.append((name, description, make))
        return make
    return register


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pair("identical", "the same state dict saved twice: the files differ only in .data/serialization_id")
def make_identical():
    def sd():
        g = gen(1)
        return OrderedDict([("fc.weight", torch.randn(3, 4, generator=g)), ("fc.bias", torch.randn(3, generator=g)),
                            ("bn.num_batches_tracked", torch.tensor(7))])
    return sd(), sd()


@pair("keys", "one key removed (b lacks 'old.weight'), one added ('new.weight'), one kept equal")
def make_keys():
    g = gen(2)
    kept = torch.randn(2, 2, generator=g)
    old = torch.randn(3, generator=g)
    new = torch.randn(3, generator=g)
    return ({"kept": kept, "old.weight": old}, {"kept": kept.clone(), "new.weight": new})


@pair("metadata", "a dtype change (float32 to float16), a shape change ([2, 3] to [3, 2]), both at once, "
      "and an int64 tensor that became a float64 one")
def make_metadata():
    g = gen(3)
    x = torch.randn(2, 3, generator=g)
    return ({"dtype": x, "shape": x, "both": x, "counter": torch.tensor([1, 2, 3])},
            {"dtype": x.half(), "shape": x.reshape(3, 2).clone(), "both": x.reshape(3, 2).double(),
             "counter": torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)})


@pair("noise", "float32 and float64 tensors with noise of about 1e-6 relative (within torch.allclose's "
      "defaults), 1e-4 (outside them), an absolute offset of 5e-4 around zero, a 5-dim tensor, a "
      "transposed (non-contiguous) view of equal values, and a 0-dim tensor")
def make_noise():
    g = gen(4)
    small = torch.randn(8, 8, generator=g)
    large = torch.randn(4, 16, generator=g, dtype=torch.float64)
    near_zero = torch.zeros(10)
    five = torch.randn(2, 1, 3, 2, 2, generator=g)
    base = torch.randn(5, 3, generator=g)
    a = {"small_noise": small, "large_noise": large, "near_zero": near_zero, "five_dims": five,
         "transposed": base.t(), "scalar": torch.tensor(2.5)}
    b = {"small_noise": small * (1 + 1e-6 * torch.randn(8, 8, generator=g)),
         "large_noise": large * (1 + 1e-4 * torch.randn(4, 16, generator=g, dtype=torch.float64)),
         "near_zero": near_zero + 5e-4 * torch.tensor([0, 1, -1, 0, 0.5, 0, 0, 0, 0, -0.25]),
         "five_dims": five.clone().index_put_((torch.tensor([1]), torch.tensor([0]), torch.tensor([2]),
                                               torch.tensor([1]), torch.tensor([0])), torch.tensor([9.0])),
         "transposed": base.t().contiguous(), "scalar": torch.tensor(2.5000002)}
    return a, b


@pair("nonfinite", "NaN at the same positions (equal under equal_nan), NaN against a number, inf against "
      "inf, inf against -inf, inf against a number, +0 against -0, NaN where b is 0")
def make_nonfinite():
    nan, inf = float("nan"), float("inf")
    a = {"same_nan": torch.tensor([1.0, nan, 3.0]), "nan_vs_number": torch.tensor([1.0, nan, 3.0]),
         "inf_same": torch.tensor([inf, -inf, 0.0]), "inf_sign": torch.tensor([inf, 1.0]),
         "inf_vs_number": torch.tensor([2.0, inf], dtype=torch.float64),
         "signed_zero": torch.tensor([0.0, -0.0, 1.0]), "nan_vs_zero": torch.tensor([nan, 1.0])}
    b = {"same_nan": torch.tensor([1.0, nan, 3.0]), "nan_vs_number": torch.tensor([1.0, 2.0, nan]),
         "inf_same": torch.tensor([inf, -inf, 0.0]), "inf_sign": torch.tensor([-inf, 1.0]),
         "inf_vs_number": torch.tensor([2.0, 1e300], dtype=torch.float64),
         "signed_zero": torch.tensor([-0.0, 0.0, 1.0]), "nan_vs_zero": torch.tensor([0.0, 1.0])}
    return a, b


@pair("integers", "int64 values beyond 2**53 that differ by 1 (float64 would call them equal), int64 "
      "extremes, int32, int8, uint8 and bool tensors with differences, and equal int16 ones")
def make_integers():
    big = 2 ** 53
    a = {"int64_big": torch.tensor([big, big + 1, 2 ** 62, -(2 ** 62)], dtype=torch.int64),
         "int64_extremes": torch.tensor([2 ** 63 - 1, -(2 ** 63)], dtype=torch.int64),
         "int32": torch.tensor([[1, 2], [3, 4]], dtype=torch.int32),
         "int8": torch.tensor([-128, 0, 127], dtype=torch.int8),
         "uint8": torch.tensor([0, 200, 255], dtype=torch.uint8),
         "bool": torch.tensor([True, False, True]),
         "int16": torch.tensor([-5, 5], dtype=torch.int16)}
    b = {"int64_big": torch.tensor([big + 1, big + 1, 2 ** 62 + 1, -(2 ** 62)], dtype=torch.int64),
         "int64_extremes": torch.tensor([2 ** 63 - 1, -(2 ** 63)], dtype=torch.int64),
         "int32": torch.tensor([[1, 2], [3, 1000]], dtype=torch.int32),
         "int8": torch.tensor([-127, 0, 127], dtype=torch.int8),
         "uint8": torch.tensor([0, 201, 255], dtype=torch.uint8),
         "bool": torch.tensor([True, True, True]),
         "int16": torch.tensor([-5, 5], dtype=torch.int16)}
    return a, b


@pair("half", "bfloat16 and float16 tensors, one step of the last place apart and more, with an inf "
      "in float16; a float8_e4m3fn tensor")
def make_half():
    g = gen(5)
    x = torch.randn(6, generator=g)
    bf = x.bfloat16()
    hf = torch.cat([x.half(), torch.tensor([float("inf")], dtype=torch.float16)])
    f8 = x.to(torch.float8_e4m3fn)
    bf2 = bf.clone().view(torch.int16)
    bf2[0] += 1   # the next bfloat16
    bf2 = bf2.view(torch.bfloat16)
    bf2[3] = bf[3] * 1.5
    hf2 = hf.clone()
    hf2[1] = hf[1] + 0.01
    f82 = f8.clone().view(torch.uint8)
    f82[2] += 1
    return {"bfloat16": bf, "float16": hf, "float8": f8}, {"bfloat16": bf2, "float16": hf2, "float8": f82.view(torch.float8_e4m3fn)}


@pair("complex", "complex64 and complex128 tensors with differences in the real and the imaginary part; "
      "a conjugate view against its resolved copy (equal)")
def make_complex():
    g = gen(6)
    z = torch.randn(4, dtype=torch.complex64, generator=g)
    w = torch.randn(3, dtype=torch.complex128, generator=g)
    z2 = z.clone()
    z2[1] = z2[1] + 1e-3j
    w2 = w.clone()
    w2[0] = w2[0] + 0.5
    w2[2] = complex(float("nan"), 0.0)
    c = torch.randn(3, dtype=torch.complex64, generator=g)
    return {"complex64": z, "complex128": w, "conj": c.conj()}, {"complex64": z2, "complex128": w2, "conj": c.conj().resolve_conj()}


@pair("values", "plain values: an int changed (epoch), a float, a string, an item of a nested list, an "
      "int that became a bool, None that became 0, a tensor that became an int, a float nan on both "
      "sides (equal), and bytes")
def make_values():
    t = torch.ones(2)
    a = {"epoch": 3, "lr": 0.1, "optimizer": "adam", "milestones": [10, 20, [30, 40]], "flag": 1,
         "maybe": None, "best": t, "nan": float("nan"), "blob": b"\x00\x01", "same": "unchanged"}
    b = {"epoch": 4, "lr": 0.01, "optimizer": "sgd", "milestones": [10, 20, [30, 41]], "flag": True,
         "maybe": 0, "best": 5, "nan": float("nan"), "blob": b"\x00\x02", "same": "unchanged"}
    return a, b


@pair("training", "a training checkpoint (model state dict, Adam state with int keys, param groups, "
      "epoch) before and after one more optimizer step")
def make_training():
    torch.manual_seed(7)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(5, 4)

    def step():
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        opt.step()

    def snapshot(epoch):
        return {"epoch": epoch, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict()}

    step()
    a = snapshot(1)
    a = torch.load(_roundtrip(a), weights_only=True)   # a copy, not the live tensors
    step()
    return a, snapshot(2)


@pair("quantized", "quantized tensors: equal; int_repr differing; the same int_repr with another scale; "
      "per-channel with another zero point")
def make_quantized():
    x = torch.linspace(-1, 1, 8)
    q = torch.quantize_per_tensor(x, 0.05, 0, torch.qint8)
    y = x.clone()
    y[2] = 0.5
    scales = torch.tensor([0.1, 0.2], dtype=torch.float64)
    pc = torch.quantize_per_channel(x.reshape(2, 4), scales, torch.tensor([0, 0]), 0, torch.quint8)
    pc2 = torch.quantize_per_channel(x.reshape(2, 4), scales, torch.tensor([0, 1]), 0, torch.quint8)
    return ({"equal": q, "int_repr": q, "scale": q, "per_channel": pc},
            {"equal": torch.quantize_per_tensor(x, 0.05, 0, torch.qint8),
             "int_repr": torch.quantize_per_tensor(y, 0.05, 0, torch.qint8),
             "scale": torch._make_per_tensor_quantized_tensor(q.int_repr(), 0.1, 0), "per_channel": pc2})


@pair("sparse_meta", "sparse COO tensors: equal, values differing at the same indices, different "
      "indices (not compared elementwise); CSR with values differing; meta tensors of one shape (equal) "
      "and of two shapes")
def make_sparse_meta():
    dense = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]])
    other = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 3.5]])
    moved = torch.tensor([[1.0, 0.0, 0.0], [2.0, 0.0, 3.0]])
    return ({"coo_equal": dense.to_sparse(), "coo_values": dense.to_sparse(), "coo_indices": dense.to_sparse(),
             "csr_values": dense.to_sparse_csr(), "meta_equal": torch.empty(3, 4, device="meta"),
             "meta_shape": torch.empty(3, 4, device="meta")},
            {"coo_equal": dense.to_sparse(), "coo_values": other.to_sparse(), "coo_indices": moved.to_sparse(),
             "csr_values": other.to_sparse_csr(), "meta_equal": torch.empty(3, 4, device="meta"),
             "meta_shape": torch.empty(4, 3, device="meta")})


def _roundtrip(obj):
    import io
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return buffer


# ---- the oracle ------------------------------------------------------------

FLOAT8 = (torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e4m3fnuz, torch.float8_e5m2fnuz)
PLAIN = (type(None), bool, int, float, str, bytes, bytearray)


def path_key(k):
    if isinstance(k, str):
        return k
    if isinstance(k, int) and not isinstance(k, bool):
        return k
    return repr(k)


def leaves(obj):
    """(path, value) for every tensor and plain value, depth first, as the listing walks."""
    out = []

    def walk(v, path):
        if isinstance(v, torch.Tensor) or isinstance(v, PLAIN):
            out.append((path, v))
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x, path + [path_key(k)])
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(x, path + [i])
        else:
            raise TypeError(f"no fixture value of type {type(v)}")
    walk(obj, [])
    return out


def fmt(x):
    return repr(float(x))


def elementwise(a, b):
    """The tensors whose elements are compared, as (a, b)."""
    if a.is_quantized:
        return a.int_repr(), b.int_repr()
    return a, b


def metrics(a, b):
    if a.dtype == torch.bool:
        a, b = a.long(), b.long()
    if a.is_complex():
        a, b = a.to(torch.complex128), b.to(torch.complex128)
        diff = (a - b).abs()
        nan_a, nan_b = a.isnan(), b.isnan()
        finite = a.isfinite() & b.isfinite()
    elif a.is_floating_point():
        a, b = a.double(), b.double()
        diff = (a - b).abs()
        nan_a, nan_b = a.isnan(), b.isnan()
        finite = a.isfinite() & b.isfinite()
    else:
        # Integers as Python ints: exact at any size.
        av, bv = a.flatten().tolist(), b.flatten().tolist()
        diffs = [abs(x - y) for x, y in zip(av, bv)]
        max_abs = max([float(d) for d in diffs], default=0.0)
        rels = [float(d) / abs(y) for d, y in zip(diffs, bv) if y != 0]
        return max_abs, max(rels, default=0.0)
    equal = (a == b) | (nan_a & nan_b)
    abs_diff = torch.where(equal, torch.zeros_like(diff), torch.where(finite, diff, torch.full_like(diff, math.inf)))
    babs = b.abs()
    rel = torch.where(equal, torch.zeros_like(diff),
                      torch.where(finite, diff / torch.where(babs == 0, torch.ones_like(babs), babs), torch.full_like(diff, math.inf)))
    rel = torch.where(b == 0, torch.zeros_like(rel), rel)
    max_abs = abs_diff.max().item() if abs_diff.numel() else 0.0
    max_rel = rel.max().item() if rel.numel() else 0.0
    return max_abs, max_rel


def exact_integer_checks(a, b):
    """isclose's rule evaluated exactly, for integer tensors: torch.isclose
    computes it in float32 (the default dtype), so there 2**53 and 2**53 + 1
    are close under any nonzero tolerance. torch's own verdict is kept as
    torch_allclose and torch_mismatched."""
    av, bv = a.flatten().tolist(), b.flatten().tolist()
    out = []
    for rtol, atol in TOLERANCES:
        # Python compares an int with a float exactly.
        not_close = [i for i, (x, y) in enumerate(zip(av, bv)) if x != y and not abs(x - y) <= atol + rtol * abs(y)]
        first = [int(i) for i in torch.unravel_index(torch.tensor(not_close[0]), a.shape)] if not_close and a.dim() else ([] if not_close else None)
        close = torch.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
        out.append({"rtol": fmt(rtol), "atol": fmt(atol), "allclose": not not_close, "mismatched": len(not_close), "first": first,
                    "torch_allclose": bool(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)),
                    "torch_mismatched": int((~close).sum())})
    return out


def checks(a, b):
    if not a.is_floating_point() and not a.is_complex():
        return exact_integer_checks(a, b)
    if a.dtype in FLOAT8:
        # torch.isclose has no float8 kernels ("mul_cpu_reduced_float" not implemented):
        # widen to float32, which holds every float8 value exactly.
        a, b = a.float(), b.float()
    out = []
    for rtol, atol in TOLERANCES:
        close = torch.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
        not_close = (~close).flatten().nonzero().flatten().tolist()
        first = None
        if not_close:
            first = list(torch.unravel_index(torch.tensor(not_close[0]), a.shape)) if a.dim() else []
            first = [int(i) for i in first]
        out.append({"rtol": fmt(rtol), "atol": fmt(atol),
                    "allclose": bool(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)),
                    "mismatched": len(not_close), "first": first})
    return out


def plain_equal(x, y):
    if type(x) is not type(y):
        return False
    if isinstance(x, float) and math.isnan(x) and math.isnan(y):
        return True
    return x == y


def expectation(name, description, a, b):
    la, lb = leaves(a), leaves(b)
    da = {json.dumps(p): v for p, v in la}
    db = {json.dumps(p): v for p, v in lb}
    e = {"description": description, "added": [], "removed": [], "dtype_changed": [], "shape_changed": [],
         "type_changed": [], "values_changed": [], "not_compared": [], "tensors": []}
    differs_always = False
    tensor_close = {i: True for i in range(len(TOLERANCES))}
    for p, va in la:
        key = json.dumps(p)
        if key not in db:
            e["removed"].append(p)
            differs_always = True
            continue
        vb = db[key]
        ta, tb = isinstance(va, torch.Tensor), isinstance(vb, torch.Tensor)
        if ta != tb:
            e["type_changed"].append(p)
            differs_always = True
            continue
        if not ta:
            if type(va) is not type(vb):
                e["type_changed"].append(p)
                differs_always = True
            elif not plain_equal(va, vb):
                e["values_changed"].append([p, repr(va), repr(vb)])
                differs_always = True
            continue
        if va.dtype != vb.dtype or va.shape != vb.shape:
            if va.dtype != vb.dtype:
                e["dtype_changed"].append(p)
            if va.shape != vb.shape:
                e["shape_changed"].append(p)
            differs_always = True
            continue
        if va.is_meta:
            continue
        if va.layout != torch.strided:
            ia = va._indices() if va.layout == torch.sparse_coo else torch.cat([va.crow_indices(), va.col_indices()])
            ib = vb._indices() if vb.layout == torch.sparse_coo else torch.cat([vb.crow_indices(), vb.col_indices()])
            if ia.shape != ib.shape or not torch.equal(ia, ib):
                e["not_compared"].append(p)
                differs_always = True
                continue
            xa, xb = va._values() if va.layout == torch.sparse_coo else va.values(), vb._values() if vb.layout == torch.sparse_coo else vb.values()
        else:
            xa, xb = elementwise(va, vb)
        if va.is_quantized and (va.q_scale() != vb.q_scale() if va.qscheme() == torch.per_tensor_affine else
                                not (torch.equal(va.q_per_channel_scales(), vb.q_per_channel_scales()) and
                                     torch.equal(va.q_per_channel_zero_points(), vb.q_per_channel_zero_points()))):
            e.setdefault("quantization_changed", []).append(p)
            differs_always = True
        max_abs, max_rel = metrics(xa, xb)
        c = checks(xa, xb)
        for i, check in enumerate(c):
            tensor_close[i] = tensor_close[i] and check["allclose"]
        e["tensors"].append({"path": p, "dtype": str(xa.dtype).removeprefix("torch."), "max_abs": fmt(max_abs),
                             "max_rel": fmt(max_rel), "checks": c})
    for p, _ in lb:
        if json.dumps(p) not in da:
            e["added"].append(p)
            differs_always = True
    e["equal"] = [{"rtol": fmt(r), "atol": fmt(t), "equal": not differs_always and tensor_close[i]}
                  for i, (r, t) in enumerate(TOLERANCES)]
    return e


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    for name, description, make in PAIRS:
        a, b = make()
        for side, obj in (("a", a), ("b", b)):
            torch.save(obj, os.path.join(OUT, f"{name}.{side}.pth"))
        # The oracle reads the files back, as a user's torch.load would.
        a = torch.load(os.path.join(OUT, f"{name}.a.pth"), weights_only=True)
        b = torch.load(os.path.join(OUT, f"{name}.b.pth"), weights_only=True)
        expected[name] = expectation(name, description, a, b)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("# diff fixtures\n\n")
        f.write(f"Written by `tools/make_diff_fixtures.py` (torch {torch.__version__}); do not edit by hand.\n")
        f.write("Each pair is `NAME.a.pth` and `NAME.b.pth`; `expected.json` says, per pair, what PyTorch finds "
                "between them (keys added and removed, dtype, shape and type changes, plain values changed, and per "
                "tensor the max abs and rel differences and `torch.allclose` / `torch.isclose` for several "
                "(rtol, atol)); see the script's docstring for the definitions.\n\n")
        for name, description, _ in PAIRS:
            f.write(f"- `{name}`: {description}.\n")


if __name__ == "__main__":
    main()
