#!/usr/bin/env python3
"""Checkpoints past 4 GiB, both ways, against live PyTorch.

usage: tools/large-file-check.py [--dir DIR] [--keep] [--no-listing] [--pth PATH]

Needs about 18 GB free in DIR (default: $TMPDIR) and a few minutes; writes
two 8,589,936,793-byte files and deletes them unless --keep.

1. torch.save writes {'big': zeros(0xFFFFFFFF, uint8), 'big2': full(0x100000005, 7,
   uint8), 'small': arange(3, int16)} to torch/big.pth: data/0 is zip64 by
   size, data/1 by size and offset, data/2 by offset.
2. The opt-in Swift tests (PTH_LARGE_TESTS=1, Tests/TorchCheckpointTests/Large)
   write the same dict with Checkpoint.save, from storages that cost no memory,
   check every header, descriptor and end record against torch's, read it back,
   and read torch's file too (PTH_LARGE_TORCH_FILE), verifying every CRC-32.
3. The two files are compared byte for byte.
4. torch.load(mmap=True) of Swift's file gives torch's tensors: same keys,
   dtypes, shapes, and SHA-256 of every tensor's bytes.
5. `pth inspect --json` of torch's file (its listing hashes all 8.6 GB) matches
   PyTorch's listing (tools/torch_listing.py, hashing without copying).
Prints the wall time and peak memory of every step.

Peak memory is ru_maxrss of each step's process. For the Swift tests that
overstates: big2's sevens are one 2 MiB block mapped 2,049 times, counted once
per mapping; the tests print their proportional (Pss) and anonymous memory.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS_DIR)
PYTHON = sys.executable
BIG, BIG2 = 0xFFFFFFFF, 0x100000005
FILE_SIZE = 8_589_936_793


def big_dict():
    import torch
    return {
        "big": torch.zeros(BIG, dtype=torch.uint8),
        "big2": torch.full((BIG2,), 7, dtype=torch.uint8),
        "small": torch.arange(3, dtype=torch.int16),
    }


def tensor_digest(t):
    """SHA-256 of a contiguous tensor's bytes, read in place (no copy)."""
    import torch
    flat = t.detach().contiguous().reshape(-1).view(torch.uint8)
    h = hashlib.sha256()
    step = 1 << 28
    for start in range(0, flat.numel(), step):
        h.update(flat[start:start + step].numpy())
    return h.hexdigest()


def describe_file(path):
    import torch
    loaded = torch.load(path, mmap=True, weights_only=True)
    return {k: {"dtype": str(v.dtype), "shape": list(v.shape), "stride": list(v.stride()),
                "storage_offset": v.storage_offset(), "sha256": tensor_digest(v)}
            for k, v in loaded.items()}


# Steps run in their own processes (so that each one's peak memory is its own).

def step_torch_save(path):
    import torch
    torch.save(big_dict(), path)


def step_torch_compare(ours, theirs, out):
    a, b = describe_file(ours), describe_file(theirs)
    with open(out, "w") as f:
        json.dump({"swift": a, "torch": b}, f, indent=1)
    if a != b:
        raise SystemExit(f"torch.load(mmap=True) of {ours} differs from {theirs}")


def step_torch_listing(path, out):
    sys.path.insert(0, TOOLS_DIR)
    import torch
    import torch_listing

    def element_bytes(tensor):
        # The listing's bytes without the copy tobytes() makes (8.6 GB here).
        if tensor.numel() == 0:
            return b""
        return tensor.cpu().resolve_conj().resolve_neg().contiguous().reshape(-1).view(torch.uint8).numpy()

    torch_listing._element_bytes = element_bytes
    loaded = torch.load(path, mmap=True, weights_only=True)
    with open(out, "w", encoding="utf-8") as f:
        torch_listing.write_listing(torch_listing.listing(loaded), f)


STEPS = {"torch-save": step_torch_save, "torch-compare": step_torch_compare, "torch-listing": step_torch_listing}


def run(label, argv, env=None, capture=False, merge=True):
    """Runs argv; prints its wall time and peak memory; returns (ok, output)."""
    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, text=True,
                                   stdout=log if capture else None,
                                   stderr=subprocess.STDOUT if capture and merge else None)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        output = log.read()
    ok = process.returncode == 0
    print(f"{'ok    ' if ok else 'FAILED'} {label}: {time.monotonic() - start:.1f} s, "
          f"peak {usage.ru_maxrss / 1024:.0f} MiB", flush=True)
    return ok, output


