#!/usr/bin/env python3
"""Write the byte-order and re-zipped fixtures with real PyTorch, each with its listing.

usage: make_layout_fixtures.py [OUTDIR]   (default: fixtures/ beside tools/)

Writes OUTDIR/big_endian/ and OUTDIR/rezipped/, each FILE with
FILE.listing.json (tools/torch_listing.py) and a README.md per folder.

big_endian/: what torch.save writes on a big-endian machine. Torch on this
little-endian machine cannot write those directly, so save_big_endian()
drives torch's own writer (torch._C.PyTorchFileWriter) exactly as
torch.serialization._save does: the same pickle, the same records in the
same order, but `byteorder` says `big` and every storage holds its elements
big-endian. Storages are swapped with torch's own UntypedStorage.byteswap(dtype),
the function torch.load undoes them with (a byte swap is its own inverse).
With the byte order left alone the writer is checked to give torch.save's
file byte for byte, and every fixture is checked to torch.load equal to the
object it was made from (same listing, same conj/neg bits, same storage
sharing).

rezipped/: source.pth (torch.save) and copies of it re-zipped by Python's
zipfile, as tools other than PyTorch write them: deflated records, stored
records without alignment or data descriptors, records in another order, and
folder entries before the records.
Each is checked to torch.load equal to source.pth.

Deterministic: running this twice gives byte-identical files.
"""
import io
import json
import os
import pickle
import sys
import warnings
import zipfile

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
if TOOLS_DIR not in sys.path:
    sys.path.insert(0, TOOLS_DIR)

import torch
from torch import nn

import torch_listing

torch.set_num_threads(1)
warnings.filterwarnings("ignore", category=UserWarning)

# name (relative to OUTDIR) -> (builder(path), what it covers, how it was written)
FIXTURES = {}

BIG_ENDIAN_API = ("torch._C.PyTorchFileWriter + pickle.Pickler, as torch.serialization._save "
                  "on a big-endian machine (storages swapped with UntypedStorage.byteswap, "
                  "byteorder 'big')")


def fixture(name, covers, api):
    def register(builder):
        FIXTURES[name] = (builder, covers, api)
        return builder
    return register


# --------------------------------------------------------------------------
# Big-endian files


def save_big_endian(obj, path, byteorder="big", swap_as=None):
    """torch.serialization._save, as it runs on a machine of `byteorder`.

    Each storage is written with its elements in that byte order: swapped, by
    torch's UntypedStorage.byteswap, with the dtype of its typed storage
    class (complex types per half, as torch does), or for an UntypedStorage
    with swap_as(untyped_storage) (the dtype of the tensor that views it, as
    that machine holds it in memory; None: bytes, not swapped).
    With byteorder == sys.byteorder nothing is swapped and the file is
    torch.save's, byte for byte.
    """
    from torch.serialization import (
        _get_storage_alignment, get_crc32_options, location_tag, normalize_storage_type)

    keys = {}
    storages = {}

    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, torch.storage.TypedStorage):
                untyped = o._untyped_storage
                storage_type = getattr(torch, o._pickle_storage_type())
                numel = o._size()
                dtype = o.dtype
            elif torch.is_storage(o):
                untyped = o
                storage_type = normalize_storage_type(type(o))
                numel = o.nbytes()
                dtype = (swap_as(o) if swap_as else None) or torch.uint8
            else:
                return None
            key = keys.setdefault(untyped._cdata, str(len(keys)))
            storages[key] = (untyped, dtype)
            return ("storage", storage_type, key, location_tag(untyped), numel)

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(obj)
    data = buffer.getvalue()
    alignment = _get_storage_alignment()
    writer = torch._C.PyTorchFileWriter(path, get_crc32_options(), alignment)
    writer.write_record("data.pkl", data, len(data))
    writer.write_record(".format_version", "1", len("1"))
    writer.write_record(".storage_alignment", str(alignment), len(str(alignment)))
    writer.write_record("byteorder", byteorder, len(byteorder))
    for key, (storage, dtype) in storages.items():
        if byteorder != sys.byteorder:
            storage = storage.clone()
            storage.byteswap(dtype)
        writer.write_record(f"data/{key}", storage, storage.nbytes())
    writer.write_end_of_file()


