#!/usr/bin/env python3
"""Every file given loads with torch.load(weights_only=True), and what it
loads equals what torch.load(weights_only=False) loads (same listing).

usage: weights_only_check.py FILE...    prints one line per file; exit 1 on any failure
"""
import sys
import os
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
warnings.filterwarnings("ignore")
import torch  # noqa: E402
import torch_listing  # noqa: E402

failed = 0
for f in sys.argv[1:]:
    try:
        safe = torch_listing.listing(torch.load(f, map_location="cpu", weights_only=True))
        full = torch_listing.listing(torch.load(f, map_location="cpu", weights_only=False))
        if safe != full:
            raise AssertionError("weights_only=True loads something else than weights_only=False")
        print(f"ok     {os.path.basename(f)}: {len(safe)} entries, weights_only=True")
    except Exception as e:  # noqa: BLE001
        failed += 1
        print(f"FAILED {os.path.basename(f)}: {type(e).__name__}: {str(e)[:200]}")
print(f"weights_only: {len(sys.argv) - 1 - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
