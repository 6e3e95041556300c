#!/usr/bin/env python3
"""Write the TorchScript fixtures with real PyTorch, each with its listing.

usage: make_torchscript_fixtures.py [OUTDIR]   (default: fixtures/torchscript/)

Every fixture is a module compiled by torch.jit.script or torch.jit.trace and
written by torch.jit.save; its FILE.listing.json is tools/torch_listing.py's
listing, which for a TorchScript archive is torch.jit.load(FILE).state_dict().
FILE.torchscript.json holds what torch.jit.load says beyond the state_dict:
each module of named_modules(remove_duplicate=False) with its type's
qualified name, training flag, parameter, buffer and child names; which
state_dict entries share a storage; plain
attributes the fixture names (ATTRIBUTES); and the listing of the constants
table (code_with_constants: c0, c1, ...).
OUTDIR/README.md says what each fixture covers.

Deterministic on one machine and checkout: the archives' code/*.debug_pkl
records hold source ranges, which name this script's path; and TorchScript
prints a class's Final constants in the order of a Python set, so the script
runs itself with PYTHONHASHSEED=0.
"""
import os
import sys

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
if TOOLS_DIR not in sys.path:
    sys.path.insert(0, TOOLS_DIR)

import json
import warnings
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

import torch_listing

torch.set_num_threads(1)
# torch.jit.script / trace / save warn that they are deprecated.
warnings.filterwarnings("ignore")

# name -> (builder, what it covers, how it was compiled)
FIXTURES = {}


def fixture(name, covers, api):
    def register(builder):
        FIXTURES[name] = (builder, covers, api)
        return builder
    return register


# --------------------------------------------------------------------------
# Modules


class Inner(nn.Module):
    """A parameter that is None, int8 and bfloat16 buffers, a non-persistent
    buffer (TorchScript's state_dict() lists it), plain attributes."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3, 2)
        self.register_parameter("gate", None)
        self.register_buffer("codes", torch.tensor([-128, -1, 0, 127], dtype=torch.int8))
        self.register_buffer("scale", torch.tensor([0.5, -2.0, 3.0], dtype=torch.bfloat16))
        self.register_buffer("scratch", torch.full((2,), 7.0), persistent=False)
        self.register_buffer("absent", None)
        self.factor = 2.5
        self.sizes: List[int] = [1, 2, 300]
        self.names: Dict[str, int] = {"a": 1, "b": 2}
        self.pair: Tuple[int, str] = (4, "four")
        self.plain = torch.arange(3.0)   # a tensor attribute, neither parameter nor buffer

    def forward(self, x):
        return self.proj(x) * self.factor + self.plain[:2] + self.scratch


class Scripted(nn.Module):
    """Nested submodules, a ModuleList, BatchNorm1d running stats, a Sequential."""

    def __init__(self):
        super().__init__()
        self.register_buffer("step", torch.tensor(3))   # a buffer registered before the parameter
        self.bias = nn.Parameter(torch.randn(2))
        self.inner = Inner()
        self.layers = nn.ModuleList([nn.Linear(2, 2), nn.BatchNorm1d(2), nn.Linear(2, 2, bias=False)])
        self.head = nn.Sequential(nn.ReLU(), nn.Sequential(nn.Linear(2, 1)))

    def forward(self, x):
        x = self.inner(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(x + self.bias)


class Tied(nn.Module):
    """A weight tied between two Linears, a submodule assigned under two
    names, and two parameters that view one storage."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(4, 4, bias=False)
        self.decoder = nn.Linear(4, 4)
        self.decoder.weight = self.encoder.weight
        shared = nn.Linear(4, 2)
        self.left = shared
        self.right = shared
        base = torch.randn(10)
        self.low = nn.Parameter(base[0:4])
        self.high = nn.Parameter(base[4:10].view(2, 3))

    def forward(self, x):
        y = self.decoder(self.encoder(x) + self.low)
        return self.left(y) + self.right(y) + self.high.sum()


class Attributes(nn.Module):
    """Quantized buffers and an attribute of each kind TorchScript's pickler writes."""

    def __init__(self):
        super().__init__()
        self.register_buffer("q", torch.quantize_per_tensor(torch.tensor([0.5, 1.0, -1.0]), 0.1, 3, torch.qint8))
        self.register_buffer("qc", torch.quantize_per_channel(
            torch.tensor([[0.1, 0.2], [0.3, 0.4]]), torch.tensor([0.1, 0.2], dtype=torch.float64),
            torch.tensor([0, 1]), 0, torch.quint8))
        self.register_buffer("offset", torch.zeros(1))
        self.big = 2 ** 40
        self.negative = -70000
        self.z = 1 + 2j
        self.device = torch.device("cpu")
        self.words: List[str] = ["a", "b", "a"]
        self.floats: List[float] = [1.0, -2.5]
        self.flags: List[bool] = [True, False]
        self.tensors: List[torch.Tensor] = [torch.ones(1), torch.arange(2.0)]
        self.nested: Dict[str, List[int]] = {"x": [1, 2], "y": []}
        self.empty: Tuple[()] = ()
        self.five = (1, 2, 3, 4, 5)
        self.maybe: Optional[int] = None

    def forward(self, x):
        return x + self.offset


