#!/usr/bin/env python3
"""Write the corpus of malformed and hostile checkpoints, and what PyTorch says of each.

usage: make_malformed_corpus.py [OUTDIR]   (default: fixtures/malformed/ beside tools/)

Every file is a small zip checkpoint (or a bare pickle) damaged in one way.
expected.json maps each file name to:
  description   what is wrong with it
  error         how this library answers it (opening, listing every tensor with
                its digest, verifying every record): the CheckpointError case
                (container, pickle, invalidRecord, missingRecord), or "zip" for a
                ZipError met reading a tensor's record, and a piece of its
                message; or "read" where the file is
                valid and merely hostile (shared references, read in bounded
                time and memory, as PyTorch reads them)
  torch         what torch.load(weights_only=True) does with it: "loads",
                or the exception's type and the first line of its message

Truncation at every byte and flipped bytes at every position are generated at
test time from the fixtures (DamagedFileTests, LegacyDamageTests); this corpus
holds the cases that need a crafted file.
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile
import zlib

import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "malformed")
os.makedirs(OUT, exist_ok=True)
expected = {}


# ---- building blocks -------------------------------------------------------

class StorageRef:
    """A storage as torch.save's persistent_id names it."""
    def __init__(self, storage_type, key, numel, location="cpu"):
        self.storage_type, self.key, self.numel, self.location = storage_type, key, numel, location


class TensorRef:
    """A tensor as torch.save reduces it: _rebuild_tensor_v2(storage, offset, size, stride, False, {})."""
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, StorageRef):
            return ("storage", obj.storage_type, obj.key, obj.location, obj.numel)
        return None


def data_pickle(root):
    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(root)
    return buffer.getvalue()


def checkpoint(records, names=None):
    """A zip in torch.save's record names (stored, not aligned: this library and torch read either)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        for name, data in records:
            z.writestr(name, data)
    return buffer.getvalue()


def standard(pkl, storages, extra=()):
    records = [("archive/data.pkl", pkl), ("archive/byteorder", b"little")]
    records += [(f"archive/data/{key}", data) for key, data in storages]
    records += list(extra)
    records += [("archive/version", b"3\n")]
    return checkpoint(records)


def floats(*values):
    return struct.pack(f"<{len(values)}f", *values)


def torch_verdict(path):
    try:
        torch.load(path, weights_only=True)
        return "loads"
    except BaseException as e:  # noqa: BLE001 - the verdict is the exception, whatever it is
        # The weights-only unpickler wraps its reason in advice: keep the reason.
        advice = ("Weights only load failed", "Please file an issue", "Check the documentation")
        lines = [line.replace("WeightsUnpickler error: ", "").strip() for line in str(e).splitlines()]
        lines = [line for line in lines if line and not line.startswith(advice)]
        line = lines[0] if lines else ""
        return f"{type(e).__name__}: {line[:300]}"


def add(name, data, description, error):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(data)
    expected[name] = {"description": description, "error": error, "torch": torch_verdict(path)}


SIX = floats(0, 1, 2, 3, 4, 5)


def one_tensor(size=(2, 3), stride=(3, 1), offset=0, numel=6, storage_type=torch.FloatStorage, data=SIX):
    s = StorageRef(storage_type, "0", numel)
    return standard(data_pickle({"w": TensorRef(s, offset, size, stride)}), [("0", data)])


def replace_once(data, old, new):
    assert data.count(old) == 1, (old, data.count(old))
    return data.replace(old, new)


# ---- the zip container -----------------------------------------------------

good = one_tensor()
add("valid.pth", good, "the undamaged file the others are made from (reads: {'w': 2x3 float32})", "read")

end = good.rfind(b"PK\x05\x06")
central = good.find(b"PK\x01\x02")
add("truncated_central_directory.pth", good[:central + 30],
    "cut inside the central directory (no end record)", {"case": "container", "contains": "no end-of-central-directory record"})
add("end_record_claims_more_entries.pth", good[:end + 8] + struct.pack("<HH", 1000, 1000) + good[end + 12:],
    "the end record claims 1000 entries in a directory that holds 4", {"case": "container", "contains": "declares 1000 entries"})
add("central_directory_offset_past_end.pth", good[:end + 16] + struct.pack("<I", 0x7FFFFFF0) + good[end + 20:],
    "the end record puts the central directory 2 GiB past the end of a tiny file", {"case": "container", "contains": "central directory"})

# A record whose sizes claim 4 GiB - 2 in a tiny file (local and central headers agree).
def headers(data, record):
    """The offsets of a record's local header and central directory header."""
    local_offset = zipfile.ZipFile(io.BytesIO(data)).getinfo(record).header_offset
    position = data.find(b"PK\x01\x02")
    while data[position + 46:position + 46 + len(record)] != record.encode():
        position = data.find(b"PK\x01\x02", position + 4)
    return local_offset, position


