#!/usr/bin/env python3
"""Record what real PyTorch says about each fixture beyond its listing.

usage: make_expectations.py [FIXTURES_DIR]   writes FIXTURES_DIR/expectations.json

The canonical listing (torch_listing.py) reads tensors after detach(), so it
cannot say whether a tensor is a Parameter or requires grad, and it says
nothing of devices, conj/neg bits, quantization parameters, storage sharing
or element values. The Swift tests check those against this file, which
real PyTorch writes:

  {"FILE": {"tensors": [{"path": [...], "dtype", "shape", "requires_grad",
                         "parameter", "device", "conj", "neg", "layout",
                         "storage_group", "values"?, "quantization"?}],
            "objects": [{"path": [...], "type": "module.qualname", "repr": "..."}]}}

"values" holds the elements in row-major order as `tensor.to(float64)` (or
int64 for integer types) gives them, for tensors of at most 300 elements;
floats are strings (Python repr) so nan and inf survive JSON.
"""
import json
import os
import sys

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS_DIR)

import torch  # noqa: E402

PACKED = {torch.float4_e2m1fn_x2, torch.bits8, torch.bits16, torch.bits1x8, torch.bits2x4, torch.bits4x2,
          torch.quint4x2, torch.quint2x4}


def key(k):
    return k if isinstance(k, (str, int)) and not isinstance(k, bool) else repr(k)


def values_of(t):
    if t.numel() > 300 or t.dtype in PACKED or t.layout != torch.strided or t.device.type == "meta":
        return None
    t = t.detach().resolve_conj().resolve_neg()
    if t.is_quantized:
        t = t.int_repr()
    if t.dtype.is_complex:
        c = t.to(torch.complex128).flatten().tolist()
        return [[repr(z.real), repr(z.imag)] for z in c]
    if t.dtype.is_floating_point:
        return [repr(float(x)) for x in t.to(torch.float64).flatten().tolist()]
    if t.dtype == torch.uint64:
        return [str(int(x)) for x in t.flatten().tolist()]
    return [str(int(x)) for x in t.to(torch.int64).flatten().tolist()]


def quantization(t):
    if not t.is_quantized:
        return None
    q = {"qscheme": str(t.qscheme()).replace("torch.", "")}
    if t.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        q["scale"] = repr(float(t.q_scale()))
        q["zero_point"] = int(t.q_zero_point())
    else:
        q["scales"] = [repr(float(x)) for x in t.q_per_channel_scales().tolist()]
        q["zero_points"] = [repr(float(x)) for x in t.q_per_channel_zero_points().tolist()]
        q["axis"] = int(t.q_per_channel_axis())
    return q


def describe(path):
    locations = {}

    def remember(storage, location):
        locations[storage.data_ptr()] = location
        return storage

    obj = torch.load(path, map_location=remember, weights_only=False)
    tensors, objects, groups = [], [], {}
    seen = set()

    def walk(o, p):
        if isinstance(o, torch.Tensor):
            rec = {"path": p, "dtype": str(o.dtype).replace("torch.", ""), "shape": list(o.shape),
                   "requires_grad": bool(o.requires_grad), "parameter": isinstance(o, torch.nn.Parameter),
                   "layout": str(o.layout), "subclass": type(o).__module__ + "." + type(o).__qualname__}
            if o.layout == torch.strided and o.device.type != "meta":
                ptr = o.untyped_storage().data_ptr()
                if o.untyped_storage().nbytes() > 0:
                    rec["storage_group"] = groups.setdefault(ptr, len(groups))
                rec["device"] = locations.get(ptr, str(o.device))
                rec["conj"] = bool(o.is_conj())
                rec["neg"] = bool(o.is_neg())
            else:
                rec["device"] = str(o.device)
            v = values_of(o)
            if v is not None:
                rec["values"] = v
            q = quantization(o)
            if q:
                rec["quantization"] = q
            if o.layout != torch.strided:
                rec["nnz"] = int(o._nnz())
            tensors.append(rec)
            return
        if o is None or isinstance(o, (bool, int, float, str, bytes, bytearray)):
            return
        if id(o) in seen:
            return
        seen.add(id(o))
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, p + [key(k)])
        elif isinstance(o, (list, tuple)):
            for i, v in enumerate(o):
                walk(v, p + [i])
        else:
            objects.append({"path": p, "type": type(o).__module__ + "." + type(o).__qualname__, "repr": repr(o)})

    walk(obj, [])
    return {"tensors": tensors, "objects": objects}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOOLS_DIR, "..", "fixtures")
    out = {}
    for dirpath, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            if f.endswith(".json") or f.endswith(".md"):
                continue
            full = os.path.join(dirpath, f)
            out[os.path.relpath(full, root)] = describe(full)
    with open(os.path.join(root, "expectations.json"), "w") as fh:
        json.dump(out, fh, indent=0, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    main()
