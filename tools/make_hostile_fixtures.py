#!/usr/bin/env python3
"""Write small hostile files (pickles that call os.system where a reader may
not look), and what PyTorch and an independent scanner say of each.

usage: make_hostile_fixtures.py [OUTDIR]   (default: fixtures/hostile/ beside tools/)

The pickles are written byte by byte and are never loaded by anything that
can execute them: the only loader used is torch.load(weights_only=True),
torch's restricted unpickler, for its verdict. expected.json maps each file to:
  description    what the file does
  weights_only   torch.load(weights_only=True): "accepts", or "refuses: <message>"
  unsafe_globals every global outside weights_only's allowlist named by any pickle
                 in the file, found with pickletools (frames ignored, as CPython's
                 C unpickler ignores them), independently of this project
  calls          for files `pth inspect` shows: the callees it must list (the
                 calls whose results are not in what the file returns included)
  frame_damage   the byte of an opcode that straddles a FRAME boundary, if any
"""
import io
import json
import os
import pickletools
import struct
import sys
import tarfile
import warnings
import zipfile

warnings.filterwarnings("ignore")
import torch  # noqa: E402
from torch import _weights_only_unpickler as wo  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "hostile")
os.makedirs(OUT, exist_ok=True)
ALLOWED = set(wo._get_allowed_globals().keys())
expected = {}


# ---- pickle bytes, by hand ----------------------------------------------------

def short(text):
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data


