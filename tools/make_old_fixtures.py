#!/usr/bin/env python3
"""Write the fixtures of PyTorch's pre-1.6 formats, each with its listing.

usage: make_old_fixtures.py [FIXTURES_DIR]   (default: fixtures/ beside tools/)
       make_old_fixtures.py --check-swift-written DIR
           torch.load each legacy file the Swift tests left in DIR (run them with
           PTH_LEGACY_OUT=DIR) and compare its listing with the fixture FILE.ref names

Writes FIXTURES_DIR/legacy/ (the legacy pickle format of PyTorch < 1.6, which
torch.save still writes with _use_new_zipfile_serialization=False) and
FIXTURES_DIR/tar/ (the tar format of PyTorch 0.1, which no PyTorch since 0.2
writes). Each fixture gets FILE.listing.json from tools/torch_listing.py, that
is from real torch.load; every file is loaded by torch before it is kept.

- Files torch.save writes itself are written by torch.save. Their storage
  keys are memory addresses (str(storage._cdata)), so those bytes differ from
  run to run; everything else is deterministic.
- Files no current torch writes are built here, following the writer of the
  PyTorch version that wrote them (torch/serialization.py of 0.1 for tar,
  of 0.3/0.4 for view metadata and Python 2 strings) and the reading code of
  torch 2.15's _legacy_load, with deterministic address-like keys. Python 2
  is not available, so "Python 2" files are Python 3 pickles whose str values
  are written as Python 2 wrote str (SHORT_BINSTRING / BINSTRING); the rest
  (memo, containers) is what Python 3's pickler writes.
- legacy/swift_built/: object trees the Swift tests build (spec as in
  tools/make_swift_built.py), torch.save'd in the legacy format, with the
  storage keys torch chose in the order the pickler met them (NAME.keys.json),
  so the Swift side can use the same keys and compare bytes.

Needs torch and numpy (the .venv).
"""
import collections
import io
import json
import os
import pickle
import random
import struct
import sys
import tarfile
import warnings

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
if TOOLS_DIR not in sys.path:
    sys.path.insert(0, TOOLS_DIR)

import torch
from torch import nn

import make_swift_built
import torch_listing

torch.set_num_threads(1)
warnings.filterwarnings("ignore")

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001


def seed(n=0):
    torch.manual_seed(n)


def legacy_save(obj, path, protocol=2):
    torch.save(obj, path, _use_new_zipfile_serialization=False, pickle_protocol=protocol)


def check_loads(path, expected, **load_args):
    """torch.load gives back what was saved (same listing)."""
    loaded = torch.load(path, map_location="cpu", weights_only=False, **load_args)
    assert torch_listing.listing(loaded) == torch_listing.listing(expected), path
    return loaded


def write_listing(path, suffix=".listing.json", **load_args):
    if load_args:
        entries = torch_listing.listing(torch.load(path, map_location="cpu", weights_only=False, **load_args))
    else:
        entries = torch_listing.listing_of_file(path)
    with open(path + suffix, "w", encoding="utf-8", newline="\n") as out:
        torch_listing.write_listing(entries, out)


# --------------------------------------------------------------------------
# Written by torch.save(..., _use_new_zipfile_serialization=False)


def small_net():
    seed(1)
    return nn.Sequential(collections.OrderedDict([
        ("conv", nn.Conv2d(1, 2, 3)),
        ("bn", nn.BatchNorm2d(2)),
        ("fc", nn.Linear(8, 3)),
    ]))


def state_dict():
    return small_net().state_dict()


def training_checkpoint():
    net = small_net()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    seed(2)
    x = torch.randn(4, 1, 4, 4)
    for _ in range(2):
        opt.zero_grad()
        out = net.fc(net.bn(net.conv(x)).flatten(1))
        out.pow(2).mean().backward()
        opt.step()
    return {"epoch": 2, "model_state_dict": net.state_dict(), "optimizer_state_dict": opt.state_dict(),
            "loss": 0.125, "note": "saved with _use_new_zipfile_serialization=False"}


