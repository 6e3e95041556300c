#!/usr/bin/env python3
"""Benchmark this library against PyTorch 2.15 and the safetensors package.

usage: tools/benchmark.py [--runs N] [--dir DIR] [--skip-5g] [--keep] [--only dcp|pickle|open|write]

Generates its inputs in DIR (default: a temporary folder; about 7.5 GB of
disk with the 5 GiB case), builds `pth-bench` in release mode, and for each
case runs both sides in their own process, each timing its own work
in-process (interpreter and process start-up not counted), RUNS times
(default 5). Prints one line per case: median (min-max) of each side, the
ratio PyTorch/Swift (above 1: Swift is faster), Swift's throughput, and the
peak resident memory of each side's process (Python's includes torch itself:
the `baseline` line gives that). The write case saves once more first on
each side, a warm-up kept out of the medians and printed on its own line.

Inputs:
- 1g.pth: 256 float32 tensors of 1024x1024 (1 GiB), torch.save;
  1g.safetensors: the same tensors, safetensors.torch.save_file.
- many.pth: 100,000 float32 tensors of 64 elements and 300,000 Python values
  (100,000 (int, float, str) records), about 30 MB.
- values.pkl: 1,000,000 Python values, pickle.dumps protocol 2 (as torch.save
  writes): 250,000 dicts {id: int, score: float, name: str, tags: tuple of one str}.
- 5g.pth: 1,280 float32 tensors of 1M elements (5 GiB), for inspect.
- dcp4g/: a distributed checkpoint of 4 GiB from two ranks (gloo on
  loopback): 32 float32 tensors of 32M elements, each a DTensor sharded along
  dim 0 over both ranks, so every tensor is assembled from two files. Converted
  to .pth by both sides (dcp_to_torch_save; `pth convert`'s work); both
  outputs are checked to be the same bytes. (--skip-5g skips it too.)

Goals, each line saying whether it is met: the pickle machine at least 2x
CPython's C pickle.loads, in no more peak memory; opening the 100,000-tensor
checkpoint at least 50x torch.load; writing 1 GiB at least 2x torch.save;
reading every tensor byte within 1.3x of cat; inspecting 5 GiB in under 64 MiB.
The pickle machine reads plain data into a tape whose lists and dicts fill
themselves when first read; the "then every value read" line times that too.
"""
import argparse
import json
import os
import pickle
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS_DIR)


# --- the PyTorch side, run as: benchmark.py --torch CASE FILE RUNS -------------

def torch_case(case, path, runs):
    times, tensors, nbytes = [], 0, 0
    if case == "pickle":
        # CPython's C unpickler alone: torch is not imported, since its
        # objects would make the garbage collector's passes during loads
        # slower (0.64 s instead of 0.27 s for values.pkl on this machine).
        data = open(path, "rb").read()
        for _ in range(runs):
            start = time.perf_counter()
            value = pickle.loads(data)
            times.append(time.perf_counter() - start)
            del value
        return {"times": times, "tensors": 0, "bytes": len(data), "peak_rss_bytes": peak_rss()}
    import torch
    torch.set_num_threads(1)
    if case == "baseline":
        return {"times": [0.0], "tensors": 0, "bytes": 0, "peak_rss_bytes": peak_rss()}
    if case == "dcp-convert":
        from torch.distributed.checkpoint.format_utils import dcp_to_torch_save
        # The same file name as the Swift side's output, so the same zip prefix.
        os.makedirs(path + ".torch", exist_ok=True)
        out = os.path.join(path + ".torch", os.path.basename(path) + ".pth")
        for _ in range(runs):
            start = time.perf_counter()
            dcp_to_torch_save(path, out)
            times.append(time.perf_counter() - start)
        nbytes = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path) if f.endswith(".distcp"))
        return {"times": times, "tensors": 32, "bytes": nbytes, "peak_rss_bytes": peak_rss()}
    for _ in range(runs):
        if case == "resave":
            # torch.load(mmap=True) and torch.save of what it read: what pth rewrite/resave do.
            out = path + ".torch-resave.pth"
            start = time.perf_counter()
            torch.save(torch.load(path, mmap=True, weights_only=True), out)
            times.append(time.perf_counter() - start)
            tensors, nbytes = 256, os.path.getsize(path)
            if len(times) == runs:
                os.remove(out)
            continue
        if case == "save":
            count, elements = 256, 1024 * 1024
            if not times:
                sd = {f"layer{i}.weight": torch.arange(elements, dtype=torch.float32) + i for i in range(count)}
                # One warm-up save, timed but kept out of the median, as on the Swift side.
                start = time.perf_counter()
                torch.save(sd, path)
                first = time.perf_counter() - start
            start = time.perf_counter()
            torch.save(sd, path)
            times.append(time.perf_counter() - start)
            tensors, nbytes = count, count * elements * 4
            continue
        if case in ("st-open", "st-read"):
            from safetensors import safe_open
            from safetensors.torch import load_file
            start = time.perf_counter()
            if case == "st-open":
                with safe_open(path, framework="pt") as f:
                    for k in f.keys():
                        s = f.get_slice(k)
                        s.get_shape(), s.get_dtype()
                        tensors += 1
            else:
                # load_file maps the file; summing each tensor's bytes as
                # int64 makes it read them, as the Swift side's XOR fold does.
                sd = load_file(path)
                for t in sd.values():
                    t.view(torch.int64).sum() if t.numel() * t.element_size() % 8 == 0 else t.view(torch.uint8).sum()
                nbytes = sum(t.numel() * t.element_size() for t in sd.values())
                tensors = len(sd)
            times.append(time.perf_counter() - start)
            continue
        mmap = case in ("open-mmap",)
        start = time.perf_counter()
        obj = torch.load(path, mmap=mmap, weights_only=True)
        n, b = 0, 0
        stack = [obj]
        while stack:
            o = stack.pop()
            if isinstance(o, torch.Tensor):
                n += 1
                o.shape, o.stride(), o.storage_offset(), o.dtype
                b += o.untyped_storage().nbytes()
            elif isinstance(o, dict):
                stack.extend(o.values())
            elif isinstance(o, (list, tuple)):
                stack.extend(o)
        times.append(time.perf_counter() - start)
        tensors, nbytes = n, b
        del obj
    result = {"times": times, "tensors": tensors, "bytes": nbytes, "peak_rss_bytes": peak_rss()}
    if case == "save":
        result["first"] = first
    return result


