#!/usr/bin/env python3
"""Check the fixtures' listings against the shared reference listing script.

usage: verify_fixtures.py [FIXTURES_DIR] [--reference PATH]

For every fixture (a file with FILE.listing.json beside it) this runs the
reference script (default ../shared/tools/torch-listing.py, i.e. the one in
the `shared` folder next to this repository) with --stdout, then checks that
its entries equal FILE.listing.json exactly and by compare_listing's rule.
Exits 1 when any fixture differs. A fixture the reference script cannot list
is reported as such (conj_neg.pth: the reference script raises on tensors
with the conjugate or negative bit set).
"""
import json
import os
import subprocess
import sys

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(TOOLS_DIR)
sys.path.insert(0, TOOLS_DIR)

import compare_listing  # noqa: E402

DEFAULT_REFERENCE = os.path.join(os.path.dirname(REPO_DIR), "shared", "tools", "torch-listing.py")


def fixtures_in(root):
    for folder, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            path = os.path.join(folder, name)
            if os.path.exists(path + ".listing.json"):
                yield path


def main(argv):
    reference = DEFAULT_REFERENCE
    if "--reference" in argv:
        i = argv.index("--reference")
        reference = argv[i + 1]
        del argv[i:i + 2]
    root = argv[0] if argv else os.path.join(REPO_DIR, "fixtures")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in [TOOLS_DIR, os.environ.get("PYTHONPATH")] if p))
    failed = 0
    for path in fixtures_in(root):
        name = os.path.relpath(path, root)
        run = subprocess.run([sys.executable, reference, "--stdout", path],
                             capture_output=True, text=True, env=env)
        if run.returncode != 0:
            last = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "?"
            print(f"{name}: reference script failed: {last}")
            continue
        theirs = json.loads(run.stdout)
        with open(path + ".listing.json", encoding="utf-8") as f:
            ours = json.load(f)
        matched, mismatches, _ = compare_listing.compare(theirs, ours)
        exact = theirs == ours
        status = "identical" if exact else "NOT identical"
        print(f"{name}: {matched} entries matched, {len(mismatches)} mismatched, {status}")
        if mismatches or not exact:
            failed += 1
            for p, expected, found in mismatches[:10]:
                print("   ", json.dumps(p), expected, found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
