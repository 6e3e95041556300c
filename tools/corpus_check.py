#!/usr/bin/env python3
"""Runs `pth` over the public corpora in ../shared/corpus/ (files nobody on this
team wrote) and checks that each is answered as PyTorch answers it.

usage: corpus_check.py --pth PATH [--corpus DIR] [--only external|malicious]
                       [--jobs N] [--verbose] [FILTER...]

external/ (real checkpoints; next to each FILE, FILE.torch.json gives
torch 2.15's verdict and FILE.manifest.json its listing):
  - `pth inspect --json` equals the manifest by LISTING.md's rule;
  - `pth verify` exits 0 where weights_only accepts, 2 where torch loads the
    file but weights_only refuses, 1 where torch cannot load it;
  - `pth rewrite` gives the same bytes back, or refuses with its reason, and
    only for files torch cannot load, tar files and pickle protocols 0/1;
  - `pth inspect` and `pth dis` finish with an answer.

malicious/ (hostile, tricky and benign pickles; never loaded by anything that
can execute them): torch's verdict is taken live from
torch.load(weights_only=True), in a worker process; then
  - `pth verify` exits 1 or 2 on every file weights_only refuses, and never
    prints a prediction that contradicts torch's;
  - every global and opcode outside weights_only's allowlist, in every pickle
    the file holds (found here by pickletools, independently of pth), is in
    `pth verify --json`'s lists;
  - `pth inspect` never shows a file that names such a global with exit 0,
    and names each such global of the pickle it shows;
  - nothing executes: each run happens in an empty scratch folder (cwd, HOME,
    TMPDIR), which must stay empty.

Every run of pth (and of torch) is bounded in time (20 s, and 20 s more per GB of
file) and memory (4 GiB of address space); a signal, a
timeout or a failure without a message fails the suite. Prints one line per
file that fails and a last line with the counts; exits 1 on any failure.
"""
import argparse
import concurrent.futures
import io
import json
import os
import pickletools
import resource
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_listing  # noqa: E402

TIMEOUT_S = 20  # for a small file; a large one gets 20 s more per GB it holds


def timeout_for(argv):
    """The time a run may take: 20 s, and 20 s per GB of the files it names (they are hashed, written)."""
    size = sum(os.path.getsize(a) for a in argv[1:] if os.path.isfile(a))
    return TIMEOUT_S + 20 * size / 1e9
MEMORY_BYTES = 4 << 30  # address space of each run


# --- running pth, bounded ---------------------------------------------------

class Run:
    def __init__(self, argv, code, out, err, seconds, signal_=None, timed_out=False, dirty=None):
        self.argv, self.code, self.out, self.err = argv, code, out, err
        self.seconds, self.signal, self.timed_out, self.dirty = seconds, signal_, timed_out, dirty

    @property
    def text(self):
        return self.out + self.err

    def trouble(self):
        """What is wrong with the run whatever its command: a signal, a hang, a silent failure, a side effect."""
        name = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(self.argv[:2]))
        if self.timed_out:
            return f"{name}: still running after {timeout_for(self.argv):.0f} s"
        if self.signal is not None:
            return f"{name}: killed by signal {self.signal} ({signal.Signals(self.signal).name}): {self.err.strip()[-300:]}"
        if self.code != 0 and not self.err.strip() and not self.out.strip():
            return f"{name}: exit {self.code} without a message"
        if self.dirty:
            return f"{name}: something appeared in its scratch folder: {self.dirty}"
        return None


def _limits(mapped=0):
    """Limits for a child: address space (4 GiB, and twice the files it maps), no core dumps, its own group."""
    def apply():
        limit = MEMORY_BYTES + 2 * mapped
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.setsid()
    return apply


