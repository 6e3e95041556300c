#!/usr/bin/env python3
"""Archives with two records named data.pkl, and which one torch.load reads.

usage: make_duplicate_fixtures.py [OUT_DIR]   (default fixtures/duplicates)

PyTorch's zip reader (miniz) finds a record by binary search over the
central directory sorted by name (an unstable heap sort), so with duplicate
names the copy it reads depends on where the duplicate sits. Each file here
is torch.save's archive of {'a': 1} with a second data.pkl (of {'b': 2})
inserted at another position of the central directory; expected.json says,
for each, the index (in central directory order) of the data.pkl entry that
torch.load(weights_only=True) read.
"""
import io
import json
import os
import sys
import warnings
import zipfile

warnings.filterwarnings("ignore")
import torch  # noqa: E402


def archive(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write(path, records):
    with zipfile.ZipFile(path, "w") as z:
        for record, data in records:
            z.writestr(zipfile.ZipInfo(record, date_time=(1980, 1, 1, 0, 0, 0)), data)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures", "duplicates")
    os.makedirs(out, exist_ok=True)
    first = archive({"a": 1})
    second = dict(archive({"b": 2}))["archive/data.pkl"]
    expected = {}
    for position in range(len(first) + 1):
        records = list(first)
        records.insert(position, ("archive/data.pkl", second))
        name = f"second_data_pkl_at_{position}.pth"
        path = os.path.join(out, name)
        write(path, records)
        loaded = torch.load(path, weights_only=True)
        indices = [i for i, (record, _) in enumerate(records) if record == "archive/data.pkl"]
        read = indices[0] if ("a" in loaded) == (records[indices[0]][1] != second) else indices[1]
        expected[name] = {"data_pkl_entries": indices, "torch_reads_entry": read, "torch_loads": loaded}
    # The second copy names builtins.eval (a pickle of the function itself, nothing called): where
    # torch reads that copy, weights_only refuses the file; where it reads the other, it accepts.
    unsafe = b"\x80\x02cbuiltins\neval\nq\x00."
    for position in (1, 2):
        records = list(first)
        records.insert(position, ("archive/data.pkl", unsafe))
        name = f"unsafe_data_pkl_at_{position}.pth"
        path = os.path.join(out, name)
        write(path, records)
        try:
            torch.load(path, weights_only=True)
            verdict = "accepts"
        except Exception as e:  # noqa: BLE001
            verdict = "refuses: " + str(e).splitlines()[-1][:200]
        expected[name] = {"weights_only": verdict,
                          "unsafe_globals": torch.serialization.get_unsafe_globals_in_checkpoint(path)}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
