#!/usr/bin/env python3
"""Write fixtures/pickle_vectors.json: CPython's pickles of many objects at
every protocol 0-5, with what CPython says they are.

usage: make_pickle_vectors.py [OUT]

Each vector: {"name", "protocol", "hex": the pickle, "listing": the canonical
walk of the unpickled object (LISTING.md rules, no torch), "repr": repr() of
the unpickled object, "type": its type}. Hand-written pickles cover opcodes
no pickler emits today (INST, OBJ, PERSID text ids, DUP, POP_MARK, EXT codes).
"""
import collections
import hashlib
import json
import os
import pickle
import sys

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS_DIR)
import fixture_classes  # noqa: E402,F401  (for the opaque class)


def key(k):
    return k if isinstance(k, (str, int)) and not isinstance(k, bool) else repr(k)


def leaf(o):
    if o is None: return {"none": True}
    if isinstance(o, bool): return {"bool": o}
    if isinstance(o, int): return {"int": str(int(o))}
    if isinstance(o, float): return {"float": repr(float(o))}
    if isinstance(o, str): return {"str": o}
    if isinstance(o, (bytes, bytearray)): return {"bytes_sha256": hashlib.sha256(bytes(o)).hexdigest(), "len": len(o)}
    return None


def listing(obj):
    out, seen = [], set()

    def walk(o, path):
        lf = leaf(o)
        if lf is not None:
            out.append({"path": path, "value": lf}); return
        if id(o) in seen: return
        seen.add(id(o))
        if isinstance(o, dict):
            for k, v in o.items(): walk(v, path + [key(k)])
        elif isinstance(o, (list, tuple)):
            for i, v in enumerate(o): walk(v, path + [i])
    walk(obj, [])
    return out


shared = [1, 2]
SHARED_TEXT = "one str object, reached five times"
rec = []
rec.append(rec)
OBJECTS = {
    "ints": [0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -2**31, 2**31, 2**63 - 1, -2**63, 2**63, 2**64, -2**64 - 1, 2**100, -2**100, 2**1000],
    "floats": [0.0, -0.0, 1.5, -2.25, 1e-300, 5e-324, 1e300, float("inf"), float("-inf"), 0.1, 1e16, 123456789.125],
    "strings": ["", "a", "hello world", "ünïcödé", "日本語", "emoji 😀", "quote ' and \" and \\", "new\nline\ttab", "x" * 300],
    "bytes": [b"", b"\x00\x01\xff", bytes(range(256)), b"x" * 300],
    "bytearray": bytearray(b"abc\x00"),
    "containers": {"list": [1, [2, [3, []]]], "tuple": (1, (2, 3), ()), "dict": {"a": 1, 2: "b", (1, 2): [3]}},
    "keys": {1: "int", 1.5: "float", True: "bool", None: "none", (1, "a"): "tuple", "s": "str", b"k": "bytes", frozenset([3]): "fs"},
    "shared": {"a": shared, "b": shared, "c": (shared, shared)},
    "ordered": collections.OrderedDict([("z", 1), ("a", 2)]),
    "counter": collections.Counter("abracadabra"),
    "defaultdict": collections.defaultdict(list, {"k": [1]}),
    "sets": {"set": {1}, "frozenset": frozenset(["x"]), "empty": set()},
    "complex": [complex(1.5, -2), complex(0, 1)],
    "bools_none": [True, False, None],
    "recursive_list": rec,
    "opaque": fixture_classes.OpaqueRecord("n", 3, ["t"], {"k": 1}, [1.0]),
    # Plain data, what the machine's fast path (PlainDecoder) takes: batches
    # of APPENDS and SETITEMS past 1,000 items, strings shared across lists,
    # keys and tuples, tuple keys, 64-bit integers of every width.
    "plain_batches": {"list": [i % 7 for i in range(1001)], "dict": {i: -i for i in range(1001)}},
    "plain_shared_strings": [SHARED_TEXT, SHARED_TEXT, {"k": SHARED_TEXT, SHARED_TEXT: 1}, (SHARED_TEXT,), b"b", [b"b"]],
    "plain_keys": {(1, (2, "a")): "nested tuple key", (): "empty tuple key", -5: "negative", 2**40: "wide", -2**63: "min",
                   b"raw": "bytes key", 0.5: "float key", None: "none key"},
    "plain_integers": [-1, -128, -129, 255, 256, -32768, 65535, 65536, -2**31 - 1, 2**31, -2**62, 2**63 - 1, -2**63],
    "plain_records": [{"id": i, "score": i * 0.5, "name": f"name{i}", "tags": (f"t{i % 3}",)} for i in range(40)],
}