name = b"archive/data/0"
data0_local, data0_central = headers(good, "archive/data/0")
huge = bytearray(good)
huge[data0_local + 18:data0_local + 26] = struct.pack("<II", 0xFFFFFFFE, 0xFFFFFFFE)
huge[data0_central + 20:data0_central + 28] = struct.pack("<II", 0xFFFFFFFE, 0xFFFFFFFE)
add("record_size_claims_gigabytes.pth", bytes(huge),
    "data/0's local and central headers claim 4 GiB in a file of 1 KiB", {"case": "container", "contains": "runs past"})

crc = bytearray(good)
crc[data0_local + 30 + len(name) + 4] ^= 0x01
add("wrong_crc_data.pth", bytes(crc),
    "one bit of data/0 flipped: its CRC-32 no longer matches (read by verifyRecords / pth verify)",
    {"case": "container", "contains": "CRC-32"})

pkl_good = data_pickle({"w": TensorRef(StorageRef(torch.FloatStorage, "0", 6), 0, (2, 3), (3, 1))})
add("wrong_crc_pickle.pth", replace_once(good, b"X\x01\x00\x00\x00w", b"X\x01\x00\x00\x00v"),
    "the key 'w' in data.pkl changed to 'v': the pickle still parses but its CRC-32 does not match",
    {"case": "container", "contains": "CRC-32"})

add("duplicate_data_pkl.pth",
    checkpoint([("archive/data.pkl", pkl_good), ("archive/data.pkl", data_pickle({"w": 1})),
                ("archive/byteorder", b"little"), ("archive/data/0", SIX), ("archive/version", b"3\n")]),
    "two records named data.pkl with different contents: which one is the checkpoint is ambiguous",
    {"case": "container", "contains": "appears twice"})
add("duplicate_storage_record.pth",
    checkpoint([("archive/data.pkl", pkl_good), ("archive/byteorder", b"little"), ("archive/data/0", SIX),
                ("archive/data/0", floats(9, 9, 9, 9, 9, 9)), ("archive/version", b"3\n")]),
    "two records named data/0 with different contents", {"case": "container", "contains": "appears twice"})
add("path_traversing_names.pth",
    checkpoint([("archive/data.pkl", pkl_good), ("archive/byteorder", b"little"), ("archive/data/0", SIX),
                ("archive/../../etc/passwd", b"root:x:0:0\n"), ("archive/version", b"3\n")]),
    "a record named archive/../../etc/passwd (nothing is ever extracted, but no writer makes such a name)",
    {"case": "container", "contains": "climbs out"})
add("absolute_name.pth",
    checkpoint([("/archive/data.pkl", pkl_good), ("/archive/byteorder", b"little"), ("/archive/data/0", SIX),
                ("/archive/version", b"3\n")]),
    "every record name starts with '/'", {"case": "container", "contains": "absolute record name"})

