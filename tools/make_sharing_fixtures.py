#!/usr/bin/env python3
"""Write fixtures/sharing/: objects whose strings Python shares, as torch.save writes them.

usage: make_sharing_fixtures.py [OUTDIR]   (default: fixtures/sharing/ beside tools/)

CPython makes every occurrence of one string literal in a function one object
(and interns identifier-like strings), so torch.save writes it once and then
a memo reference. SaveOptions.sharesEqualStrings reproduces that from Swift:
the Swift test builds the same value and must write these bytes.

- shared_strings.pth: {"labels": ["cat", "dog", "cat"], "cat": 0, "dog": 1,
  "names": {"cat": "dog"}, "weight": torch.ones(2), "note": "a longer shared note", "again": "a longer shared note"}
"""
import os
import sys

import torch


def shared():
    return {"labels": ["cat", "dog", "cat"], "cat": 0, "dog": 1, "names": {"cat": "dog"},
            "weight": torch.ones(2), "note": "a longer shared note", "again": "a longer shared note"}


def main(argv):
    out = argv[0] if argv else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "sharing")
    os.makedirs(out, exist_ok=True)
    obj = shared()
    assert obj["labels"][0] is obj["labels"][2] and obj["note"] is obj["again"]
    path = os.path.join(out, "shared_strings.pth")
    torch.save(obj, path)
    print(f"{os.path.getsize(path):8d}  shared_strings.pth")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
