#!/usr/bin/env python3
"""Write fixtures/expanded/: views whose logical size dwarfs their storage.

usage: make_view_fixtures.py [OUTDIR]   (default: fixtures/expanded/ beside tools/)

`expand` gives a dimension stride 0 and `as_strided` may overlap elements: a
few bytes of storage then stand for any number of logical elements, and
torch.save writes them as they are (the storage once, the view's size and
stride in the pickle). Each file is written by torch.save and loaded back by
torch.load before it is kept, with FILE.listing.json from
tools/torch_listing.py. Tensors whose logical elements take more than
HASH_LIMIT bytes are listed without `sha256` (torch itself would need their
logical bytes in memory to hash them: `expand40.pth` is 4 TiB).

- views.pth: expanded and overlapping views from 4 KiB to just over 1 MiB of
  logical elements, for tests that lower the limit to 1 MiB (under, at and
  over it), and a position-id buffer as Hugging Face models make it
  (`arange(n).expand((1, -1))`, no larger than its storage).
- expand40.pth: `{"w": torch.zeros(1).expand(2**40)}`, 4 TiB of float32 from
  4 bytes (the file of the issue on expanded tensors).
- huge.pth: views of 2^40 to 2^62 elements, among them sizes whose byte count
  overflows a 64-bit integer (2^62 float32 elements, 2^60 int64 elements).

Needs torch (the .venv).
"""
import collections
import os
import sys
import warnings

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
if TOOLS_DIR not in sys.path:
    sys.path.insert(0, TOOLS_DIR)

import torch  # noqa: E402

import torch_listing  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(1)

HASH_LIMIT = 256 << 20


def views():
    torch.manual_seed(21)
    base = torch.arange(100, dtype=torch.float64)
    return collections.OrderedDict([
        # As Hugging Face models register position ids: no larger than the storage.
        ("position_ids", torch.arange(512).expand((1, -1))),
        ("rows_repeated", torch.arange(4, dtype=torch.float32).expand(256, 4)),          # 4 KiB over 16 B
        ("middle_stride0", torch.randn(3, 1, 5).expand(3, 1000, 5)),                    # 60,000 B over 60 B
        ("overlapping", base.as_strided((60, 41), (1, 1))),                             # 19,680 B over 800 B
        ("strided_overlap", base.as_strided((20, 20), (2, 3), 4)),                      # 3,200 B, stride (2, 3)
        ("half", torch.randn(8).to(torch.float16).expand(64, 8)),
        ("bool", torch.tensor([True, False]).expand(4096, 2)),
        ("int8_at_limit", torch.tensor(7, dtype=torch.int8).expand(1 << 20)),            # 1 MiB over 1 B
        ("under_limit", torch.randn(256).expand(1023, 256)),                            # 1 MiB - 1 KiB
        ("at_limit", torch.randn(256).expand(1024, 256)),                               # 1 MiB
        ("over_limit", torch.randn(256).expand(1025, 256)),                             # 1 MiB + 1 KiB
        ("plain", torch.randn(4, 4)),
    ])


def huge():
    return collections.OrderedDict([
        ("float32_2_40", torch.zeros(1).expand(2 ** 40)),
        ("square_2_40", torch.ones(1, 1).expand(2 ** 20, 2 ** 20)),
        ("running_mean_2_56", torch.zeros(1).expand(2 ** 56)),
        ("int64_2_60", torch.zeros(1, dtype=torch.int64).expand(2 ** 60)),               # 2^63 bytes
        ("float32_2_62", torch.zeros(1).expand(2 ** 62)),                                # 2^64 bytes
        ("small", torch.arange(6, dtype=torch.float32).reshape(2, 3)),
    ])


def logical_bytes(tensor):
    return tensor.numel() * tensor.element_size()


def write(outdir, name, obj):
    path = os.path.join(outdir, name)
    torch.save(obj, path)
    loaded = torch.load(path, weights_only=True)
    for key, tensor in obj.items():
        back = loaded[key]
        assert back.shape == tensor.shape and back.stride() == tensor.stride(), key
        assert back.untyped_storage().nbytes() == tensor.untyped_storage().nbytes(), key
        if logical_bytes(tensor) <= HASH_LIMIT:
            assert torch.equal(back, tensor), key
    with open(path + ".listing.json", "w", encoding="utf-8", newline="\n") as out:
        torch_listing.write_listing(torch_listing.listing(loaded, hash_limit=HASH_LIMIT), out)
    print(f"{os.path.getsize(path):8d}  {name}")


README = """# Views larger than their storage

Written by tools/make_view_fixtures.py with torch.save; each FILE has
FILE.listing.json from tools/torch_listing.py (real torch.load), without
`sha256` for tensors whose logical elements take more than 256 MiB.

| file | holds |
|---|---|
| views.pth | expanded (stride 0) and overlapping (`as_strided`) views from 4 KiB to just over 1 MiB of logical elements: under, at and over a 1 MiB limit; a position-id buffer (`arange(512).expand((1, -1))`); a plain tensor |
| expand40.pth | `{"w": torch.zeros(1).expand(2**40)}`: 4 TiB of float32 from a 4-byte storage |
| huge.pth | views of 2^40 to 2^62 elements, two of them past 2^63 bytes (2^60 int64, 2^62 float32), and a plain tensor |
"""


def main(argv):
    outdir = argv[0] if argv else os.path.join(os.path.dirname(TOOLS_DIR), "fixtures", "expanded")
    os.makedirs(outdir, exist_ok=True)
    write(outdir, "views.pth", views())
    write(outdir, "expand40.pth", collections.OrderedDict([("w", torch.zeros(1).expand(2 ** 40))]))
    write(outdir, "huge.pth", huge())
    with open(os.path.join(outdir, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(README)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