# A deflate bomb: 64 MiB of zeros deflated to 64 KiB, declared as 64 MiB, for a storage of 6 floats.
bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
zeros = bomb.compress(bytes(64 << 20)) + bomb.flush()
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w") as z:
    z.writestr("archive/data.pkl", pkl_good)
    z.writestr("archive/byteorder", b"little")
    z.writestr(zipfile.ZipInfo("archive/data/0"), bytes(64 << 20), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    z.writestr("archive/version", b"3\n")
add("deflate_bomb.pth", buffer.getvalue(),
    f"data/0 deflated: {len(zeros) >> 10} KiB that inflate to 64 MiB, where the pickle wants 24 bytes",
    {"case": "pickle", "contains": "holds 67108864 bytes but the pickle declares 6 float32 elements"})

# A record whose headers claim it inflates to 3.75 GiB from 1 KiB, and a pickle that agrees.
claimed = 0xF0000000
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w") as z:
    z.writestr("archive/data.pkl", data_pickle({"w": TensorRef(StorageRef(torch.FloatStorage, "0", claimed // 4), 0, (6,), (1,))}))
    z.writestr("archive/byteorder", b"little")
    z.writestr(zipfile.ZipInfo("archive/data/0"), bytes(1 << 20), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    z.writestr("archive/version", b"3\n")
claims = bytearray(buffer.getvalue())
local_offset, central_offset = headers(bytes(claims), "archive/data/0")
claims[local_offset + 22:local_offset + 26] = struct.pack("<I", claimed)
claims[central_offset + 24:central_offset + 28] = struct.pack("<I", claimed)
add("deflate_claims_gigabytes.pth", bytes(claims),
    "data/0: 1 KiB of deflate whose headers (and the pickle) claim 3.75 GiB, more than deflate can expand to (1032:1)",
    {"case": "zip", "contains": "cannot inflate to the 4026531840 bytes"})

# ---- storages and views ----------------------------------------------------

s = StorageRef(torch.FloatStorage, "0", 1000)
add("short_record.pth", standard(data_pickle({"w": TensorRef(s, 0, (6,), (1,))}), [("0", SIX)]),
    "the persistent id says 1000 float32 elements; data/0 holds 24 bytes", {"case": "pickle", "contains": "holds 24 bytes but the pickle declares 1000 float32 elements"})
add("view_past_storage.pth", one_tensor(size=(4, 3)),
    "a 4x3 view on a storage of 6 elements", {"case": "pickle", "contains": "needs"})
add("stride_past_storage.pth", one_tensor(size=(2, 3), stride=(5, 1)),
    "stride (5, 1) reaches element 8 of 6", {"case": "pickle", "contains": "needs"})
add("offset_past_storage.pth", one_tensor(size=(3,), stride=(1,), offset=5),
    "storage offset 5 with 3 elements on a storage of 6", {"case": "pickle", "contains": "needs"})
add("negative_size.pth", one_tensor(size=(-1, 3)),
    "a size of -1", {"case": "pickle", "contains": "negative size -1"})
add("negative_stride.pth", one_tensor(size=(2, 3), stride=(-3, 1)),
    "a stride of -3", {"case": "pickle", "contains": "negative stride -3"})
add("negative_offset.pth", one_tensor(size=(2,), stride=(1,), offset=-1),
    "a storage offset of -1", {"case": "pickle", "contains": "negative storage offset -1"})
add("huge_size.pth", one_tensor(size=(2 ** 62, 2 ** 62), stride=(1, 1)),
    "sizes whose product overflows 64 bits", {"case": "pickle", "contains": "overflows"})
add("huge_numel.pth", standard(data_pickle({"w": TensorRef(StorageRef(torch.FloatStorage, "0", 2 ** 61), 0, (6,), (1,))}),
                               [("0", SIX)]),
    "the persistent id claims 2^61 float32 elements (2^63 bytes)", {"case": "pickle", "contains": "element count 2305843009213693952 overflows"})
a = StorageRef(torch.FloatStorage, "0", 6)
b = StorageRef(torch.LongStorage, "0", 3)
add("one_key_two_dtypes.pth",
    standard(data_pickle({"f": TensorRef(a, 0, (6,), (1,)), "i": TensorRef(b, 0, (3,), (1,))}), [("0", SIX)]),
    "storage 0 named as float32 by one tensor and int64 by another (torch.save refuses to write this; "
    "torch.load silently reads both as float32)", {"case": "pickle", "contains": "declared as float32 and as int64"})
add("missing_storage_record.pth", standard(pkl_good, []),
    "the pickle names storage 0; there is no data/0", {"case": "pickle", "contains": "has no record 'archive/data/0'"})

# ---- the pickle ------------------------------------------------------------

def with_pickle(pkl, deflated=False):
    if not deflated:
        return standard(pkl, [("0", SIX)])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", pkl, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
        z.writestr("archive/byteorder", b"little")
        z.writestr("archive/data/0", SIX)
        z.writestr("archive/version", b"3\n")
    return buffer.getvalue()


add("memo_unset.pth", with_pickle(b"\x80\x02}q\x00X\x01\x00\x00\x00wh\x09s."),
    "BINGET 9: a memo slot that was never set", {"case": "pickle", "contains": "memo slot 9 was never set"})
add("no_stop.pth", with_pickle(b"\x80\x02}q\x00X\x01\x00\x00\x00wK\x01s"),
    "a pickle that never reaches STOP", {"case": "pickle", "contains": "ends without STOP"})
add("length_claims_gigabytes.pth", with_pickle(b"\x80\x02X\xf0\xff\xff\xffabc."),
    "BINUNICODE claiming 4 GiB - 16 bytes in a pickle of 12", {"case": "pickle", "contains": "runs past the end of the pickle"})
add("bytes8_claims_exabytes.pth", with_pickle(b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7fabc."),
    "BINBYTES8 claiming 2^63 - 1 bytes", {"case": "pickle", "contains": "runs past the end of the pickle"})
add("nesting_a_million_deep.pth", with_pickle(b"\x80\x02" + b"]" * 1_000_000 + b"a" * 999_999 + b".", deflated=True),
    "a million lists, each appended to the one below: nested a million deep (data.pkl deflated, to keep the file small)", {"case": "pickle", "contains": "maxNestingDepth"})
add("unknown_opcode.pth", with_pickle(b"\x80\x02\xff."),
    "opcode 0xff", {"case": "pickle", "contains": "0xff"})
add("code_execution.pth", with_pickle(b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R."),
    "os.system('true') through REDUCE: never called; the object is kept as an opaque call", "read")

add("reference_cycle.pth", with_pickle(b"\x80\x02}q\x00X\x04\x00\x00\x00selfq\x01h\x00s."),
    "d = {}; d['self'] = d: torch.load keeps the cycle (Python collects it); refused here by default, "
    "as Swift could never free it (UnpicklerOptions.referenceCycles = .keep reads it)",
    {"case": "pickle", "contains": "a dict x reaches itself as x['self']"})

bzip2 = io.BytesIO()
with zipfile.ZipFile(bzip2, "w") as z:
    for name, data in [("archive/data.pkl", pkl_good), ("archive/byteorder", b"little"),
                       ("archive/data/0", SIX), ("archive/version", b"3\n")]:
        z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, compress_type=zipfile.ZIP_BZIP2)
add("bzip2_records.pth", bzip2.getvalue(),
    "every record compressed with bzip2 (method 12), as a re-zipping tool may: whole, and read here "
    "through libzip; torch.load's zip reader (miniz) has no bzip2, which pth verify reports", "read")

# "Billion laughs" through the memo: each level a list of ten references to the level below, 30 levels.
laughs = bytearray(b"\x80\x02X\x03\x00\x00\x00lolq\x00")
for level in range(1, 31):
    laughs += b"]q" + bytes([level]) + b"(" + (b"h" + bytes([level - 1])) * 10 + b"e"
laughs += b"."
add("billion_laughs.pkl.pth", with_pickle(bytes(laughs)),
    "30 levels of lists, each of ten references to the one below (10^30 leaves if expanded): "
    "read as the shared graph it is", "read")

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, indent=2, sort_keys=True)
    f.write("\n")
for name, e in sorted(expected.items()):
    print(f"{name}: {e['torch']}")
