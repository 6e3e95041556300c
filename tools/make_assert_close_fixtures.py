#!/usr/bin/env python3
"""Write pairs of values for TorchCheckpointTesting's closeness checks with real
PyTorch, and what torch.testing.assert_close says of each pair.

usage: make_assert_close_fixtures.py [OUTDIR]   (default: fixtures/assert_close/ beside tools/)

Each case NAME is NAME.pth, torch.save({"actual": a, "expected": b}); a case
marked "files" is also NAME.actual.pth and NAME.expected.pth, torch.save(a) and
torch.save(b), to compare as whole files. expected.json maps NAME to:
  description   what the pair covers
  rtol, atol    the tolerances passed (null: assert_close's defaults by dtype)
  equal_nan     passed to assert_close
  check_stride  passed to assert_close (check_device, check_dtype and
                check_layout are left at their defaults: True)
  close         whether assert_close(a, b, ...) returned without raising
  error         the exception's type name when it raised (AssertionError, TypeError)
  message       str() of that exception: assert_close's message, the one
                TorchCheckpointTesting must write first
  messages      every failure, in order, from not_close_error_metas (what
                assert_close would raise if it reported them all: it raises
                the first); null when the structure itself does not match
                (keys, lengths, types), where assert_close stops at that one
  files         whether NAME.actual.pth and NAME.expected.pth exist

Deterministic: fixed values and seeds; files differ from run to run only in
.data/serialization_id.
"""
import json
import os
import sys
from collections import OrderedDict

import torch
from torch.testing import assert_close
from torch.testing._comparison import (BooleanPair, NonePair, NumberPair, TensorLikePair,
                                       not_close_error_metas)

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "assert_close")

CASES = []
nan, inf = float("nan"), float("inf")


def case(name, description, rtol=None, atol=None, equal_nan=False, check_stride=False, files=False):
    def register(make):
        CASES.append(dict(name=name, description=description, rtol=rtol, atol=atol, equal_nan=equal_nan,
                          check_stride=check_stride, files=files, make=make))
        return make
    return register


def gen(seed):
    return torch.Generator().manual_seed(seed)


# Floating point tensors


@case("float32_one_mismatch", "float32 2x3, one element off by 0.5 (assert_close's documented example shape)")
def _():
    a = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    return a, torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]])


@case("float32_close", "float32 with relative noise of 1e-7, within the float32 defaults")
def _():
    g = gen(1)
    a = torch.randn(4, 5, generator=g)
    return a * (1 + 1e-7 * torch.randn(4, 5, generator=g)), a


@case("float32_ties", "float32 with rtol=0.01, atol=0.001: several mismatches, the greatest absolute "
      "difference reached twice (the first index is reported), the greatest relative elsewhere",
      rtol=0.01, atol=0.001)
def _():
    b = torch.tensor([[10.0, 0.5, 3.0, 7.0], [0.25, 8.0, 2.0, 1.0], [4.0, 4.0, 0.125, 9.0]])
    a = b.clone()
    a[0, 3] += 2.0
    a[1, 1] += 2.0
    a[2, 2] += 0.75
    a[1, 3] += 0.005
    return a, b


@case("float32_boundary", "float32 elements at and just past atol + rtol*|expected| with rtol=1e-3, atol=1e-3, "
      "where float32 arithmetic decides", rtol=1e-3, atol=1e-3)
def _():
    b = torch.tensor([1.0, 1.0, 100.0, 100.0, 0.0, 0.0, 3.0, 1e6])
    a = torch.tensor([1.002, 1.00201, 100.101, 100.1011, 0.001, 0.0011, 3.004, 1e6 + 1001])
    return a, b


@case("float32_expected_zero", "float32 where the expected element is 0 at a mismatch: relative difference inf")
def _():
    return torch.tensor([0.0, 1.0, 2.0]), torch.tensor([0.0, 0.0, 2.0])


@case("float16_mismatch", "float16 with the float16 defaults (rtol 1e-3, atol 1e-5): differences computed in float16",
      files=True)
def _():
    b = torch.tensor([1.0, 2.0, 3.0, 1000.0, 0.1, -7.5], dtype=torch.float16)
    a = torch.tensor([1.001, 2.0, 3.2, 1001.0, 0.1001, -7.5], dtype=torch.float16)
    return a, b