def peak_rss():
    """This process's peak resident memory (VmHWM; ru_maxrss would include
    the parent's before exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --- inputs --------------------------------------------------------------------

def make_inputs(d, with_5g, only=None):
    import torch
    from safetensors.torch import save_file
    torch.manual_seed(0)
    paths = {}

    def once(name, build):
        path = os.path.join(d, name)
        if not os.path.exists(path):
            build(path + ".tmp")
            os.replace(path + ".tmp", path)
        paths[name] = path

    def values(path):
        obj = [{"id": i, "score": i * 0.5, "name": f"name{i}", "tags": (f"t{i % 100}",)} for i in range(250_000)]
        with open(path, "wb") as f:
            f.write(pickle.dumps(obj, protocol=2))

    if only == "dcp":
        once("dcp4g", dcp_4g)
        return paths
    if only == "pickle":
        once("values.pkl", values)
        return paths

    def many(path):
        sd = {f"block{i // 10}.layer{i % 10}.weight": torch.randn(64) for i in range(100_000)}
        records = [(i, i * 0.25, f"record-{i}") for i in range(100_000)]
        torch.save({"state_dict": sd, "records": records}, path)
    once("many.pth", many)
    if only == "open":
        return paths

    def one_gib(path):
        torch.save({f"layer{i}.weight": torch.randn(1024, 1024) for i in range(256)}, path)
    once("1g.pth", one_gib)
    once("1g.safetensors", lambda p: save_file(torch.load(paths["1g.pth"], weights_only=True), p))

    once("values.pkl", values)

    if with_5g:
        once("dcp4g", dcp_4g)

        def five_gib(path):
            # Written through one reused tensor per entry (views of a shared
            # buffer would be saved as one storage): 1,280 distinct storages.
            sd = {f"layer{i}.weight": torch.full((1024, 1024), float(i)) for i in range(1280)}
            torch.save(sd, path)
        once("5g.pth", five_gib)
    return paths


def dcp_4g(path):
    import torch.multiprocessing as mp
    port = 29500 + os.getpid() % 1000
    mp.spawn(_dcp_rank, args=(path, port), nprocs=2, join=True)


def _dcp_rank(rank, path, port):
    """One of two ranks saving dcp4g: DTensors sharded along dim 0."""
    import torch
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    mesh = init_device_mesh("cpu", (2,))
    sd = {}
    for i in range(32):
        full = torch.full((8192, 4096), float(i))
        sd[f"layer{i}.weight"] = distribute_tensor(full, mesh, [Shard(0)])
        del full
    dcp.save(sd, checkpoint_id=path)
    dist.destroy_process_group()


# --- running -------------------------------------------------------------------

def run_swift(bench, case, path, runs, *extra):
    out = subprocess.run([bench, case, path, *map(str, extra), str(runs)] if case == "save"
                         else [bench, case, path, str(runs)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"pth-bench {case}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def run_torch(case, path, runs):
    out = subprocess.run([sys.executable, "-W", "ignore", __file__, "--torch", case, path, str(runs)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"torch {case}: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_cat(path, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return {"times": times, "bytes": os.path.getsize(path), "peak_rss_bytes": 0}


def spread(times):
    return f"{statistics.median(times):8.3f} s ({min(times):.3f}-{max(times):.3f})"


def mib(n):
    return f"{n / 2**20:7.1f} MiB"


def line(name, swift, other, other_name, target=None, rss_at_most_other=False):
    s, o = statistics.median(swift["times"]), statistics.median(other["times"])
    ratio = o / s if s > 0 else float("inf")
    rate = ""
    if swift.get("bytes"):
        rate = f"{swift['bytes'] / s / 1e9:6.2f} GB/s"
    verdict = ""
    if target is not None:
        verdict = "  goal met" if ratio >= target else f"  GOAL MISSED (want {target:g}x)"
    if rss_at_most_other:
        within = swift["peak_rss_bytes"] <= other.get("peak_rss_bytes", 0)
        verdict += "; rss goal met" if within else "; RSS GOAL MISSED (want <= the other side's)"
    print(f"{name:<44} swift {spread(swift['times'])}  {other_name:<22} {spread(other['times'])}  "
          f"x{ratio:7.2f}  {rate:>11}  rss swift {mib(swift['peak_rss_bytes'])} / {other_name.split()[0]} {mib(other.get('peak_rss_bytes', 0))}{verdict}")
    sys.stdout.flush()
    return ratio


def settle():
    """Writes back what earlier cases left dirty (gigabytes, after the write
    cases), so that the kernel's writeback does not run during this case."""
    os.sync()
    time.sleep(1)