def global_(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


SYSTEM = global_("os", "system") + short("echo pwned") + b"\x85R"   # os.system('echo pwned') on the stack
PROTO2 = b"\x80\x02"
EMPTY_DICT = b"}"
STOP = b"."


def torch_zip(data_pkl, prefix="archive", extra=()):
    """A zip laid out as torch.save lays it out, with this data.pkl (and extra records)."""
    buffer = io.BytesIO()
    torch.save({}, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as z:
        records = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in records:
            name = prefix + "/" + name.split("/", 1)[1]
            if name.endswith("/data.pkl"):
                data = data_pkl
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
        for name, data in extra:
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


# ---- the independent oracle -----------------------------------------------------

def globals_of(data):
    """Globals of every pickle at the start of data (back to back), by pickletools."""
    import _compat_pickle
    found = []
    offset = 0
    while offset < len(data):
        strings, memo = [], {}
        end = None
        try:
            for op, arg, pos in pickletools.genops(io.BytesIO(data[offset:])):
                if op.name in ("GLOBAL", "INST"):
                    module, _, name = arg.partition(" ")
                    if (module, name) in _compat_pickle.NAME_MAPPING:
                        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
                    found.append(f"{_compat_pickle.IMPORT_MAPPING.get(module, module)}.{name}")
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append(f"{strings[-2]}.{strings[-1]}")
                strings.append(arg if isinstance(arg, str) else None)
                if op.name == "STOP":
                    end = offset + pos + 1
        except Exception:  # noqa: BLE001
            pass
        if end is None:
            break
        offset = end
    return found


def pickles_of(path):
    with open(path, "rb") as f:
        data = f.read()
    found = [] if data.startswith(b"PK\x03\x04") else [data]
    try:
        with zipfile.ZipFile(path) as z:
            seen = set()
            for info in z.infolist():
                if info.header_offset in seen:
                    continue
                seen.add(info.header_offset)
                try:
                    with z.open(info) as record:
                        # A pickle record whole; of any other, enough to find a pickle that starts it.
                        found.append(record.read() if info.filename.endswith((".pkl", ".npy")) else record.read(1 << 20))
                except Exception:  # noqa: BLE001
                    # A record zipfile will not read (a claimed encryption): its stored bytes.
                    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
                    found.append(data[start:start + info.compress_size])
    except zipfile.BadZipFile:
        pass
    if tarfile.is_tarfile(path):
        with tarfile.open(path) as t:
            found += [t.extractfile(m).read() for m in t.getmembers() if m.isfile()]
    # A .npy (alone, or a record of a .npz) of objects: its pickle follows the header.
    return [p[10 + struct.unpack("<H", p[8:10])[0]:] if p.startswith(b"\x93NUMPY") else p for p in found]


def write(name, data, description, calls=None, frame_damage=None, unsafe=None):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(data)
    try:
        torch.load(path, weights_only=True, map_location="cpu")
        verdict = "accepts"
    except Exception as e:  # noqa: BLE001
        verdict = "refuses: " + type(e).__name__ + ": " + str(e).strip().splitlines()[0][:160]
    if unsafe is None:
        unsafe = sorted({g for p in pickles_of(path) for g in globals_of(p) if g not in ALLOWED})
    entry = {"description": description, "weights_only": verdict, "unsafe_globals": unsafe}
    if calls is not None:
        entry["calls"] = calls
    if frame_damage is not None:
        entry["frame_damage"] = frame_damage
    expected[name] = entry


# ---- the files --------------------------------------------------------------------

write("popped_call.pth", torch_zip(PROTO2 + SYSTEM + b"0" + EMPTY_DICT + STOP),
      "os.system('echo pwned') called, its result popped (POP), then an empty dict returned "
      "(modelscan's unsafe_zip_pytorch.pt)", calls=["os.system"])
write("call_below_result.pth", torch_zip(PROTO2 + SYSTEM + EMPTY_DICT + STOP),
      "os.system(...) called and left on the stack below the returned empty dict", calls=["os.system"])
write("memo_only_call.pth", torch_zip(PROTO2 + SYSTEM + b"q\x000" + EMPTY_DICT + STOP),
      "os.system(...) called and kept only in the memo (BINPUT, POP)", calls=["os.system"])
write("call_as_argument.pth",
      torch_zip(PROTO2 + global_("builtins", "len") + SYSTEM + b"\x85R0" + EMPTY_DICT + STOP),
      "os.system(...)'s result passed to builtins.len(...), whose result is popped", calls=["os.system", "builtins.len"])
write("nested_partial.pth",
      torch_zip(PROTO2 + global_("functools", "partial") + global_("os", "system") + short("echo pwned") + b"\x86R)R"
                + STOP),
      "functools.partial(os.system, 'echo pwned')() returned as the root: a call of a call's result",
      calls=["functools.partial", "the result of functools.partial"])
write("named_not_called.pth", torch_zip(b"\x80\x04" + short("ast") + short("parse") + b"\x93" + STOP),
      "a global outside the allowlist (ast.parse) named, not called: pickle.load imports it", calls=[])
# FRAME 3 covers PROTO's successor bytes 8c 05 'h'; the string runs on past the frame.
straddle = b"\x80\x04\x95" + struct.pack("<Q", 3) + short("hello") + b"0" + SYSTEM + b"0" + EMPTY_DICT + STOP
write("frame_straddle.pth", torch_zip(straddle),
      "a SHORT_BINUNICODE that straddles the end of its FRAME (CPython issue 154848): a frame-honouring scanner "
      "stops there, while the C unpickler reads on and calls os.system", frame_damage=11)
write("text_pickle.pkl", b"cos\nsystem\n(S'echo pwned'\ntR.",
      "a protocol 0 (text) pickle calling os.system; no checkpoint at all")
write("second_pickle.pkl", PROTO2 + EMPTY_DICT + STOP + PROTO2 + SYSTEM + STOP,
      "a benign pickle, then a second pickle calling os.system (picklescan's malicious6)")
write("pickle_before_zip.pth", PROTO2 + SYSTEM + STOP + torch_zip(PROTO2 + EMPTY_DICT + STOP),
      "a pickle calling os.system in front of a whole torch.save zip: torch.load sees no zip magic and "
      "unpickles the front")
no_prefix = io.BytesIO()
with zipfile.ZipFile(no_prefix, "w") as z:
    z.writestr(zipfile.ZipInfo("data.pkl", date_time=(1980, 1, 1, 0, 0, 0)), PROTO2 + SYSTEM + STOP)
write("zip_without_prefix.zip", no_prefix.getvalue(), "a zip whose data.pkl, calling os.system, sits in no folder")
# Flag bit 0 (encrypted) set on data.pkl in both headers, the bytes stored as they are (picklescan's bypass).
flagged = bytearray(torch_zip(PROTO2 + SYSTEM + b"0" + EMPTY_DICT + STOP))
with zipfile.ZipFile(io.BytesIO(bytes(flagged))) as z:
    info = next(i for i in z.infolist() if i.filename.endswith("data.pkl"))
    flagged[info.header_offset + 6] |= 1
position = bytes(flagged).find(b"PK\x01\x02")
while position >= 0:
    name_length = struct.unpack("<H", flagged[position + 28:position + 30])[0]
    if flagged[position + 46:position + 46 + name_length].endswith(b"data.pkl"):
        flagged[position + 8] |= 1
    position = bytes(flagged).find(b"PK\x01\x02", position + 4)
write("zip_false_encryption.pth", bytes(flagged),
      "a torch.save zip whose data.pkl (popped os.system call) claims to be encrypted (flag bit 0) but is stored "
      "in the clear")
renamed = bytearray(torch_zip(PROTO2 + SYSTEM + b"0" + EMPTY_DICT + STOP))
position = bytes(renamed).find(b"PK\x01\x02")
while position >= 0:
    name_length = struct.unpack("<H", renamed[position + 28:position + 30])[0]
    name = bytes(renamed[position + 46:position + 46 + name_length])
    if name.endswith(b"data.pkl"):
        renamed[position + 46:position + 46 + name_length] = name[:-8] + b"datap.kl"
    position = bytes(renamed).find(b"PK\x01\x02", position + 4)
write("zip_names_differ.pth", bytes(renamed),
      "the central directory calls the record 'datap.kl', its local header 'data.pkl' (it calls os.system)")
tar = io.BytesIO()
with tarfile.open(fileobj=tar, mode="w", format=tarfile.USTAR_FORMAT) as t:
    for member, data in (("sys_info", PROTO2 + EMPTY_DICT + STOP), ("pickle", PROTO2 + SYSTEM + STOP)):
        info = tarfile.TarInfo(member)
        info.size = len(data)
        info.mtime = 0
        t.addfile(info, io.BytesIO(data))
write("tar_member.tar", tar.getvalue(), "a tar archive (PyTorch 0.1's layout) whose 'pickle' member calls os.system")
header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
write("object_array.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + PROTO2 + SYSTEM + STOP,
      "a numpy .npy of dtype object: its data is a pickle, which calls os.system")

# miniz finds names with ASCII case ignored: torch.load reads archive/DATA.PKL as data.pkl.
upper = io.BytesIO()
with zipfile.ZipFile(io.BytesIO(torch_zip(PROTO2 + SYSTEM + b"0" + EMPTY_DICT + STOP))) as z, zipfile.ZipFile(upper, "w") as out:
    for info in z.infolist():
        name = info.filename.replace("data.pkl", "DATA.PKL")
        out.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), z.read(info))
