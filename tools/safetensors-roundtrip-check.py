#!/usr/bin/env python3
"""Check a safetensors file written by this package against the real safetensors package.

usage:
  safetensors-roundtrip-check.py OUT.safetensors EXPECTED [--key KEY] [--names A,B,...]
  safetensors-roundtrip-check.py --manifest MANIFEST.json

OUT.safetensors is a file SafetensorsWriter wrote. EXPECTED is where its tensors came from:
  *.safetensors   loaded with safetensors.torch.load_file; its metadata is expected too
  *.json          a sidecar of tools/make_safetensors_fixtures.py (FILE.safetensors.json)
  anything else   a checkpoint for torch.load (weights_only=False: run it on trusted files
                  only); the tensors of the dict at KEY (dot-separated, default: the root)
--names limits the expected tensors to these names (for checkpoints that hold tensors
safetensors cannot store).

A manifest is a JSON list of {"out": PATH, "expect": PATH, "key": KEY?, "names": [..]?},
paths relative to the manifest's folder; every entry is checked. The Swift tests write one:

  SAFETENSORS_CHECK_DIR=/tmp/st-check swift test --filter Safetensors
  tools/safetensors-roundtrip-check.py --manifest /tmp/st-check/manifest.json

Checks, for each file:
  1. safetensors.torch.load_file and safe_open read it;
  2. it holds exactly the expected names, each with the expected dtype, shape and
     element bytes (expected tensors are compared as .resolve_conj().resolve_neg()
     .contiguous(): the values they represent, row-major);
  3. its metadata is the expected metadata (for safetensors and sidecar sources);
  4. it is laid out as safetensors.torch.save lays out the same tensors: the same
     bytes, or, with more than one metadata entry (which save writes in the random
     order of a Rust HashMap), the same data and the same header with the metadata
     in the file's order.
Exit status 0 when every check passes, 1 otherwise (each failure is printed).
"""
import argparse
import hashlib
import json
import os
import struct
import sys
import warnings

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save


def header_of(data):
    n = struct.unpack("<Q", data[:8])[0]
    return n, data[8:8 + n]


def element_bytes(t):
    t = t.resolve_conj().resolve_neg().contiguous().reshape(-1)
    if t.dtype != torch.uint8:
        t = t.view(torch.uint8)
    return t.numpy().tobytes()


def expected_source(path, key, names):
    """(tensors as {name: (dtype name, shape, sha256)}, metadata or None, metadata known?)"""
    def summary(t):
        return str(t.dtype).split(".")[-1], list(t.shape), hashlib.sha256(element_bytes(t)).hexdigest()

    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            sidecar = json.load(f)
        tensors = {t["name"]: (t["torch_dtype"], t["torch_shape"], t["sha256"]) for t in sidecar["tensors"]}
        metadata = dict(sidecar["metadata"]) if sidecar["metadata"] is not None else None
        known = True
    elif path.endswith(".safetensors"):
        tensors = {k: summary(v) for k, v in load_file(path).items()}
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata()
        known = True
    else:
        warnings.filterwarnings("ignore")
        root = torch.load(path, weights_only=False, map_location="cpu")
        for part in (key.split(".") if key else []):
            root = root[part]
        tensors = {k: summary(v) for k, v in root.items() if isinstance(v, torch.Tensor)}
        metadata, known = None, False
    if names is not None:
        missing = [n for n in names if n not in tensors]
        if missing:
            raise SystemExit("expected source %s has no tensors %s" % (path, missing))
        tensors = {n: tensors[n] for n in names}
    return tensors, metadata, known


def check(out, expect, key=None, names=None):
    problems = []
    try:
        loaded = load_file(out)
        with safe_open(out, framework="pt") as f:
            metadata = f.metadata()
    except Exception as e:  # noqa: BLE001 - the failure is the report
        return ["safetensors cannot load it: %s" % e]

    want, want_metadata, metadata_known = expected_source(expect, key, names)
    if set(loaded) != set(want):
        problems.append("names differ: only in file %s, only expected %s"
                        % (sorted(set(loaded) - set(want)), sorted(set(want) - set(loaded))))
    for name in sorted(set(loaded) & set(want)):
        t = loaded[name]
        got = (str(t.dtype).split(".")[-1], list(t.shape), hashlib.sha256(element_bytes(t)).hexdigest())
        if got != tuple(want[name]):
            problems.append("%r: file has %s %s (sha256 %s), expected %s %s (sha256 %s)"
                            % ((name,) + got + tuple(want[name])))
    if metadata_known and metadata != want_metadata:
        problems.append("metadata differ: file %r, expected %r" % (metadata, want_metadata))

    with open(out, "rb") as f:
        data = f.read()
    n, header = header_of(data)
    # Python dicts keep the order of the JSON text.
    file_metadata = json.loads(header.decode("utf-8")).get("__metadata__")
    reference = save(loaded, metadata=file_metadata)
    if file_metadata is None or len(file_metadata) <= 1:
        if reference != data:
            problems.append("not the bytes safetensors.torch.save writes for these tensors")
    else:
        ref_n, ref_header = header_of(reference)
        if reference[8 + ref_n:] != data[8 + n:]:
            problems.append("data laid out unlike safetensors.torch.save")
        rebuilt = {"__metadata__": file_metadata}
        rebuilt.update((k, v) for k, v in json.loads(ref_header.decode("utf-8")).items() if k != "__metadata__")
        # json.dumps escapes as serde_json does: \" \\ \b \f \n \r \t, other controls as \u00xx.
        text = json.dumps(rebuilt, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        text += b" " * (-len(text) % 8)
        if text != header:
            problems.append("header unlike safetensors.torch.save's (metadata kept in the file's order)")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?")
    parser.add_argument("expect", nargs="?")
    parser.add_argument("--key")
    parser.add_argument("--names")
    parser.add_argument("--manifest")
    args = parser.parse_args()
    if args.manifest:
        base = os.path.dirname(os.path.abspath(args.manifest))
        with open(args.manifest, encoding="utf-8") as f:
            entries = json.load(f)
    elif args.out and args.expect:
        base = os.getcwd()
        entries = [{"out": args.out, "expect": args.expect, "key": args.key,
                    "names": args.names.split(",") if args.names else None}]
    else:
        parser.error("give OUT and EXPECTED, or --manifest")
    failed = 0
    for e in entries:
        out = os.path.join(base, e["out"])
        expect = os.path.join(base, e["expect"])
        problems = check(out, expect, e.get("key"), e.get("names"))
        label = "%s (expected: %s)" % (e["out"], e["expect"])
        if problems:
            failed += 1
            print("FAIL " + label)
            for p in problems:
                print("  " + p)
        else:
            print("ok   " + label)
    print("%d of %d files match" % (len(entries) - failed, len(entries)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