class Anchors(nn.Module):
    """Buffers named "0" and "1", like detectron2's BufferList."""

    def __init__(self):
        super().__init__()
        self.register_buffer("0", torch.tensor([[-1.0, -1.0, 1.0, 1.0]]))
        self.register_buffer("1", torch.tensor([[-2.0, -1.0, 2.0, 1.0], [-1.0, -2.0, 1.0, 2.0]]))

    def forward(self, x):
        return x


class Unnamed(nn.Module):
    """Attributes whose names are no Python identifiers, first in their class:
    TorchScript prints `__annotations__ = []` before `__annotations__["0"] = T`
    (the form many torch 1.x archives show); a Sequential's ("0", "1", "2"),
    after `training`, without it."""

    def __init__(self):
        super().__init__()
        self.register_parameter("0", nn.Parameter(torch.arange(2.0, dtype=torch.float64)))
        self.anchors = Anchors()
        self.mlp = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))

    def forward(self, x):
        return self.mlp(x)


class Quantized(nn.Module):
    """Eager-mode quantization, converted: Quantize, ConvReLU2d, Conv2d without
    bias, Linear (LinearPackedParams), DeQuantize."""

    def __init__(self):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.conv = nn.Conv2d(2, 3, 3)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(3, 2, 1, bias=False)
        self.fc = nn.Linear(8, 2)
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x):
        x = self.conv2(self.relu(self.conv(self.quant(x))))
        return self.dequant(self.fc(x.flatten(1)))


# Tensors that become CONSTANTS when traced: two views of one tensor and one on its own.
TABLE = torch.linspace(-1.0, 1.0, 6)
OFFSETS = TABLE[0:2]
WEIGHTS = TABLE[2:6].view(2, 2)
MASK = torch.tensor([True, False])