write("case_variant_name.pth", upper.getvalue(),
      "data.pkl stored as 'archive/DATA.PKL' (it calls os.system): PyTorch's reader finds names with case ignored",
      calls=["os.system"])
write("benign_pickle_before_unsafe_zip.pth", PROTO2 + EMPTY_DICT + STOP + torch_zip(PROTO2 + SYSTEM + b"0" + EMPTY_DICT + STOP),
      "a harmless pickle in front of a zip whose data.pkl calls os.system (the zip's offsets count from its own start)")
write("lone_surrogate.pth", torch_zip(b"\x80\x02}X\x03\x00\x00\x00\xed\xa0\x80K\x01s."),
      "{'\\ud800': 1}: a str with a lone surrogate, which Python reads (surrogatepass) and a Swift String cannot hold")
write("int_base_zero.pkl", b"I0x41\n0cos\nsystem\n(S'echo pwned'\ntR.",
      "INT 0x41 (Python reads INT as int(text, 0)), popped, then os.system called: a scanner that stops at the INT "
      "misses the call", unsafe=["os.system"])
straddled = b"\x80\x04\x95" + struct.pack("<Q", 3) + short("hello") + b"0" + EMPTY_DICT + STOP
write("straddle_then_second_pickle.pkl", straddled + PROTO2 + SYSTEM + STOP,
      "a first pickle that straddles its FRAME (CPython's C unpickler reads on), then a second pickle calling os.system")
npz = io.BytesIO()
with zipfile.ZipFile(npz, "w") as z:
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    z.writestr(zipfile.ZipInfo("arr_0.npy", date_time=(1980, 1, 1, 0, 0, 0)),
               b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + PROTO2 + SYSTEM + STOP)
write("object_array.npz", npz.getvalue(), "a numpy .npz whose arr_0.npy holds objects: its pickle calls os.system")
# 2,000 central directory entries for one deflated record of 64 MiB of zeros: scanned once, not 2,000 times.
bomb = io.BytesIO()
with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
    z.writestr(zipfile.ZipInfo("archive/data/0", date_time=(1980, 1, 1, 0, 0, 0)), bytes(64 << 20),
               compress_type=zipfile.ZIP_DEFLATED)
raw = bomb.getvalue()
directory = raw.index(b"PK\x01\x02")
end = raw.index(b"PK\x05\x06")
entry = raw[directory:end]
entries = entry * 2000
end_record = raw[end:end + 8] + struct.pack("<HHII", 2000, 2000, len(entries), directory) + raw[end + 20:]
write("one_record_many_entries.zip", raw[:directory] + entries + end_record,
      "2,000 central directory entries that all point at one deflated record of 64 MiB of zeros")

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")
