#!/usr/bin/env python3
"""Object trees that the Swift tests build with the library's API, and what
torch.save writes for the same objects.

usage: make_swift_built.py OUTDIR [COUNT...]   (default counts: 1 10)

For each COUNT, writes OUTDIR/sd_COUNT.json (the spec) and OUTDIR/sd_COUNT.pth
(torch.save of the objects the spec describes). The spec is a tree of nodes:
  {"kind": "odict"|"dict", "items": [[key, node], ...]}, {"kind": "list"|"tuple", "items": [...]},
  {"kind": "tensor", "id", "dtype", "shape", "hex"}  (a new contiguous tensor from little-endian bytes),
  {"kind": "view", "of": id, "shape", "stride", "offset"}, {"kind": "param", "of": id, "requires_grad"},
  {"kind": "ref", "of": id}  (the same tensor object again),
  {"kind": "int"|"float"|"str", "value"}, {"kind": "bool", "value"}, {"kind": "none"}.
Strings are built at run time, so Python holds distinct objects where the
Swift side does (no interned literals). Deterministic for a given COUNT.
"""
import json
import os
import random
import sys

import torch

DTYPES = ["float32", "float16", "bfloat16", "float64", "int64", "int32", "int8", "uint8", "bool",
          "uint16", "float8_e4m3fn", "complex64"]


def build(spec, tensors):
    k = spec["kind"]
    if k in ("odict", "dict"):
        import collections
        d = collections.OrderedDict() if k == "odict" else {}
        for key, node in spec["items"]:
            d["".join(key)] = build(node, tensors)   # a new str object, not an interned literal
        return d
    if k == "list":
        return [build(n, tensors) for n in spec["items"]]
    if k == "tuple":
        return tuple(build(n, tensors) for n in spec["items"])
    if k == "tensor":
        dtype = getattr(torch, spec["dtype"])
        raw = torch.frombuffer(bytearray(bytes.fromhex(spec["hex"])), dtype=torch.uint8).clone() if spec["hex"] else torch.empty(0, dtype=torch.uint8)
        t = raw.view(dtype).reshape(spec["shape"])
        tensors[spec["id"]] = t
        return t
    if k == "view":
        return tensors[spec["of"]].as_strided(spec["shape"], spec["stride"], spec["offset"])
    if k == "param":
        return torch.nn.Parameter(tensors[spec["of"]], requires_grad=spec["requires_grad"])
    if k == "ref":
        return tensors[spec["of"]]
    if k == "int":
        return int(spec["value"])
    if k == "float":
        return float(spec["value"])
    if k == "str":
        return "".join(spec["value"])
    if k == "bool":
        return spec["value"]
    if k == "none":
        return None
    raise ValueError(k)


def spec_for(count, rng):
    items, n = [], 0
    while n < count:
        dtype = DTYPES[n % len(DTYPES)]
        size = rng.randint(1, 6)
        itemsize = torch.empty(0, dtype=getattr(torch, dtype)).element_size()
        shape = [size] if n % 3 else [2, size]
        numel = size * (2 if len(shape) == 2 else 1)
        hexdata = bytes(rng.randrange(256) if dtype not in ("bool",) else rng.randrange(2) for _ in range(numel * itemsize)).hex()
        tid = f"t{n}"
        items.append([[f"layer{n}.", "weight"], {"kind": "tensor", "id": tid, "dtype": dtype, "shape": shape, "hex": hexdata}])
        n += 1
        if n < count and len(shape) == 2 and dtype in ("float32", "int64"):
            items.append([[f"layer{n - 1}.", "row"], {"kind": "view", "of": tid, "shape": [size], "stride": [1], "offset": size}])
            n += 1
        elif n < count and n % 7 == 0:
            grad = n % 2 == 0 and (dtype.startswith("float") or dtype.startswith("bfloat") or dtype.startswith("complex"))
            items.append([[f"layer{n - 1}.", "param"], {"kind": "param", "of": tid, "requires_grad": grad}])
            n += 1
        elif n < count and n % 11 == 0:
            items.append([[f"layer{n - 1}.", "tied"], {"kind": "ref", "of": tid}])
            n += 1
    return {"kind": "dict", "items": [
        [["model"], {"kind": "odict", "items": items}],
        [["epoch"], {"kind": "int", "value": str(count)}],
        [["lr"], {"kind": "float", "value": "0.001"}],
        [["big"], {"kind": "int", "value": str(2**70 + count)}],
        [["name"], {"kind": "str", "value": ["run-", str(count)]}],
        [["flags"], {"kind": "list", "items": [{"kind": "bool", "value": True}, {"kind": "none"}, {"kind": "tuple", "items": [{"kind": "int", "value": "-5"}, {"kind": "float", "value": "2.5"}]}]}],
    ]}


def main():
    out = sys.argv[1]
    counts = [int(c) for c in sys.argv[2:]] or [1, 10]
    os.makedirs(out, exist_ok=True)
    for count in counts:
        spec = spec_for(count, random.Random(count))
        name = f"sd_{count}"
        with open(os.path.join(out, name + ".json"), "w") as fh:
            json.dump(spec, fh, indent=0)
            fh.write("\n")
        torch.save(build(spec, {}), os.path.join(out, name + ".pth"))


if __name__ == "__main__":
    main()