class Traced(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
        self.out = nn.Linear(2, 2)

    def forward(self, x):
        y = self.body(x) + OFFSETS
        y = y @ WEIGHTS
        # gelu(approximate=) raises the archive's produced version to 10 (written as .data/version).
        return self.out(F.gelu(y, approximate="tanh")) * MASK


# --------------------------------------------------------------------------
# Fixtures


@fixture("scripted.pt",
         "torch.jit.script: nested submodules (Inner > Linear), ModuleList [Linear, BatchNorm1d, "
         "Linear without bias], Sequential in Sequential, BatchNorm running_mean/running_var/"
         "num_batches_tracked, a None parameter and a None buffer (skipped), int8 and bfloat16 "
         "buffers, a non-persistent buffer (listed by TorchScript), a buffer registered before a "
         "parameter, plain attributes (float, List[int], Dict[str, int], Tuple, a tensor that is "
         "no parameter or buffer); empty constants.pkl, `version` 3",
         "torch.jit.save(torch.jit.script(module))")
def make_scripted():
    torch.manual_seed(0)
    model = Scripted()
    with torch.no_grad():
        model.train()
        model(torch.randn(4, 3))   # moves the BatchNorm running stats
    model.eval()
    return torch.jit.script(model)


@fixture("traced.pt",
         "torch.jit.trace: Sequential [Linear, BatchNorm1d], tensor constants in constants.pkl "
         "(CONSTANTS.c0.. in constants/N: two views of one tensor and a bool tensor), "
         "traced_inputs.pkl, `.data/version` 10",
         "torch.jit.save(torch.jit.trace(module, example))")
def make_traced():
    torch.manual_seed(1)
    model = Traced().eval()
    return torch.jit.trace(model, torch.randn(4, 3))


@fixture("tied.pt",
         "torch.jit.script: a tied weight (one Parameter in two submodules: one tensor, the "
         "second a memo reference), a submodule assigned under two names (TorchScript writes two "
         "objects of one type that hold the same tensors; both listed), two parameters viewing one "
         "storage (offset, reshaped)",
         "torch.jit.save(torch.jit.script(module))")
def make_tied():
    torch.manual_seed(2)
    return torch.jit.script(Tied())


@fixture("attributes.pt",
         "torch.jit.script: quantized buffers (per-tensor qint8; per-channel quint8 with float64 "
         "scales: _rebuild_qtensor), attributes of each kind TorchScript's pickler writes (int "
         "beyond 32 bits, negative int, complex, device, List[str] with a repeated string, "
         "List[float], List[bool], List[Tensor], Dict[str, List[int]], (), a 5-tuple, None)",
         "torch.jit.save(torch.jit.script(module))")
def make_attributes():
    torch.manual_seed(3)
    return torch.jit.script(Attributes())


@fixture("unnamed.pt",
         "torch.jit.script: a parameter named \"0\" and buffers named \"0\" and \"1\", first in their "
         "classes, which TorchScript declares with `__annotations__ = []` and then "
         "`__annotations__[\"0\"] = Tensor` (the form of many torch 1.x archives); a Sequential's "
         "`__annotations__[\"0\"]` after `training`, without it",
         "torch.jit.save(torch.jit.script(module))")
def make_unnamed():
    torch.manual_seed(4)
    return torch.jit.script(Unnamed())


@fixture("quantized.pt",
         "torch.ao.quantization (prepare, calibrate, convert), then torch.jit.script: ConvReLU2d and "
         "Conv2d without bias, whose objects the pickle holds as their __getstate__ 15-tuple (int8 "
         "per-channel weight, bias or None, scale, zero_point, training…) and torch.jit.load restores "
         "with __setstate__ (no state_dict entries); Linear with LinearPackedParams, holding a "
         "custom C++ class object (LinearPackedParamsBase) with a tuple state; Quantize's scale and "
         "zero_point buffers (the state_dict)",
         "torch.jit.save(torch.jit.script(torch.ao.quantization.convert(module)))")
def make_quantized():
    quantization = torch.ao.quantization
    torch.manual_seed(5)
    engines = torch.backends.quantized.supported_engines
    torch.backends.quantized.engine = next(e for e in ("x86", "fbgemm", "qnnpack") if e in engines)
    model = Quantized().eval()
    model.qconfig = quantization.get_default_qconfig(torch.backends.quantized.engine)
    quantization.fuse_modules(model, [["conv", "relu"]], inplace=True)
    quantization.prepare(model, inplace=True)
    with torch.no_grad():
        model(torch.randn(4, 2, 4, 4))   # calibrates the observers
    quantization.convert(model, inplace=True)
    return torch.jit.script(model)


# --------------------------------------------------------------------------


# Plain attributes whose values torch.jit.load gives, by fixture: dotted names.
ATTRIBUTES = {
    "scripted.pt": ["inner.factor", "inner.sizes", "inner.names", "inner.pair", "training", "inner.training"],
    "attributes.pt": ["big", "negative", "words", "floats", "flags", "five"],
    # Slots __setstate__ fills from the state tuple.
    "quantized.pt": ["conv.in_channels", "conv.kernel_size", "conv.padding_mode", "conv.scale", "conv.zero_point",
                     "conv.training", "conv2.groups", "conv2.dilation", "fc.scale"],
}


def attribute(module, dotted):
    for step in dotted.split("."):
        module = getattr(module, step)
    return module


def torchscript_facts(path):
    """The module tree and constants as torch.jit.load gives them."""
    module = torch.jit.load(path, map_location="cpu")
    state_dict = module.state_dict()
    storages = {}
    for t in state_dict.values():
        storages.setdefault(t.untyped_storage().data_ptr(), len(storages))
    modules = []
    for name, m in module.named_modules(remove_duplicate=False):
        modules.append({
            "name": name,
            "type": m._c._type().qualified_name(),
            "training": bool(m.training),
            "parameters": [n for n, _ in m.named_parameters(recurse=False)],
            "buffers": [n for n, _ in m.named_buffers(recurse=False)],
            "children": [n for n, _ in m.named_children()],
        })
    constants = dict(module.code_with_constants[1].const_mapping)
    return {
        "modules": modules,
        # state_dict name -> the index of its storage, in first-seen order.
        "storage_groups": {name: storages[t.untyped_storage().data_ptr()] for name, t in state_dict.items()},
        "attributes": {name: attribute(module, name) for name in ATTRIBUTES.get(os.path.basename(path), [])},
        "constants": torch_listing.listing(constants),
    }


def write_readme(outdir):
    lines = [
        "# TorchScript fixtures",
        "",
        f"Written by real PyTorch with `tools/make_torchscript_fixtures.py` (torch {torch.__version__}); "
        "do not edit by hand.",
        "Each `FILE` has `FILE.listing.json` beside it: its listing from `tools/torch_listing.py`, "
        "which for a TorchScript archive is `torch.jit.load(FILE).state_dict()` (LISTING.md); "
        "and `FILE.torchscript.json`: each module of `named_modules(remove_duplicate=False)` with its "
        "type, training flag, parameter, buffer and child names; the storage each state_dict entry "
        "views (by first use); some plain attributes' values; and the listing of the constants table.",
        "",
    ]
    for name, (_, covers, api) in FIXTURES.items():
        lines.append(f"- `{name}`: {covers}. Written by `{api}`.")
    with open(os.path.join(outdir, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def main(argv):
    outdir = argv[0] if argv else os.path.join(os.path.dirname(TOOLS_DIR), "fixtures", "torchscript")
    os.makedirs(outdir, exist_ok=True)
    for name, (builder, _, _) in FIXTURES.items():
        path = os.path.join(outdir, name)
        torch.jit.save(builder(), path)
        entries = torch_listing.listing_of_file(path)
        with open(path + ".listing.json", "w", encoding="utf-8", newline="\n") as f:
            torch_listing.write_listing(entries, f)
        with open(path + ".torchscript.json", "w", encoding="utf-8", newline="\n") as f:
            json.dump(torchscript_facts(path), f, indent=1)
            f.write("\n")
        print(f"{os.path.getsize(path):8d}  {name}  ({len(entries)} listing entries)")
    write_readme(outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