HANDWRITTEN = {
    # protocol 0 INST with a MARK, then BUILD
    "inst": b"(ifixture_classes\nOpaqueRecord\n(dp0\nVname\np1\nVx\np2\nsVversion\np3\nI7\nsb.",
    # protocol 1 OBJ
    "obj": b"(cfixture_classes\nOpaqueRecord\no}(X\x04\x00\x00\x00nameK\x01X\x07\x00\x00\x00versionK\x02ub.",
    # DUP, POP, POP_MARK
    "dup_pop": b"](K\x01K\x0212(K\x05K\x06N0e(K\x03K\x04e.",
    # Python 2 str opcodes: STRING, BINSTRING, SHORT_BINSTRING
    "py2_strings": b"(S'a\\'b\\n\\x41'\nT\x03\x00\x00\x00xyzU\x02hil.",
    # raw-unicode-escape UNICODE with \u escape
    "unicode_escape": b"V\\u00e9t\\u00e9\n.",
    # INT as bool, LONG text, FLOAT text, GET/PUT text
    "text_numbers": b"(I01\nI00\nI-42\nL123456789012345678901234567890L\nF1.5\np7\ng7\nl.",
    # empty FROZENSET and EMPTY_SET + ADDITEMS
    "sets4": b"\x80\x04\x8f(K\x01K\x02\x90(\x91\x86.",
    # a key set twice: it keeps its place and first key object, the value is the last
    "plain_duplicate_keys": b"\x80\x02}(X\x01\x00\x00\x00aK\x01X\x01\x00\x00\x00bK\x02X\x01\x00\x00\x00aK\x03u.",
    # 1, 1.0 and True are one key: the int stays, 'bool' is its value
    "plain_numeric_keys": b"\x80\x02}(K\x01X\x03\x00\x00\x00intG?\xf0\x00\x00\x00\x00\x00\x00X\x05\x00\x00\x00float\x88X\x04\x00\x00\x00boolu.",
}


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOOLS_DIR, "..", "fixtures", "pickle_vectors.json")
    vectors = []
    for name, obj in OBJECTS.items():
        if obj is None:
            continue
        # The 1,000-item batches once (protocol 4, with frames): their listing is long.
        for proto in ([4] if name == "plain_batches" else range(6)):
            data = pickle.dumps(obj, protocol=proto)
            back = pickle.loads(data)
            vectors.append({"name": name, "protocol": proto, "hex": data.hex(), "listing": listing(back),
                            "repr": repr(back) if name not in ("big_list", "big_dict", "keys", "counter") else None,
                            "type": type(back).__module__ + "." + type(back).__qualname__})
    for name, data in HANDWRITTEN.items():
        back = pickle.loads(data)
        vectors.append({"name": name, "protocol": -1, "hex": data.hex(), "listing": listing(back), "repr": repr(back),
                        "type": type(back).__module__ + "." + type(back).__qualname__})
    with open(out_path, "w") as fh:
        json.dump(vectors, fh, indent=0)
        fh.write("\n")
    print(f"{len(vectors)} vectors")


if __name__ == "__main__":
    main()