def views_and_tied():
    seed(3)
    emb = nn.Parameter(torch.randn(5, 4))
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    return collections.OrderedDict([
        ("embedding.weight", emb),
        ("decoder.weight", emb),                 # tied: the same Parameter twice
        ("base", base),
        ("row", base[1]),                        # a view: offset 6
        ("column", base[:, 2]),                  # strided view
        ("transposed", base.t()),
        ("narrow", base.narrow(1, 1, 3)),
        ("other_storage", torch.ones(3, dtype=torch.int64)),
        ("empty", torch.empty(0, 3)),
        ("scalar", torch.tensor(2.5)),
    ])


def dtypes():
    seed(4)
    values = torch.randn(6)
    d = collections.OrderedDict()
    for name in ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8",
                 "bool", "complex64", "complex128"]:
        dt = getattr(torch, name)
        if dt.is_complex:
            d[name] = torch.complex(values, -values).to(dt)
        elif dt == torch.bool:
            d[name] = values > 0
        elif dt.is_floating_point:
            d[name] = values.to(dt)
        else:
            d[name] = (values * 50).to(dt)
    d["qint8"] = torch.quantize_per_tensor(values, 0.05, 3, torch.qint8)
    d["quint8"] = torch.quantize_per_tensor(values, 0.1, 128, torch.quint8)
    return d


def protocol_checkpoint():
    seed(5)
    return {"weight": torch.randn(3, 2), "bias": torch.zeros(3), "name": "protocol", "step": 7,
            "pair": (1.5, "x"), "big": 2 ** 80}


def big_endian_sys_info(path):
    """What a big-endian machine writes: sys_info says so, storages stay little-endian."""
    buf = io.BytesIO()
    obj = {"weight": torch.arange(6, dtype=torch.float32).reshape(2, 3), "ids": torch.arange(3, dtype=torch.int64)}
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    data = bytearray(buf.getvalue())
    f = io.BytesIO(bytes(data))
    pickle.load(f)
    pickle.load(f)
    start = f.tell()
    info = pickle.load(f)
    end = f.tell()
    assert info["little_endian"] is True
    info["little_endian"] = False
    patched = pickle.dumps(info, protocol=2)
    assert len(patched) == end - start
    data[start:end] = patched
    with open(path, "wb") as out:
        out.write(data)
    return obj


# --------------------------------------------------------------------------
# Built here: a legacy writer following torch's _legacy_save, with the
# freedoms older PyTorch had (Python 2 str, storage views)


class FakeStorage:
    """A storage as the legacy persistent id names it (torch 0.3: `_root_storage()`)."""

    def __init__(self, root, root_key, view=None):
        self.root = root                  # a TypedStorage holding the root's data
        self.root_key = root_key
        self.view = view                  # (view_key, offset, size) or None


class FakeTensor:
    """A tensor pickled as torch 0.4 did: _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks).

    torch 0.4 pickled tensor._backward_hooks, which is None for a tensor without
    hooks (hooks_none); torch 1.0 and later write an empty OrderedDict."""

    def __init__(self, storage, offset, size, stride, hooks_none=False):
        hooks = None if hooks_none else collections.OrderedDict()
        self.args = (storage, offset, tuple(size), tuple(stride), False, hooks)

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


def address(n):
    """A deterministic key that looks like str(storage._cdata)."""
    return str(94_000_000_000_000 + 4096 * n)