def run(argv, scratch_root):
    scratch = tempfile.mkdtemp(dir=scratch_root)
    env = {"PATH": "/usr/bin:/bin", "HOME": scratch, "TMPDIR": scratch, "PTH_PROGRESS": "never", "LC_ALL": "C.UTF-8"}
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=scratch, env=env,
                            preexec_fn=_limits(sum(os.path.getsize(a) for a in argv[1:] if os.path.isfile(a))))
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout_for(argv))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        timed_out = True
    seconds = time.monotonic() - start
    left = os.listdir(scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    code = proc.returncode
    sig = -code if code is not None and code < 0 and not timed_out else None
    return Run(argv, code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), seconds,
               sig, timed_out, left or None)


# --- pickles in a file, found without pth ------------------------------------

def _python3_name(module, name):
    import _compat_pickle
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return f"{module}.{name}"


def scan_pickle(data, start=0):
    """Globals and opcodes of the pickle at data[start:], its end (after STOP), or None at an error."""
    globals_, opcodes = [], []
    strings = []
    memo = {}
    end = None
    try:
        for op, arg, pos in pickletools.genops(io.BytesIO(data[start:])):
            opcodes.append(op.name)
            if op.name in ("GLOBAL", "INST"):
                module, _, name = arg.partition(" ")
                globals_.append(_python3_name(module, name))
                strings.append(None)
            elif op.name == "STACK_GLOBAL":
                if len(strings) >= 2 and isinstance(strings[-1], str) and isinstance(strings[-2], str):
                    globals_.append(_python3_name(strings[-2], strings[-1]))
                strings.append(None)
            elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING",
                             "BINSTRING", "SHORT_BINSTRING"):
                strings.append(arg if isinstance(arg, str) else None)
            elif op.name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = strings[-1] if strings else None
            elif op.name == "MEMOIZE":
                memo[len(memo)] = strings[-1] if strings else None
            elif op.name in ("GET", "BINGET", "LONG_BINGET"):
                strings.append(memo.get(arg))
            else:
                strings.append(None)
            if op.name == "STOP":
                end = start + pos + 1
    except Exception:
        end = None
    return globals_, opcodes, end


def pickles_in(path):
    """Every pickle the file holds, as (where, bytes, start): a zip's records, a tar's members, or the
    file's own pickles back to back."""
    with open(path, "rb") as f:
        data = f.read()
    found = []
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    try:
                        found.append((info.filename, z.read(info), 0))
                    except Exception:
                        pass
        except Exception:
            pass
    elif tarfile.is_tarfile(path):
        try:
            with tarfile.open(path) as t:
                for member in t.getmembers():
                    if member.isfile():
                        found.append((member.name, t.extractfile(member).read(), 0))
        except Exception:
            pass
    else:
        found.append(("(file)", data, 0))
    return found


def unsafe_in(path, allowed_globals, allowed_opcodes):
    """The globals and opcodes outside weights_only's allowlists in every complete pickle of the file
    (a record that does not parse to STOP is tensor data, not a pickle)."""
    globals_, opcodes = set(), set()
    for where, data, start in pickles_in(path):
        offset = start
        while offset < len(data):
            g, ops, end = scan_pickle(data, offset)
            if end is None:
                break
            globals_.update(x for x in g if x not in allowed_globals)
            opcodes.update(x for x in ops if x not in allowed_opcodes)
            if where != "(file)":
                break
            offset = end
    return globals_, opcodes


# --- torch's verdicts, from a worker process -----------------------------------

WORKER = r"""
import json, os, sys, warnings
warnings.simplefilter("ignore")
import torch, torch._weights_only_unpickler as wo
import re, inspect
# The opcodes its Unpickler.load handles (`key[0] == BINGET[0]`, `key[0] in [BINPUT[0], ...]`); it refuses others.
opcodes = sorted(set(re.findall(r"\b([A-Z][A-Z_0-9]+)\[0\]", inspect.getsource(wo.Unpickler.load))))
print(json.dumps({"globals": sorted(wo._get_allowed_globals().keys()), "opcodes": opcodes}), flush=True)
for line in sys.stdin:
    path = line.rstrip("\n")
    try:
        torch.load(path, weights_only=True, map_location="cpu")
        verdict = {"verdict": "accepts"}
    except Exception as e:
        verdict = {"verdict": "refuses", "error": (type(e).__name__ + ": " + str(e))[:300]}
    print(json.dumps(verdict), flush=True)
"""


