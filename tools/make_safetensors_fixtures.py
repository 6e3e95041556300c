#!/usr/bin/env python3
"""Write the safetensors fixtures with the real safetensors package, each with
a JSON sidecar saying what safetensors and PyTorch make of it.

usage: make_safetensors_fixtures.py [OUTDIR]   (default: fixtures/safetensors/ beside tools/)

For every FILE.safetensors, FILE.safetensors.json holds:
  file, sha256                 the file and the SHA-256 of its bytes
  written_by                   the API that wrote it
  header_keys                  the keys of the header's JSON object in text order
                               (tensor names, and __metadata__ where it is)
  offset_keys                  safe_open(...).offset_keys(): names in data order
  metadata                     [[key, value], ...] in the header's text order, or null
  tensors                      in header order: name, dtype (safetensors), shape (header),
                               data_offsets, torch_dtype and torch_shape (load_file's
                               tensor), sha256 of its elements' bytes, little-endian,
                               row-major (load_file's tensor viewed as uint8)
  canonical_sha256             SHA-256 of what safetensors.torch.save writes for
                               load_file(FILE) with the file's metadata: what a writer
                               matching save_file must produce. null where save cannot
                               reproduce it (more than one metadata entry: save_file
                               orders them as a Rust HashMap, differently in every
                               process); there the file itself, written back with its
                               metadata in the file's order, is the reference.

malformed.json: hand-made files (base64) with the verdicts of safetensors.deserialize
and of safetensors.torch.load_file ("ok" with the tensors, or the error message).

from_pth.json: for some checkpoint fixtures (fixtures/*.pth), what safetensors makes
of their tensors: which ones save_file refuses for their dtype or layout
("unsupported": name -> message), which ones share memory as
safetensors.torch._find_shared_tensors finds it among the contiguous ones
("shared_groups"), and the SHA-256 of safetensors.torch.save of the others,
each made contiguous, unshared (cloned) and with its conjugate and negative bits
resolved ("names", "canonical_sha256"): what writing those tensors must give.

Names in the sidecars are lists, never JSON object keys: readers that compare
strings by Unicode canonical equivalence would merge "\\u00e9" and "e\\u0301".

Deterministic except for names.safetensors, whose metadata order changes from
run to run (see canonical_sha256).
"""
import base64
import hashlib
import json
import os
import struct
import sys
import tempfile

import torch
import safetensors
from safetensors import safe_open, deserialize
from safetensors.torch import load_file, save, save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def element_bytes(t):
    """The tensor's elements as bytes, row-major, in the machine's (little-endian) order."""
    flat = t.contiguous().reshape(-1)
    if flat.dtype.itemsize != 1 or flat.dtype != torch.uint8:
        flat = flat.view(torch.uint8)
    return flat.numpy().tobytes()


def header_of(data):
    n = struct.unpack("<Q", data[:8])[0]
    return n, data[8:8 + n].decode("utf-8")


def describe(path, written_by):
    with open(path, "rb") as f:
        data = f.read()
    _, text = header_of(data)
    pairs = json.loads(text, object_pairs_hook=lambda p: p)
    header_keys = [k for k, _ in pairs]
    metadata = next((v for k, v in pairs if k == "__metadata__"), None)
    infos = {k: dict(v) for k, v in pairs if k != "__metadata__"}
    loaded = load_file(path)
    with safe_open(path, framework="pt") as f:
        offset_keys = f.offset_keys()
        py_metadata = f.metadata()
    assert (dict(metadata) if metadata is not None else None) == py_metadata, (metadata, py_metadata)
    tensors = []
    for name in header_keys:
        if name == "__metadata__":
            continue
        info, t = infos[name], loaded[name]
        tensors.append({
            "name": name,
            "dtype": info["dtype"],
            "shape": info["shape"],
            "data_offsets": info["data_offsets"],
            "torch_dtype": str(t.dtype).split(".")[-1],
            "torch_shape": list(t.shape),
            "sha256": sha256(element_bytes(t)),
        })
    canonical = None
    if metadata is None or len(metadata) <= 1:
        canonical = sha256(save(loaded, metadata=dict(metadata) if metadata is not None else None))
    return {
        "file": os.path.basename(path),
        "sha256": sha256(data),
        "written_by": written_by,
        "safetensors_version": safetensors.__version__,
        "torch_version": torch.__version__,
        "header_keys": header_keys,
        "offset_keys": offset_keys,
        "metadata": [list(kv) for kv in metadata] if metadata is not None else None,
        "tensors": tensors,
        "canonical_sha256": canonical,
    }