class LegacyPickler(pickle._Pickler):
    """torch's legacy persistent_id; optionally writes str as Python 2 str."""

    def __init__(self, f, protocol, keys, py2_encoding=None, memo_base=0):
        super().__init__(f, protocol=protocol)
        self.memo_base = memo_base         # 1: memo slots numbered as Python 2's cPickle numbers them
        self.keys = keys                   # storage identity -> key, shared across pickles
        self.roots = keys.setdefault("__roots__", {})
        self.py2_encoding = py2_encoding
        if py2_encoding is not None:
            self.dispatch = dict(pickle._Pickler.dispatch)
            self.dispatch[str] = LegacyPickler.save_py2_str

    # cPickle (Python 2) numbers memo slots from 1 (cPickle.c, put2: "Make sure
    # memo keys are positive!"); pickle.py, and Python 3, from 0.
    def put(self, idx):
        return super().put(idx + self.memo_base)

    def get(self, i):
        return super().get(i + self.memo_base)

    def save_py2_str(self, obj):
        raw = obj.encode(self.py2_encoding)
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            root = obj.root
            self.roots[obj.root_key] = root
            storage_type = getattr(torch, root._pickle_storage_type())
            view = None
            if obj.view is not None:
                view = ("".join(obj.view[0]), obj.view[1], obj.view[2])
            # str(...) makes a new key string at every reference, as torch does; 'storage' and 'cpu' are constants.
            return ("storage", storage_type, "".join(obj.root_key), "cpu", root._size(), view)
        if isinstance(obj, torch.storage.TypedStorage):
            untyped = obj._untyped_storage
            key = self.keys.setdefault(untyped._cdata, address(len(self.keys)))
            self.roots[key] = obj
            return ("storage", getattr(torch, obj._pickle_storage_type()), "".join(key), "cpu", obj._size(), None)
        return None


def storage_bytes(typed):
    untyped = typed._untyped_storage
    return torch.empty(0, dtype=torch.uint8).set_(untyped, 0, (untyped.nbytes(),), (1,)).numpy().tobytes()


def hand_built_legacy(path, obj, protocol=2, py2_encoding=None, memo_base=0):
    keys = {}
    out = io.BytesIO()

    def dump(value):
        LegacyPickler(out, protocol, keys, py2_encoding, memo_base).dump(value)

    dump(MAGIC_NUMBER)
    dump(PROTOCOL_VERSION)
    dump({"protocol_version": PROTOCOL_VERSION, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}})
    dump(obj)
    roots = keys["__roots__"]
    ordered = sorted(roots)
    dump(ordered)
    for key in ordered:
        typed = roots[key]
        out.write(struct.pack("<q", typed._size()))
        out.write(storage_bytes(typed))
    with open(path, "wb") as f:
        f.write(out.getvalue())


def py2_objects():
    seed(6)
    return {
        "epoch": 12,
        "arch": "resnet-tiny",
        "state_dict": {"fc.weight": torch.randn(2, 3), "fc.bias": torch.zeros(2), "bn.num_batches_tracked": torch.tensor(5)},
        "best_prec1": 71.25,
        "tags": ["a", "bb", ""],
    }


class Py2OrderedDict:
    """An OrderedDict as Python 2.7 pickles it (collections.py, __reduce__):
    OrderedDict([[key, value], ...]), its instance attributes (a state dict's
    _metadata) set by BUILD."""

    def __init__(self, items, attributes=None):
        self.items, self.attributes = items, attributes

    def __reduce__(self):
        items = [[k, v] for k, v in self.items]
        if self.attributes:
            return (collections.OrderedDict, (items,), self.attributes)
        return (collections.OrderedDict, (items,))


