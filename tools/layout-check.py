#!/usr/bin/env python3
"""Loads with live PyTorch what Swift wrote from the byte-order and re-zipped fixtures.

usage: tools/layout-check.py [--scratch-path PATH] [DIR]

Runs the ByteOrderTests and RezippedTests suites with PTH_LAYOUT_OUT=DIR (default:
a temporary folder, removed afterwards), so that they keep every file they
write, then checks each with torch.load(weights_only=True) against the
PyTorch-made fixtures (fixtures/big_endian, fixtures/rezipped, from
tools/make_layout_fixtures.py):

- big-from-little/, big-from-big/: Checkpoint.save with SaveOptions.byteOrder
  = .big; the byteorder record says big and torch.load gives the listing of
  the little-endian twin, the same conj/neg bits and the same storage sharing;
- little-from-big/: a big-endian fixture saved little-endian;
- rewritten-*.pth: big-endian fixtures written back (write(to:));
- swift_built_big.pth, float8_big.pth: tensors built in Swift, saved big-endian;
- rewritten/: the re-zipped fixtures written back in PyTorch's layout;
- saved-*/source.pth: Checkpoint.save of their roots.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS_DIR)
sys.path.insert(0, TOOLS_DIR)

import torch  # noqa: E402

import make_layout_fixtures as layout  # noqa: E402
import torch_listing  # noqa: E402

FIXTURES = os.path.join(ROOT, "fixtures")


def byteorder(path):
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith("/byteorder"))
        return z.read(name).decode()


def listing_of(path):
    return torch_listing.listing(torch.load(path, weights_only=True))


def expected_listing(fixture):
    with open(os.path.join(FIXTURES, fixture + ".listing.json"), encoding="utf-8") as f:
        return json.load(f)


def same_listing(a, b):
    # Through JSON, as the fixture listings were written.
    return json.loads(json.dumps(a)) == json.loads(json.dumps(b))


def main(argv):
    scratch = []
    if len(argv) >= 2 and argv[0] == "--scratch-path":
        scratch, argv = ["--scratch-path", argv[1]], argv[2:]
    out = argv[0] if argv else tempfile.mkdtemp(prefix="pth-layout-")
    remove = not argv
    results = []

    def check(label, ok, detail=""):
        results.append(ok)
        print(f"{'ok    ' if ok else 'FAILED'} {label}{': ' + detail if detail and not ok else ''}")

    try:
        env = dict(os.environ, PTH_LAYOUT_OUT=out)
        run = subprocess.run(["swift", "test", *scratch, "--filter", "ByteOrderTests|RezippedTests"],
                             cwd=ROOT, env=env, capture_output=True, text=True)
        check("swift test --filter 'ByteOrderTests|RezippedTests'", run.returncode == 0, run.stdout[-3000:])

        for name in ["dtypes", "views", "state_dict"]:
            twin = f"big_endian/little/{name}.pth"
            original = torch.load(os.path.join(FIXTURES, twin), weights_only=True)
            for folder in ["big-from-little", "big-from-big"]:
                path = os.path.join(out, folder, name + ".pth")
                loaded = torch.load(path, weights_only=True)
                check(f"{folder}/{name}.pth: byteorder big, torch.load equal to the twin",
                      byteorder(path) == "big" and same_listing(torch_listing.listing(loaded), expected_listing(twin))
                      and layout.tensor_facts(loaded) == layout.tensor_facts(original))
        for name in ["dtypes", "views", "state_dict", "untyped_multibyte"]:
            path = os.path.join(out, "little-from-big", name + ".pth")
            check(f"little-from-big/{name}.pth: byteorder little, torch.load equal to the twin",
                  byteorder(path) == "little" and same_listing(listing_of(path), expected_listing(f"big_endian/little/{name}.pth")))
        for name in ["dtypes", "views", "state_dict"]:
            path = os.path.join(out, f"rewritten-{name}.pth")
            check(f"rewritten-{name}.pth: torch.load as the big-endian fixture",
                  same_listing(listing_of(path), expected_listing(f"big_endian/{name}.pth")))

        path = os.path.join(out, "swift_built_big.pth")
        loaded = torch.load(path, weights_only=True)
        w = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25 - 1
        check("swift_built_big.pth: byteorder big, values as built in Swift",
              byteorder(path) == "big" and isinstance(loaded["w"], torch.nn.Parameter)
              and torch.equal(loaded["w"].detach(), w) and torch.equal(loaded["w_t"], w.t())
              and loaded["w_t"].untyped_storage().data_ptr() == loaded["w"].untyped_storage().data_ptr()
              and loaded["ids"].tolist() == [1, -2, 0x0102030405060708]
              and loaded["half"].tolist() == [1.0, -2.0] and loaded["half"].dtype == torch.float16)
        path = os.path.join(out, "float8_big.pth")
        twin = torch.load(os.path.join(FIXTURES, "big_endian/little/untyped_multibyte.pth"), weights_only=True)
        check("float8_big.pth: byteorder big, float8 equal",
              byteorder(path) == "big"
              and torch.equal(torch.load(path, weights_only=True)["float8"].view(torch.uint8), twin["float8"].view(torch.uint8)))

        source = expected_listing("rezipped/source.pth")
        for name in ["deflated", "stored_unaligned", "reordered", "with_directories"]:
            for path in [os.path.join(out, "rewritten", name + ".pth"), os.path.join(out, f"saved-{name}", "source.pth")]:
                check(f"{os.path.relpath(path, out)}: torch.load equal to source.pth", same_listing(listing_of(path), source))
    finally:
        if remove:
            shutil.rmtree(out, ignore_errors=True)
    failed = results.count(False)
    print(f"layout check: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