def write_case(bench, p, d, r):
    """Writing 1 GiB from memory, and a 1 GiB file written back and converted, both sides."""
    settle()
    out = os.path.join(d, "written.pth")
    swift, torch_side = run_swift(bench, "save", out, r, 256, 1024 * 1024), run_torch("save", out, r)
    line("write a 1 GiB state dict (256 tensors)", swift, torch_side, "torch.save", 2)
    # The first save of a process, kept out of the medians: on a virtual machine, memory the guest
    # has not touched lately costs several times more to fill, and torch.save, which truncates the
    # file it replaces first, refills that file's pages where an atomic write takes fresh ones.
    print(f"{'':<44} warm-up save (not in the medians): swift {swift['first']:.3f} s, torch.save {torch_side['first']:.3f} s")
    os.remove(out)
    settle()
    # PyTorch has one way to do both (torch.load, then torch.save): measured once, for both lines.
    resaved = run_torch("resave", p["1g.pth"], r)
    line("rewrite 1 GiB read from a file", run_swift(bench, "rewrite", p["1g.pth"], r), resaved, "torch.load+save")
    line("resave 1 GiB read from a file", run_swift(bench, "resave", p["1g.pth"], r), resaved, "torch.load+save")


def many_case(bench, p, r):
    """Opening a checkpoint of 100,000 small tensors and 300,000 values, every tensor's facts read."""
    settle()
    run_cat(p["many.pth"], 1)  # warm the page cache
    line("open 100,000 tensors + 300,000 values", run_swift(bench, "open", p["many.pth"], r),
         run_torch("open", p["many.pth"], r), "torch.load", 50)


def pickle_case(bench, p, r):
    """The pickle machine on values.pkl against CPython's C unpickler; then with every value read."""
    settle()
    loads = run_torch("pickle", p["values.pkl"], r)
    line("pickle machine, 1,000,000 values", run_swift(bench, "pickle", p["values.pkl"], r),
         loads, "pickle.loads (C)", 2, rss_at_most_other=True)
    line("  the same, then every value read", run_swift(bench, "pickle-walk", p["values.pkl"], r),
         loads, "pickle.loads (C)")


def dcp_case(bench, p, r):
    """Converting a 4 GiB distributed checkpoint to .pth, both sides; the outputs compared."""
    dcp_runs = min(r, 3)
    swift = run_swift(bench, "dcp-convert", p["dcp4g"], dcp_runs)
    torch_side = run_torch("dcp-convert", p["dcp4g"], dcp_runs)
    ours, theirs = p["dcp4g"] + ".pth", os.path.join(p["dcp4g"] + ".torch", "dcp4g.pth")
    same = subprocess.run(["cmp", "-s", ours, theirs]).returncode == 0
    line("DCP 4 GiB (2 ranks) -> .pth", swift, torch_side, "dcp_to_torch_save")
    print(f"{'':<44} outputs {'byte-identical' if same else 'DIFFER'}; largest tensor 128 MiB; "
          f"peak rss target: about the largest tensor, not the model")
    for f in (ours, theirs):
        os.remove(f)


