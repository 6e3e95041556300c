#!/usr/bin/env python3
"""Compare two checkpoint listings by the rule of ../shared/LISTING.md.

usage: compare_listing.py TORCH.json OURS.json

Every entry of TORCH.json (PyTorch's listing) must have an entry in OURS.json
with the same path and equal content. Floats ({"float": "..."}) are compared
as numbers, so "1e-05" equals "1e-5", -0.0 equals 0.0 and nan equals nan.
Entries only OURS.json has are allowed.

Prints every mismatch (path, then both contents) and a last line
"N entries matched"; exits 1 when anything did not match, 0 otherwise.
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


def compare(torch_entries, our_entries):
    """Returns (matched count, list of (path, torch content, our content or None))."""
    ours_by_path = {}
    for entry in our_entries:
        ours_by_path.setdefault(_path_id(entry["path"]), []).append(entry)
    matched = 0
    mismatches = []
    for entry in torch_entries:
        candidates = ours_by_path.get(_path_id(entry["path"]), [])
        expected = _content(entry)
        for i, candidate in enumerate(candidates):
            if _equal(expected, _content(candidate)):
                # Each of our entries answers one of PyTorch's at most.
                del candidates[i]
                matched += 1
                break
        else:
            found = _content(candidates[0]) if candidates else None
            mismatches.append((entry["path"], expected, found))
    return matched, mismatches


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[0], encoding="utf-8") as f:
        torch_entries = json.load(f)
    with open(argv[1], encoding="utf-8") as f:
        our_entries = json.load(f)
    matched, mismatches = compare(torch_entries, our_entries)
    for path, expected, found in mismatches:
        print("mismatch at", json.dumps(path, ensure_ascii=False))
        print("  torch:", json.dumps(expected, ensure_ascii=False, sort_keys=True))
        print("  ours: ", "(missing)" if found is None
              else json.dumps(found, ensure_ascii=False, sort_keys=True))
    if mismatches:
        print(f"{matched} entries matched, {len(mismatches)} mismatched")
        return 1
    print(f"{matched} entries matched")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
