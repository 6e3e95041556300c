#!/usr/bin/env python3
"""Write the checkpoint fixtures with real PyTorch, each with its listing.

usage: make_fixtures.py [OUTDIR]      (default: fixtures/ beside tools/)

Every fixture is written by torch's own writer (torch.save, or for
cuda_tagged.pth torch._C.PyTorchFileWriter driven the way torch.save drives
it), then listed with torch_listing.py into FILE.listing.json beside it.
OUTDIR/README.md says what each fixture covers.

Deterministic: every fixture seeds torch and numpy itself and CPU math runs on
one thread, so running this twice on one machine gives byte-identical files.
(Float results of the small training run may differ on another CPU type.)
"""
import os
import sys

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
if TOOLS_DIR not in sys.path:
    sys.path.insert(0, TOOLS_DIR)

import collections
import io
import pickle
import struct
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import fixture_classes as fc
import torch_listing

torch.set_num_threads(1)
# torch warns about beta/deprecated features these fixtures use on purpose.
warnings.filterwarnings("ignore", category=UserWarning)

# name (relative to OUTDIR) -> (builder, what it covers, API that wrote it)
FIXTURES = {}


def fixture(name, covers, api="torch.save"):
    def register(builder):
        FIXTURES[name] = (builder, covers, api)
        return builder
    return register


def seed(n=0):
    torch.manual_seed(n)
    return np.random.default_rng(n)


# --------------------------------------------------------------------------
# Bit-exact tensors


def from_bits(bits, np_type, dtype):
    """A tensor of `dtype` whose elements have exactly these bit patterns."""
    raw = np.array(bits, dtype=np_type)
    signed = {np.uint8: np.int8, np.uint16: np.int16, np.uint32: np.int32, np.uint64: np.int64}
    tensor = torch.from_numpy(raw.view(signed[np_type]).copy())
    return tensor.view(dtype)


def f64_bits(v):
    return struct.unpack("<Q", struct.pack("<d", v))[0]


def f32_bits(v):
    return struct.unpack("<I", struct.pack("<f", v))[0]


def f16_bits(v):
    return struct.unpack("<H", struct.pack("<e", v))[0]


def bf16_bits(v):
    # Exact for values bfloat16 can represent (the low 16 bits are zero).
    bits = f32_bits(v)
    assert bits & 0xFFFF == 0 or v != v, v
    return bits >> 16


INF = float("inf")
NAN = float("nan")


# --------------------------------------------------------------------------
# Modules