@case("float16_close", "float16 within the float16 defaults")
def _():
    b = torch.tensor([1.0, 2.0, 1000.0], dtype=torch.float16)
    return torch.tensor([1.0009765625, 2.0, 1000.5], dtype=torch.float16), b


@case("float16_overflow", "float16 differences that overflow float16 (65504 against -65504): inf")
def _():
    return (torch.tensor([65504.0, 1.0], dtype=torch.float16), torch.tensor([-65504.0, 1.0], dtype=torch.float16))


@case("bfloat16_mismatch", "bfloat16 with the bfloat16 defaults (rtol 1.6e-2, atol 1e-5)")
def _():
    b = torch.tensor([[1.0, 2.0], [3.0, 128.0]], dtype=torch.bfloat16)
    a = torch.tensor([[1.0078125, 2.0625], [3.0, 131.0]], dtype=torch.bfloat16)
    return a, b


@case("bfloat16_close", "bfloat16 within the bfloat16 defaults")
def _():
    b = torch.tensor([1.0, 2.0, 128.0], dtype=torch.bfloat16)
    return torch.tensor([1.0078125, 2.015625, 129.0], dtype=torch.bfloat16), b


@case("float64_mismatch", "float64 with the float64 defaults (rtol 1e-7, atol 1e-7)", files=True)
def _():
    g = gen(2)
    b = torch.randn(3, 4, generator=g, dtype=torch.float64)
    a = b.clone()
    a[0, 1] += 1e-6
    a[2, 3] *= 1 + 1e-5
    return a, b


@case("float64_exact", "float64 with rtol=0, atol=0: 'not equal', no tolerance in the message", rtol=0.0, atol=0.0)
def _():
    b = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    return torch.tensor([1.0, 2.0 + 2 ** -51, 3.0], dtype=torch.float64), b


@case("complex64_mismatch", "complex64 with the float32 defaults: the magnitude of the complex difference")
def _():
    b = torch.tensor([1 + 1j, 2 - 1j, 3j, -4 + 0j], dtype=torch.complex64)
    a = torch.tensor([1 + 2j, 2 - 1j, 3.5j, -4 + 0.5j], dtype=torch.complex64)
    return a, b


@case("complex128_close", "complex128 within the float64 defaults")
def _():
    b = torch.tensor([1 + 1j, 2 - 1j], dtype=torch.complex128)
    return b * (1 + 1e-9), b


# NaN and infinities


@case("nan_same_place", "NaN at the same place on both sides, equal_nan False (the default): a mismatch")
def _():
    return torch.tensor([1.0, nan, 3.0]), torch.tensor([1.0, nan, 3.0])


@case("nan_same_place_equal_nan", "NaN at the same place on both sides, equal_nan True: close", equal_nan=True)
def _():
    return torch.tensor([1.0, nan, 3.0]), torch.tensor([1.0, nan, 3.0])


@case("nan_against_number", "NaN against numbers and a number against NaN, equal_nan True: NaN differences "
      "are the greatest, at the first NaN", equal_nan=True)
def _():
    return torch.tensor([1.0, 9.0, nan, 4.0, 5.0]), torch.tensor([1.0, 2.0, 3.0, nan, 5.0])


@case("infinities", "inf against inf (close), inf against -inf and against a number (not)")
def _():
    return (torch.tensor([inf, -inf, inf, 1.0], dtype=torch.float64),
            torch.tensor([inf, -inf, -inf, inf], dtype=torch.float64))


@case("nan_float16_equal_nan_false", "float16 NaN on both sides and a difference, equal_nan False")
def _():
    return (torch.tensor([nan, 1.0, 2.0], dtype=torch.float16), torch.tensor([nan, 1.0, 2.5], dtype=torch.float16))


# Integers and bool


@case("int64_mismatch", "int64 with the default tolerance (exact): 'not equal', relative difference in float32")
def _():
    return torch.tensor([[1, 2, 3], [4, 5, 6]]), torch.tensor([[1, 2, 5], [4, 0, 9]])


@case("int64_tolerance_close", "int64 within rtol=0.1, atol=1", rtol=0.1, atol=1.0)
def _():
    return torch.tensor([10, 20, 31]), torch.tensor([11, 20, 30])


@case("int64_tolerance_mismatch", "int64 outside rtol=0.1, atol=1", rtol=0.1, atol=1.0)
def _():
    return torch.tensor([10, 20, 40]), torch.tensor([11, 20, 30])