def tensor_facts(obj):
    """Per tensor in listing order: conj/neg bits and which storage it views."""
    facts, storages = [], {}

    def visit(node, seen):
        if isinstance(node, torch.Tensor):
            t = node.detach()
            storage = None
            if t.layout == torch.strided and t.device.type != "meta" and not t.is_quantized:
                storage = storages.setdefault(t.untyped_storage().data_ptr(), len(storages))
            facts.append((str(t.dtype), t.is_conj(), t.is_neg(), storage))
            return
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, dict):
            for child in node.values():
                visit(child, seen)
        elif isinstance(node, (list, tuple)):
            for child in node:
                visit(child, seen)

    visit(obj, set())
    return facts


def check_loads_equal(path, original):
    """torch.load(path) must give what `original` is: the same listing, bits and sharing."""
    loaded = torch.load(path, weights_only=False)
    if torch_listing.listing(loaded) != torch_listing.listing(original):
        raise SystemExit(f"{path}: torch.load does not give the original object back")
    if tensor_facts(loaded) != tensor_facts(original):
        raise SystemExit(f"{path}: conj/neg bits or storage sharing differ after torch.load")
    return loaded


def write_big_endian(obj, path, swap_as=None):
    """save_big_endian, after checking it writes torch.save's file when nothing is swapped."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        ours = os.path.join(tmp, "a", os.path.basename(path))
        theirs = os.path.join(tmp, "b", os.path.basename(path))
        os.makedirs(os.path.dirname(ours))
        os.makedirs(os.path.dirname(theirs))
        save_big_endian(obj, ours, byteorder=sys.byteorder, swap_as=swap_as)
        torch.save(obj, theirs)
        with open(ours, "rb") as a, open(theirs, "rb") as b:
            if a.read() != b.read():
                raise SystemExit("save_big_endian no longer matches torch.save")
    save_big_endian(obj, path, swap_as=swap_as)


def big_endian_fixture(name, covers):
    """A big-endian fixture, and its little-endian twin: the same object by torch.save."""
    folder, base = name.split("/")

    def register(make_object):
        def builder(path):
            obj = make_object()
            write_big_endian(obj, path)
            check_loads_equal(path, obj)

        def twin(path):
            torch.save(make_object(), path)

        FIXTURES[name] = (builder, covers, BIG_ENDIAN_API)
        FIXTURES[f"{folder}/little/{base}"] = (
            twin, f"the little-endian twin of {base}: the same object", "torch.save")
        return make_object
    return register


def f32(bits):
    return torch.tensor(bits, dtype=torch.int64).to(torch.int32).view(torch.float32)


@big_endian_fixture(
    "big_endian/dtypes.pth",
    "one tensor per typed storage class (float64/32/16, bfloat16, int64/32/16/8, "
    "uint8, bool, complex64/128, quantized qint32 and per-channel qint8 with float64 "
    "scales and int64 zero points) and the 1-byte float8_e4m3fn/e5m2 (UntypedStorage); "
    "float32 specials (nan payloads, -0.0, inf, subnormal), asymmetric bit patterns so "
    "that a missed or wrong swap shows")
def big_endian_dtypes():
    torch.manual_seed(0)
    patterns = torch.arange(1, 13, dtype=torch.int64) * 0x0102030405060708 % (1 << 62)
    return {
        "float64": torch.randn(5, dtype=torch.float64),
        "float32": torch.randn(2, 3),
        "float32_specials": torch.cat([
            torch.tensor([float("inf"), float("-inf"), -0.0, 1e-45, 3.4e38]),
            f32([0x7FC00001, 0x7F800001, 0xFFC12345 - (1 << 32)]),
        ]),
        "float16": torch.randn(7).to(torch.float16),
        "bfloat16": torch.randn(7).to(torch.bfloat16),
        "int64": patterns,
        "int32": (patterns % (1 << 31)).to(torch.int32),
        "int16": torch.tensor([1, -2, 0x1234, -0x5678, 32767, -32768], dtype=torch.int16),
        "int8": torch.tensor([1, -2, 127, -128], dtype=torch.int8),
        "uint8": torch.arange(0, 256, 17, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True, True]),
        "complex64": torch.complex(torch.randn(4), torch.randn(4)),
        "complex128": torch.complex(torch.randn(3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)),
        "float8_e4m3fn": torch.randn(6).to(torch.float8_e4m3fn),
        "float8_e5m2": torch.randn(6).to(torch.float8_e5m2),
        "qint32": torch.quantize_per_tensor(torch.randn(5) * 100, 0.25, 3, torch.qint32),
        "qint8_per_channel": torch.quantize_per_channel(
            torch.randn(3, 4), torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64),
            torch.tensor([0, 1, -1]), 0, torch.qint8),
    }


@big_endian_fixture(
    "big_endian/views.pth",
    "views and strides over big-endian storages: transpose, slice with offset, step "
    "slice, expand (stride 0), a row of a matrix sharing its storage, the same tensor "
    "under two keys, a complex64 conj view, the .imag of another (float32 with the neg "
    "bit, stride 2, offset 1), a complex128 view with both bits, a bfloat16 permute, an int64 column, 0-dim and empty tensors, a Parameter")
def big_endian_views():
    torch.manual_seed(1)
    m = torch.randn(4, 5)
    c = torch.complex(torch.randn(3), torch.randn(3))
    neg = torch.complex(torch.randn(2), torch.randn(2)).conj().imag
    b = torch.randn(2, 3, 4).to(torch.bfloat16)
    ids = torch.arange(24, dtype=torch.int64).reshape(4, 6) * 0x010203040506
    return {
        "matrix": m,
        "transposed": m.t(),
        "slice_offset": m[1:3, 2:],
        "step": m[:, ::2],
        "row": m[2],
        "expanded": torch.randn(1, 3).expand(4, 3),
        "same_again": m,
        "conj": c.conj(),
        "conj_imag": neg,
        "conj_neg": torch._neg_view(torch.complex(torch.randn(2, dtype=torch.float64),
                                                  torch.randn(2, dtype=torch.float64)).conj()),
        "bf16_permuted": b.permute(2, 0, 1),
        "int64_column": ids[:, 3],
        "scalar": torch.tensor(2.5, dtype=torch.float64),
        "empty": torch.empty(0, 3),
        "parameter": nn.Parameter(torch.randn(3, 2, dtype=torch.float16)),
    }


class SmallModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(6, 4)
        self.norm = nn.BatchNorm1d(4)
        self.head = nn.Linear(4, 3)


@big_endian_fixture(
    "big_endian/state_dict.pth",
    "a module's state_dict (Embedding, BatchNorm1d with its int64 num_batches_tracked, "
    "Linear) after two training-mode passes, OrderedDict + _metadata")
def big_endian_state_dict():
    torch.manual_seed(2)
    model = SmallModel()
    with torch.no_grad():
        model.train()
        for _ in range(2):
            model.norm(model.embed(torch.randint(0, 6, (5,))))
    return model.state_dict()


UNTYPED_DTYPES = [torch.uint16, torch.uint32, torch.uint64, torch.complex32]


def untyped_multibyte_object():
    return {
        "uint16": torch.tensor([1, 0x1234, 0xFFFE], dtype=torch.uint16),
        "uint32": torch.tensor([1, 0x12345678, 0xFFFFFFFE], dtype=torch.uint32),
        "uint64": torch.tensor([1, 0x123456789ABCDEF0], dtype=torch.uint64),
        "complex32": torch.tensor([1 + 2j, -0.5 + 0.25j], dtype=torch.complex32),
        "float8": torch.tensor([0.5, -2.0]).to(torch.float8_e4m3fn),
    }


@fixture(
    "big_endian/untyped_multibyte.pth",
    "uint16, uint32, uint64 and complex32 (UntypedStorage + _rebuild_tensor_v3) as a "
    "big-endian torch.save writes them: elements big-endian, complex32 per half. No "
    "listing: torch.load does NOT swap these (it swaps UntypedStorage as uint8), so on "
    "a little-endian machine it shows byte-swapped values. "
    "untyped_multibyte.pth.expected.json holds both: `big_endian_values` (what the file "
    "means, what torch.load shows on a big-endian machine) and `torch_load_little_endian` "
    "(what torch.load shows here)",
    BIG_ENDIAN_API + "; UntypedStorage swapped by the dtype of the tensor viewing it")
def make_untyped_multibyte(path):
    obj = untyped_multibyte_object()
    dtype_of = {t.untyped_storage().data_ptr(): t.dtype for t in obj.values()}
    write_big_endian(obj, path, swap_as=lambda s: dtype_of.get(s.data_ptr()))
    loaded = torch.load(path, weights_only=True)
    torch_view = torch_listing.listing(loaded)
    # What torch.load shows here is each element with its bytes reversed
    # (uint16/32/64) or each half reversed (complex32): never swapped back.
    for key, original in obj.items():
        unit = original.element_size() // (2 if original.is_complex() else 1)
        expected = original.clone().view(torch.uint8).reshape(-1, unit).flip(1).reshape(-1)
        if unit > 1 and not torch.equal(loaded[key].view(torch.uint8).reshape(-1), expected):
            raise SystemExit(f"{path}: torch.load now byte-swaps {key}: update this fixture and the reader")
    facts = {"big_endian_values": torch_listing.listing(obj), "torch_load_little_endian": torch_view}
    with open(path + ".expected.json", "w", encoding="utf-8", newline="\n") as f:
        json.dump(facts, f, indent=1)
        f.write("\n")


@fixture("big_endian/little/untyped_multibyte.pth",
         "the little-endian twin of untyped_multibyte.pth: the same object",
         "torch.save")
def make_untyped_multibyte_twin(path):
    torch.save(untyped_multibyte_object(), path)


# --------------------------------------------------------------------------
# Re-zipped files


def rezipped_source():
    torch.manual_seed(3)
    model = SmallModel()
    sd = model.state_dict()
    m = torch.randn(5, 7, dtype=torch.float64)
    return {
        "model": sd,
        "view": m[1:, ::3],
        "matrix": m,
        "half": torch.randn(33).to(torch.float16),
        "float8": torch.randn(9).to(torch.float8_e5m2),
        "epoch": 7,
        "name": "rezipped",
    }


@fixture("rezipped/source.pth",
         "the checkpoint the other files here re-zip: a state_dict, a float64 matrix and "
         "a strided view of it, float16 and float8 tensors, an int and a str",
         "torch.save")
def make_rezipped_source(path):
    torch.save(rezipped_source(), path)


def rezip(source, path, order=None, method=lambda name: zipfile.ZIP_DEFLATED, directories=()):
    """Copy every record of `source` into a new zip by Python's zipfile,
    after entries for `directories` (as `zip -r` adds them)."""
    with zipfile.ZipFile(source) as zin:
        infos = zin.infolist()
        if order:
            infos = order(infos)
        with zipfile.ZipFile(path, "w") as zout:
            for folder in directories:
                entry = zipfile.ZipInfo(folder + "/", date_time=(2024, 1, 2, 3, 4, 6))
                entry.external_attr = (0o40755 << 16) | 0x10  # a directory, as zip -r marks it
                zout.writestr(entry, b"")
            for info in infos:
                # A fixed date, so that the file is the same every time.
                out = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 2, 3, 4, 6))
                out.compress_type = method(info.filename)
                zout.writestr(out, zin.read(info))
    check_loads_equal(path, torch.load(source, weights_only=False))


SOURCE = "rezipped/source.pth"


@fixture("rezipped/deflated.pth",
         "source.pth re-zipped by Python's zipfile with every record deflated "
         "(method 8, no data descriptors, no alignment), records in the same order",
         "zipfile.ZipFile.writestr(ZIP_DEFLATED) of source.pth's records")
def make_deflated(path):
    rezip(os.path.join(os.path.dirname(os.path.dirname(path)), SOURCE), path)


@fixture("rezipped/stored_unaligned.pth",
         "source.pth re-zipped by Python's zipfile with every record stored but no "
         "alignment padding and no data descriptors: storages start at odd offsets",
         "zipfile.ZipFile.writestr(ZIP_STORED) of source.pth's records")
def make_stored_unaligned(path):
    rezip(os.path.join(os.path.dirname(os.path.dirname(path)), SOURCE), path,
          method=lambda name: zipfile.ZIP_STORED)
    with zipfile.ZipFile(path) as z:
        # Local header (30 bytes) + name: data/0's data must not be 64-aligned.
        info = z.getinfo(z.namelist()[0].split("/")[0] + "/data/0")
        if (info.header_offset + 30 + len(info.filename)) % 2 == 0:
            raise SystemExit(f"{path}: data/0 happens to start at an even offset; change the fixture")


@fixture("rezipped/reordered.pth",
         "source.pth re-zipped by Python's zipfile in another record order "
         "(version and byteorder first, storages in reverse, data.pkl last; the first "
         "entry is not data.pkl), storages stored and the small records deflated",
         "zipfile.ZipFile.writestr of source.pth's records, reordered")
def make_reordered(path):
    def order(infos):
        def rank(info):
            name = info.filename.split("/", 1)[1]
            if name in ("version", "byteorder"):
                return (0, name)
            if name.startswith("data/"):
                return (1, -int(name[5:]))
            if name == "data.pkl":
                return (3, name)
            return (2, name)
        return sorted(infos, key=rank)

    rezip(os.path.join(os.path.dirname(os.path.dirname(path)), SOURCE), path, order=order,
          method=lambda name: zipfile.ZIP_STORED if "/data/" in name else zipfile.ZIP_DEFLATED)


@fixture("rezipped/with_directories.pth",
         "source.pth re-zipped by Python's zipfile, deflated, after directory entries "
         "for source/, source/data/ and source/.data/ (as `zip -r` adds them)",
         "zipfile.ZipFile.writestr of directory entries, then writestr(ZIP_DEFLATED) of source.pth's records")
def make_with_directories(path):
    rezip(os.path.join(os.path.dirname(os.path.dirname(path)), SOURCE), path,
          directories=["source", "source/data", "source/.data"])


# --------------------------------------------------------------------------


def write_readme(outdir, folder, title, intro):
    lines = [f"# {title}", "",
             f"Written by real PyTorch with `tools/make_layout_fixtures.py` (torch "
             f"{torch.__version__.split('+')[0]}); do not edit by hand.", intro, ""]
    for name, (_, covers, api) in FIXTURES.items():
        if name.startswith(folder + "/"):
            lines.append(f"- `{name[len(folder) + 1:]}`: {covers}. Written by `{api}`.")
    with open(os.path.join(outdir, folder, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def main(argv):
    outdir = argv[0] if argv else os.path.join(os.path.dirname(TOOLS_DIR), "fixtures")
    for name, (builder, _, _) in FIXTURES.items():
        path = os.path.join(outdir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        builder(path)
        note = "(no listing: see README)"
        if name != "big_endian/untyped_multibyte.pth":
            entries = torch_listing.listing_of_file(path)
            with open(path + ".listing.json", "w", encoding="utf-8", newline="\n") as f:
                torch_listing.write_listing(entries, f)
            note = f"({len(entries)} listing entries)"
        print(f"{os.path.getsize(path):8d}  {name}  {note}")
    write_readme(outdir, "big_endian", "Big-endian checkpoints",
                 "Each file says `big` in its `byteorder` record and holds big-endian storages, "
                 "as torch.save writes on a big-endian machine; torch.load here byte-swaps them "
                 "and gives the objects they were made from. Each `FILE` has `FILE.listing.json` "
                 "(tools/torch_listing.py: PyTorch's view, elements hashed little-endian). "
                 "`little/FILE` is the same object as torch.save writes it here, little-endian. "
                 "The `.data/serialization_id` is this machine's writer's (a big-endian libstdc++ "
                 "hashes names differently).")
    write_readme(outdir, "rezipped", "Re-zipped checkpoints",
                 "source.pth as torch.save wrote it, and copies other zip tools made of it; "
                 "torch.load reads every one equal to source.pth. Each `FILE` has "
                 "`FILE.listing.json` (tools/torch_listing.py). Not PyTorch's layout, so "
                 "Checkpoint.write(to:) writes them in PyTorch's layout instead of byte for byte.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