def bits(values, int_dtype, dtype):
    """A tensor of `dtype` with exactly these bit patterns (NaN payloads kept)."""
    return torch.tensor(values, dtype=int_dtype).view(dtype)


def dtypes_fixture():
    all_bytes = torch.arange(256, dtype=torch.uint8).reshape(16, 16)
    return {
        "f64": bits([0, -2**63, 0x3FF8000000000000, 0x7FF0000000000000, -0x0010000000000000,
                     0x7FF8000000000001, 1, 0x7FEFFFFFFFFFFFFF], torch.int64, torch.float64),
        "f32": bits([0, -2**31, 0x3FC00000, 0x7F800000, -0x00800000, 0x7FC00001, 1, 0x7F7FFFFF],
                    torch.int32, torch.float32),
        "f16": bits([0, -2**15, 0x3E00, 0x7C00, -0x0400, 0x7E01, 1, 0x7BFF], torch.int16, torch.float16),
        "bf16": bits([0, -2**15, 0x3FC0, 0x7F80, -0x0080, 0x7FC1, 1, 0x7F7F], torch.int16, torch.bfloat16),
        "i64": torch.tensor([-2**63, -1, 0, 1, 2**63 - 1], dtype=torch.int64),
        "i32": torch.tensor([-2**31, -1, 0, 1, 2**31 - 1], dtype=torch.int32),
        "i16": torch.tensor([-2**15, -1, 0, 1, 2**15 - 1], dtype=torch.int16),
        "i8": torch.tensor([-128, -1, 0, 1, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8),
        "u16": bits([0, 1, 0x7FFF, -0x8000, -1], torch.int16, torch.uint16),
        "u32": bits([0, 1, 0x7FFFFFFF, -2**31, -1], torch.int32, torch.uint32),
        "u64": bits([0, 1, 2**63 - 1, -2**63, -1], torch.int64, torch.uint64),
        "bool": torch.tensor([True, False, True, True]),
        "c64": bits([0x3F800000, 0x40000000, -2**31, -2**31, 0x7F800000, 0x7FC00000], torch.int32,
                    torch.float32).view(torch.complex64),
        "f8_e4m3fn": all_bytes.clone().view(torch.float8_e4m3fn),
        "f8_e5m2": all_bytes.clone().view(torch.float8_e5m2),
        "f8_e8m0fnu": all_bytes.clone().view(torch.float8_e8m0fnu),
        "f8_e4m3fnuz": all_bytes.clone().view(torch.float8_e4m3fnuz),
        "f8_e5m2fnuz": all_bytes.clone().view(torch.float8_e5m2fnuz),
        "f4_e2m1fn_x2": all_bytes.clone().view(torch.float4_e2m1fn_x2),
    }


def shapes_fixture():
    g = torch.Generator().manual_seed(7)
    return {
        "scalar_f32": torch.tensor(3.25),
        "scalar_i64": torch.tensor(-7),
        "scalar_bool": torch.tensor(True),
        "scalar_e8m0": torch.tensor(5, dtype=torch.uint8).view(torch.float8_e8m0fnu),
        "empty": torch.zeros(0),
        "empty_2x0x3_f16": torch.zeros(2, 0, 3, dtype=torch.float16),
        "empty_0x5_u8": torch.zeros(0, 5, dtype=torch.uint8),
        "vec_i32": torch.arange(5, dtype=torch.int32),
        "mat_f32": torch.randn(2, 3, generator=g),
        "cube_bf16": torch.randn(2, 3, 4, generator=g).to(torch.bfloat16),
        "hyper_i16": torch.arange(6, dtype=torch.int16).reshape(1, 2, 1, 3),
        "f4_2x4": torch.arange(8, dtype=torch.uint8).view(torch.float4_e2m1fn_x2).reshape(2, 4),
    }


NAMES = [
    "layers.10.weight", "layers.2.weight", "layers.1.bias", "Layer.0", "layer.0", "b", "a", "B", "A",
    "_x", "~tilde", "\u00e9", "e\u0301", "\u65e5\u672c\u8a9e", "emoji\U0001F600", 'quote"name',
    "back\\slash", "slash/name", "tab\tname", "nl\nname", "ctl\x01\x1f\x08\x0c\r", "del\x7f", "",
    " space", "sep\u2028", "nul\x00byte", "z" * 40, "0", "00", "9",
]


def names_fixture():
    dtypes = [torch.float32, torch.float16, torch.int64, torch.uint8, torch.bool, torch.bfloat16]
    out = {}
    for i, name in enumerate(NAMES):
        dtype = dtypes[i % len(dtypes)]
        out[name] = (torch.arange(2) + i).to(dtype)
    return out


NAMES_METADATA = {
    "format": "pt", "zeta": "z", "alpha": "a", 'quote"': "back\\slash\nnewline",
    "\u00fcn\u00ef": "\u00e7\u00f8d\u00e9 \U0001F600", "ctl": "\x00\x1f\x7f", "": "empty key",
}


def hand_ordered(path):
    """A valid file no save_file would write: header keys in neither name nor
    data order, __metadata__ last, whitespace padding of other kinds, an
    unaligned data buffer."""
    b = struct.pack("<2f", 1.5, -2.0)
    a = struct.pack("<q", -3)
    c = bytes([7, 8, 9])
    header = ('\n {"c": {"shape": [3], "dtype": "U8", "data_offsets": [16, 19]},\n'
              '  "a": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16], "extra": [1, {"x": null}]},\n'
              '  "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},\n'
              '  "__metadata__": {"source": "hand"}}\t\r\n').encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + b + a + c)