@case("int64_extremes", "int64 extremes whose difference overflows int64 (the message's difference wraps)")
def _():
    return (torch.tensor([2 ** 63 - 1, 0], dtype=torch.int64), torch.tensor([-(2 ** 63), 0], dtype=torch.int64))


@case("uint8_wrapping", "uint8 with rtol=0.5, atol=1: the verdict's difference wraps in uint8 (1 - 3 = 254)",
      rtol=0.5, atol=1.0)
def _():
    return torch.tensor([1, 3, 200], dtype=torch.uint8), torch.tensor([3, 1, 199], dtype=torch.uint8)


@case("int8_mismatch", "int8 with differences, exact")
def _():
    return torch.tensor([-128, 127, 5], dtype=torch.int8), torch.tensor([127, -128, 5], dtype=torch.int8)


@case("uint16_mismatch", "uint16 with a difference, exact")
def _():
    return torch.tensor([1, 2, 65535], dtype=torch.uint16), torch.tensor([1, 3, 0], dtype=torch.uint16)


@case("bool_mismatch", "bool tensors: compared as int64")
def _():
    return torch.tensor([True, False, True, False]), torch.tensor([True, True, False, False])


# Zero-dimensional tensors: assert_close's scalar message


@case("scalar_float32", "0-dim float32: 'Scalars are not close!' with Expected/got and Python arithmetic")
def _():
    return torch.tensor(1.0), torch.tensor(2.0)


@case("scalar_float16", "0-dim float16: the items as Python floats")
def _():
    return torch.tensor(1.1, dtype=torch.float16), torch.tensor(1.2, dtype=torch.float16)


@case("scalar_int64", "0-dim int64: exact")
def _():
    return torch.tensor(3), torch.tensor(5)


@case("scalar_bool", "0-dim bool: True against False")
def _():
    return torch.tensor(True), torch.tensor(False)


@case("scalar_expected_zero", "0-dim float64 against 0: relative difference inf")
def _():
    return torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)


@case("scalar_complex", "0-dim complex128")
def _():
    return torch.tensor(1 + 1j, dtype=torch.complex128), torch.tensor(1 + 2j, dtype=torch.complex128)


# Attributes


@case("shape_differs", "shapes [2, 3] against [3, 2]")
def _():
    return torch.zeros(2, 3), torch.zeros(3, 2)


@case("dtype_differs", "float16 against float32 (check_dtype=True)")
def _():
    return torch.zeros(2, dtype=torch.float16), torch.zeros(2)


@case("device_differs", "a CPU tensor against a meta tensor: the device is compared before the dtype")
def _():
    return torch.zeros(2), torch.zeros(2, device="meta", dtype=torch.float64)


@case("meta_equal", "two meta tensors of one dtype and shape: only their attributes are compared")
def _():
    return torch.empty(2, 3, device="meta"), torch.empty(2, 3, device="meta")


@case("layout_differs", "a strided tensor against a sparse COO one")
def _():
    return torch.zeros(2, 2), torch.zeros(2, 2).to_sparse()


@case("stride_differs", "equal values, one transposed: close by default, not with check_stride=True",
      check_stride=True)
def _():
    base = torch.arange(6.0).reshape(2, 3)
    return base.t().contiguous(), base.t()


@case("views", "a transposed view, a sliced view with an offset and an expanded (stride 0) view against "
      "contiguous tensors with one difference each")
def _():
    base = torch.arange(12.0).reshape(3, 4)
    row = torch.tensor([1.0, 2.0, 3.0])
    actual = {"transposed": base.t(), "sliced": base[1:, ::2], "expanded": row.expand(4, 3)}
    t = base.t().contiguous()
    t[3, 2] = 0.0
    s = base[1:, ::2].contiguous()
    s[1, 1] += 1
    e = row.expand(4, 3).contiguous()
    e[2, 0] = 5.0
    return actual, {"transposed": t, "sliced": s, "expanded": e}


@case("empty", "empty tensors of one shape: close")
def _():
    return torch.zeros(0, 3), torch.ones(0, 3)


@case("large_block", "float32 of 5000 elements with mismatches spread out (streamed in blocks in the tests)")
def _():
    g = gen(3)
    b = torch.randn(50, 100, generator=g)
    a = b.clone()
    a[3, 7] += 0.5
    a[31, 99] -= 3.0
    a[49, 0] += 3.0
    a[20, 20] = 0.0
    return a, b


