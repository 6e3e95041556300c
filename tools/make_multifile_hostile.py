#!/usr/bin/env python3
"""Write hostile and damaged multi-file checkpoints, each a few KB, for the
regression tests of Tests/TorchCheckpointTests/ManyFiles/HostileManyFilesTests.swift:
torch.distributed.checkpoint (DCP) directories, Hugging Face sharded sets and
torch.export .pt2 archives whose metadata asks for impossible shapes, huge
allocations, huge list padding, lengths past any file, files outside the
directory, or an index that names itself, plus a valid DCP holding numpy
objects (with the .pth dcp_to_torch_save makes of it) and a valid DCP whose
one tensor comes in many chunks.

usage: make_multifile_hostile.py [OUTDIR]   (default: fixtures/hostile/multifile/ beside tools/)

Needs torch 2.15.0, numpy, pyzstd and huggingface_hub as pinned in
tools/setup-venv.sh; reuses the helpers of tools/make_multifile_fixtures.py
(fixed save_id, pickle.dump of .metadata as FileSystemWriter.finish writes it,
exception records, the transformers-style merge of a sharded set).
Runs in about 25 seconds on two cores; writes 28 files (11 set directories,
3 .pt2, N_np.pth, expectations.json), about 104 KB. Nothing here is a copy of another fixture: every valid base is written
afresh from the small state dicts below. No symbolic link is written (the test
that needs one makes it in a scratch directory), and no FILE.listing.json
(which would enroll a file in the listing conformance tests).

Every valid base is written by real torch and then edited, as a reviewer's
reproducer was:
- DCP: dcp.save(state, storage_writer=FileSystemWriter(NAME), no_dist=True),
  run with the current directory set to OUTDIR and a relative NAME, with
  storage_meta.save_id fixed to 00000000-0000-4000-8000-000000000000 (see
  make_multifile_fixtures.py), so .metadata holds no machine path and no
  random id. The state is BASE_STATE unless said otherwise:
      {"model": {"w": tensor([0.5, -1.0, 2.0])}, "step": 3, "tag": "hostile"}
  i.e. one tensor item model.w (one chunk) and two bytes items step and tag,
  all in __0_0.distcp. An edit pickle.load-s .metadata, changes the dataclasses
  (TensorStorageMetadata, ChunkStorageMetadata, MetadataIndex, _StorageInfo,
  planner_data) and writes it back with pickle.dump(metadata, f) (protocol 4
  on Python 3.11), exactly as FileSystemWriter.finish writes it.
- Sharded: huggingface_hub.save_torch_state_dict({"a": tensor([1., 2.]),
  "b": tensor([3.])}, NAME, safe_serialization=False, max_shard_size=8): two
  torch.save shards pytorch_model-0000K-of-00002.bin and
  pytorch_model.bin.index.json; the index is then rewritten with
  json.dump(index, f, indent=2) as save_torch_state_dict writes it.
- .pt2: torch.export.save(torch.export.export(Pt2Base(), (ones(1, 2),)), model.pt2)
  for a Linear(2, 2) with fixed weights (stack_trace metadata removed, as in
  make_multifile_fixtures.py), then every record copied in order into a new
  zip by Python's zipfile (ZIP_STORED, date 1980-01-01, so reruns give the
  same bytes; the records keep torch's root folder "model/"), the
  data/weights/model_weights_config.json record replaced by its edited JSON
  (json.dumps) and, where said, one record added.

The cases (OUTDIR/NAME):
- A_overflow/        DCP; a tensor item "bad" added: float32, size
                     [2**62, 4, 0] (no elements, but the product of its non-zero
                     dimensions overflows int64 once multiplied by the element
                     size), one chunk offsets [0, 0, 0] sizes [0, 0, 0] whose
                     storage entry is a copy of model.w's.
- B_huge_alloc/      DCP; a tensor item "huge" added: float32, size [2**40]
                     (4 TiB), two chunks of 2**39 elements at offsets [0] and
                     [2**39], both storage entries copies of model.w's (whose
                     bytes hold a 3-element tensor). A reader that allocates the
                     whole tensor before looking at its chunks asks for 4 TiB.
- C_pad/             DCP; a bytes item "L0" added (BytesStorageMetadata, its
                     storage entry a copy of step's) whose planner_data path is
                     ("L0", 2**24 - 1): a list index that makes set_element pad
                     a list with 16,777,215 Nones.
- E_many/            DCP of {"many": tensor([1.]), "two": tensor([2.])}; "many"
                     becomes size [64] in 64 one-element chunks (offsets [i]),
                     chunk i's storage entry a copy of the bytes of "many"
                     (i even) or of "two" (i odd); "two" removed from
                     state_dict_metadata, planner_data and storage_data (its
                     bytes stay in __0_0.distcp). A valid checkpoint: torch
                     reads [1., 2., 1., 2., ...]. The Swift test builds a
                     20,000-chunk .metadata of the same form in a scratch
                     directory (at 60-odd bytes per chunk it would not be tiny).
- F_dot/             DCP; model.w's relative_path set to "." (the directory itself).
- F_symlink/         DCP; model.w's relative_path set to "escape.distcp", which
                     is not there: the test copies the set to a scratch
                     directory and makes escape.distcp a symbolic link to a file
                     outside it (a copy of __0_0.distcp).
- G_zstd_reserve/    DCP; a tensor item "z" added: float32, size [2**38]
                     (1 TiB), one chunk, storage entry z.distcp [0, 16) with
                     transform_descriptors ["stream.zstd/1"]; z.distcp is 16
                     bytes: a zstd frame header (magic 28 b5 2f fd, descriptor
                     e0: single segment, 8-byte content size) declaring 2**39
                     bytes of content, then a last raw block of 0 bytes
                     (01 00 00). A reader that reserves the declared size asks
                     for 512 GiB.
- I_verify_len/      DCP; the storage entries of both bytes items (step, tag)
                     get length 2**62 + 1 (offset unchanged; the file has a few KB).
- N_np/              DCP of N_NP_STATE (numpy arrays, a numpy scalar, a
                     RandomState state tuple, a one-letter string equal to a
                     key): every object is a bytes item. N_np.pth beside it is
                     exactly what dcp_to_torch_save("N_np", "N_np.pth") writes,
                     run from OUTDIR (the .pth's zip prefix is its file name
                     without extension, "N_np").
- S_dot/             sharded; the index's weight_map maps "a" to "." (the
                     directory); the shard that held "a" is deleted.
- S_self/            sharded; the index's weight_map maps "a" to
                     "pytorch_model.bin.index.json" (the index itself); the
                     shard that held "a" is deleted.
- H_offset.pt2       lin.bias's tensor_meta storage_offset set to 2**63 - 1.
- H_strides.pt2      lin.weight's sizes set to [2**47, 2**47], strides
                     [2**47, 1]: the view's extent overflows int64.
- H_zeros.pt2        lin.weight's path_name set to "empty", a record
                     model/data/weights/empty of 0 bytes added (torch.export.load
                     reads an empty weight record as torch.zeros(sizes)), sizes
                     [2**24, 2**24], strides [2**24, 1]: 2**48 float32 zeros,
                     1 PiB - more than any process can map, so a reader that
                     makes the zeros when asked fails there on every machine
                     (a 4 TiB shape would be mapped lazily where the kernel
                     overcommits, and then written out).

OUTDIR/expectations.json: per case, its kind, what it was made from, the
edit, its files and sizes, and what real torch does with it, run in a forked
child process allowed 16 GiB of address space beyond its own and 300 s:
dcp_to_torch_save (DCP), the transformers-style merge - torch.load(weights_only=True)
of each file of sorted(set(weight_map.values())) - (sharded), torch.export.load
(.pt2); exceptions as {type, message} (DCP's CheckpointException as its
per-rank failures), or what was loaded; "not run: would allocate N bytes"
where torch would first allocate terabytes (torch.empty or torch.zeros of the
declared shape). DCP cases whose .metadata was edited also get the messages of
torch's save-time validator default_planner._validate_global_plan for it.

Deterministic: fixed values and save_id, zip dates fixed, so a rerun gives the
same bytes.
"""
import dataclasses
import io
import json
import multiprocessing
import os
import pickle
import resource
import shutil
import struct
import sys
import tempfile
import traceback
import zipfile

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
if TOOLS_DIR not in sys.path:
    sys.path.insert(0, TOOLS_DIR)