def mk(header, data=b""):
    hb = header if isinstance(header, bytes) else header.encode()
    return struct.pack("<Q", len(hb)) + hb + data


def t(name, dtype="F32", shape="[1]", offsets="[0,4]", extra=""):
    return '"%s":{"dtype":%s,"shape":%s,"data_offsets":%s%s}' % (name, dtype, shape, offsets, extra)


def f32(name="a", shape="[1]", offsets="[0,4]", extra=""):
    return t(name, '"F32"', shape, offsets, extra)


MALFORMED = {
    "short": b"\x02\0\0\0",
    "length_only": struct.pack("<Q", 0),
    "header_too_large": struct.pack("<Q", 100_000_001) + b"{}",
    "header_length_max": struct.pack("<Q", 2**64 - 1) + b"{}",
    "header_at_limit_beyond_file": struct.pack("<Q", 100_000_000) + b"{}",
    "header_beyond_file": struct.pack("<Q", 9) + b"{}      ",
    "empty_object": mk("{}"),
    "empty_object_padded": mk("{}      "),
    "not_json": mk("hello!!!"),
    "array_root": mk("[]"),
    "string_root": mk('"x"'),
    "bom": mk(b"\xef\xbb\xbf{}"),
    "bad_utf8": mk(b'{"\xff":1}'),
    "overlong_utf8": mk(b'{"\xc0\xaf":1}'),
    "surrogate_utf8": mk(b'{"\xed\xa0\x80":1}'),
    "bad_third_utf8": mk(b'{"\xe2\x82\x41":1}'),
    "incomplete_utf8": mk(b'{"a\xe2\x82'),
    "nul_padding": mk("{" + f32() + "}\0\0", b"\0" * 4),
    "whitespace_padding": mk(" \n{" + f32() + "}\t\n\r ", b"\0" * 4),
    "trailing_comma": mk("{" + f32() + ",}", b"\0" * 4),
    "trailing_garbage": mk("{" + f32() + "}x", b"\0" * 4),
    "unknown_dtype": mk("{" + t("a", '"F128"') + "}", b"\0" * 4),
    "lowercase_dtype": mk("{" + t("a", '"f32"') + "}", b"\0" * 4),
    "dtype_object_form": mk("{" + t("a", '{"F32":null}') + "}", b"\0" * 4),
    "dtype_object_two_keys": mk("{" + t("a", '{"F32":null,"x":null}') + "}", b"\0" * 4),
    "dtype_object_value": mk("{" + t("a", '{"F32":1}') + "}", b"\0" * 4),
    "dtype_array": mk("{" + t("a", '["F32"]') + "}", b"\0" * 4),
    "entry_array_form": mk('{"a":["F32",[1],[0,4]]}', b"\0" * 4),
    "entry_array_short": mk('{"a":["F32",[1]]}', b"\0" * 4),
    "entry_array_long": mk('{"a":["F32",[1],[0,4],5]}', b"\0" * 4),
    "entry_number": mk('{"a":1}', b"\0" * 4),
    "extra_field": mk("{" + f32(extra=',"x":[[{}]]') + "}", b"\0" * 4),
    "duplicate_field": mk('{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
    "missing_field": mk('{"a":{"dtype":"F32","shape":[1]}}', b"\0" * 4),
    "shape_null": mk("{" + f32(shape="null") + "}", b"\0" * 4),
    "shape_negative": mk("{" + f32(shape="[-1]") + "}", b"\0" * 4),
    "shape_negative_zero": mk("{" + f32(shape="[-0]", offsets="[0,0]") + "}"),
    "shape_float": mk("{" + f32(shape="[1.0]") + "}", b"\0" * 4),
    "shape_exponent": mk("{" + f32(shape="[1e0]") + "}", b"\0" * 4),
    "shape_leading_zero": mk("{" + f32(shape="[01]") + "}", b"\0" * 4),
    "shape_2_64": mk("{" + f32(shape="[18446744073709551616]") + "}", b"\0" * 4),
    "shape_u64_max_with_zero": mk("{" + f32(shape="[0,18446744073709551615]", offsets="[0,0]") + "}"),
    "shape_overflow": mk("{" + f32(shape="[4294967296,4294967296]") + "}", b"\0" * 4),
    "shape_bits_overflow": mk("{" + t("a", '"F64"', "[2305843009213693952]") + "}", b"\0" * 4),
    "offsets_three": mk("{" + f32(offsets="[0,4,4]") + "}", b"\0" * 4),
    "offsets_object": mk("{" + f32(offsets='{"0":0,"1":4}') + "}", b"\0" * 4),
    "offsets_gap": mk("{" + f32(offsets="[4,8]") + "}", b"\0" * 8),
    "offsets_overlap": mk("{" + f32("a") + "," + f32("b", offsets="[2,6]") + "}", b"\0" * 6),
    "offsets_reversed": mk("{" + f32("a") + "," + f32("b", shape="[0]", offsets="[4,3]") + "}", b"\0" * 4),
    "offsets_beyond_file": mk("{" + f32(offsets="[0,4]") + "}", b"\0" * 2),
    "offsets_huge": mk("{" + f32(offsets="[0,18446744073709551615]") + "}", b"\0" * 4),
    "size_mismatch": mk("{" + f32(shape="[2]") + "}", b"\0" * 4),
    "trailing_data": mk("{" + f32() + "}", b"\0" * 5),
    "two_empty_same_offset": mk("{" + f32("b", shape="[0]", offsets="[0,0]") + "," + f32("a", shape="[0]", offsets="[0,0]") + "}"),
    "duplicate_name_last_valid": mk("{" + f32(offsets="[4,8]") + "," + f32() + "}", b"\0" * 4),
    "duplicate_name_first_valid": mk("{" + f32() + "," + f32(offsets="[4,8]") + "}", b"\0" * 4),
    "metadata_null": mk('{"__metadata__":null,' + f32() + "}", b"\0" * 4),
    "metadata_twice": mk('{"__metadata__":{},"__metadata__":{},' + f32() + "}", b"\0" * 4),
    "metadata_duplicate_key": mk('{"__metadata__":{"k":"1","k":"2"}}'),
    "metadata_number": mk('{"__metadata__":{"k":1}}'),
    "metadata_list": mk('{"__metadata__":["k"]}'),
    "metadata_escaped_key": mk('{"\\u005f_metadata__":{"k":"v"}}'),
    "surrogate_pair": mk('{"__metadata__":{"\\ud83d\\ude00":"\\/"}}'),
    "lone_surrogate": mk('{"__metadata__":{"\\ud800":"x"}}'),
    "lone_low_surrogate": mk('{"__metadata__":{"\\udc00":"x"}}'),
    "control_in_string": mk('{"__metadata__":{"a\x01":"x"}}'),
    "bad_escape": mk('{"__metadata__":{"a":"\\q"}}'),
    "number_out_of_range": mk("{" + f32(extra=',"x":1.5e400') + "}", b"\0" * 4),
    "number_underflow": mk("{" + f32(extra=',"x":1e-400') + "}", b"\0" * 4),
    "depth_127": mk("{" + f32(extra=',"x":' + "[" * 125 + "]" * 125) + "}", b"\0" * 4),
    "depth_128": mk("{" + f32(extra=',"x":' + "[" * 126 + "]" * 126) + "}", b"\0" * 4),
    "f6": mk("{" + t("a", '"F6_E2M3"', "[4]", "[0,3]") + "}", b"\0" * 3),
    "f4_odd_last_dim": mk("{" + t("a", '"F4"', "[2,1]", "[0,1]") + "}", b"\0"),
    "f4_scalar": mk("{" + t("a", '"F4"', "[]", "[0,1]") + "}", b"\0"),
    "f4_misaligned": mk("{" + t("a", '"F4"', "[3]", "[0,2]") + "}", b"\0" * 2),
    "f4_ok": mk("{" + t("a", '"F4"', "[2,4]", "[0,4]") + "}", b"\0" * 4),
}


def compact_json(obj):
    """An object with one member per line, and one line per item of its lists of objects."""
    def member(k, v):
        if isinstance(v, list) and v and isinstance(v[0], dict):
            items = ",\n  ".join(json.dumps(x, ensure_ascii=True) for x in v)
            return "%s: [\n  %s\n ]" % (json.dumps(k), items)
        return "%s: %s" % (json.dumps(k), json.dumps(v, ensure_ascii=True))
    return "{\n " + ",\n ".join(member(k, v) for k, v in obj.items()) + "\n}\n"


PTH_SOURCES = ["state_dict.pth", "views.pth", "dtypes.pth", "conj_neg.pth", "quantized.pth"]


def from_pth(fixtures_dir):
    import warnings
    warnings.filterwarnings("ignore")
    out = []
    for name in PTH_SOURCES:
        loaded = torch.load(os.path.join(fixtures_dir, name), weights_only=False)
        tensors = {k: v for k, v in loaded.items() if isinstance(v, torch.Tensor)}
        unsupported, ready = {}, {}
        for k, v in tensors.items():
            try:
                w = v.resolve_conj().resolve_neg().contiguous().clone()
                save({k: w})
                ready[k] = w
            except Exception as e:  # noqa: BLE001 - the message is the verdict
                unsupported[k] = "%s: %s" % (type(e).__name__, str(e).strip().splitlines()[0])
        contiguous = {k: tensors[k] for k in ready if tensors[k].is_contiguous()}
        from safetensors.torch import _find_shared_tensors
        groups = sorted(sorted(g) for g in _find_shared_tensors(contiguous) if len(g) > 1)
        out.append({
            "source": name,
            "names": list(ready),
            "unsupported": unsupported,
            "shared_groups": groups,
            "canonical_sha256": sha256(save(ready)) if ready else None,
        })
    return out


def verdicts(data):
    try:
        tensors = sorted([n, d["dtype"], d["shape"]] for n, d in deserialize(data))
        result = {"deserialize": "ok", "tensors": tensors}
    except Exception as e:  # noqa: BLE001 - the message is the verdict
        result = {"deserialize": str(e)}
    with tempfile.NamedTemporaryFile(suffix=".safetensors", delete=False) as f:
        f.write(data)
        path = f.name
    try:
        loaded = load_file(path)
        result["load_file"] = "ok"
        result["torch"] = sorted([n, str(v.dtype).split(".")[-1], list(v.shape)] for n, v in loaded.items())
    except Exception as e:  # noqa: BLE001
        message = str(e).splitlines()[0]
        # Most load_file errors are deserialize's with another prefix: say so, briefly.
        same = result["deserialize"].replace("Error while deserializing: ", "Error while deserializing header: ", 1)
        result["load_file"] = "same error" if message == same else message
    finally:
        os.unlink(path)
    return result


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "fixtures", "safetensors")
    os.makedirs(outdir, exist_ok=True)
    fixtures = [
        ("dtypes.safetensors", lambda p: save_file(dtypes_fixture(), p),
         "every dtype safetensors.torch saves: F64 F32 F16 BF16 I64 I32 I16 I8 U8 U16 U32 U64 BOOL C64, "
         "the five float8 types and F4 (all 256 bit patterns), NaN payloads, infinities, -0, subnormals, extremes"),
        ("shapes.safetensors", lambda p: save_file(shapes_fixture(), p, metadata={"format": "pt"}),
         "0-dim tensors, empty tensors ([0], [2,0,3], [0,5]), 1- to 4-dim tensors, F4 with doubled last dim; one metadata entry"),
        ("names.safetensors", lambda p: save_file(names_fixture(), p, metadata=NAMES_METADATA),
         "30 tensors of mixed dtypes inserted out of order; names with escapes, control characters, NUL, "
         "non-ASCII, 'e\\u0301' beside '\\u00e9', the empty name; seven metadata entries (order varies per run)"),
        ("empty.safetensors", lambda p: save_file({}, p), "no tensors, no metadata"),
        ("metadata_only.safetensors", lambda p: save_file({}, p, metadata={"note": "no tensors here"}),
         "no tensors, one metadata entry"),
        ("hand_ordered.safetensors", hand_ordered,
         "assembled by hand, accepted by safetensors: header keys in neither name nor data order, "
         "__metadata__ last, whitespace around the JSON, an extra field, header length not a multiple of 8"),
    ]
    readme = ["# safetensors fixtures", "",
              "Written by `tools/make_safetensors_fixtures.py` (safetensors %s, torch %s); do not edit by hand."
              % (safetensors.__version__, torch.__version__),
              "Each `FILE` has `FILE.json` beside it: what safetensors and PyTorch say about it (see the script's docstring).",
              "`malformed.json`: hand-made damaged or unusual files with the verdicts of `safetensors.deserialize` and `load_file`.",
              "`from_pth.json`: what `save_file` makes of the tensors of some checkpoint fixtures (`../*.pth`).", ""]
    for name, build, what in fixtures:
        path = os.path.join(outdir, name)
        build(path)
        os.chmod(path, 0o644)  # save_file's temporary file is created 0600.
        written_by = "hand-assembled" if name.startswith("hand") else "safetensors.torch.save_file"
        sidecar = describe(path, written_by)
        if written_by != "hand-assembled" and sidecar["canonical_sha256"] is not None:
            assert sidecar["canonical_sha256"] == sidecar["sha256"], name
        with open(path + ".json", "w", encoding="utf-8", newline="\n") as f:
            f.write(compact_json(sidecar))
        readme.append("- `%s`: %s. Written by `%s`." % (name, what, written_by))
    cases = []
    for name, data in MALFORMED.items():
        case = {"name": name, "base64": base64.b64encode(data).decode()}
        case.update(verdicts(data))
        cases.append(case)
    with open(os.path.join(outdir, "malformed.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=True) for c in cases) + "\n]\n")
    with open(os.path.join(outdir, "from_pth.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=True) for c in from_pth(os.path.join(outdir, ".."))) + "\n]\n")
    with open(os.path.join(outdir, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(readme) + "\n")


if __name__ == "__main__":
    main()