class SmallNet(nn.Module):
    """Linear, Conv2d, BatchNorm2d, LayerNorm, Embedding, nested containers."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
        )
        self.block = nn.ModuleDict({
            "norm": nn.LayerNorm(4),
            "proj": nn.Linear(4, 4, bias=False),
        })
        self.classifier = nn.Linear(4, 3)

    def forward(self, image, tokens):
        f = self.features(image).mean(dim=(2, 3))
        e = self.embed(tokens).mean(dim=1)
        return self.classifier(self.block["proj"](self.block["norm"](f + e)))


def small_batch():
    image = torch.randn(5, 1, 4, 4)
    tokens = torch.randint(0, 10, (5, 3))
    target = torch.randint(0, 3, (5,))
    return image, tokens, target


# --------------------------------------------------------------------------
# Fixtures


@fixture("state_dict.pth",
         "Module.state_dict(): Linear, Conv2d, BatchNorm2d (running_mean/var, "
         "num_batches_tracked), LayerNorm, Embedding in Sequential/ModuleDict; "
         "OrderedDict + BUILD of _metadata",
         "torch.save(model.state_dict())")
def make_state_dict():
    seed(0)
    model = SmallNet()
    image, tokens, _ = small_batch()
    with torch.no_grad():
        model.train()
        model(image, tokens)
        model(image * 2, tokens)
    return model.state_dict()


@fixture("training_checkpoint.ckpt",
         "training checkpoint dict: model state_dict, AdamW state after 2 steps "
         "(int keys, step tensors, param_groups with float/bool/None/tuple "
         "betas), OneCycleLR state_dict, loss float, non-ASCII str, None, "
         "nested lists/tuples, 2**100",
         "torch.save(dict)")
def make_training_checkpoint():
    seed(0)
    model = SmallNet()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.01, total_steps=10)
    image, tokens, target = small_batch()
    model.train()
    loss = None
    for _ in range(2):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(image, tokens), target)
        loss.backward()
        optimizer.step()
        scheduler.step()
    return {
        "epoch": 3,
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "loss": float(loss.item()),
        "name": "Modèle d'essai — 模型 ✓",
        "notes": None,
        "history": [[0.9, 0.75, 0.5], (1, 2, (3.5, [4, -5])), [], ((),), [1e-3, 2]],
        "big": 2 ** 100,
    }


@fixture("views.pth",
         "storage sharing and strides: slice with offset, narrow, step slice, "
         ".t(), as_strided, expand (stride 0), 0-dim, empty [0] and [0, 3], "
         "empty view with offset, same tensor under two keys, two tensors on "
         "one storage, permute")
def make_views():
    seed(0)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    shared = torch.randn(10)
    tied = torch.randn(3, 3)
    cube = torch.randn(2, 3, 4)
    return {
        "base": base,
        "slice": base[1:3],
        "narrow": base.narrow(1, 2, 3),
        "step": base[::2, 1::2],
        "flat_step": base.view(-1)[3::5],
        "t": base.t(),
        "as_strided": base.as_strided((3, 3), (5, 2), 1),
        "empty_view": base[2:2],
        "expand": torch.tensor([1.0, 2.0, 3.0]).expand(4, 3),
        "expand_scalar": torch.tensor(7.0).expand(2, 3),
        "scalar": torch.tensor(3.5),
        "scalar_int": torch.tensor(-42),
        "empty": torch.empty(0),
        "empty_0x3": torch.zeros(0, 3),
        "tied_a": tied,
        "tied_b": tied,
        "shared_head": shared[:4],
        "shared_tail": shared[4:],
        "permute": cube.permute(2, 0, 1),
    }


@fixture("big_dict.pth",
         "a dict of 1500 str keys -> small tensors and ints (750 storages, "
         "LONG_BINPUT, SETITEMS in batches of 1000) and a list of 2500 ints "
         "(APPENDS batches)")
def make_big_dict():
    seed(0)
    table = {}
    for i in range(1500):
        key = f"layer{i:04d}"
        table[key] = torch.full((2,), float(i)) + torch.randn(2) if i % 2 == 0 else i * 3 - 1000
    numbers = [(i * 7919) % 100003 - 50000 if i % 3 else i for i in range(2500)]
    return {"table": table, "numbers": numbers}


@fixture("dtypes.pth",
         "one tensor per dtype torch.save writes (_rebuild_tensor_v2 for typed "
         "storages, _rebuild_tensor_v3 + UntypedStorage for float8*, float4, "
         "uint16/32/64, complex32, bcomplex32, bits*); specials: nan, -nan "
         "payloads, inf, -0.0, subnormals, max/min; all 256 bit patterns for "
         "1-byte floats; non-contiguous float32/bfloat16/uint16/float8")
def make_dtypes():
    rng = seed(0)
    f64 = [1.0, -2.5, 0.0, -0.0, INF, -INF, NAN, 1.7976931348623157e308,
           -1.7976931348623157e308, 2.2250738585072014e-308, 5e-324, -5e-324,
           0.1, 1 / 3]
    f32 = [1.0, -2.5, 0.0, -0.0, INF, -INF, NAN, 3.4028234663852886e38,
           -3.4028234663852886e38, 1.1754943508222875e-38, 1.401298464324817e-45,
           -1.401298464324817e-45, 0.1, 1 / 3]
    f16 = [1.0, -2.5, 0.0, -0.0, INF, -INF, NAN, 65504.0, -65504.0,
           6.103515625e-05, 5.960464477539063e-08, -5.960464477539063e-08, 0.0999755859375]
    bf16 = [1.0, -2.5, 0.0, -0.0, INF, -INF, NAN, 3.3895313892515355e38,
            -3.3895313892515355e38, 1.1754943508222875e-38, 9.183549615799121e-41,
            -9.183549615799121e-41, 0.10009765625]
    every_byte = list(range(256))
    out = {
        "float64": from_bits([f64_bits(v) for v in f64] + [0xFFF8000000000001, 0x7FF0000000000001],
                             np.uint64, torch.float64),
        "float32": from_bits([f32_bits(v) for v in f32] + [0xFFC00001, 0x7F800001],
                             np.uint32, torch.float32),
        "float16": from_bits([f16_bits(v) for v in f16] + [0xFE01, 0x7C01], np.uint16, torch.float16),
        "bfloat16": from_bits([bf16_bits(v) for v in bf16] + [0xFFC1, 0x7F81], np.uint16, torch.bfloat16),
    }
    for name in ["float8_e5m2", "float8_e4m3fn", "float8_e5m2fnuz", "float8_e4m3fnuz",
                 "float8_e8m0fnu", "float4_e2m1fn_x2"]:
        out[name] = from_bits(every_byte, np.uint8, getattr(torch, name))
    out.update({
        "int8": torch.tensor([-128, -1, 0, 1, 127], dtype=torch.int8),
        "int16": torch.tensor([-32768, -1, 0, 1, 1234, 32767], dtype=torch.int16),
        "int32": torch.tensor([-2 ** 31, -1, 0, 1, 123456, 2 ** 31 - 1], dtype=torch.int32),
        "int64": torch.tensor([-2 ** 63, -1, 0, 1, 2 ** 40 + 3, 2 ** 63 - 1], dtype=torch.int64),
        "uint8": torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8),
        "uint16": from_bits([0, 1, 255, 256, 32767, 32768, 65535], np.uint16, torch.uint16),
        "uint32": from_bits([0, 1, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1], np.uint32, torch.uint32),
        "uint64": from_bits([0, 1, 2 ** 32, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1], np.uint64, torch.uint64),
        "bool": torch.tensor([True, False, False, True, True]),
        # complex32 / bcomplex32: pairs (real, imag) of half / bfloat16 bits.
        "complex32": from_bits([f16_bits(v) for v in [1.0, -2.0, -0.0, 0.5, INF, NAN, 65504.0,
                                                      5.960464477539063e-08]],
                               np.uint16, torch.float16).view(torch.complex32),
        "complex64": from_bits([f32_bits(v) for v in [1.0, -2.0, -0.0, 0.5, INF, NAN,
                                                      3.4028234663852886e38, 1.401298464324817e-45]],
                               np.uint32, torch.float32).view(torch.complex64),
        "complex128": from_bits([f64_bits(v) for v in [1.0, -2.0, -0.0, 0.5, INF, NAN,
                                                       1.7976931348623157e308, 5e-324]],
                                np.uint64, torch.float64).view(torch.complex128),
        "bcomplex32": from_bits([bf16_bits(v) for v in [1.0, -2.0, -0.0, 0.5, INF, NAN,
                                                        3.3895313892515355e38, 9.183549615799121e-41]],
                                np.uint16, torch.bfloat16).view(torch.bcomplex32),
        "bits8": from_bits([0, 1, 0x55, 0xAA, 0xFF], np.uint8, torch.bits8),
        "bits16": from_bits([0, 1, 0x1234, 0x8000, 0xFFFF], np.uint16, torch.bits16),
        "bits1x8": from_bits([0b10000001, 0b01111110, 0], np.uint8, torch.bits1x8),
        "bits2x4": from_bits([0b11100100, 0b00011011], np.uint8, torch.bits2x4),
        "bits4x2": from_bits([0x0F, 0xF0, 0x5A], np.uint8, torch.bits4x2),
    })
    f32_cube = torch.from_numpy(rng.standard_normal((3, 4, 5)).astype(np.float32))
    bf16_mat = torch.from_numpy(rng.standard_normal((4, 6)).astype(np.float32)).to(torch.bfloat16)
    u16_cube = torch.from_numpy(rng.integers(0, 65536, (3, 4, 5), dtype=np.uint16))
    f8_mat = from_bits(list(range(0, 240, 10)), np.uint8, torch.float8_e4m3fn).reshape(4, 6)
    out.update({
        "float32_noncontiguous": f32_cube.permute(2, 0, 1)[:, 1:, ::2],
        "bfloat16_noncontiguous": bf16_mat[:, ::2].t(),
        "uint16_noncontiguous": u16_cube[1:, ::2, 1::2],
        "float8_e4m3fn_transposed": f8_mat.t(),
    })
    return out


@fixture("quantized.pth",
         "_rebuild_qtensor: per-tensor qint8/quint8/qint32/quint4x2/quint2x4, "
         "per-channel qint8 (axis 0) and quint8 (axis 1), "
         "per_channel_affine_float_qparams quint8 and quint4x2, a transposed "
         "qint8")
def make_quantized():
    seed(0)
    x = torch.randn(4, 6)
    scales = torch.tensor([0.02, 0.05, 0.01, 0.1], dtype=torch.float64)
    zero_points = torch.tensor([0, -3, 5, 1])
    float_scales = torch.tensor([0.02, 0.05, 0.01, 0.1])
    float_zeros = torch.tensor([0.0, -0.5, 1.0, 0.25])
    qint8 = torch.quantize_per_tensor(x, 0.05, 0, torch.qint8)
    return {
        "qint8_per_tensor": qint8,
        "quint8_per_tensor": torch.quantize_per_tensor(x, 0.04, 128, torch.quint8),
        "qint32_per_tensor": torch.quantize_per_tensor(x, 1e-3, -5, torch.qint32),
        "quint4x2_per_tensor": torch.quantize_per_tensor(x, 0.25, 8, torch.quint4x2),
        "quint2x4_per_tensor": torch.quantize_per_tensor(x, 0.5, 2, torch.quint2x4),
        "qint8_per_channel": torch.quantize_per_channel(x, scales, zero_points, 0, torch.qint8),
        "quint8_per_channel_axis1": torch.quantize_per_channel(
            x, torch.linspace(0.01, 0.06, 6, dtype=torch.float64),
            torch.tensor([100, 110, 120, 128, 140, 150]), 1, torch.quint8),
        "quint8_float_qparams": torch.quantize_per_channel(
            x, float_scales, float_zeros, 0, torch.quint8),
        "quint4x2_float_qparams": torch.quantize_per_channel(
            x, float_scales * 10, float_zeros, 0, torch.quint4x2),
        "qint8_transposed": qint8.t(),
    }


@fixture("sparse.pth",
         "_rebuild_sparse_tensor: COO coalesced, uncoalesced (duplicate "
         "indices), hybrid (dense dim) and empty; CSR (float and int64), CSC, "
         "BSR, BSC")
def make_sparse():
    seed(0)
    dense = torch.randn(4, 6)
    dense[dense.abs() < 0.6] = 0
    dense_int = torch.tensor([[0, 5, 0, 0, -2, 0], [7, 0, 0, 1, 0, 0]])
    return {
        "coo": dense.to_sparse(),
        "coo_uncoalesced": torch.sparse_coo_tensor(
            torch.tensor([[2, 0, 2, 1], [1, 3, 1, 0]]), torch.tensor([1.0, 2.0, 3.0, -4.0]), (3, 4)),
        "coo_hybrid": torch.sparse_coo_tensor(
            torch.tensor([[0, 3]]), torch.tensor([[1.0, 2.0], [3.0, 4.0]]), (5, 2)),
        "coo_empty": torch.sparse_coo_tensor(
            torch.empty(2, 0, dtype=torch.int64), torch.empty(0), (3, 3)),
        "csr": dense.to_sparse_csr(),
        "csr_int64": dense_int.to_sparse_csr(),
        "csc": dense.to_sparse_csc(),
        "bsr": dense.to_sparse_bsr((2, 2)),
        "bsc": dense.to_sparse_bsc((2, 3)),
    }


@fixture("parameters.pth",
         "_rebuild_parameter (requires_grad True and False, int64, bfloat16), "
         "_rebuild_parameter_with_state (Parameter with Python attributes), "
         "plain tensor with requires_grad, Parameters in a list (one shared)")
def make_parameters():
    seed(0)
    weight = nn.Parameter(torch.randn(3, 4))
    annotated = nn.Parameter(torch.randn(2, 2))
    annotated.lr_scale = 0.1
    annotated.note = "tagged"
    return {
        "weight": weight,
        "frozen": nn.Parameter(torch.randn(4), requires_grad=False),
        "annotated": annotated,
        "plain_requires_grad": torch.randn(3).requires_grad_(),
        "int64_param": nn.Parameter(torch.arange(4), requires_grad=False),
        "bfloat16_param": nn.Parameter(torch.randn(3).to(torch.bfloat16)),
        "param_list": [weight, nn.Parameter(torch.randn(2)), nn.Parameter(torch.zeros(0))],
    }


@fixture("extra_state.pth",
         "state_dict with _extra_state keys (get_extra_state returning str, "
         "dict with class labels and config, None, tensor, list), nested as "
         "encoder.layers.0.conv2._extra_state",
         "torch.save(model.state_dict())")
def make_extra_state():
    seed(0)
    model = fc.ExtraStateNet(
        channels=2,
        encoder_extra={
            "class_labels": ["cat", "dog", "bird"],
            "config": {"depth": 2, "dropout": 0.1, "use_bias": True, "activation": None,
                       "kernel": (3, 3)},
        },
        layer_extras=["conv2 of layer 0, v1", None],
        norm_extra=torch.arange(3, dtype=torch.float32),
        head_extra=[1, "two", 3.0, (4, 5)],
    )
    return model.state_dict()


@fixture("values.pth",
         "non-tensor values: int/tuple/float/bool/None dict keys, complex, set, "
         "frozenset, bytes (and b''), bytearray, torch.Size, dtypes, devices, "
         "layouts, qscheme, numpy arrays and scalars, OrderedDict, Counter, "
         "defaultdict, a list referenced twice, empty containers, a custom "
         "object (fixture_classes.OpaqueRecord), a Tensor subclass "
         "(fixture_classes.TaggedTensor, _rebuild_from_type_v2), unicode and "
         "escapes, big ints (LONG1, LONG4), special floats")
def make_values():
    rng = seed(0)
    shared = [1, 2, 3]
    return {
        "int_keys": {0: "zero", 1: "one", -5: "minus five", 2 ** 40: "big key"},
        "tuple_keys": {(1, 2): "a", ("x", 3): "b"},
        "float_keys": {0.5: "half", -1.25: "minus one and a quarter"},
        "bool_keys": {True: "yes", False: "no"},
        "none_key": {None: "nothing"},
        "complex": complex(1.5, -2.0),
        "set": {3, 1, 2},
        "frozenset": frozenset({10, 20}),
        "empty_set": set(),
        "bytes": b"\x00\x01\x02\xff binary",
        "empty_bytes": b"",
        "bytearray": bytearray(b"mutable\x00\x80"),
        "size": torch.Size([2, 3, 4]),
        "empty_size": torch.Size([]),
        "dtype": torch.float16,
        "dtype_uint16": torch.uint16,
        "device_cuda1": torch.device("cuda", 1),
        "device_cpu": torch.device("cpu"),
        "layout_strided": torch.strided,
        "layout_sparse_coo": torch.sparse_coo,
        "qscheme": torch.per_tensor_affine,
        "np_float32_2d": rng.standard_normal((2, 3)).astype(np.float32),
        "np_int64": np.array([-1, 0, 2 ** 40], dtype=np.int64),
        "np_float64_scalar": np.float64(2.5),
        "np_int32_scalar": np.int32(-7),
        "ordered": collections.OrderedDict([("b", 1), ("a", 2.5), ("c", [None])]),
        "counter": collections.Counter("abracadabra"),
        "defaultdict": collections.defaultdict(list, {"x": [1], "y": []}),
        "shared_a": shared,
        "shared_b": shared,
        "empty": {"list": [], "dict": {}, "tuple": (), "nested": [[], {}, [[]], ((),)]},
        "opaque": fc.OpaqueRecord("opaque", 2, ["a", "b"], {"depth": 3}, torch.ones(2)),
        "tagged_tensor": fc.TaggedTensor.tagged(torch.arange(4.0), "hello"),
        "strings": ["", "plain", "ünïcödé", "日本語", "🎉 emoji", "\u05e9\u05dc\u05d5\u05dd",
                    'tab\tnewline\nquote"backslash\\', "nul\x00bell\x07del\x7f", "x" * 300],
        "ints": [0, 1, -1, 255, 256, 65535, 65536, -2 ** 31, 2 ** 31 - 1, 2 ** 31,
                 2 ** 63 - 1, -2 ** 63, 2 ** 64, -2 ** 100, 2 ** 1000, 2 ** 2100, -2 ** 2100],
        "floats": [0.0, -0.0, 1.5, NAN, INF, -INF, 1e-300, 5e-324, 1.7976931348623157e308, 0.1],
        "bools": [True, False],
        "none": None,
    }


@fixture("conj_neg.pth",
         "_rebuild_tensor_v2 with metadata {'conj': True} (complex conj view), "
         "{'neg': True} (.imag of a conj view: stride 2, offset 1), both, and "
         "a transposed conj view")
def make_conj_neg():
    seed(0)
    z = torch.tensor([1 + 2j, -3.5 + 0.25j, -1j], dtype=torch.complex64)
    neg = torch.tensor([1 + 2j, 3 - 4j], dtype=torch.complex64).conj().imag
    both = torch._neg_view(torch.tensor([5 - 6j, 0.5 + 0.5j], dtype=torch.complex64).conj())
    mat = torch.randn(2, 3, dtype=torch.complex128)
    assert z.conj().is_conj() and neg.is_neg() and both.is_conj() and both.is_neg()
    return {
        "conj": z.conj(),
        "neg": neg,
        "conj_neg": both,
        "conj_transposed": mat.t().conj(),
        "resolved": z.conj().resolve_conj(),
    }


@fixture("meta.pth",
         "meta tensors (_rebuild_meta_tensor_no_storage, no storage record): "
         "float32, a view (offset is dropped), uint16, float8, 0-dim, "
         "requires_grad, a meta Parameter, a meta Linear's state_dict, and one "
         "CPU tensor")
def make_meta():
    seed(0)
    return {
        "float32": torch.empty(2, 3, device="meta"),
        "view": torch.empty(4, 4, device="meta")[1:, ::2],
        "uint16": torch.empty(5, dtype=torch.uint16, device="meta"),
        "float8_e4m3fn": torch.empty(2, 2, dtype=torch.float8_e4m3fn, device="meta"),
        "scalar": torch.empty((), device="meta"),
        "requires_grad": torch.empty(3, device="meta", requires_grad=True),
        "parameter": nn.Parameter(torch.empty(3, 2, device="meta")),
        "linear": nn.Linear(3, 2, device="meta").state_dict(),
        "cpu": torch.ones(2),
    }


def save_with_locations(obj, path, location_of=None):
    """torch.serialization._save, with each storage's location string chosen
    by location_of(untyped_storage) (None: the real location).

    Writes the same records in the same order through the same writer, so
    with location_of=None the file is byte-identical to torch.save's.
    """
    from torch.serialization import (
        _get_storage_alignment, get_crc32_options, location_tag, normalize_storage_type)

    keys = {}
    storages = {}

    class LocationPickler(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, torch.storage.TypedStorage):
                untyped = o._untyped_storage
                storage_type = getattr(torch, o._pickle_storage_type())
                numel = o._size()
            elif torch.is_storage(o):
                untyped = o
                storage_type = normalize_storage_type(type(o))
                numel = o.nbytes()
            else:
                return None
            key = keys.setdefault(untyped._cdata, str(len(keys)))
            storages[key] = untyped
            location = location_of(untyped) if location_of else None
            return ("storage", storage_type, key, location or location_tag(untyped), numel)

    buffer = io.BytesIO()
    LocationPickler(buffer, protocol=2).dump(obj)
    data = buffer.getvalue()
    alignment = _get_storage_alignment()
    writer = torch._C.PyTorchFileWriter(path, get_crc32_options(), alignment)
    writer.write_record("data.pkl", data, len(data))
    writer.write_record(".format_version", "1", len("1"))
    writer.write_record(".storage_alignment", str(alignment), len(str(alignment)))
    writer.write_record("byteorder", sys.byteorder, len(sys.byteorder))
    for key, storage in storages.items():
        writer.write_record(f"data/{key}", storage, storage.nbytes())
    writer.write_end_of_file()


def cuda_tagged_object():
    seed(0)
    w0 = torch.randn(3, 2)
    b1 = torch.randn(2)
    return {"w_cuda0": w0, "w_cuda0_row": w0[1], "b_cuda1": b1, "cpu": torch.arange(3)}, \
        {w0.untyped_storage().data_ptr(): "cuda:0", b1.untyped_storage().data_ptr(): "cuda:1"}


@fixture("cuda_tagged.pth",
         "storages located at 'cuda:0' (a tensor and a view of it) and 'cuda:1', "
         "plus one 'cpu'; written without a GPU: same records and writer as "
         "torch.save, location strings changed in the persistent ids. Load "
         "with map_location='cpu'",
         "torch._C.PyTorchFileWriter + pickle.Pickler (as torch.serialization._save)")
def make_cuda_tagged(path):
    import tempfile

    obj, locations = cuda_tagged_object()
    # The writer must match torch.save byte for byte when nothing is retagged.
    with tempfile.TemporaryDirectory() as tmp:
        ours = os.path.join(tmp, "a", os.path.basename(path))
        theirs = os.path.join(tmp, "b", os.path.basename(path))
        os.makedirs(os.path.dirname(ours))
        os.makedirs(os.path.dirname(theirs))
        save_with_locations(obj, ours)
        torch.save(obj, theirs)
        with open(ours, "rb") as a, open(theirs, "rb") as b:
            if a.read() != b.read():
                raise SystemExit("save_with_locations no longer matches torch.save")
    save_with_locations(obj, path, lambda storage: locations.get(storage.data_ptr()))


def protocol_object():
    seed(0)
    return {
        "weight": torch.randn(3, 4),
        "half": torch.randn(3).to(torch.float16),
        "uint16": torch.tensor([1, 65535], dtype=torch.uint16),
        "nested": [[1, 2.5, "three"], (4, [5, None]), {"six": (7,)}],
        "names": ["alpha", "βeta", "ω" * 200],
        "ordered": collections.OrderedDict([("z", 1), ("y", torch.zeros(2)), ("x", "last")]),
        "bytes": b"\x00\x01pickle bytes",
        "long_bytes": bytes(range(256)) + b"tail",
        "bytearray": bytearray(b"array"),
        "set": {1, 2, 3},
        "frozenset": frozenset({4, 5}),
        "big": 2 ** 100,
        "size": torch.Size([3, 4]),
    }


def _protocol_fixture(protocol):
    @fixture(f"proto{protocol}.pth",
             f"the same object (tensors incl. uint16, nested lists, str, OrderedDict, "
             f"short and 260-byte bytes, bytearray, set, frozenset, 2**100, torch.Size) at pickle protocol {protocol}",
             f"torch.save(obj, f, pickle_protocol={protocol})")
    def make(path):
        torch.save(protocol_object(), path, pickle_protocol=protocol)
    return make


for _protocol in (1, 2, 3, 4, 5):
    _protocol_fixture(_protocol)


def prefix_object():
    seed(0)
    return {"weight": torch.randn(2, 3), "bias": torch.zeros(2), "step": 7, "name": "prefix test"}


def _prefix_fixture(name, prefix):
    @fixture(f"prefixes/{name}", f"small dict; zip prefix '{prefix}'", "torch.save(obj, path)")
    def make(path):
        torch.save(prefix_object(), path)
    return make


for _name, _prefix in [("model.tar.gz", "model.tar"), ("noext", "noext"),
                       ("pytorch_model.bin", "pytorch_model"), ("weights.pt", "weights")]:
    _prefix_fixture(_name, _prefix)


@fixture("prefixes/from_stream.pth", "small dict; zip prefix 'archive'",
         "torch.save(obj, io.BytesIO())")
def make_from_stream(path):
    buffer = io.BytesIO()
    torch.save(prefix_object(), buffer)
    with open(path, "wb") as f:
        f.write(buffer.getvalue())


@fixture("scalar_root.pth", "a single 2x3 float32 tensor as the root object",
         "torch.save(tensor)")
def make_scalar_root():
    seed(0)
    return torch.randn(2, 3)


@fixture("list_root.pth",
         "a list of tensors as the root object (one a view of another)",
         "torch.save(list)")
def make_list_root():
    seed(0)
    a = torch.randn(4)
    return [a, a[1:3], torch.arange(3), torch.tensor(True)]


# --------------------------------------------------------------------------


def write_fixture(name, builder, outdir):
    path = os.path.join(outdir, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # A builder either returns the object to torch.save or writes the file itself.
    if builder.__code__.co_argcount == 1:
        builder(path)
    else:
        torch.save(builder(), path)
    return path


def write_readme(outdir):
    lines = [
        "# Checkpoint fixtures",
        "",
        "Written by real PyTorch with `tools/make_fixtures.py` (torch "
        f"{torch.__version__.split('+')[0]}, numpy {np.__version__}); do not edit by hand.",
        "Each `FILE` has `FILE.listing.json` beside it: its listing (see the shared LISTING.md) "
        "from `tools/torch_listing.py`.",
        "Load with `torch.load(f, weights_only=False)` and `PYTHONPATH=tools` "
        "(values.pth names classes of tools/fixture_classes.py); cuda_tagged.pth needs "
        "`map_location='cpu'` on a machine without two GPUs.",
        "",
    ]
    for name, (_, covers, api) in FIXTURES.items():
        lines.append(f"- `{name}`: {covers}. Written by `{api}`.")
    with open(os.path.join(outdir, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def main(argv):
    outdir = argv[0] if argv else os.path.join(os.path.dirname(TOOLS_DIR), "fixtures")
    os.makedirs(outdir, exist_ok=True)
    for name, (builder, _, _) in FIXTURES.items():
        path = write_fixture(name, builder, outdir)
        entries = torch_listing.listing_of_file(path)
        with open(path + ".listing.json", "w", encoding="utf-8", newline="\n") as f:
            torch_listing.write_listing(entries, f)
        print(f"{os.path.getsize(path):8d}  {name}  ({len(entries)} listing entries)")
    write_readme(outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