import make_multifile_fixtures as mm  # noqa: E402  (imports torch, sets one thread)
from make_multifile_fixtures import cwd, exception_record, fixed_save_id, read_metadata, write_json, write_metadata  # noqa: E402

import logging  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

logging.getLogger("torch.export").setLevel(logging.CRITICAL)  # load's traceback of the error it then hides

ADDRESS_SPACE_LIMIT = 16 << 30   # bytes of address space the torch verdicts may add
VERDICT_SECONDS = 300
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ZSTD_HEADER_2_39 = bytes.fromhex("28b52ffde0") + struct.pack("<Q", 2 ** 39) + bytes.fromhex("010000")


def base_state():
    return {"model": {"w": torch.tensor([0.5, -1.0, 2.0])}, "step": 3, "tag": "hostile"}


def n_np_state():
    return {
        "w": torch.ones(2),
        "rng": np.random.RandomState(0).get_state(),
        "a": np.array([1, 2], dtype=np.int32),
        "b": {"x": np.array([1.5]), "s": "hello"},
        "c": ("MT19937", "hello", np.float32(2.5)),
        "k": "w",
    }


BASE_STATE_TEXT = '{"model": {"w": tensor([0.5, -1.0, 2.0])}, "step": 3, "tag": "hostile"}'
N_NP_STATE_TEXT = ('{"w": torch.ones(2), "rng": np.random.RandomState(0).get_state(), '
                   '"a": np.array([1, 2], dtype=np.int32), "b": {"x": np.array([1.5]), "s": "hello"}, '
                   '"c": ("MT19937", "hello", np.float32(2.5)), "k": "w"}')