def main():
    if sys.argv[1:2] == ["--make-inputs"]:
        only = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")), None)
        make_inputs(sys.argv[2], "--skip-5g" not in sys.argv, only)
        return 0
    if sys.argv[1:2] == ["--torch"]:
        print(json.dumps(torch_case(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir")
    ap.add_argument("--skip-5g", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--only", choices=["dcp", "pickle", "open", "write"], help="run one case alone (its inputs only)")
    args = ap.parse_args()

    subprocess.run(["swift", "build", "-c", "release", "--product", "pth-bench"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    bench = os.path.join(ROOT, ".build", "release", "pth-bench")
    d = args.dir or tempfile.mkdtemp(prefix="pth-bench-")
    os.makedirs(d, exist_ok=True)
    try:
        start = time.perf_counter()
        # In a child process, so that torch's memory for making them does not
        # count in this process or in the children it starts.
        subprocess.run([sys.executable, "-W", "ignore", __file__, "--make-inputs", d] + (["--skip-5g"] if args.skip_5g else [])
                       + ([f"--only={args.only}"] if args.only else []), check=True)
        p = {name: os.path.join(d, name) for name in ("1g.pth", "1g.safetensors", "many.pth", "values.pkl", "5g.pth", "dcp4g")
             if os.path.exists(os.path.join(d, name))}
        print(f"inputs in {d} ({time.perf_counter() - start:.0f} s to make); {args.runs} runs per case, "
              f"median (min-max); ratio = other / swift")
        r = args.runs
        if args.only == "dcp":
            dcp_case(bench, p, r)
            return 0
        if args.only == "pickle":
            pickle_case(bench, p, r)
            return 0
        if args.only == "open":
            many_case(bench, p, r)
            return 0
        if args.only == "write":
            write_case(bench, p, d, r)
            return 0
        baseline = run_torch("baseline", p["values.pkl"], 1)  # torch imported, nothing else
        print(f"{'baseline: python with torch imported':<44} peak rss {mib(baseline['peak_rss_bytes'])}")
        for f in ("1g.pth", "many.pth", "1g.safetensors"):
            run_cat(p[f], 1)  # warm the page cache

        opened = run_swift(bench, "open", p["1g.pth"], r)
        line("open 1 GiB, index 256 tensors", opened, run_torch("open-mmap", p["1g.pth"], r), "torch.load(mmap=True)", 1)
        print(f"{'':<44} resident pages of the 1 GiB mapping after open: {opened['mapped_rss_bytes'] / 1024:.0f} KiB "
              f"(tensor data is 1024 MiB)")
        read = run_swift(bench, "read", p["1g.pth"], r)
        line("read every tensor byte, 1 GiB", read, run_cat(p["1g.pth"], r), "cat > /dev/null", 1 / 1.3)
        line("read every tensor byte, 1 GiB", read, run_torch("open", p["1g.pth"], r), "torch.load")
        line("copy every tensor into Swift arrays, 1 GiB", run_swift(bench, "copy", p["1g.pth"], r),
             run_torch("open", p["1g.pth"], r), "torch.load")
        write_case(bench, p, d, r)
        many_case(bench, p, r)
        pickle_case(bench, p, r)
        line("safetensors: open 1 GiB, index 256 tensors", run_swift(bench, "st-open", p["1g.safetensors"], r),
             run_torch("st-open", p["1g.safetensors"], r), "safe_open")
        line("safetensors: read every tensor, 1 GiB", run_swift(bench, "st-read", p["1g.safetensors"], r),
             run_torch("st-read", p["1g.safetensors"], r), "load_file")
        if "5g.pth" in p:
            run_cat(p["5g.pth"], 1)
            inspected = run_swift(bench, "inspect", p["5g.pth"], r)
            peak = inspected["peak_rss_bytes"]
            verdict = "goal met" if peak < 64 * 2**20 else "GOAL MISSED (want < 64 MiB)"
            print(f"{'inspect 5 GiB (1,280 tensors)':<44} swift {spread(inspected['times'])}  peak rss {mib(peak)}  {verdict}")
        if "dcp4g" in p:
            dcp_case(bench, p, r)
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