def python2_cpickle(path):
    """A state dict as torch 0.4 saved it under Python 2.7: cPickle numbers the
    memo from 1, str keys are Python 2 str, tensors pickle None as their
    backward hooks, OrderedDicts reduce to OrderedDict([[k, v], ...])."""
    seed(13)
    weight = torch.randn(3, 2)
    bias = torch.randn(3)
    running = torch.arange(3, dtype=torch.float32)
    count = torch.tensor(7)
    tensors = []
    for n, t in enumerate((weight, bias, running, count)):
        typed = torch.storage.TypedStorage(wrap_storage=t.clone().untyped_storage(), dtype=t.dtype, _internal=True)
        tensors.append(FakeTensor(FakeStorage(typed, address(n)), 0, t.shape, t.stride(), hooks_none=True))
    metadata = Py2OrderedDict([("", {"version": 1}), ("fc", {"version": 1}), ("bn", {"version": 1})])
    obj = Py2OrderedDict([("fc.weight", tensors[0]), ("fc.bias", tensors[1]), ("bn.running_mean", tensors[2]),
                          ("bn.num_batches_tracked", tensors[3])], {"_metadata": metadata})
    hand_built_legacy(path, obj, py2_encoding="ascii", memo_base=1)
    expected = collections.OrderedDict([("fc.weight", weight), ("fc.bias", bias), ("bn.running_mean", running),
                                        ("bn.num_batches_tracked", count)])
    loaded = check_loads(path, expected)
    assert loaded._metadata == {"": {"version": 1}, "fc": {"version": 1}, "bn": {"version": 1}}, loaded._metadata
    return expected


def py2_latin1_objects():
    seed(7)
    return {"caf\u00e9": torch.randn(3), "label": "na\u00efve \u00e0 la carte", "plain": torch.ones(2, dtype=torch.int32)}


def old_views(path):
    """Storage views as torch 0.3 wrote them: ('storage', cls, root_key, 'cpu', root_numel, (view_key, offset, size))."""
    seed(8)
    root = torch.arange(10, dtype=torch.float32).untyped_storage()
    root_typed = torch.storage.TypedStorage(wrap_storage=root, dtype=torch.float32, _internal=True)
    other = torch.storage.TypedStorage(wrap_storage=(torch.arange(4, dtype=torch.int64) * 7).untyped_storage(),
                                       dtype=torch.int64, _internal=True)
    whole = FakeStorage(root_typed, address(0))
    tail = FakeStorage(root_typed, address(0), (address(1), 4, 6))
    middle = FakeStorage(root_typed, address(0), (address(2), 2, 5))
    plain = FakeStorage(other, address(3))
    obj = collections.OrderedDict([
        ("whole", FakeTensor(whole, 0, [10], [1])),
        ("tail", FakeTensor(tail, 0, [2, 3], [3, 1])),          # elements 4..9
        ("tail_strided", FakeTensor(tail, 1, [3], [2])),         # elements 5, 7, 9
        ("middle", FakeTensor(middle, 1, [4], [1])),             # elements 3..6
        ("ints", FakeTensor(plain, 0, [4], [1])),
    ])
    hand_built_legacy(path, obj)
    expected = collections.OrderedDict([
        ("whole", torch.arange(10, dtype=torch.float32)),
        ("tail", torch.arange(4, 10, dtype=torch.float32).reshape(2, 3)),
        ("tail_strided", torch.tensor([5.0, 7.0, 9.0])),
        ("middle", torch.arange(3, 7, dtype=torch.float32)),
        ("ints", torch.arange(4, dtype=torch.int64) * 7),
    ])
    loaded = torch.load(path, weights_only=False)
    for k, v in expected.items():
        assert torch.equal(loaded[k], v), (k, loaded[k], v)
    # The views share the root's memory in torch, as they did when saved.
    assert loaded["tail"].untyped_storage().data_ptr() == loaded["whole"].untyped_storage().data_ptr() + 16
    return expected


# --------------------------------------------------------------------------
# The tar format of PyTorch 0.1 (torch/serialization.py of 0.1.12: _save)


class TarTensor:
    def __init__(self, key, storage_key, tensor_type, size, stride, offset, padding=b"\0\0\0\0"):
        self.key, self.storage_key, self.tensor_type = key, storage_key, tensor_type
        self.size, self.stride, self.offset, self.padding = size, stride, offset, padding


class TarStorage:
    def __init__(self, key, storage_type, data, numel):
        self.key, self.storage_type, self.data, self.numel = key, storage_type, data, numel