# Low-precision floats, quantized and sparse tensors


@case("float8_mismatch", "float8_e4m3fn: compared bit for bit, 'not 'equal''")
def _():
    return (torch.tensor([1.0, 2.0, 4.0]).to(torch.float8_e4m3fn),
            torch.tensor([1.0, 3.0, 4.0]).to(torch.float8_e4m3fn))


@case("quantized_mismatch", "per-tensor quint8 (scale 0.1, zero point 3): dequantized and compared with the "
      "float32 defaults, 'Quantized tensor-likes'")
def _():
    b = torch.quantize_per_tensor(torch.tensor([0.0, 1.0, 2.0, 3.0]), 0.1, 3, torch.quint8)
    a = torch.quantize_per_tensor(torch.tensor([0.0, 1.0, 2.5, 3.0]), 0.1, 3, torch.quint8)
    return a, b


@case("quantized_per_channel", "per-channel qint8 (axis 0): dequantized")
def _():
    x = torch.tensor([[0.5, -1.0, 2.0], [3.0, 0.25, -0.75]])
    scales = torch.tensor([0.05, 0.25], dtype=torch.float64)
    zps = torch.tensor([0, 2])
    b = torch.quantize_per_channel(x, scales, zps, 0, torch.qint8)
    y = x.clone()
    y[1, 0] = 4.0
    a = torch.quantize_per_channel(y, scales, zps, 0, torch.qint8)
    return a, b


@case("qscheme_differs", "per-tensor against per-channel quantization")
def _():
    x = torch.tensor([[0.5, 1.0], [2.0, 3.0]])
    return (torch.quantize_per_tensor(x, 0.1, 0, torch.qint8),
            torch.quantize_per_channel(x, torch.tensor([0.1, 0.1], dtype=torch.float64), torch.tensor([0, 0]), 0,
                                       torch.qint8))


@case("sparse_coo_values", "sparse COO tensors with equal indices and one value apart: 'Sparse COO values'")
def _():
    i = torch.tensor([[0, 1, 2], [2, 0, 1]])
    return (torch.sparse_coo_tensor(i, torch.tensor([1.0, 2.0, 3.0]), (3, 3)).coalesce(),
            torch.sparse_coo_tensor(i, torch.tensor([1.0, 2.5, 3.0]), (3, 3)).coalesce())


@case("sparse_coo_indices", "sparse COO tensors with different indices: 'Sparse COO indices'")
def _():
    return (torch.sparse_coo_tensor(torch.tensor([[0, 1], [2, 0]]), torch.tensor([1.0, 2.0]), (3, 3)).coalesce(),
            torch.sparse_coo_tensor(torch.tensor([[0, 2], [2, 0]]), torch.tensor([1.0, 2.0]), (3, 3)).coalesce())


