#!/usr/bin/env python3
"""Compare two checkpoint listings by the rule of ../shared/LISTING.md.

usage: compare_listing.py TORCH.json OURS.json

Every entry of TORCH.json (PyTorch's listing) must have an entry in OURS.json
with the same path and equal content. Floats ({"float": "..."}) are compared
as numbers, so "1e-05" equals "1e-5", -0.0 equals 0.0 and nan equals nan.
Entries only OURS.json has are allowed.

Hashes of views larger than their storage: `pth inspect --json` hashes such
views (expand's stride 0, an overlapping as_strided) only up to its
--expanded-view-limit, and lists one past it with "unhashed" (the reason)
instead of "sha256". Such an entry is compared on everything but the hash and
counted apart ("M without a hash"), never silently as equal. Where PyTorch's
entry has no sha256 (a listing made without hashing views of terabytes), our
sha256 or "unhashed" is not compared.

Prints every mismatch (path, then both contents) and a last line
"N entries matched" (", M of them without a hash" when some were unhashed);
exits 1 when anything did not match, 0 otherwise.
"""
import json
import math
import sys


def _path_id(path):
    # Tag each key with its type so that 1 and "1" stay different paths.
    return tuple((type(key).__name__, key) for key in path)


def _as_float(text):
    if isinstance(text, bool):
        raise ValueError("a bool is not a float")
    return float(text)


def _floats_equal(a, b):
    try:
        x, y = _as_float(a), _as_float(b)
    except (TypeError, ValueError):
        return False
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y


def _equal(a, b, key=None):
    if key == "float":
        return _floats_equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return False
        return all(_equal(a[k], b[k], k) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    # JSON has no bool/int confusion: true must not equal 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _content(entry):
    return {k: v for k, v in entry.items() if k != "path"}


def _without_hash(content):
    tensor = content.get("tensor")
    if not isinstance(tensor, dict):
        return content
    return dict(content, tensor={k: v for k, v in tensor.items() if k not in ("sha256", "unhashed")})


def _matches(expected, found):
    """Whether our content answers PyTorch's: (equal, compared without a hash)."""
    tensor, ours = expected.get("tensor"), found.get("tensor")
    if isinstance(tensor, dict) and isinstance(ours, dict):
        if "sha256" not in tensor:
            return _equal(expected, _without_hash(found)), False
        if "unhashed" in ours and "sha256" not in ours:
            return _equal(_without_hash(expected), _without_hash(found)), True
    return _equal(expected, found), False


def compare(torch_entries, our_entries):
    """Returns (matched count, list of (path, torch content, our content or None), unhashed count)."""
    ours_by_path = {}
    for entry in our_entries:
        ours_by_path.setdefault(_path_id(entry["path"]), []).append(entry)
    matched = 0
    unhashed = 0
    mismatches = []
    for entry in torch_entries:
        candidates = ours_by_path.get(_path_id(entry["path"]), [])
        expected = _content(entry)
        for i, candidate in enumerate(candidates):
            equal, without_hash = _matches(expected, _content(candidate))
            if equal:
                # Each of our entries answers one of PyTorch's at most.
                del candidates[i]
                matched += 1
                unhashed += without_hash
                break
        else:
            found = _content(candidates[0]) if candidates else None
            mismatches.append((entry["path"], expected, found))
    return matched, mismatches, unhashed


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[0], encoding="utf-8") as f:
        torch_entries = json.load(f)
    with open(argv[1], encoding="utf-8") as f:
        our_entries = json.load(f)
    matched, mismatches, unhashed = compare(torch_entries, our_entries)
    note = f", {unhashed} of them without a hash (views over the expanded-view limit)" if unhashed else ""
    for path, expected, found in mismatches:
        print("mismatch at", json.dumps(path, ensure_ascii=False))
        print("  torch:", json.dumps(expected, ensure_ascii=False, sort_keys=True))
        print("  ours: ", "(missing)" if found is None
              else json.dumps(found, ensure_ascii=False, sort_keys=True))
    if mismatches:
        print(f"{matched} entries matched{note}, {len(mismatches)} mismatched")
        return 1
    print(f"{matched} entries matched{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