def run_step(label, name, *args):
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            STEPS[name](*args)
            os._exit(0)
        except SystemExit as e:
            print(e, file=sys.stderr)
            os._exit(1)
        except BaseException as e:  # noqa: BLE001 - report and fail the step
            print(f"{type(e).__name__}: {e}", file=sys.stderr)
            os._exit(1)
    _, status, usage = os.wait4(pid, 0)
    ok = os.waitstatus_to_exitcode(status) == 0
    print(f"{'ok    ' if ok else 'FAILED'} {label}: {time.monotonic() - start:.1f} s, "
          f"peak {usage.ru_maxrss / 1024:.0f} MiB", flush=True)
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default=os.environ.get("PTH_LARGE_DIR", tempfile.gettempdir()))
    parser.add_argument("--keep", action="store_true", help="keep both files")
    parser.add_argument("--no-listing", action="store_true", help="skip step 5 (and the release build of pth)")
    parser.add_argument("--pth", help="a built pth binary (default: swift build -c release --product pth)")
    parser.add_argument("--scratch-path", help="swift's --scratch-path for the tests and the pth build")
    args = parser.parse_args()

    free = shutil.disk_usage(args.dir).free
    if free < 18 * 10**9:
        print(f"skipped: {args.dir} has {free / 1e9:.1f} GB free, the check needs 18 GB")
        return 0
    work = tempfile.mkdtemp(prefix="pth-large-check-", dir=args.dir)
    scratch = ["--scratch-path", args.scratch_path] if args.scratch_path else []
    failures = 0
    try:
        os.makedirs(os.path.join(work, "torch"))
        theirs = os.path.join(work, "torch", "big.pth")
        if not run_step("1. torch.save of the 8.6 GB dict", "torch-save", theirs):
            return 1
        size = os.path.getsize(theirs)
        if size != FILE_SIZE:
            print(f"FAILED torch.save wrote {size} bytes, not {FILE_SIZE}: this torch lays files out differently")
            failures += 1

        env = dict(os.environ, PTH_LARGE_TESTS="1", PTH_LARGE_DIR=work, PTH_LARGE_KEEP="1",
                   PTH_LARGE_TORCH_FILE=theirs, PTH_LARGE_VERIFY="1")
        ok, output = run("2. Swift: save the dict, check its layout against torch's, read both files back",
                         ["swift", "test", *scratch, "--filter", "LargeCheckpointTests"], env=env, capture=True)
        for line in output.splitlines():
            if line.startswith("large:") or "✘" in line or "error" in line:
                print("       " + line)
        ours = next((line.split("kept ", 1)[1] for line in output.splitlines() if line.startswith("large: kept ")), None)
        if not ok or ours is None:
            print(output[-4000:])
            return 1

        start = time.monotonic()
        same = subprocess.run(["cmp", ours, theirs]).returncode == 0
        print(f"{'ok    ' if same else 'FAILED'} 3. Swift's file is torch's, byte for byte: {time.monotonic() - start:.1f} s")
        failures += not same

        failures += not run_step("4. torch.load(mmap=True) of Swift's file: same tensors as torch's (SHA-256)",
                                 "torch-compare", ours, theirs, os.path.join(work, "tensors.json"))
        os.remove(ours)

        if not args.no_listing:
            pth = args.pth
            if pth is None:
                ok, _ = run("   (swift build -c release --product pth)",
                            ["swift", "build", "-c", "release", *scratch, "--product", "pth"], capture=True)
                if not ok:
                    return 1
                bin_dir = subprocess.run(["swift", "build", "-c", "release", *scratch, "--show-bin-path"],
                                         cwd=ROOT, capture_output=True, text=True).stdout.strip()
                pth = os.path.join(bin_dir, "pth")
            torch_json = os.path.join(work, "torch.listing.json")
            our_json = os.path.join(work, "ours.listing.json")
            failures += not run_step("5a. PyTorch's listing of torch's file", "torch-listing", theirs, torch_json)
            ok, output = run("5b. pth inspect --json of torch's file", [pth, "inspect", "--json", theirs],
                             capture=True, merge=False)
            with open(our_json, "w") as out:
                out.write(output)
            failures += not ok
            compared = subprocess.run([PYTHON, os.path.join(TOOLS_DIR, "compare_listing.py"), torch_json, our_json],
                                      capture_output=True, text=True)
            print(f"{'ok    ' if compared.returncode == 0 else 'FAILED'} 5c. listings: {compared.stdout.strip()}")
            failures += compared.returncode != 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"large-file check: {'passed' if failures == 0 else f'{failures} failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
