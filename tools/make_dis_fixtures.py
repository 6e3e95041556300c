#!/usr/bin/env python3
"""pickletools.dis of a few pickles, for the disassembler's tests.

usage: make_dis_fixtures.py [OUTDIR]   (default fixtures/dis)

For each checkpoint fixture named below, writes NAME.dis.txt (the disassembly
of its data.pkl); for each vector of pickle_vectors.json with protocol -1
(hand-written pickles: INST, OBJ, DUP, POP_MARK, protocol 0 text opcodes),
writes vector-NAME.pkl and vector-NAME.dis.txt.
"""
import io
import json
import os
import pickletools
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
CHECKPOINTS = ["state_dict.pth", "proto4.pth", "proto5.pth", "values.pth", "sparse.pth"]


def dis(data):
    out = io.StringIO()
    try:
        pickletools.dis(data, out=out)
    except ValueError:
        pass  # e.g. "stack not empty after STOP": the text printed so far is the disassembly
    return out.getvalue()


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(FIXTURES, "dis")
    os.makedirs(outdir, exist_ok=True)
    for name in CHECKPOINTS:
        z = zipfile.ZipFile(os.path.join(FIXTURES, name))
        record = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
        with open(os.path.join(outdir, name + ".dis.txt"), "w") as fh:
            fh.write(dis(z.read(record)))
    for v in json.load(open(os.path.join(FIXTURES, "pickle_vectors.json"))):
        if v["protocol"] == -1:
            data = bytes.fromhex(v["hex"])
            with open(os.path.join(outdir, f"vector-{v['name']}.pkl"), "wb") as fh:
                fh.write(data)
            with open(os.path.join(outdir, f"vector-{v['name']}.pkl.dis.txt"), "w") as fh:
                fh.write(dis(data))


if __name__ == "__main__":
    main()