class TorchWorker:
    """torch.load(weights_only=True), one file at a time, in a scratch folder that must stay empty."""

    def __init__(self, python, scratch_root, largest=0):
        self.python = python
        self.largest = largest
        self.scratch = tempfile.mkdtemp(dir=scratch_root)
        self._start()
        header = json.loads(self.proc.stdout.readline())
        self.allowed_globals = set(header["globals"])
        self.allowed_opcodes = set(header["opcodes"])

    def _start(self):
        env = dict(os.environ, HOME=self.scratch, TMPDIR=self.scratch)
        self.proc = subprocess.Popen([self.python, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, cwd=self.scratch, env=env, text=True,
                                     preexec_fn=_limits(self.largest))

    def verdict(self, path):
        import select
        self.proc.stdin.write(path + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_for(["", path]))
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self._start()
            self.proc.stdout.readline()
            return {"verdict": "refuses", "error": "torch.load did not finish (killed or timed out)"}
        result = json.loads(line)
        left = os.listdir(self.scratch)
        if left:
            result["dirty"] = left
        return result


# --- expectations ---------------------------------------------------------------

def pickle_protocol(path):
    """The protocol of the pickle torch.load reads first (zip: data.pkl; otherwise the file's first)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                name = next((n for n in z.namelist() if n.endswith("data.pkl")), None)
                data = z.read(name)[:2] if name else b""
        else:
            with open(path, "rb") as f:
                data = f.read(2)
    except Exception:
        return None
    if len(data) >= 2 and data[0] == 0x80:
        return data[1]
    return 0 if data else None


def is_torchscript(path):
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.split("/", 1)[-1].startswith("code/") or n.endswith("/constants.pkl") for n in z.namelist())
    except Exception:
        return False


def check_external(path, pth, scratch_root, work):
    problems = []
    with open(path + ".torch.json") as f:
        torch_verdict = json.load(f)
    loads = torch_verdict.get("load") == "ok"
    accepts = torch_verdict.get("weights_only") == "accepts"
    manifest = path + ".manifest.json"
    is_tar = tarfile.is_tarfile(path) and not zipfile.is_zipfile(path)
    runs = []

    listing = run([pth, "inspect", "--json", path], scratch_root)
    runs.append(listing)
    if os.path.exists(manifest):
        if listing.code != 0:
            problems.append(f"inspect --json exit {listing.code}: {listing.err.strip()[:300]}")
        else:
            with open(manifest) as f:
                expected = json.load(f)
            try:
                ours = json.loads(listing.out)
                matched, mismatches, _ = compare_listing.compare(expected, ours)
                if mismatches:
                    p, want, got = mismatches[0]
                    problems.append(f"listing: {len(mismatches)} of {len(expected)} entries differ, first at "
                                    f"{json.dumps(p)}: torch {json.dumps(want)[:200]}, ours {json.dumps(got)[:200]}")
            except json.JSONDecodeError as e:
                problems.append(f"inspect --json printed no JSON: {e}")

    verify = run([pth, "verify", path], scratch_root)
    runs.append(verify)
    # "n/a": torch.jit.load needs classes this torch build lacks (xnnpack's); the file may be whole.
    want = {0} if accepts and loads else ({2} if loads else ({1, 2} if torch_verdict.get("load") == "n/a" else {1}))
    if verify.code not in want:
        problems.append(f"verify exit {verify.code}, torch says {'/'.join(map(str, sorted(want)))} "
                        f"({'accepts' if accepts else 'refuses: ' + torch_verdict.get('weights_only_error', '')[:120]}): "
                        + " | ".join(l.strip()[:200] for l in verify.out.splitlines()[1:6]))

    text = run([pth, "inspect", path], scratch_root)
    runs.append(text)
    if text.code not in (0, 1, 2):
        problems.append(f"inspect exit {text.code}")
    if loads and text.code == 1:
        problems.append(f"inspect refused a file torch loads: {text.err.strip()[:300]}")

    runs.append(run([pth, "dis", path], scratch_root))

    out = os.path.join(work, "rewritten")
    if os.path.exists(out):
        os.remove(out)
    rewrite = run([pth, "rewrite", path, out], scratch_root)
    runs.append(rewrite)
    protocol = pickle_protocol(path)
    may_refuse = not loads or is_tar or protocol in (0, 1)
    if rewrite.code == 0:
        with open(path, "rb") as a, open(out, "rb") as b:
            if a.read() != b.read():
                problems.append("rewrite: not the same bytes")
    elif not may_refuse:
        problems.append(f"rewrite refused (protocol {protocol}): {rewrite.err.strip()[:300]}")

    problems += [t for t in (r.trouble() for r in runs) if t]
    return problems, runs


def check_malicious(path, pth, scratch_root, verdict, allowed_globals, allowed_opcodes):
    problems = []
    if verdict.get("dirty"):
        problems.append(f"torch.load(weights_only=True) left {verdict['dirty']} behind")
    accepts = verdict["verdict"] == "accepts"
    unsafe_globals, unsafe_opcodes = unsafe_in(path, allowed_globals, allowed_opcodes)
    runs = []

    verify = run([pth, "verify", "--json", path], scratch_root)
    runs.append(verify)
    try:
        report = json.loads(verify.out)
    except json.JSONDecodeError:
        report = None
        problems.append(f"verify --json exit {verify.code} printed no JSON: {verify.err.strip()[:200]}")
    if report is not None:
        if not accepts and verify.code == 0:
            problems.append(f"verify exit 0 where torch refuses ({verdict.get('error', '')[:150]})")
        if accepts and report["weights_only_accepts"] is False:
            problems.append("verify predicts weights_only refuses; torch accepts")
        if not accepts and report["weights_only_accepts"] is True:
            problems.append(f"verify predicts weights_only accepts; torch refuses ({verdict.get('error', '')[:150]})")
        if accepts and verify.code != 0 and report["intact"]:
            problems.append(f"verify exit {verify.code} where torch accepts")
        missing = unsafe_globals - set(report["unsafe_globals"])
        if missing:
            problems.append(f"verify does not list unsafe globals {sorted(missing)}")
        missing_ops = unsafe_opcodes - {o["opcode"] for o in report["refused_opcodes"]}
        if missing_ops:
            problems.append(f"verify does not list refused opcodes {sorted(missing_ops)}")

    shown = run([pth, "inspect", path], scratch_root)
    runs.append(shown)
    # The pickle inspect shows: a zip's data.pkl, or the file's own.
    shown_globals = set()
    for where, data, start in pickles_in(path):
        if where == "(file)" or where.endswith("/data.pkl") or where == "data.pkl":
            g, _, end = scan_pickle(data, start)
            shown_globals.update(x for x in g if x not in allowed_globals)
            if where == "(file)":
                offset = end
                while end is not None and offset < len(data):
                    g, _, end = scan_pickle(data, offset)
                    shown_globals.update(x for x in g if x not in allowed_globals)
                    offset = end
    if is_torchscript(path):
        # torch.jit.load builds __torch__ classes from the archive's TorchScript code, not from Python.
        shown_globals = {g for g in shown_globals if not g.startswith(("__torch__.", "torch.jit._pickle."))}
    if shown.code == 0 and shown_globals:
        problems.append(f"inspect exit 0 on a file that names {sorted(shown_globals)}")
    if shown.code == 2:
        hidden = [g for g in shown_globals if g.rsplit(".", 1)[-1] not in shown.text]
        if hidden:
            problems.append(f"inspect does not show {sorted(hidden)}")

    runs.append(run([pth, "inspect", "--json", path], scratch_root))
    runs.append(run([pth, "dis", path], scratch_root))
    problems += [t for t in (r.trouble() for r in runs) if t]
    return problems, runs


class Tally:
    """Prints each file's outcome, and keeps the failures and the slowest run."""

    def __init__(self, corpus, verbose):
        self.corpus, self.verbose = corpus, verbose
        self.failed = 0
        self.slowest = (0.0, "")

    def record(self, path, problems, runs, note=""):
        """Prints the outcome; returns 1 when the file was answered as expected."""
        name = os.path.relpath(path, self.corpus)
        for r in runs:
            if r.seconds > self.slowest[0]:
                self.slowest = (r.seconds, f"{' '.join(r.argv[1:2])} {name}")
        if problems:
            self.failed += 1
            print(f"FAIL   {name}")
            for p in problems:
                print(f"         {p}")
            return 0
        if self.verbose:
            print(f"ok     {name}{note}")
        return 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pth", required=True)
    parser.add_argument("--corpus", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "corpus"))
    parser.add_argument("--python", default=sys.executable, help="a Python with torch, for the malicious verdicts")
    parser.add_argument("--only", choices=["external", "malicious"])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("filters", nargs="*", help="check only files whose path contains one of these")
    args = parser.parse_args()
    pth = os.path.abspath(args.pth)
    corpus = os.path.abspath(args.corpus)
    if not os.path.isdir(corpus):
        print(f"corpus-check: skipped: no corpus at {corpus} (it is beside the project in CI only)")
        return 0

    def listed(folder):
        """The files of external/ or malicious/: as INDEX lists them, or, for a folder kept aside
        without one, every file (external: every file with a FILE.torch.json beside it)."""
        root = os.path.join(corpus, folder)
        index = os.path.join(root, "INDEX")
        if os.path.exists(index):
            with open(index) as f:
                names = [os.path.join(root, line.strip()) for line in f if line.strip()]
        else:
            names = []
            for parent, _, files in os.walk(root):
                for name in sorted(files):
                    path = os.path.join(parent, name)
                    if name in ("INDEX", "SOURCES.tsv") or name.endswith((".manifest.json", ".torch.json")):
                        continue
                    if folder == "external" and not os.path.exists(path + ".torch.json"):
                        continue
                    names.append(path)
        return [n for n in sorted(names) if not args.filters or any(x in n for x in args.filters)]

    counts = {}
    start = time.monotonic()
    tally = Tally(corpus, args.verbose)
    with tempfile.TemporaryDirectory() as scratch_root:
        if args.only in (None, "external"):
            files = listed("external")

            def one(item):
                i, path = item
                work = os.path.join(scratch_root, f"w{i}")
                os.makedirs(work, exist_ok=True)
                return path, *check_external(path, pth, scratch_root, work)

            with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
                ok = sum(tally.record(path, problems, runs) for path, problems, runs in pool.map(one, enumerate(files)))
            counts["external"] = (ok, len(files))
        if args.only in (None, "malicious"):
            files = listed("malicious")
            worker = TorchWorker(os.path.abspath(args.python), scratch_root, max(map(os.path.getsize, files), default=0))
            # The worker answers one file at a time; pth runs go in parallel after it.
            verdicts = {p: worker.verdict(p) for p in files}
            worker.proc.stdin.close()
            worker.proc.wait()

            def one(path):
                return (path, *check_malicious(path, pth, scratch_root, verdicts[path],
                                               worker.allowed_globals, worker.allowed_opcodes))

            with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
                ok = sum(tally.record(path, problems, runs, f" (torch {verdicts[path]['verdict']})")
                         for path, problems, runs in pool.map(one, files))
            counts["malicious"] = (ok, len(files))
            counts["weights_only accepts"] = (sum(v["verdict"] == "accepts" for v in verdicts.values()), len(files))
    failed, slowest = tally.failed, tally.slowest
    summary = ", ".join(f"{k} {a}/{b}" for k, a, b in ((k, *v) for k, v in counts.items()))
    print(f"corpus-check: {summary} as expected; slowest run {slowest[0]:.2f} s ({slowest[1]}); "
          f"{time.monotonic() - start:.0f} s in all")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