def tar_save(path, obj, tensors, storages, views, mtime):
    """_save of 0.1: members sys_info, pickle, tensors, storages (PAX format)."""

    def persistent_id(o):
        if isinstance(o, (TarTensor, TarStorage)):
            return str(o.key)
        return None

    def dumps(value):
        return pickle.dumps(value, protocol=2)

    sys_info = dumps(dict(protocol_version=1000, little_endian=True, type_sizes=dict(short=2, int=4, long=4)))

    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=2)
    p.persistent_id = persistent_id
    p.dump(obj)
    pickled = buf.getvalue()

    t = io.BytesIO()
    t.write(dumps(len(tensors)))
    for tensor in tensors:
        t.write(dumps((tensor.key, tensor.storage_key, tensor.tensor_type)))
        # writeMetadataRaw: nDimension (an int) written as a long, then sizes, strides, offset.
        t.write(struct.pack("<i", len(tensor.size)) + tensor.padding)
        t.write(struct.pack(f"<{len(tensor.size)}q", *tensor.size))
        t.write(struct.pack(f"<{len(tensor.stride)}q", *tensor.stride))
        t.write(struct.pack("<q", tensor.offset))

    s = io.BytesIO()
    s.write(dumps(len(storages)))
    for storage in storages:
        s.write(dumps((storage.key, "cpu", storage.storage_type)))
        s.write(struct.pack("<q", storage.numel))
        s.write(storage.data)
    s.write(dumps(views))

    with open(path, "wb") as f, tarfile.open(fileobj=f, mode="w:", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("sys_info", sys_info), ("pickle", pickled), ("tensors", t.getvalue()), ("storages", s.getvalue())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = mtime          # a float (os.stat's) makes Python 3 add a PAX header
            info.mode = 0o600           # NamedTemporaryFile's mode
            info.uid = info.gid = 1000
            info.uname = info.gname = "torch"
            tar.addfile(info, io.BytesIO(data))


def le_bytes(tensor):
    return tensor.contiguous().view(torch.uint8).numpy().tobytes()


def tar_state_dict(path):
    """A 0.1-era state dict: an OrderedDict of tensors, one storage each."""
    seed(9)
    w = torch.randn(3, 4)
    b = torch.randn(3)
    rm = torch.zeros(3)
    storages = [TarStorage(140_000_000_000 + 64 * i, torch.FloatStorage, le_bytes(t), t.numel())
                for i, t in enumerate([w, b, rm])]
    tensors = [TarTensor(140_100_000_000 + 64 * i, s.key, torch.FloatTensor, list(t.shape), list(t.stride()), 0)
               for i, (s, t) in enumerate(zip(storages, [w, b, rm]))]
    obj = collections.OrderedDict([("fc.weight", tensors[0]), ("fc.bias", tensors[1]), ("bn.running_mean", tensors[2])])
    tar_save(path, obj, tensors, storages, [], mtime=1487000000)
    expected = collections.OrderedDict([("fc.weight", w), ("fc.bias", b), ("bn.running_mean", rm)])
    check_loads(path, expected)
    return expected


def tar_views(path):
    """Storage views, a shared tensor, a storage saved on its own, odd strides, garbage padding, PAX headers."""
    seed(10)
    root = torch.arange(12, dtype=torch.float64)
    ids = torch.tensor([3, 1, 4, 1, 5], dtype=torch.int64)
    mask = torch.tensor([1, 0, 1, 1], dtype=torch.uint8)
    s_root = TarStorage(140_200_000_000, torch.DoubleStorage, le_bytes(root), 12)
    s_ids = TarStorage(140_200_000_064, torch.LongStorage, le_bytes(ids), 5)
    s_mask = TarStorage(140_200_000_128, torch.ByteStorage, le_bytes(mask), 4)
    view_key = 140_200_000_192          # a view of root: elements 2..9
    views = [(view_key, s_root.key, 2, 8)]
    t_matrix = TarTensor(140_300_000_000, s_root.key, torch.DoubleTensor, [3, 4], [4, 1], 0)
    t_view = TarTensor(140_300_000_064, view_key, torch.DoubleTensor, [2, 2], [1, 4], 1, padding=b"\xde\xad\xbe\xef")
    t_ids = TarTensor(140_300_000_128, s_ids.key, torch.LongTensor, [5], [1], 0, padding=b"\x7f\x00\x00\x00")
    t_mask = TarTensor(140_300_000_192, s_mask.key, torch.ByteTensor, [2, 2], [2, 1], 0)
    storage_only = TarStorage(s_mask.key, torch.ByteStorage, None, 4)   # the same storage, referenced on its own
    obj = {
        "matrix": t_matrix,
        "view": t_view,
        "again": t_matrix,                   # the same tensor twice
        "list": [t_ids, t_mask, "text", 3],
        "raw_storage": storage_only,
    }
    tar_save(path, obj, [t_matrix, t_view, t_ids, t_mask], [s_root, s_ids, s_mask], views, mtime=1489000000.25)
    view_values = root.as_strided([2, 2], [1, 4], 3)   # the view starts at element 2, the tensor 1 further
    expected = {"matrix": root.reshape(3, 4), "view": view_values, "again": root.reshape(3, 4),
                "list": [ids, mask.reshape(2, 2), "text", 3]}
    loaded = torch.load(path, weights_only=False)
    for k in ("matrix", "view", "again"):
        assert torch.equal(loaded[k], expected[k]), k
    assert loaded["again"] is loaded["matrix"]
    assert torch.equal(loaded["list"][0], ids) and torch.equal(loaded["list"][1], mask.reshape(2, 2))
    assert loaded["view"].untyped_storage().data_ptr() == loaded["matrix"].untyped_storage().data_ptr() + 16
    assert bytes(loaded["raw_storage"]) == le_bytes(mask)
    return loaded


# --------------------------------------------------------------------------


def legacy_keys_in_order(path):
    """The storage keys of a legacy file, in the order its object pickle first names them."""
    order = []

    class Keys(pickle.Unpickler):
        def find_class(self, module, name):
            if "Storage" in name:
                return torch.serialization.StorageType(name)
            return super().find_class(module, name)

        def persistent_load(self, pid):
            _, storage_type, key, _, numel, _ = pid
            if key not in order:
                order.append(key)
            return torch.storage.TypedStorage(wrap_storage=torch.UntypedStorage(numel * torch._utils._element_size(storage_type.dtype)),
                                              dtype=storage_type.dtype, _internal=True)

    with open(path, "rb") as f:
        for _ in range(3):
            pickle.load(f)
        Keys(f).load()
    return order


SWIFT_BUILT_DTYPES = ["float32", "float16", "bfloat16", "float64", "int64", "int32", "int8", "uint8", "bool", "complex64"]


def swift_built(directory, counts=(1, 10)):
    os.makedirs(directory, exist_ok=True)
    make_swift_built.DTYPES = SWIFT_BUILT_DTYPES   # dtypes the legacy format can hold (no UntypedStorage)
    for count in counts:
        spec = make_swift_built.spec_for(count, random.Random(1000 + count))
        name = f"sd_{count}"
        with open(os.path.join(directory, name + ".json"), "w") as fh:
            json.dump(spec, fh, indent=0)
            fh.write("\n")
        path = os.path.join(directory, name + ".pth")
        torch.save(make_swift_built.build(spec, {}), path, _use_new_zipfile_serialization=False)
        with open(os.path.join(directory, name + ".keys.json"), "w") as fh:
            json.dump(legacy_keys_in_order(path), fh)
            fh.write("\n")


def check_swift_written(directory, fixtures):
    """torch.load every legacy file the Swift tests wrote (PTH_LEGACY_OUT) and
    compare its listing with torch's listing of the fixture named in FILE.ref."""
    failed = 0
    names = sorted(n for n in os.listdir(directory) if n.endswith(".pth"))
    for name in names:
        path = os.path.join(directory, name)
        with open(path + ".ref", encoding="utf-8") as f:
            reference = f.read().strip()
        problems = []
        with open(path, "rb") as f:
            head = f.read(2)
        protocol = head[1] if head[:1] == b"\x80" else 1
        # weights_only=True takes only protocol-2 opcodes: torch.save's own protocol 4/5 files need False too.
        modes = (True, False) if protocol <= 3 else (False,)
        for weights_only in modes:
            try:
                entries = torch_listing.listing(torch.load(path, map_location="cpu", weights_only=weights_only))
            except Exception as error:  # noqa: BLE001 - report any refusal
                problems.append(f"torch.load(weights_only={weights_only}) failed: {type(error).__name__}: {error}")
                continue
            if reference and entries != torch_listing.listing_of_file(os.path.join(fixtures, reference)):
                problems.append(f"weights_only={weights_only}: listing differs from {reference}")
        loads = "weights_only True and False" if len(modes) == 2 else f"weights_only=False; protocol {protocol}"
        print(f"{name}: " + ("; ".join(problems) if problems else f"loads ({loads})"
                                                                    + (f", lists as {reference}" if reference else "")))
        failed += bool(problems)
    if not names:
        print(f"no .pth files in {directory}")
        return 1
    return 1 if failed else 0


LEGACY_README = """# Legacy-format fixtures (PyTorch before 1.6)

Written by tools/make_old_fixtures.py; each FILE has FILE.listing.json from
tools/torch_listing.py (real torch.load). torch.save names storages by memory
address, so the files torch.save wrote differ from run to run in their keys.

| file | written by | covers |
|---|---|---|
| state_dict.pth | torch.save | a module's state_dict (OrderedDict with _metadata) |
| training_checkpoint.pth | torch.save | epoch, model and Adam optimizer state, a float, a str |
| views_tied.pth | torch.save | a Parameter stored twice, views (row, column, transposed, narrow), empty and 0-d tensors |
| dtypes.pth | torch.save | every dtype with a storage class, qint8 and quint8 |
| protocol1/3/4/5.pth | torch.save(pickle_protocol=N) | protocol 1 (no PROTO, text LONG magic), 3, 4 and 5 (FRAME) |
| whole_module.pth | torch.save | a whole nn.Linear: ('module', class, source file, source) persistent id |
| whole_model.pth | torch.save | a whole nn.Sequential of Linear, ReLU and a nested Sequential: one persistent id per reference to a class |
| sys_info_big_endian.pth | torch.save, sys_info patched | little_endian False, as a big-endian machine writes: storages stay little-endian |
| python2_strings.pth | built here | Python 2 str (SHORT_BINSTRING) everywhere, ASCII |
| python2_latin1.pth | built here | Latin-1 Python 2 str: torch.load needs encoding='latin1' (listing in .latin1-listing.json) |
| python2_cpickle.pth | built here | a state dict as torch 0.4 saved it under Python 2.7: memo numbered from 1 (cPickle), Python 2 str, None as backward hooks, OrderedDict([[k, v], ...]) with _metadata set by BUILD |
| old_views.pth | built here | persistent ids with view metadata (view_key, offset, size), as torch 0.3 wrote |
| uint16_unloadable.pth | torch.save | uint16 as an UntypedStorage, which torch.load refuses to read back (no listing) |
| swift_built/ | torch.save | object trees the Swift tests build, with torch's storage keys in first-met order |
"""

TAR_README = """# Tar-format fixtures (PyTorch 0.1)

No PyTorch since 0.2 writes this format: tools/make_old_fixtures.py builds the
files the way torch 0.1's _save did (members sys_info, pickle, tensors,
storages; tarfile.PAX_FORMAT), and torch.load of torch 2.15 reads them
(FILE.listing.json from tools/torch_listing.py).

| file | covers |
|---|---|
| state_dict_0_1.pt | an OrderedDict of float tensors, integer mtimes (no PAX headers) |
| views_0_1.pt | a storage view, a tensor referenced twice, a storage on its own, non-zero ndim padding, float mtimes (a PAX header per member) |
"""


def write_readmes(legacy, tar):
    for directory, text in ((legacy, LEGACY_README), (tar, TAR_README)):
        with open(os.path.join(directory, "README.md"), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)


def main(argv):
    if argv and argv[0] == "--check-swift-written":
        fixtures = os.path.join(os.path.dirname(TOOLS_DIR), "fixtures")
        return check_swift_written(argv[1], fixtures)
    root = os.path.abspath(argv[0]) if argv else os.path.join(os.path.dirname(TOOLS_DIR), "fixtures")
    legacy = os.path.join(root, "legacy")
    tar = os.path.join(root, "tar")
    os.makedirs(legacy, exist_ok=True)
    os.makedirs(tar, exist_ok=True)
    listed = []

    def saved(name, obj, protocol=2):
        path = os.path.join(legacy, name)
        legacy_save(obj, path, protocol)
        check_loads(path, obj)
        listed.append(path)

    saved("state_dict.pth", state_dict())
    saved("training_checkpoint.pth", training_checkpoint())
    saved("views_tied.pth", views_and_tied())
    saved("dtypes.pth", dtypes())
    for protocol in (1, 3, 4, 5):
        saved(f"protocol{protocol}.pth", protocol_checkpoint(), protocol)

    # A whole nn.Module: the class goes in a ('module', class, source file, source) persistent id.
    seed(11)
    saved("whole_module.pth", {"model": nn.Linear(3, 2), "epoch": 1})
    # Nested modules: each reference to a class is its own persistent id.
    seed(12)
    saved("whole_model.pth", {"model": nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Sequential(nn.Linear(2, 2))),
                              "epoch": 2})

    path = os.path.join(legacy, "sys_info_big_endian.pth")
    check_loads(path, big_endian_sys_info(path))
    listed.append(path)

    path = os.path.join(legacy, "python2_strings.pth")
    obj = py2_objects()
    hand_built_legacy(path, obj, py2_encoding="ascii")
    check_loads(path, obj)
    check_loads(path, obj, encoding="latin1")
    listed.append(path)

    # Latin-1 text: torch.load's default (utf-8) fails, encoding='latin1' reads it.
    # Listed with encoding='latin1' under another name, so the suites that open
    # fixtures with default options leave it to OldFormats/LegacyReadingTests.
    path = os.path.join(legacy, "python2_latin1.pth")
    obj = py2_latin1_objects()
    hand_built_legacy(path, obj, py2_encoding="latin1")
    check_loads(path, obj, encoding="latin1")
    try:
        torch.load(path, weights_only=False)
        raise AssertionError("python2_latin1.pth loaded as utf-8")
    except UnicodeDecodeError:
        pass
    write_listing(path, ".latin1-listing.json", encoding="latin1")

    path = os.path.join(legacy, "old_views.pth")
    old_views(path)
    listed.append(path)

    path = os.path.join(legacy, "python2_cpickle.pth")
    python2_cpickle(path)
    listed.append(path)

    # uint16 (no typed storage class): torch.save writes an UntypedStorage that torch.load cannot read back.
    path = os.path.join(legacy, "uint16_unloadable.pth")
    legacy_save({"ids": torch.tensor([1, 2, 65535], dtype=torch.uint16)}, path)
    try:
        torch.load(path, weights_only=False)
        raise AssertionError("torch.load read a legacy UntypedStorage")
    except AttributeError:
        pass

    for name, builder in (("state_dict_0_1.pt", tar_state_dict), ("views_0_1.pt", tar_views)):
        path = os.path.join(tar, name)
        builder(path)
        listed.append(path)

    for path in listed:
        write_listing(path)
    write_readmes(legacy, tar)

    swift_built(os.path.join(legacy, "swift_built"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
