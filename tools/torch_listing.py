#!/usr/bin/env python3
"""Print the canonical listing of a checkpoint, as real PyTorch loads it.

The listing format is described in ../shared/LISTING.md. This script is this
project's own copy of ../shared/tools/torch-listing.py and is meant to give
the same entries for every file that script can list.

usage:
    torch_listing.py --stdout FILE    print the listing of FILE
    torch_listing.py FILE...          write FILE.listing.json beside each FILE

Needs torch. Custom classes a checkpoint refers to must be importable (the
fixtures' classes live in tools/fixture_classes.py, so run with
PYTHONPATH=tools).

Deliberate behaviour, kept equal to the shared script:
- A tensor is detached before it is described, so `requires_grad` and
  `parameter` come out false even for an nn.Parameter.
- A quantized tensor keeps its own dtype and shape; stride, offset and hash
  are those of its int_repr().
- Non-strided (sparse, nested) tensors report only dtype, shape and layout;
  meta tensors only dtype, shape and device.
- A container already walked (same object id) is skipped the second time.

One difference: a tensor with the conjugate or negative bit set is resolved
before hashing (the shared script raises on those), so the hash is of the
values the tensor shows, as LISTING.md asks.
"""
import hashlib
import json
import sys

import torch


def _dtype_name(dtype):
    name = str(dtype)
    return name[len("torch."):] if name.startswith("torch.") else name


def _element_bytes(tensor):
    """Little-endian bytes of the tensor's elements in row-major order."""
    if tensor.numel() == 0:
        return b""
    flat = tensor.cpu().resolve_conj().resolve_neg().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes()


def describe_tensor(tensor, hash_limit=None):
    """A tensor's record; without sha256 when its logical elements take more
    than hash_limit bytes (an expanded view of 4 TiB over 4 bytes)."""
    tensor = tensor.detach()
    record = {"dtype": _dtype_name(tensor.dtype), "shape": list(tensor.shape)}
    if getattr(tensor, "is_quantized", False):
        record["quantized"] = True
        tensor = tensor.int_repr()
    if tensor.layout != torch.strided or getattr(tensor, "is_nested", False):
        record["layout"] = str(tensor.layout)
        return record
    if tensor.device.type == "meta":
        record["device"] = "meta"
        return record
    record["stride"] = list(tensor.stride())
    record["storage_offset"] = tensor.storage_offset()
    record["requires_grad"] = bool(tensor.requires_grad)
    record["parameter"] = isinstance(tensor, torch.nn.Parameter)
    if hash_limit is None or tensor.numel() * tensor.element_size() <= hash_limit:
        record["sha256"] = hashlib.sha256(_element_bytes(tensor)).hexdigest()
    return record


def describe_value(value):
    """The `value` content of a plain leaf, or None when value is no leaf."""
    if value is None:
        return {"none": True}
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": str(int(value))}
    if isinstance(value, float):
        return {"float": repr(float(value))}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
        return {"bytes_sha256": hashlib.sha256(data).hexdigest(), "len": len(data)}
    return None


def _path_key(key):
    # str and int keys stay as they are (bool is an int but is not kept);
    # every other key is spelled with repr.
    if isinstance(key, (str, int)) and not isinstance(key, bool):
        return key
    return repr(key)


def _visit(node, path, entries, visited, hash_limit=None):
    if isinstance(node, torch.Tensor):
        entries.append({"path": path, "tensor": describe_tensor(node, hash_limit)})
        return
    value = describe_value(node)
    if value is not None:
        entries.append({"path": path, "value": value})
        return
    # Anything else is visited at most once, whether it is walked or not.
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, dict):
        for key, child in node.items():
            _visit(child, path + [_path_key(key)], entries, visited, hash_limit)
    elif isinstance(node, (list, tuple)):
        for index, child in enumerate(node):
            _visit(child, path + [index], entries, visited, hash_limit)


def listing(obj, hash_limit=None):
    """The listing entries of a loaded object, depth first (tensors over
    hash_limit bytes of logical elements without sha256)."""
    entries = []
    _visit(obj, [], entries, set(), hash_limit)
    return entries


def load_checkpoint(path):
    """torch.load the file onto the CPU; a TorchScript archive gives its state_dict()."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except RuntimeError as error:
        text = str(error)
        if "constants.pkl" in text or "TorchScript" in text or "jit" in text:
            return torch.jit.load(path, map_location="cpu").state_dict()
        raise
    if isinstance(obj, torch.jit.ScriptModule):
        return obj.state_dict()
    return obj


def listing_of_file(path):
    return listing(load_checkpoint(path))


def write_listing(entries, stream):
    json.dump(entries, stream, indent=1)
    stream.write("\n")


def main(argv):
    if len(argv) == 2 and argv[0] == "--stdout":
        write_listing(listing_of_file(argv[1]), sys.stdout)
        return 0
    if not argv or argv[0].startswith("--"):
        sys.stderr.write(__doc__)
        return 2
    for path in argv:
        entries = listing_of_file(path)
        with open(path + ".listing.json", "w", encoding="utf-8", newline="\n") as out:
            write_listing(entries, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
