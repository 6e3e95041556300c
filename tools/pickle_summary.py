#!/usr/bin/env python3
"""Summarise the pickle inside torch.save files, without torch.

usage: pickle_summary.py [--dis] FILE...

For each zip checkpoint: its records, the pickle protocol, how often each
opcode occurs, the globals it names (GLOBAL and STACK_GLOBAL) and its
persistent ids (storage tuples). --dis also prints pickletools.dis of data.pkl.

Globals and persistent ids are collected by unpickling with stand-ins for every
class and function, so nothing the pickle names is imported or run.
"""
import collections
import io
import pickle
import pickletools
import sys
import zipfile


class _StandIn:
    """Accepts whatever an unpickler does to an object."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def __setitem__(self, key, value):
        pass

    def append(self, item):
        pass

    def extend(self, items):
        pass

    def add(self, item):
        pass


class _RecordingUnpickler(pickle.Unpickler):
    def __init__(self, data):
        super().__init__(io.BytesIO(data))
        self.globals_seen = []
        self.persistent_ids = []

    def find_class(self, module, name):
        self.globals_seen.append(f"{module} {name}")
        # One stand-in class per global, named after it, so that it shows in ids.
        return type(f"{module}.{name}", (_StandIn,), {})

    def persistent_load(self, pid):
        self.persistent_ids.append(tuple(
            part.__name__ if isinstance(part, type) else part for part in pid))
        return _StandIn()


def data_pkl(zf):
    names = zf.namelist()
    for name in names:
        if name.endswith("/data.pkl") and name.count("/") == 1:
            return name, zf.read(name)
    raise ValueError("no <prefix>/data.pkl record")


def summarise(path, show_dis=False):
    with zipfile.ZipFile(path) as zf:
        records = [(info.filename, info.file_size) for info in zf.infolist()]
        name, data = data_pkl(zf)
    opcodes = collections.Counter()
    protocol = None
    for opcode, arg, _ in pickletools.genops(data):
        opcodes[opcode.name] += 1
        if opcode.name == "PROTO":
            protocol = arg
    unpickler = _RecordingUnpickler(data)
    unpickler.load()
    return {
        "path": path,
        "records": records,
        "data_pkl": name,
        "protocol": protocol,
        "opcodes": dict(sorted(opcodes.items())),
        "globals": list(dict.fromkeys(unpickler.globals_seen)),
        "persistent_ids": unpickler.persistent_ids,
        "dis": _dis(data) if show_dis else None,
    }


def _dis(data):
    out = io.StringIO()
    pickletools.dis(data, out=out)
    return out.getvalue()


def main(argv):
    show_dis = "--dis" in argv
    paths = [a for a in argv if a != "--dis"]
    if not paths:
        sys.stderr.write(__doc__)
        return 2
    for path in paths:
        try:
            s = summarise(path, show_dis)
        except (zipfile.BadZipFile, ValueError) as error:
            print(f"== {path}: not a zip checkpoint ({error})")
            continue
        print(f"== {path}  (protocol {s['protocol']}, {s['data_pkl']})")
        shown = s["records"][:12]
        more = len(s["records"]) - len(shown)
        print(f"records ({len(s['records'])}):", ", ".join(f"{n} ({size})" for n, size in shown)
              + (f", … {more} more" if more else ""))
        print("opcodes:", ", ".join(f"{k}={v}" for k, v in s["opcodes"].items()))
        print("globals:")
        for g in s["globals"]:
            print("   ", g)
        print(f"persistent ids ({len(s['persistent_ids'])}):")
        for pid in s["persistent_ids"][:20]:
            print("   ", pid)
        if len(s["persistent_ids"]) > 20:
            print("    …")
        if s["dis"]:
            print(s["dis"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