@case("sparse_csr_values", "sparse CSR tensors with equal indices and one value apart")
def _():
    d = torch.tensor([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    e = d.clone()
    e[1, 1] = 3.5
    return d.to_sparse_csr(), e.to_sparse_csr()


# Many elements near the tolerance, in each dtype: the verdict of every element and the greatest differences
# depend on computing as PyTorch does (in the dtype, the tolerances as float scalars).


def near_boundary(dtype, seed, count=600):
    """Expected values spread over magnitudes, actual values moved by about the default tolerance."""
    g = gen(seed)
    rtol, atol = {torch.float16: (1e-3, 1e-5), torch.bfloat16: (1.6e-2, 1e-5), torch.float32: (1.3e-6, 1e-5),
                  torch.float64: (1e-7, 1e-7)}[dtype]
    b = (torch.randn(count, generator=g, dtype=torch.float64) * torch.logspace(-6, 3, count, dtype=torch.float64))
    scale = torch.rand(count, generator=g, dtype=torch.float64) * 2.0
    a = b + torch.sign(torch.randn(count, generator=g, dtype=torch.float64)) * scale * (atol + rtol * b.abs())
    return a.to(dtype).reshape(20, count // 20), b.to(dtype).reshape(20, count // 20)


@case("boundary_float16", "600 float16 elements moved by 0 to 2 times the default tolerance")
def _():
    return near_boundary(torch.float16, 20)


@case("boundary_bfloat16", "600 bfloat16 elements moved by 0 to 2 times the default tolerance")
def _():
    return near_boundary(torch.bfloat16, 21)


@case("boundary_float32", "600 float32 elements moved by 0 to 2 times the default tolerance")
def _():
    return near_boundary(torch.float32, 22)


@case("boundary_float64", "600 float64 elements moved by 0 to 2 times the default tolerance")
def _():
    return near_boundary(torch.float64, 23)


@case("boundary_float32_custom", "600 float32 elements against rtol=1e-4, atol=1e-6", rtol=1e-4, atol=1e-6)
def _():
    a, b = near_boundary(torch.float32, 24)
    return b + (a - b) * 77.0, b


@case("boundary_complex64", "300 complex64 elements moved by about the default tolerance")
def _():
    ar, br = near_boundary(torch.float32, 25)
    ai, bi = near_boundary(torch.float32, 26)
    return torch.complex(ar, ai)[:, :15], torch.complex(br, bi)[:, :15]


@case("boundary_int64_float32", "int64 against rtol=0, atol=0.5: isclose computes in float32, so 2**24 + 1 is close "
      "to 2**24, and 2**62 to -2**62 is not (no wrapping)", rtol=0.0, atol=0.5)
def _():
    return (torch.tensor([2 ** 24 + 1, 2 ** 53 + 1, 2 ** 62, 7, -3]),
            torch.tensor([2 ** 24, 2 ** 53, -(2 ** 62), 8, -3]))


@case("quantized_long", "per-tensor qint8 of 100 elements (scale 0.037, zero point -5): dequantized in PyTorch's "
      "vectorized kernel")
def _():
    g = gen(27)
    x = torch.randn(100, generator=g) * 2
    b = torch.quantize_per_tensor(x, 0.037, -5, torch.qint8)
    y = x.clone()
    y[::9] += 0.5
    return torch.quantize_per_tensor(y, 0.037, -5, torch.qint8), b


@case("quantized_rounding", "per-tensor qint8 of 1000 elements (scale 1/3, zero point -100) and per-channel qint8 "
      "(float64 scales): the greatest differences show how dequantize() rounds")
def _():
    g = gen(28)
    x = torch.randn(1000, generator=g) * 10
    scale = 1 / 3
    b = torch.quantize_per_tensor(x, scale, -100, torch.qint8)
    y = x.clone()
    y[::97] += 0.4
    y[500] -= 1.0
    xc = torch.randn(16, 50, generator=g) * 2
    scales = torch.rand(16, generator=g, dtype=torch.float64) * 0.05 + 0.003
    zps = torch.randint(-20, 20, (16,), generator=g)
    bc = torch.quantize_per_channel(xc, scales, zps, 0, torch.qint8)
    yc = xc.clone()
    yc[::3, ::7] += 0.05
    return ({"per_tensor": torch.quantize_per_tensor(y, scale, -100, torch.qint8),
             "per_channel": torch.quantize_per_channel(yc, scales, zps, 0, torch.qint8)},
            {"per_tensor": b, "per_channel": bc})


@case("conj_neg", "a conjugated complex view and a negated one against their resolved values, one element off")
def _():
    z = torch.tensor([1 + 2j, -3 + 0.5j, 4 - 1j], dtype=torch.complex64)
    c = z.conj()
    n = z.clone().conj().imag
    expected_c = c.resolve_conj().clone()
    expected_c[2] += 0.25j
    return {"conj": c, "neg": n}, {"conj": expected_c, "neg": n.resolve_neg().clone()}


# Python numbers, None and bool


@case("python_int_mismatch", "Python ints: exact")
def _():
    return 3, 5


@case("python_float_close", "Python floats within the float64 defaults")
def _():
    return 1.0, 1.0 + 1e-8


@case("python_float_mismatch", "Python floats outside the float64 defaults")
def _():
    return 1.0, 1.5


@case("python_int_float", "an int against a float: check_dtype")
def _():
    return 1, 1.0


@case("python_bool_mismatch", "Python bools")
def _():
    return True, False


@case("none_mismatch", "None against an int")
def _():
    return None, 1


@case("tensor_against_number", "a tensor against a float: no comparison pair")
def _():
    return torch.tensor([1.0]), 1.0


# Trees: state dicts and checkpoints


def state_dict(seed):
    g = gen(seed)
    return OrderedDict([
        ("fc1.weight", torch.randn(4, 3, generator=g)), ("fc1.bias", torch.randn(4, generator=g)),
        ("fc2.weight", torch.randn(2, 4, generator=g, dtype=torch.float64)),
        ("fc2.bias", torch.randn(2, generator=g).half()),
        ("bn.num_batches_tracked", torch.tensor(12)),
    ])


@case("state_dict_equal", "two equal state dicts (one a copy)", files=True)
def _():
    return state_dict(10), state_dict(10)


@case("state_dict_one_off", "a state dict with one tensor off: the key path in the message", files=True)
def _():
    a, b = state_dict(11), state_dict(11)
    a["fc1.weight"][2, 1] += 0.25
    return a, b


@case("state_dict_several", "a state dict with several entries off: every failure in sorted key order")
def _():
    a, b = state_dict(12), state_dict(12)
    a["fc1.weight"][0, 0] += 1.0
    a["fc2.bias"][1] += 0.5
    a["bn.num_batches_tracked"] = torch.tensor(13)
    a["fc2.weight"] = a["fc2.weight"].float()
    return a, b


@case("keys_differ", "mappings with different keys: missing and additional keys, sorted")
def _():
    a, b = state_dict(13), state_dict(13)
    del a["fc1.bias"]
    a["fc3.weight"] = torch.zeros(1)
    a["extra"] = torch.zeros(1)
    return a, b


@case("nested_checkpoint", "a training checkpoint: nested dicts, lists, numbers and None; one value off deep inside",
      files=True)
def _():
    def ckpt(bump):
        sd = state_dict(14)
        if bump:
            sd["fc2.weight"][1, 3] -= 0.125
        return {"epoch": 3, "loss": 0.25, "model": sd, "optimizer": {"state": {0: {"step": torch.tensor(2.0)}},
                "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "params": [0, 1]}]}, "note": None}
    return ckpt(True), ckpt(False)


@case("nested_values", "a tree whose plain values differ: an int, a float beyond float64's defaults, a bool, None")
def _():
    return ({"a": [1, 2.0, True], "b": {"c": None, "d": 1.0}},
            {"a": [1, 2.5, False], "b": {"c": 0, "d": 1.0 + 1e-12}})


@case("sequence_length", "lists of different lengths inside a dict")
def _():
    return {"layers": [torch.zeros(1), torch.zeros(1)]}, {"layers": [torch.zeros(1)]}


@case("int_keys", "a mapping with int keys (an optimizer's state): the item is [1]")
def _():
    return ({0: torch.tensor([1.0]), 1: torch.tensor([2.0]), 10: torch.tensor([3.0])},
            {0: torch.tensor([1.0]), 1: torch.tensor([2.5]), 10: torch.tensor([3.0])})


def run(a, b, c):
    options = dict(rtol=c["rtol"], atol=c["atol"], equal_nan=c["equal_nan"], check_stride=c["check_stride"])
    result = dict(description=c["description"], rtol=c["rtol"], atol=c["atol"], equal_nan=c["equal_nan"],
                  check_stride=c["check_stride"], files=c["files"])
    try:
        assert_close(a, b, **options)
        result.update(close=True, error=None, message=None)
    except (AssertionError, TypeError) as e:
        result.update(close=False, error=type(e).__name__, message=str(e))
    try:
        metas = not_close_error_metas(a, b, pair_types=(NonePair, BooleanPair, NumberPair, TensorLikePair),
                                      allow_subclasses=True, check_device=True, check_dtype=True,
                                      check_layout=True, msg=None, **options)
        result["messages"] = [str(m.to_error()) for m in metas]
    except (AssertionError, TypeError):
        result["messages"] = None
    return result


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = OrderedDict()
    for c in CASES:
        a, b = c["make"]()
        path = os.path.join(OUT, c["name"] + ".pth")
        torch.save({"actual": a, "expected": b}, path)
        # What torch.load gives back is what the tests read: judge that.
        loaded = torch.load(path, weights_only=True)
        result = run(loaded["actual"], loaded["expected"], c)
        if c["files"]:
            actual_path = os.path.join(OUT, c["name"] + ".actual.pth")
            expected_path = os.path.join(OUT, c["name"] + ".expected.pth")
            torch.save(a, actual_path)
            torch.save(b, expected_path)
            whole = run(torch.load(actual_path, weights_only=True), torch.load(expected_path, weights_only=True), c)
            if whole["message"] != result["message"] or whole["messages"] != result["messages"]:
                raise SystemExit(f"{c['name']}: the files compare differently from the pair")
        expected[c["name"]] = result
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{len(CASES)} cases in {OUT} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