# --------------------------------------------------------------------------
# torch's verdicts, in a child process with bounded memory and time


def _vm_size():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(conn, fn, args):
    try:
        limit = _vm_size() + ADDRESS_SPACE_LIMIT
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        conn.send(fn(*args))
    except BaseException as exc:  # noqa: BLE001
        conn.send({"raised": exception_record(exc), "harness_note": traceback.format_exc(limit=0).strip()[-200:]})
    finally:
        conn.close()


def guarded(fn, *args):
    """fn(*args) in a forked child under the address-space and time limits."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(child, fn, args))
    p.start()
    child.close()
    if parent.poll(VERDICT_SECONDS):
        result = parent.recv()
    else:
        result = {"not_finished": f"still running after {VERDICT_SECONDS} s; killed"}
    p.kill()
    p.join()
    return result


def verdict_dcp_to_torch_save(dirpath):
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.pth")
        try:
            dcp_to_torch_save(dirpath, out)
        except BaseException as exc:  # CheckpointException is a BaseException
            return {"raised": exception_record(exc)}
        loaded = torch.load(out, weights_only=False)
        return {"raised": None, "loaded": summarize(loaded), "pth_size": os.path.getsize(out)}


def verdict_dcp_to_torch_save_through_link(dirpath, link_name):
    """Copy the set to a temporary directory, make link_name a symbolic link to a
    copy of __0_0.distcp outside the copy, and convert."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "set")
        shutil.copytree(dirpath, copy)
        outside = os.path.join(tmp, "outside.distcp")
        shutil.copy(os.path.join(dirpath, "__0_0.distcp"), outside)
        os.symlink(outside, os.path.join(copy, link_name))
        return verdict_dcp_to_torch_save(copy)


def verdict_merge(dirpath, index_name):
    return mm.merge_verdict(dirpath, index_name)


def verdict_export_load(path):
    try:
        ep = torch.export.load(path)
    except BaseException as exc:  # noqa: BLE001
        return {"raised": exception_record(exc)}
    return {"raised": None, "loaded": summarize({**ep.state_dict, **ep.constants})}


def verdict_load_pt2(path):
    """torch.export.load logs load_pt2's RuntimeError and raises a generic one; this is the first."""
    from torch.export.pt2_archive._package import load_pt2
    try:
        load_pt2(path)
    except BaseException as exc:  # noqa: BLE001
        return {"raised": exception_record(exc)}
    return {"raised": None}


def summarize(obj, depth=0):
    """A short JSON description of what torch loaded."""
    if isinstance(obj, torch.Tensor):
        out = {"tensor": str(obj.dtype).replace("torch.", ""), "shape": list(obj.shape)}
        values = obj.detach().flatten().tolist()
        if len(values) <= 8:
            out["values"] = values
        elif len(values) <= 64:
            out["values_text"] = " ".join(repr(v) for v in values)
        return out
    if isinstance(obj, dict):
        return {str(k): summarize(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list):
        if len(obj) > 16:
            nones = sum(1 for v in obj if v is None)
            return {"list_of": len(obj), "none_items": nones,
                    "last": summarize(obj[-1], depth + 1)}
        return [summarize(v, depth + 1) for v in obj]
    if isinstance(obj, tuple):
        return {"tuple": [summarize(v, depth + 1) for v in obj]}
    if isinstance(obj, np.ndarray):
        return {"ndarray": str(obj.dtype), "shape": list(obj.shape)}
    if isinstance(obj, (int, float, str, bool)) or obj is None:
        return obj
    return {"repr": repr(obj)[:80], "type": type(obj).__module__ + "." + type(obj).__qualname__}


def not_run(nbytes, what):
    return {"not_run": f"would allocate {nbytes} bytes ({what})"}


# --------------------------------------------------------------------------
# DCP


def save_dcp(name, state):
    """dcp.save from OUTDIR (the current directory) with a relative name and the fixed save_id."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint import FileSystemWriter
    shutil.rmtree(name, ignore_errors=True)
    with fixed_save_id():
        dcp.save(state, storage_writer=FileSystemWriter(name), no_dist=True)


def storage_entry(md, fqn):
    return next(v for k, v in md.storage_data.items() if k.fqn == fqn)


def add_tensor(md, key, size, chunks, infos):
    from torch.distributed.checkpoint.metadata import (ChunkStorageMetadata, MetadataIndex,
                                                       TensorProperties, TensorStorageMetadata)
    md.state_dict_metadata[key] = TensorStorageMetadata(
        properties=TensorProperties(dtype=torch.float32), size=torch.Size(size),
        chunks=[ChunkStorageMetadata(offsets=torch.Size(o), sizes=torch.Size(s)) for o, s in chunks])
    md.planner_data[key] = (key,)
    for i, ((o, _s), info) in enumerate(zip(chunks, infos)):
        md.storage_data[MetadataIndex(fqn=key, offset=torch.Size(o), index=i)] = info


def files_of(path):
    if os.path.isdir(path):
        return [[n, os.path.getsize(os.path.join(path, n))] for n in sorted(os.listdir(path))]
    return [[os.path.basename(path), os.path.getsize(path)]]


def make_dcp_cases(cases):
    from torch.distributed.checkpoint.filesystem import _StorageInfo
    from torch.distributed.checkpoint.metadata import BytesStorageMetadata, MetadataIndex
    made_from = f"dcp.save({BASE_STATE_TEXT}, storage_writer=FileSystemWriter(NAME), no_dist=True)"

    # A: a shape whose element count overflows
    save_dcp("A_overflow", base_state())
    _raw, md = read_metadata("A_overflow")
    add_tensor(md, "bad", [2 ** 62, 4, 0], [([0, 0, 0], [0, 0, 0])],
               [dataclasses.replace(storage_entry(md, "model.w"))])
    write_metadata("A_overflow", md)
    cases.append({"name": "A_overflow", "kind": "dcp", "made_from": made_from,
                  "edit": "tensor item 'bad' added: float32, size [2**62, 4, 0], one chunk offsets [0, 0, 0] "
                          "sizes [0, 0, 0], its storage entry a copy of model.w's",
                  "torch": {"dcp_to_torch_save": guarded(verdict_dcp_to_torch_save, "A_overflow")}})

    # B: a huge tensor in two bogus chunks
    save_dcp("B_huge_alloc", base_state())
    _raw, md = read_metadata("B_huge_alloc")
    w = storage_entry(md, "model.w")
    half = 2 ** 39
    add_tensor(md, "huge", [2 ** 40], [([0], [half]), ([half], [half])],
               [dataclasses.replace(w), dataclasses.replace(w)])
    write_metadata("B_huge_alloc", md)
    cases.append({"name": "B_huge_alloc", "kind": "dcp", "made_from": made_from,
                  "edit": "tensor item 'huge' added: float32, size [2**40], chunks offsets [0] and [2**39] of "
                          "sizes [2**39], both storage entries copies of model.w's (a 3-element tensor)",
                  "torch": {"dcp_to_torch_save": not_run(4 * 2 ** 40, "torch.empty([2**40], dtype=float32) "
                                                                      "before any chunk is read")}})

    # C: list padding
    save_dcp("C_pad", base_state())
    _raw, md = read_metadata("C_pad")
    md.state_dict_metadata["L0"] = BytesStorageMetadata()
    md.planner_data["L0"] = ("L0", 2 ** 24 - 1)
    md.storage_data[MetadataIndex(fqn="L0")] = dataclasses.replace(storage_entry(md, "step"))
    write_metadata("C_pad", md)
    cases.append({"name": "C_pad", "kind": "dcp", "made_from": made_from,
                  "edit": "bytes item 'L0' added (its storage entry a copy of step's), planner_data "
                          "('L0', 2**24 - 1)",
                  "torch": {"dcp_to_torch_save": guarded(verdict_dcp_to_torch_save, "C_pad")},
                  "note": "torch loads it: _EmptyStateDictLoadPlanner.set_up_planner's set_element pads a list of "
                          "2**24 Nones under 'L0', DefaultLoadPlanner's flatten_state_dict then keeps that list (it "
                          "holds no tensor) as one leaf mapped to ('L0',), and the loaded object replaces it"})

    # E: many chunks (a valid checkpoint)
    save_dcp("E_many", {"many": torch.tensor([1.0]), "two": torch.tensor([2.0])})
    _raw, md = read_metadata("E_many")
    one, two = storage_entry(md, "many"), storage_entry(md, "two")
    del md.state_dict_metadata["two"]
    del md.planner_data["two"]
    md.storage_data = {k: v for k, v in md.storage_data.items() if k.fqn != "two"}
    md.storage_data = {k: v for k, v in md.storage_data.items() if k.fqn != "many"}
    n = 64
    add_tensor(md, "many", [n], [([i], [1]) for i in range(n)],
               [dataclasses.replace(one if i % 2 == 0 else two) for i in range(n)])
    write_metadata("E_many", md)
    cases.append({"name": "E_many", "kind": "dcp",
                  "made_from": 'dcp.save({"many": tensor([1.]), "two": tensor([2.])}, '
                               'storage_writer=FileSystemWriter("E_many"), no_dist=True)',
                  "edit": f"'many' becomes size [{n}] in {n} one-element chunks, chunk i's storage entry a copy "
                          "of many's (i even) or two's (i odd); 'two' removed from state_dict_metadata, "
                          "planner_data and storage_data",
                  "chunk_locations": {"even": [one.relative_path, one.offset, one.length],
                                      "odd": [two.relative_path, two.offset, two.length]},
                  "torch": {"dcp_to_torch_save": guarded(verdict_dcp_to_torch_save, "E_many")}})

    # F: relative paths that leave the directory without '..'
    save_dcp("F_dot", base_state())
    _raw, md = read_metadata("F_dot")
    storage_entry(md, "model.w").relative_path = "."
    write_metadata("F_dot", md)
    cases.append({"name": "F_dot", "kind": "dcp", "made_from": made_from,
                  "edit": "model.w's relative_path set to '.'",
                  "torch": {"dcp_to_torch_save": guarded(verdict_dcp_to_torch_save, "F_dot")}})

    save_dcp("F_symlink", base_state())
    _raw, md = read_metadata("F_symlink")
    storage_entry(md, "model.w").relative_path = "escape.distcp"
    write_metadata("F_symlink", md)
    cases.append({"name": "F_symlink", "kind": "dcp", "made_from": made_from,
                  "edit": "model.w's relative_path set to 'escape.distcp' (not in the directory; the test makes "
                          "it a symbolic link to a copy of __0_0.distcp outside the set)",
                  "torch": {"dcp_to_torch_save": guarded(verdict_dcp_to_torch_save, "F_symlink"),
                            "dcp_to_torch_save_with_link": guarded(verdict_dcp_to_torch_save_through_link,
                                                                   "F_symlink", "escape.distcp")}})

    # G: a zstd frame that declares 2**39 bytes
    save_dcp("G_zstd_reserve", base_state())
    _raw, md = read_metadata("G_zstd_reserve")
    add_tensor(md, "z", [2 ** 38], [([0], [2 ** 38])],
               [_StorageInfo(relative_path="z.distcp", offset=0, length=16)])
    storage_entry(md, "z").transform_descriptors = ["stream.zstd/1"]
    write_metadata("G_zstd_reserve", md)
    with open(os.path.join("G_zstd_reserve", "z.distcp"), "wb") as f:
        f.write(ZSTD_HEADER_2_39)
    cases.append({"name": "G_zstd_reserve", "kind": "dcp", "made_from": made_from,
                  "edit": "tensor item 'z' added: float32, size [2**38], one chunk in z.distcp [0, 16) with "
                          "transform_descriptors ['stream.zstd/1']; z.distcp = " + ZSTD_HEADER_2_39.hex(" ") +
                          " (a zstd frame header declaring 2**39 content bytes, then an empty last raw block)",
                  "torch": {"dcp_to_torch_save": not_run(4 * 2 ** 38, "torch.empty([2**38], dtype=float32) "
                                                                      "before the chunk is read")}})

    # I: lengths past any file
    save_dcp("I_verify_len", base_state())
    _raw, md = read_metadata("I_verify_len")
    for key, info in md.storage_data.items():
        if key.offset is None:
            info.length = 2 ** 62 + 1
    write_metadata("I_verify_len", md)
    cases.append({"name": "I_verify_len", "kind": "dcp", "made_from": made_from,
                  "edit": "the storage entries of both bytes items (step, tag) get length 2**62 + 1",
                  "torch": {"dcp_to_torch_save": guarded(verdict_dcp_to_torch_save, "I_verify_len")}})

    for case in cases:
        if case["kind"] == "dcp":
            case["files"] = files_of(case["name"])
            _raw, md = read_metadata(case["name"])
            case["torch"]["save_validator_messages"] = guarded(mm.validator_messages, md)

    # N: numpy objects, converted by torch
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save
    save_dcp("N_np", n_np_state())
    if os.path.exists("N_np.pth"):
        os.remove("N_np.pth")
    dcp_to_torch_save("N_np", "N_np.pth")
    with zipfile.ZipFile("N_np.pth") as z:
        prefix = z.namelist()[0].split("/")[0]
    cases.append({"name": "N_np", "kind": "dcp",
                  "made_from": f'dcp.save({N_NP_STATE_TEXT}, storage_writer=FileSystemWriter("N_np"), no_dist=True)',
                  "edit": None, "files": files_of("N_np"),
                  "pth": "N_np.pth", "pth_written_by": 'dcp_to_torch_save("N_np", "N_np.pth"), run from this directory',
                  "pth_zip_prefix": prefix, "pth_size": os.path.getsize("N_np.pth"),
                  "torch": {"torch_load_of_pth": summarize(torch.load("N_np.pth", weights_only=False))}})


# --------------------------------------------------------------------------
# Hugging Face sharded sets


def make_sharded_cases(cases):
    from huggingface_hub import save_torch_state_dict
    import huggingface_hub.serialization._torch as hf_torch
    hf_torch.logger.setLevel(40)  # save_torch_state_dict warns about pickle shards
    index_name = "pytorch_model.bin.index.json"
    for name, target in (("S_dot", "."), ("S_self", index_name)):
        shutil.rmtree(name, ignore_errors=True)
        os.makedirs(name)
        save_torch_state_dict({"a": torch.tensor([1.0, 2.0]), "b": torch.tensor([3.0])}, name,
                              safe_serialization=False, max_shard_size=8)
        with open(os.path.join(name, index_name), encoding="utf-8") as f:
            index = json.load(f)
        old = index["weight_map"]["a"]
        assert old != index["weight_map"]["b"], "the base should put a and b in two shards"
        os.remove(os.path.join(name, old))
        index["weight_map"]["a"] = target
        with open(os.path.join(name, index_name), "w", encoding="utf-8") as f:
            json.dump(index, f, indent=2)
        cases.append({"name": name, "kind": "sharded",
                      "made_from": 'save_torch_state_dict({"a": tensor([1., 2.]), "b": tensor([3.])}, NAME, '
                                   "safe_serialization=False, max_shard_size=8)",
                      "edit": f"weight_map['a'] set to {target!r} (was {old!r}); {old} deleted",
                      "files": files_of(name), "index_text": open(os.path.join(name, index_name)).read(),
                      "torch": {"transformers_style_merge": guarded(verdict_merge, name, index_name)}})


# --------------------------------------------------------------------------
# torch.export archives


class Pt2Base(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 2)

    def forward(self, x):
        return self.lin(x)


def rewrite_pt2(src, dst, edit, extra=None):
    """Copy every record of src into dst (zipfile, stored, fixed date), the weights
    config edited by edit(config), then the extra records."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("data/weights/model_weights_config.json"):
                cfg = json.loads(data)
                edit(cfg["config"])
                data = json.dumps(cfg).encode()
            zout.writestr(zipfile.ZipInfo(info.filename, date_time=ZIP_DATE), data)
        for name, data in (extra or {}).items():
            zout.writestr(zipfile.ZipInfo(name, date_time=ZIP_DATE), data)


def make_pt2_cases(cases):
    with torch.no_grad():
        m = Pt2Base()
        m.lin.weight.copy_(torch.tensor([[0.5, -1.0], [2.0, 0.25]]))
        m.lin.bias.copy_(torch.tensor([0.125, -8.0]))
    ep = mm.strip_stack_traces(torch.export.export(m, (torch.ones(1, 2),)))
    made_from = ("torch.export.save(torch.export.export(Linear(2, 2) as 'lin', (ones(1, 2),)), 'model.pt2'), "
                 "records copied by zipfile (stored, 1980-01-01) with the weights config edited")
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "model.pt2")
        torch.export.save(ep, src)

        def offset(cfg):
            cfg["lin.bias"]["tensor_meta"]["storage_offset"] = {"as_int": 2 ** 63 - 1}

        def strides(cfg):
            meta = cfg["lin.weight"]["tensor_meta"]
            meta["sizes"] = [{"as_int": 2 ** 47}, {"as_int": 2 ** 47}]
            meta["strides"] = [{"as_int": 2 ** 47}, {"as_int": 1}]

        def zeros(cfg):
            cfg["lin.weight"]["path_name"] = "empty"
            meta = cfg["lin.weight"]["tensor_meta"]
            meta["sizes"] = [{"as_int": 2 ** 24}, {"as_int": 2 ** 24}]
            meta["strides"] = [{"as_int": 2 ** 24}, {"as_int": 1}]

        for name, edit, extra, text in (
                ("H_offset.pt2", offset, None, "lin.bias's storage_offset set to 2**63 - 1"),
                ("H_strides.pt2", strides, None, "lin.weight's sizes [2**47, 2**47], strides [2**47, 1]"),
                ("H_zeros.pt2", zeros, {"model/data/weights/empty": b""},
                 "lin.weight's path_name 'empty' (a 0-byte record model/data/weights/empty added), "
                 "sizes [2**24, 2**24], strides [2**24, 1]")):
            rewrite_pt2(src, name, edit, extra)
            case = {"name": name, "kind": "pt2", "made_from": made_from, "edit": text, "files": files_of(name)}
            if name == "H_zeros.pt2":
                case["torch"] = {"torch_export_load": not_run(4 * 2 ** 48, "torch.zeros([2**24, 2**24]) for "
                                                                          "the empty record")}
            else:
                case["torch"] = {"torch_export_load": guarded(verdict_export_load, name),
                                 "pt2_archive_load_pt2": guarded(verdict_load_pt2, name)}
            cases.append(case)


def main(argv):
    outdir = os.path.abspath(argv[0]) if argv else os.path.join(os.path.dirname(TOOLS_DIR), "fixtures",
                                                                   "hostile", "multifile")
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    cases = []
    with cwd(outdir):
        make_dcp_cases(cases)
        make_sharded_cases(cases)
        make_pt2_cases(cases)
        write_json("expectations.json", {
            "torch": torch.__version__.split("+")[0], "numpy": np.__version__,
            "huggingface_hub": __import__("huggingface_hub").__version__,
            "base_state": BASE_STATE_TEXT,
            "torch_verdicts": f"run in a forked child under an address-space limit of its size + "
                              f"{ADDRESS_SPACE_LIMIT >> 30} GiB and {VERDICT_SECONDS} s; not run where torch "
                              "would allocate terabytes first",
            "cases": cases})
    total = 0
    for root, _dirs, names in os.walk(outdir):
        for n in names:
            total += os.path.getsize(os.path.join(root, n))
    print(f"{outdir}: {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
