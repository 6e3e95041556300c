#!/usr/bin/env python3
"""Write the multi-file checkpoint fixtures with real PyTorch and huggingface_hub:
torch.distributed.checkpoint (DCP) directories, Hugging Face sharded sets,
a torch.export .pt2 archive and two bare pickles, each with what real torch
makes of it.

usage: make_multifile_fixtures.py [OUTDIR]   (default: fixtures/ beside tools/)

Needs torch 2.15.0, pyzstd and huggingface_hub as pinned in tools/setup-venv.sh.
Listings (FILE.listing.json) come from tools/torch_listing.py, run as
`PYTHONPATH=tools python tools/torch_listing.py FILE` (see the shared LISTING.md).
Runs in about 25 seconds on two cores; writes 63 files, 288 KB (202 KB of
distinct contents: the damaged copies repeat their source's .distcp files).

DCP (OUTDIR/dcp/)
-----------------
Every good set is a directory DIR written by torch.distributed.checkpoint.save,
and beside it DIR.pth = exactly what
torch.distributed.checkpoint.format_utils.dcp_to_torch_save(DIR, DIR.pth) writes,
and DIR.pth.listing.json its listing. The saves run with the current directory
set to OUTDIR/dcp and a relative checkpoint path, so the .metadata pickle holds
storage_meta.checkpoint_id = pathlib.PosixPath("DIR"), no machine path.
The one change to stock torch: torch.distributed.checkpoint.filesystem.
_generate_uuid is replaced while saving so that storage_meta.save_id is the
fixed string 00000000-0000-4000-8000-000000000000 (torch puts uuid4() there,
which would make every run's .metadata differ; it is a same-length str).

- dcp/single/: dcp.save(state, storage_writer=FileSystemWriter("single"),
  no_dist=True) from one process, no process group, default writer (one
  file __0_0.distcp, thread_count=1). The state is a nested training checkpoint:
    {"model": {"w": 3x4 f32, "b": [3] f32, "s": 0-dim f32, "num_batches_tracked":
               0-dim int64, "e": [0] f32 (empty), "wt": w.t() (transposed view of
               w's whole storage, strides (1, 4)), "v1": base[0:3], "v2": base[3:6]
               (two views of one 6-element storage)},
     "optim": {"state": {0: {"step": tensor(2.), "exp_avg": [3] f32}},
               "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1]}]},
     "epoch": 3, "name": "run-1", "extra": [1, 2.5, None]}
  16 items: 10 tensors (each its own chunk) and 6 bytes items
  (optim.param_groups.0.lr/.betas/.params, epoch, name, extra). DCP flattens the
  int key 0 to the str "0": the .pth has optim.state["0"], not optim.state[0].
- dcp/threads/: a smaller state of the same kind ({"model": {w, b, wt},
  "optim": {"state": {0: {"step"}}}, "epoch", "name"}) with
  FileSystemWriter("threads", thread_count=2, single_file_per_rank=False): one
  file per item, __0_0.distcp ... __0_5.distcp, named in plan order. Which thread
  writes which file, and so the order of .metadata's storage_data (the order
  the threads finished in), changes from run to run; everything else does
  not. The script saves again until storage_data comes out in file order
  (__0_0 first; about one save in five does), so reruns give the same bytes.
- dcp/zstd_bf16/: bfloat16 tensors ({"model": {"w" 4x4, "b" [4], "s" 0-dim,
  "wt" transposed}, "step": 5, "tag": "bf16"}) saved with
  FileSystemWriter("zstd_bf16", _extensions=[ZStandard()]) (ZStandard from
  torch.distributed.checkpoint._extension; pyzstd does the work). Every
  storage_data entry has transform_descriptors == ["stream.zstd/1"] and its
  [offset, offset + length) is zstd data whose decompression is the torch.save
  zip. Tensor items are TWO zstd frames (the data, then an empty 9-byte frame
  28 b5 2f fd 20 00 01 00 00, because torch.save flushes the stream and close()
  flushes again); bytes items are one frame. No frame has a content size.
- dcp/two_ranks/: two processes (torch.multiprocessing.spawn, gloo,
  MASTER_ADDR=127.0.0.1, a free port), init_device_mesh("cpu", (2,)), and
  {"rows": 5x3 f32 DTensor Shard(0) (rank 0 holds rows 0-2, rank 1 rows 3-4),
   "cols": 4x6 f32 DTensor Shard(1) (4x3 each), "rep": [2] f32 DTensor
   Replicate(), "tiny": 1x2 f32 DTensor Shard(0) (rank 1 holds an empty 0x2
   chunk at offset [1, 0]), "plain": [2] int32 plain tensor, "step": 10}
  saved by dcp.save(state, checkpoint_id="two_ranks") on both ranks with the
  default planner: files __0_0.distcp and __1_0.distcp. Replicated and plain
  values are written once (dedup_save_plans gives each to the rank with the
  smallest plan so far: rank 1 here). dcp_to_torch_save then runs in the
  parent process. Note the .pth key order (rows, cols, tiny, rep, plain, step)
  is .metadata's state_dict_metadata order, which is rank 0's plan items then
  rank 1's, not the order of the state dict.
- dcp/damaged/NAME/: copies with one defect each, for error tests. Edited
  .metadata files are pickle.load-ed, changed, and written back with
  pickle.dump(metadata, f) exactly as FileSystemWriter.finish writes them
  (default protocol: 4 on Python 3.11).
    overlap           copy of two_ranks; "rows" gets a third chunk
                      (offsets [2, 0], sizes [3, 3]) whose storage_data entry
                      points at chunk 0's bytes: rows 2-4 are covered twice.
                      (A 2-chunk overlap is impossible without also leaving a gap,
                      as each chunk's size is fixed by the bytes it points at.)
    missing_chunk     copy of two_ranks; chunk 1 of "rows" (rows 3-4) removed
                      from state_dict_metadata (its storage_data entry is kept).
    traversal         copy of single; model.w's _StorageInfo.relative_path set
                      to "../escape.distcp" (no such file exists).
    unknown_transform copy of single; model.w's transform_descriptors set to
                      ["stream.lz4/1"].
    truncated         copy of single; __0_0.distcp cut to its first half
                      (length // 2 bytes).
    missing_file      copy of single; __0_0.distcp deleted.
- dcp/expectations.json: for every set (good and damaged) what torch says.
  Good sets: the .pth and listing file names, the files, and the .metadata
  contents (state_dict_metadata, planner_data and storage_data, in pickle order).
  Damaged sets: the exception (type, message) of dcp_to_torch_save and of
  dcp.load into a matching state dict (tensors filled with -7 and read back),
  or what happened when torch raised nothing, and the messages of torch's
  save-time validator default_planner._validate_global_plan for the edited
  metadata. DCP wraps every error in CheckpointException (a BaseException);
  its str() holds a traceback with machine paths, so the file records
  failures as {rank: {type, message}}. Also recorded, for single: whether
  dcp_to_torch_save twice gives identical .pth bytes, and whether dcp.save twice
  (stock uuid) gives identical .distcp and .metadata bytes, and which bytes differ.

How torch 2.15 writes DCP (read from torch/distributed/checkpoint/ and checked
against these files byte for byte):
- .metadata = pickle.dump(Metadata, f) (pickle.DEFAULT_PROTOCOL: 4 on 3.11,
  5 from Python 3.14). Metadata (torch.distributed.checkpoint.metadata) is a
  dataclass pickled as NEWOBJ + BUILD of its __dict__: state_dict_metadata
  {fqn: TensorStorageMetadata(properties, size: torch.Size, chunks:
  [ChunkStorageMetadata(offsets: torch.Size, sizes: torch.Size)]) |
  BytesStorageMetadata()}, planner_data {fqn: tuple path of str/int},
  storage_data {MetadataIndex: filesystem._StorageInfo}, storage_meta
  StorageMeta(checkpoint_id, save_id, load_id=None, modules=[]), version "1.0.0".
  TensorProperties.__getstate__ is the tuple (dtype, layout, requires_grad,
  _MEM_FORMAT_ENCODING(0), pin_memory, strides); __setstate__ also takes the old
  5-tuple without strides. dtype pickles as the global torch.<name>, layout as
  torch.serialization._get_layout("torch.strided"), torch.Size as
  REDUCE(torch.Size, (tuple,)). MetadataIndex(fqn, offset: torch.Size | None,
  index: int | None) is a frozen dataclass whose __dict__ lacks "offset" when
  offset is None (bytes items); hash and == ignore index. _StorageInfo
  (relative_path, offset, length, transform_descriptors) pickles its __dict__
  without the None fields.
- Each chunk or bytes item is a whole torch.save zip (prefix "archive/", pickle
  protocol 2, new zipfile serialization) at [offset, offset + length) of
  relative_path, optionally wrapped by the stream transforms. Tensor chunk:
  torch.save(t, stream) with t = tensor.detach(), replaced by t.clone() only when
  t.untyped_storage().size() != t.nbytes (so a transposed view of a whole
  storage keeps its strides and its data/0 is the whole storage). Bytes item:
  the bytes of torch.save(value, io.BytesIO()). In a file, bytes items come
  first, then tensors in plan order (on a machine where CUDA is available,
  thread_count=1 uses _OverlappingCpuLoader, which sorts tensors by size).
- Files: __{rank}_{n}.distcp, n counting per rank from 0 (one file per rank, or
  per thread, or per item with single_file_per_rank=False).
- dcp_to_torch_save(DIR, PATH) = _load_state_dict(sd={}, FileSystemReader(DIR),
  _EmptyStateDictLoadPlanner(), no_dist=True) then torch.save(sd, PATH): sd is
  rebuilt in state_dict_metadata order by set_element(planner_data path), with
  torch.empty(size, dtype=properties.dtype) (contiguous, requires_grad False)
  for tensors filled chunk by chunk (elements no chunk covers keep whatever
  torch.empty held), and torch.load(bytes, weights_only=False) for bytes items.

Hugging Face sharded sets (OUTDIR/sharded/)
-------------------------------------------
One state dict (described exactly in sharded/split.json "state_dict"): 8 names
over 7 storages, float32/bfloat16/float16/int64, a transposed tensor and a tied
weight (lm_head.weight is embed.weight).
- sharded/bin/: huggingface_hub.save_torch_state_dict(sd, "bin",
  safe_serialization=False, max_shard_size=150): pytorch_model-0000K-of-00003.bin
  (torch.save(shard_dict, path): zip prefix is the file name without ".bin")
  + pytorch_model.bin.index.json.
- sharded/safetensors/: save_torch_state_dict(sd, "safetensors",
  max_shard_size=150): model-0000K-of-00003.safetensors (safetensors save_file,
  metadata {"format": "pt"}) + model.safetensors.index.json. Before splitting,
  shared tensors are dropped (lm_head.weight; the index metadata records
  "lm_head.weight": "embed.weight") and every tensor is made contiguous.
- sharded/NAME.listing.json: listing of torch.save(merged), merged = what
  transformers does (transformers.utils.hub.get_checkpoint_shard_files):
  for each file of sorted(set(index["weight_map"].values())), merged.update(
  load of that file) - torch.load(weights_only=True) for .bin (the shard dict's
  order), safetensors.torch.load_file for .safetensors (data-offset order:
  save_file lays tensors out by dtype, descending in safetensors' Dtype enum
  order, then by name: I64 before F32 before BF16 before F16). Not the
  weight_map order: huggingface_hub.load_torch_model loads shards in
  list(set(...)) order (changes per process) straight into a model.
- sharded/split.json: split_torch_state_dict_into_shards for several
  max_shard_size values (ints and strings) and both filename patterns, with
  what save_torch_state_dict writes for each: the index name and JSON text
  (json.dump(index, f, indent=2), no sort_keys, ASCII escapes, no trailing
  newline), and the tensor names per file where they differ from the split
  (safetensors files list names in data order; the cleaned dict lacks
  lm_head.weight).
- sharded/damaged/missing_shard/ (copy of bin, pytorch_model-00002-of-00003.bin
  deleted) and sharded/damaged/key_not_in_shard/ (copy of safetensors, the
  index gains "ghost.weight": "model-00002-of-00003.safetensors").
- sharded/expectations.json: per set, the files, weight_map order, merged
  order, and for the damaged ones what the transformers-style merge and
  huggingface_hub.load_torch_model(strict=True) say.

torch.export archive (OUTDIR/pt2/)
----------------------------------
- pt2/model.pt2: torch.export.save(torch.export.export(M(), (ones(1, 3),)), path)
  with M: Linear(3, 2) parameters, persistent buffers "running" (6 floats) and
  "running_tail" (= running[2:5], same storage), a persistent 0-dim int64
  buffer "count" registered between them, a non-persistent buffer "scratch",
  and a constant tensor attribute const_t (a 2x3 arange transposed: strides
  (1, 3)). pt2/model.pt2.listing.json is the listing of
  torch.save({**ep.state_dict, **ep.constants}) for ep = torch.export.load of
  the file. Before saving, the graph nodes' stack_trace metadata (absolute
  source paths) is removed, so models/model.json holds no machine paths.
  pt2/model.pt2.json: the archive's records (name, offset of the local
  header, offset and size of the data) and the two config JSON texts.
- pt2/pickled.pt2: the same for a module whose parameter is a
  torch.testing._internal.two_tensor.TwoTensor (a tensor subclass: its
  config entry has use_pickle true and its record is a torch.save zip);
  pt2/pickled.pt2.json likewise. No listing: torch_listing.py cannot hash a
  TwoTensor (".numpy() is not supported for tensor subclasses").
Layout (torch/export/pt2_archive): one PyTorchFileWriter zip whose root folder
is the file name without extension ("model/" here, "archive/" for a buffer);
records data/weights/weight_N (raw untyped-storage bytes, one per storage and
dtype), data/weights/model_weights_config.json, data/constants/tensor_N,
data/constants/model_constants_config.json, models/model.json,
data/sample_inputs/model.pt, archive_format ("pt2"), archive_version ("0"),
.data/version ("6\\n"), byteorder, .data/serialization_id. The configs are
json.dumps({"config": {fqn: {"path_name", "is_param", "use_pickle",
"tensor_meta": {"dtype": ScalarType int, "sizes": [{"as_int": n}], "requires_grad",
"device": {"type", "index"}, "strides": [{"as_int": n}], "storage_offset":
{"as_int": n}, "layout": 7}}}}); names sharing a storage share path_name.

Bare pickles (OUTDIR/bare/)
---------------------------
- bare/dict_proto4.pkl: pickle.dump(dict, f, protocol=4); bare/list_proto5.pkl:
  pickle.dump(list, f, protocol=5). Plain values only (dict, list, tuple, str,
  int incl. big and negative, float incl. -0.0 and inf, bytes, bool, None, a list
  referenced twice). bare/expectations.json holds, per file, the listing of
  pickle.load(f) (torch_listing.listing) and what torch.load says (it refuses
  them: not zips, no legacy magic number).

OUTDIR/README.md (written by make_fixtures.py) gets one line per kind above
at its end (README_LINES), replacing the lines an earlier run put there.

Deterministic: fixed values and seeds, so a rerun gives the same bytes (for
dcp/threads/.metadata, see above).
"""
import contextlib
import dataclasses
import io
import json
import os
import pickle
import pickletools
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import warnings
import zipfile

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
if TOOLS_DIR not in sys.path:
    sys.path.insert(0, TOOLS_DIR)

import torch

torch.set_num_threads(1)
warnings.filterwarnings("ignore")

FIXED_SAVE_ID = "00000000-0000-4000-8000-000000000000"


def compact_json(obj, width=120, level=0):
    """JSON text indented by one space per level, with every list or object
    whose one-line form fits in `width` columns kept on one line."""
    flat = json.dumps(obj)
    if not isinstance(obj, (dict, list)) or not obj or level + len(flat) <= width:
        return flat
    pad = " " * (level + 1)
    if isinstance(obj, dict):
        items = [pad + json.dumps(str(k)) + ": " + compact_json(v, width, level + 1) for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * level + "}"
    items = [pad + compact_json(v, width, level + 1) for v in obj]
    return "[\n" + ",\n".join(items) + "\n" + " " * level + "]"


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(compact_json(obj))
        out.write("\n")


def listing_beside(path):
    """Write path.listing.json with tools/torch_listing.py, run as its docstring says."""
    env = dict(os.environ, PYTHONPATH=TOOLS_DIR)
    subprocess.run([sys.executable, os.path.join(TOOLS_DIR, "torch_listing.py"), path],
                   check=True, env=env)


def listing_text(path):
    env = dict(os.environ, PYTHONPATH=TOOLS_DIR)
    return subprocess.run([sys.executable, os.path.join(TOOLS_DIR, "torch_listing.py"),
                           "--stdout", path], check=True, env=env,
                          capture_output=True, text=True).stdout


@contextlib.contextmanager
def cwd(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def fixed_save_id():
    import torch.distributed.checkpoint.filesystem as fsmod
    old = fsmod._generate_uuid
    fsmod._generate_uuid = lambda: FIXED_SAVE_ID
    try:
        yield
    finally:
        fsmod._generate_uuid = old


def exception_record(exc):
    """type and message; DCP's CheckpointException as its per-rank failures."""
    from torch.distributed.checkpoint.api import CheckpointException
    rec = {"type": f"{type(exc).__module__}.{type(exc).__qualname__}"}
    if isinstance(exc, CheckpointException):
        rec["failures"] = {str(rank): {"type": f"{type(e).__module__}.{type(e).__qualname__}",
                                       "message": str(e)}
                           for rank, (e, _trace) in exc.failures.items()}
    else:
        rec["message"] = str(exc)
    return rec


# --------------------------------------------------------------------------
# DCP states


def single_state():
    w = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.5 - 1.0
    base = torch.tensor([10.0, 11.0, 12.0, 13.0, 14.0, 15.0])
    return {
        "model": {
            "w": w,
            "b": torch.tensor([0.5, -1.0, 2.0]),
            "s": torch.tensor(3.25),
            "num_batches_tracked": torch.tensor(7, dtype=torch.int64),
            "e": torch.empty(0, dtype=torch.float32),
            "wt": w.t(),
            "v1": base[0:3],
            "v2": base[3:6],
        },
        "optim": {
            "state": {0: {"step": torch.tensor(2.0), "exp_avg": torch.tensor([0.25, -0.125, 1.0])}},
            "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1]}],
        },
        "epoch": 3,
        "name": "run-1",
        "extra": [1, 2.5, None],
    }


def threads_state():
    w = torch.arange(6, dtype=torch.float32).reshape(2, 3) + 0.5
    return {
        "model": {"w": w, "b": torch.tensor([1.0, -2.0]), "wt": w.t()},
        "optim": {"state": {0: {"step": torch.tensor(4.0)}}},
        "epoch": 1,
        "name": "threads",
    }


def zstd_state():
    w = (torch.arange(16, dtype=torch.float32).reshape(4, 4) * 0.25 - 2.0).to(torch.bfloat16)
    return {
        "model": {
            "w": w,
            "b": torch.tensor([0.0, 0.0, 1.5, -3.0], dtype=torch.bfloat16),
            "s": torch.tensor(0.0078125, dtype=torch.bfloat16),
            "wt": w.t(),
        },
        "step": 5,
        "tag": "bf16",
    }


def two_ranks_worker(rank, world, port, where):
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Replicate, Shard, distribute_tensor
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        mesh = init_device_mesh("cpu", (world,))
        state = {
            "rows": distribute_tensor(torch.arange(15, dtype=torch.float32).reshape(5, 3), mesh, [Shard(0)]),
            "cols": distribute_tensor(torch.arange(24, dtype=torch.float32).reshape(4, 6) - 10.0, mesh, [Shard(1)]),
            "rep": distribute_tensor(torch.tensor([1.5, 2.5]), mesh, [Replicate()]),
            "tiny": distribute_tensor(torch.tensor([[7.0, 8.0]]), mesh, [Shard(0)]),
            "plain": torch.tensor([3, 4], dtype=torch.int32),
            "step": 10,
        }
        with cwd(where), fixed_save_id():
            dcp.save(state, checkpoint_id="two_ranks")
        dist.barrier()
    finally:
        dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# DCP description


def describe_metadata(md):
    from torch.distributed.checkpoint.metadata import TensorStorageMetadata

    def size(s):
        return list(s) if s is not None else None

    sdm = []
    for fqn, v in md.state_dict_metadata.items():
        if isinstance(v, TensorStorageMetadata):
            p = v.properties
            assert p.layout == torch.strided and not p.requires_grad and not p.pin_memory
            assert p.memory_format == torch.contiguous_format
            sdm.append({"fqn": fqn, "kind": "tensor", "dtype": str(p.dtype).replace("torch.", ""),
                        "size": list(v.size), "strides": size(p.strides),
                        "chunks": [[list(c.offsets), list(c.sizes)] for c in v.chunks]})
        else:
            sdm.append({"fqn": fqn, "kind": "bytes"})
    storage = []
    for idx, info in md.storage_data.items():
        storage.append([idx.fqn, size(idx.offset), idx.index, info.relative_path, info.offset,
                        info.length, info.transform_descriptors])
    sm = md.storage_meta
    return {
        "version": md.version,
        "storage_meta": {"checkpoint_id": repr(sm.checkpoint_id), "save_id": sm.save_id,
                         "load_id": sm.load_id, "modules": sm.modules},
        "state_dict_metadata": sdm,
        "storage_data_columns": ["fqn", "MetadataIndex.offset", "MetadataIndex.index", "relative_path",
                                 "offset", "length", "transform_descriptors"],
        "planner_data": [[k, list(v)] for k, v in md.planner_data.items()],
        "storage_data": storage,
    }


def read_metadata(dirpath):
    with open(os.path.join(dirpath, ".metadata"), "rb") as f:
        raw = f.read()
    return raw, pickle.loads(raw)


def write_metadata(dirpath, md):
    # As FileSystemWriter.finish: pickle.dump(metadata, metadata_file)
    with open(os.path.join(dirpath, ".metadata"), "wb") as f:
        pickle.dump(md, f)


def zip_record_spans(blob):
    """[(name, start, end)] of each zip record's local header + data, and the central directory."""
    spans = []
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        infos = sorted(z.infolist(), key=lambda i: i.header_offset)
        for n, info in enumerate(infos):
            end = infos[n + 1].header_offset if n + 1 < len(infos) else None
            spans.append((info.filename, info.header_offset, end))
        cd = z.start_dir
    fixed = []
    for name, start, end in spans:
        fixed.append((name, start, end if end is not None else cd))
    fixed.append(("<central directory and end records>", cd, len(blob)))
    return fixed


def diff_zip(a, b):
    """Which zip records of two same-length torch.save zips differ."""
    if len(a) != len(b):
        return {"same_length": False}
    spans = zip_record_spans(a)
    differing = set()
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            for name, start, end in spans:
                if start <= i < end:
                    differing.add(name)
    return {"same_length": True, "differing_records": sorted(differing)}


def dcp_set_files(dirpath):
    out = []
    for name in sorted(os.listdir(dirpath)):
        p = os.path.join(dirpath, name)
        with open(p, "rb") as f:
            data = f.read()
        out.append([name, len(data)])
    return out


def matching_state(pth_path, fill=-7):
    """A state dict shaped like the .pth (plain tensors filled with `fill`)."""
    sd = torch.load(pth_path, weights_only=False)

    def fillit(x):
        if isinstance(x, torch.Tensor):
            return torch.full_like(x, fill)
        if isinstance(x, dict):
            return {k: fillit(v) for k, v in x.items()}
        if isinstance(x, list):
            return [fillit(v) for v in x]
        return x
    return fillit(sd)


def try_dcp_to_torch_save(dirpath, tmpdir):
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save
    out = os.path.join(tmpdir, "out.pth")
    try:
        dcp_to_torch_save(dirpath, out)
    except BaseException as exc:  # CheckpointException is a BaseException
        return {"raised": exception_record(exc)}, None
    return {"raised": None}, torch.load(out, weights_only=False)


def try_dcp_load(dirpath, state):
    import torch.distributed.checkpoint as dcp
    try:
        dcp.load(state, checkpoint_id=dirpath, no_dist=True)
    except BaseException as exc:
        return {"raised": exception_record(exc)}
    return {"raised": None}


def validator_messages(md):
    from torch.distributed.checkpoint.default_planner import _validate_global_plan
    from torch.distributed.checkpoint.planner import SavePlan
    logging_off = __import__("logging").getLogger("torch.distributed.checkpoint.default_planner")
    old = logging_off.level
    logging_off.setLevel(100)
    try:
        # Two plans, as with two ranks: the coverage check runs only then.
        return _validate_global_plan([SavePlan([]), SavePlan([])], md)
    finally:
        logging_off.setLevel(old)


def make_dcp(outdir):
    import torch.distributed.checkpoint as dcp
    import torch.multiprocessing as mp
    from torch.distributed.checkpoint import FileSystemWriter
    from torch.distributed.checkpoint._extension import ZStandard
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    root = os.path.join(outdir, "dcp")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    expectations = {
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "pickle_default_protocol": pickle.DEFAULT_PROTOCOL,
        "save_id_note": f"storage_meta.save_id is fixed to {FIXED_SAVE_ID} (torch writes uuid4())",
        "sets": [],
    }

    with cwd(root), fixed_save_id():
        dcp.save(single_state(), storage_writer=FileSystemWriter("single"), no_dist=True)
        threads_tries = save_threads_in_file_order()
        dcp.save(zstd_state(), storage_writer=FileSystemWriter(
            "zstd_bf16", _extensions=[ZStandard()]), no_dist=True)
    mp.spawn(two_ranks_worker, args=(2, free_port(), root), nprocs=2, join=True)

    good = ["single", "threads", "zstd_bf16", "two_ranks"]
    with cwd(root):
        for name in good:
            dcp_to_torch_save(name, name + ".pth")
    for name in good:
        listing_beside(os.path.join(root, name + ".pth"))
    with cwd(root):
        for name in good:
            raw, md = read_metadata(name)
            assert pickle.dumps(md) == raw, "re-pickling .metadata does not give torch's bytes"
            with open(name + ".pth", "rb") as f:
                pth = f.read()
            with zipfile.ZipFile(io.BytesIO(pth)) as z:
                prefix = z.namelist()[0].split("/")[0]
            expectations["sets"].append({
                "dir": name, "kind": "good", "pth": name + ".pth",
                "listing": name + ".pth.listing.json", "pth_zip_prefix": prefix,
                "files": dcp_set_files(name), "metadata": describe_metadata(md)})
        zstd_set = expectations["sets"][2]
        zstd_set["transform_descriptors"] = sorted({json.dumps(s[6])
                                                    for s in zstd_set["metadata"]["storage_data"]})
        zstd_set["zstd_frames"] = zstd_frames("zstd_bf16")
        expectations["sets"][1]["storage_data_order"] = (
            "varies from run to run (completion order of the writer threads); this set is the first "
            "of repeated saves whose storage_data came out in file order" if threads_tries else
            "varies from run to run; no save gave file order")

    # Damaged sets
    damaged = [
        ("overlap", "two_ranks", "rows gets a third chunk offsets [2, 0] sizes [3, 3] pointing at chunk 0's bytes (rows 2-4 covered twice)"),
        ("missing_chunk", "two_ranks", "chunk 1 of rows (offsets [3, 0], rows 3-4) removed from state_dict_metadata; storage_data kept"),
        ("traversal", "single", "model.w's relative_path set to ../escape.distcp (no such file)"),
        ("unknown_transform", "single", "model.w's transform_descriptors set to ['stream.lz4/1']"),
        ("truncated", "single", "__0_0.distcp cut to its first half (length // 2 bytes)"),
        ("missing_file", "single", "__0_0.distcp deleted"),
    ]
    from torch.distributed.checkpoint.metadata import ChunkStorageMetadata, MetadataIndex
    with cwd(root):
        os.makedirs("damaged")
        for name, base, edit in damaged:
            d = os.path.join("damaged", name)
            shutil.copytree(base, d)
            _raw, md = read_metadata(d)
            if name == "overlap":
                rows = md.state_dict_metadata["rows"]
                extra = ChunkStorageMetadata(offsets=torch.Size([2, 0]), sizes=torch.Size([3, 3]))
                rows.chunks.append(extra)
                chunk0 = md.storage_data[MetadataIndex("rows", [0, 0])]
                md.storage_data[MetadataIndex("rows", [2, 0], 2)] = dataclasses.replace(chunk0)
                write_metadata(d, md)
            elif name == "missing_chunk":
                rows = md.state_dict_metadata["rows"]
                rows.chunks = [c for c in rows.chunks if list(c.offsets) != [3, 0]]
                write_metadata(d, md)
            elif name == "traversal":
                md.storage_data[MetadataIndex("model.w", [0, 0])].relative_path = "../escape.distcp"
                write_metadata(d, md)
            elif name == "unknown_transform":
                md.storage_data[MetadataIndex("model.w", [0, 0])].transform_descriptors = ["stream.lz4/1"]
                write_metadata(d, md)
            elif name == "truncated":
                p = os.path.join(d, "__0_0.distcp")
                with open(p, "rb") as f:
                    data = f.read()
                with open(p, "wb") as f:
                    f.write(data[:len(data) // 2])
            elif name == "missing_file":
                os.remove(os.path.join(d, "__0_0.distcp"))
            assert not os.path.exists(os.path.join("damaged", "escape.distcp"))

            _raw, md = read_metadata(d)
            entry = {"dir": d, "kind": "damaged", "made_from": base, "edit": edit,
                     "files": dcp_set_files(d),
                     "metadata_changes": metadata_changes(describe_metadata(read_metadata(base)[1]),
                                                          describe_metadata(md)),
                     "save_validator_messages": validator_messages(md)}
            with tempfile.TemporaryDirectory() as tmp:
                result, loaded = try_dcp_to_torch_save(d, tmp)
            if loaded is not None:
                result["note"] = damaged_note(name, loaded)
            entry["dcp_to_torch_save"] = result
            state = matching_state(base + ".pth")
            load_result = try_dcp_load(d, state)
            if load_result["raised"] is None:
                load_result["note"] = damaged_load_note(name, state)
            entry["dcp_load"] = load_result
            expectations["sets"].append(entry)

    expectations["determinism"] = determinism_checks(root)
    write_json(os.path.join(root, "expectations.json"), expectations)


def metadata_changes(before, after):
    """The state_dict_metadata and storage_data entries of `after` not in `before`."""
    out = {}
    for key in ("state_dict_metadata", "storage_data"):
        out[key] = [e for e in after[key] if e not in before[key]]
        removed = [e for e in before[key] if e not in after[key]]
        if removed:
            out[key + "_replaced_or_removed"] = removed
    return out


def save_threads_in_file_order(limit=200):
    """Save `threads` until its storage_data comes out in file order (see the docstring)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint import FileSystemWriter
    for attempt in range(1, limit + 1):
        shutil.rmtree("threads", ignore_errors=True)
        dcp.save(threads_state(), storage_writer=FileSystemWriter(
            "threads", thread_count=2, single_file_per_rank=False), no_dist=True)
        paths = [info.relative_path for info in read_metadata("threads")[1].storage_data.values()]
        if paths == sorted(paths):
            return attempt
    return None


def zstd_frames(dirpath):
    import pyzstd
    _raw, md = read_metadata(dirpath)
    out = []
    for idx, info in md.storage_data.items():
        with open(os.path.join(dirpath, info.relative_path), "rb") as f:
            f.seek(info.offset)
            blob = f.read(info.length)
        frames, pos = [], 0
        while pos < len(blob):
            n = pyzstd.get_frame_size(blob[pos:])
            frames.append({"start": pos, "size": n,
                           "content_size": pyzstd.get_frame_info(blob[pos:pos + n]).decompressed_size})
            pos += n
        out.append({"fqn": idx.fqn, "frames": frames})
    return out


def damaged_note(name, loaded):
    rows = loaded.get("rows")
    if name == "overlap":
        return {"summary": "no error; rows is filled chunk by chunk, the later read winning",
                "rows": rows.tolist()}
    if name == "missing_chunk":
        return {"summary": "no error; rows[0:3] are read, rows[3:5] keep torch.empty's uninitialized "
                           "memory (values not recorded: they change from run to run)",
                "rows_0_3": rows[0:3].tolist()}
    return {"summary": "no error"}


def damaged_load_note(name, state):
    rows = state.get("rows")
    if name == "overlap":
        return {"summary": "no error", "rows": rows.tolist()}
    if name == "missing_chunk":
        return {"summary": "no error; rows[3:5] keep the -7 the state dict held", "rows": rows.tolist()}
    return {"summary": "no error"}


def determinism_checks(root):
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint import FileSystemWriter
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        a, b = os.path.join(tmp, "x", "single.pth"), os.path.join(tmp, "y", "single.pth")
        os.makedirs(os.path.dirname(a))
        os.makedirs(os.path.dirname(b))
        dcp_to_torch_save(os.path.join(root, "single"), a)
        dcp_to_torch_save(os.path.join(root, "single"), b)
        with open(a, "rb") as f:
            da = f.read()
        with open(b, "rb") as f:
            db = f.read()
        with open(os.path.join(root, "single.pth"), "rb") as f:
            fixture = f.read()
        out["dcp_to_torch_save_twice_identical"] = da == db
        out["dcp_to_torch_save_twice_diff"] = diff_zip(da, db)
        out["dcp_to_torch_save_matches_fixture"] = da == fixture
        # dcp.save twice with the stock uuid4 save_id, same relative checkpoint path.
        blobs = []
        for run in ("run1", "run2"):
            os.makedirs(os.path.join(tmp, run))
            with cwd(os.path.join(tmp, run)):
                dcp.save(single_state(), storage_writer=FileSystemWriter("single"), no_dist=True)
                with open("single/__0_0.distcp", "rb") as f:
                    distcp = f.read()
                with open("single/.metadata", "rb") as f:
                    meta = f.read()
                blobs.append((distcp, meta, pickle.loads(meta)))
        (d1, m1, md1), (d2, m2, md2) = blobs
        out["dcp_save_twice_distcp_identical"] = d1 == d2
        if d1 != d2:
            items = []
            for idx, info in md1.storage_data.items():
                x = d1[info.offset:info.offset + info.length]
                y = d2[info.offset:info.offset + info.length]
                if x != y:
                    items.append({"fqn": idx.fqn, **diff_zip(x, y)})
            out["dcp_save_twice_distcp_diff"] = items
        with open(os.path.join(root, "single", "__0_0.distcp"), "rb") as f:
            out["dcp_save_distcp_matches_fixture"] = f.read() == d1
        out["dcp_save_twice_metadata_identical"] = m1 == m2
        diff_positions = [i for i, (x, y) in enumerate(zip(m1, m2)) if x != y]
        out["dcp_save_twice_metadata_diff"] = {
            "same_length": len(m1) == len(m2),
            "differing_byte_range": [min(diff_positions), max(diff_positions) + 1] if diff_positions else None,
            "save_ids_differ": md1.storage_meta.save_id != md2.storage_meta.save_id,
            "equal_with_save_id_replaced": m1.replace(md1.storage_meta.save_id.encode(), b"X" * 36)
            == m2.replace(md2.storage_meta.save_id.encode(), b"X" * 36),
        }
    return out


# --------------------------------------------------------------------------
# Hugging Face sharded sets

# name, dtype, shape, scale, offset, transposed_from
SHARD_SPEC = [
    ("embed.weight", "float32", [8, 4], 0.5, -4.0, None),
    ("layers.0.weight", "float32", [4, 4], 0.25, 1.0, None),
    ("layers.0.bias", "float32", [4], 1.0, -2.0, None),
    ("layers.1.weight", "bfloat16", [4, 4], 0.125, -1.0, None),
    ("layers.1.bias", "float16", [4], 0.5, 0.0, None),
    ("norm.weight_t", "float32", [4, 3], 1.0, 100.0, [3, 4]),
    ("steps", "int64", [], 1.0, 1000.0, None),
]
TIED = ("lm_head.weight", "embed.weight")


def shard_tensor(dtype, shape, scale, offset, transposed_from):
    built = transposed_from or shape
    n = 1
    for s in built:
        n *= s
    t = (torch.arange(n, dtype=torch.float64) * scale + offset).to(getattr(torch, dtype)).reshape(built)
    return t.t() if transposed_from else t


def sharded_state_dict():
    sd = {}
    for name, dtype, shape, scale, offset, tf in SHARD_SPEC:
        sd[name] = shard_tensor(dtype, shape, scale, offset, tf)
    sd[TIED[0]] = sd[TIED[1]]
    return sd


def shard_spec_json():
    tensors = []
    for name, dtype, shape, scale, offset, tf in SHARD_SPEC:
        tensors.append({"name": name, "dtype": dtype, "shape": shape,
                        "values": f"(arange({eval_numel(tf or shape)}, float64) * {scale} + {offset}).to({dtype})"
                                  + (f".reshape({tf}).t()" if tf else f".reshape({shape})"),
                        "transposed_from": tf,
                        "storage_nbytes": eval_numel(tf or shape) * getattr(torch, dtype).itemsize})
    tensors.append({"name": TIED[0], "same_tensor_as": TIED[1]})
    return {"order": [t["name"] for t in tensors],
            "description": "insertion order as listed; lm_head.weight is the same tensor object as "
                           "embed.weight (tied); norm.weight_t is a transposed view of its own 3x4 storage",
            "tensors": tensors}


def eval_numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def shard_files(dirpath, details=True):
    out = []
    for name in sorted(os.listdir(dirpath)):
        with open(os.path.join(dirpath, name), "rb") as f:
            data = f.read()
        rec = {"name": name, "size": len(data)}
        if name.endswith(".bin"):
            rec["keys"] = list(torch.load(os.path.join(dirpath, name), weights_only=True).keys())
            if details:
                with zipfile.ZipFile(io.BytesIO(data)) as z:
                    rec["zip_prefix"] = z.namelist()[0].split("/")[0]
        elif name.endswith(".safetensors"):
            from safetensors import safe_open
            with safe_open(os.path.join(dirpath, name), framework="pt") as f:
                rec["keys"] = list(f.offset_keys())
                if details:
                    rec["metadata"] = f.metadata()
        out.append(rec)
    return out


def merged_like_transformers(dirpath, index_name):
    from safetensors.torch import load_file
    with open(os.path.join(dirpath, index_name), encoding="utf-8") as f:
        index = json.load(f)
    merged = {}
    for fname in sorted(set(index["weight_map"].values())):
        path = os.path.join(dirpath, fname)
        if fname.endswith(".safetensors"):
            merged.update(load_file(path))
        else:
            merged.update(torch.load(path, map_location="cpu", weights_only=True))
    return index, merged


def module_for(sd):
    """An nn.Module whose state_dict has sd's names, shapes and dtypes (zeros)."""
    from torch import nn
    root = nn.Module()
    for name, t in sd.items():
        parts = name.split(".")
        mod = root
        for p in parts[:-1]:
            if not hasattr(mod, p):
                mod.add_module(p, nn.Module())
            mod = getattr(mod, p)
        if t.is_floating_point():
            mod.register_parameter(parts[-1], nn.Parameter(torch.zeros(t.shape, dtype=t.dtype)))
        else:
            mod.register_buffer(parts[-1], torch.zeros(t.shape, dtype=t.dtype))
    return root


def hf_load_verdict(dirpath, safe):
    """huggingface_hub.load_torch_model(model, dirpath, strict=True, safe=safe) for
    a model with every name of the state dict and, for safetensors sets, also
    for one without lm_head.weight (which save_torch_state_dict dropped)."""
    from huggingface_hub import load_torch_model
    out = {}
    variants = [("model_with_all_names", None)]
    if safe:
        variants.append(("model_without_lm_head", TIED[0]))
    for label, drop in variants:
        model = module_for({k: v for k, v in sharded_state_dict().items() if k != drop})
        try:
            res = load_torch_model(model, dirpath, strict=True, safe=safe)
            out[label] = {"raised": None, "missing_keys": sorted(res.missing_keys),
                          "unexpected_keys": sorted(res.unexpected_keys)}
        except BaseException as exc:
            out[label] = {"raised": exception_record(exc)}
    return out


def merge_verdict(dirpath, index_name):
    try:
        index, merged = merged_like_transformers(dirpath, index_name)
    except BaseException as exc:
        return {"raised": exception_record(exc)}
    return {"raised": None, "merged_order": list(merged),
            "index_keys_in_no_shard": [k for k in index["weight_map"] if k not in merged],
            "shard_keys_not_in_index": [k for k in merged if k not in index["weight_map"]]}


def make_sharded(outdir):
    from huggingface_hub import save_torch_state_dict, split_torch_state_dict_into_shards
    from huggingface_hub import constants as hfc
    import huggingface_hub.serialization._torch as hf_torch
    hf_torch.logger.setLevel(40)  # save_torch_state_dict warns about pickle shards

    root = os.path.join(outdir, "sharded")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    expectations = {"huggingface_hub": __import__("huggingface_hub").__version__, "sets": []}
    with cwd(root):
        os.makedirs("bin")
        os.makedirs("safetensors")
        save_torch_state_dict(sharded_state_dict(), "bin", safe_serialization=False, max_shard_size=150)
        save_torch_state_dict(sharded_state_dict(), "safetensors", max_shard_size=150)
        for name, index_name in (("bin", "pytorch_model.bin.index.json"),
                                 ("safetensors", "model.safetensors.index.json")):
            index, merged = merged_like_transformers(name, index_name)
            with tempfile.TemporaryDirectory() as tmp:
                p = os.path.join(tmp, "merged.pth")
                torch.save(merged, p)
                text = listing_text(p)
            with open(name + ".listing.json", "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
            expectations["sets"].append({
                "dir": name, "kind": "good", "index": index_name, "listing": name + ".listing.json",
                "files": shard_files(name), "weight_map_order": list(index["weight_map"]),
                "index_metadata": index["metadata"],
                "merged_order": list(merged),
                "merge_rule": "for f in sorted(set(weight_map.values())): merged.update(load(f))",
                "huggingface_hub_load_torch_model": hf_load_verdict(name, safe=(name == "safetensors"))})

        os.makedirs("damaged")
        shutil.copytree("bin", "damaged/missing_shard")
        os.remove("damaged/missing_shard/pytorch_model-00002-of-00003.bin")
        shutil.copytree("safetensors", "damaged/key_not_in_shard")
        p = "damaged/key_not_in_shard/model.safetensors.index.json"
        with open(p, encoding="utf-8") as f:
            index = json.load(f)
        index["weight_map"]["ghost.weight"] = "model-00002-of-00003.safetensors"
        with open(p, "w") as f:
            json.dump(index, f, indent=2)  # as save_torch_state_dict writes it
        for d, index_name, safe, edit in (
                ("damaged/missing_shard", "pytorch_model.bin.index.json", False,
                 "copy of bin; pytorch_model-00002-of-00003.bin deleted"),
                ("damaged/key_not_in_shard", "model.safetensors.index.json", True,
                 "copy of safetensors; the index's weight_map gains \"ghost.weight\": "
                 "\"model-00002-of-00003.safetensors\" (json.dump indent=2), the shard lacks it")):
            expectations["sets"].append({
                "dir": d, "kind": "damaged", "edit": edit, "index": index_name, "files": shard_files(d),
                "transformers_style_merge": merge_verdict(d, index_name),
                "huggingface_hub_load_torch_model": hf_load_verdict(d, safe=safe)})

    write_json(os.path.join(root, "expectations.json"), expectations)

    # split.json
    sizes = [0, 20, 150, "150", "0.15KB", " 0.2kb ", "5GB"]
    cases = []
    for pattern, safe in ((hfc.PYTORCH_WEIGHTS_FILE_PATTERN, False),
                          (hfc.SAFETENSORS_WEIGHTS_FILE_PATTERN, True)):
        for size in sizes:
            case = {"filename_pattern": pattern, "max_shard_size": size}
            try:
                split = split_torch_state_dict_into_shards(sharded_state_dict(), filename_pattern=pattern,
                                                           max_shard_size=size)
                case["split"] = {"is_sharded": split.is_sharded, "metadata": split.metadata,
                                 "filename_to_tensors": split.filename_to_tensors,
                                 "tensor_to_filename": split.tensor_to_filename}
            except BaseException as exc:
                case["split"] = {"raised": exception_record(exc)}
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    save_torch_state_dict(sharded_state_dict(), tmp, safe_serialization=safe,
                                          max_shard_size=size)
                    files = sorted(os.listdir(tmp))
                    saved = {"safe_serialization": safe}
                    index_name = pattern.format(suffix="") + ".index.json"
                    if index_name in files:
                        with open(os.path.join(tmp, index_name), "rb") as f:
                            saved["index_name"] = index_name
                            saved["index_text"] = f.read().decode("utf-8")
                    per_file = {r["name"]: r["keys"] for r in shard_files(tmp, False) if "keys" in r}
                    if per_file != case["split"].get("filename_to_tensors"):
                        # file order (offset order for safetensors) or the cleaned split
                        saved["tensors_per_file"] = per_file
                except BaseException as exc:
                    saved = {"safe_serialization": safe, "raised": exception_record(exc)}
            case["save_torch_state_dict"] = saved
            cases.append(case)
    write_json(os.path.join(root, "split.json"), {
        "huggingface_hub": __import__("huggingface_hub").__version__,
        "state_dict": shard_spec_json(),
        "index_json": "json.dump({'metadata': {**split.metadata, **metadata}, 'weight_map': "
                      "split.tensor_to_filename}, f, indent=2): keys in insertion order, no sort_keys, "
                      "ensure_ascii, separators (',', ': '), no trailing newline; written only when "
                      "is_sharded. For safetensors, metadata gains {dropped_name: kept_name} for each "
                      "shared tensor removed before splitting, and the split runs on that cleaned dict.",
        "size_units": "int, or str parsed by huggingface_hub.serialization._base.parse_size_to_int: "
                      "strip, last 2 chars upper() in TB/GB/MB/KB (10**12..10**3), int(float(rest) * unit)",
        "cases": cases})


# --------------------------------------------------------------------------
# torch.export


def pt2_records(path):
    with open(path, "rb") as f:
        data = f.read()
    recs = []
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
            start = info.header_offset + 30 + name_len + extra_len
            recs.append({"name": info.filename, "header_offset": info.header_offset,
                         "data_offset": start, "size": info.file_size,
                         "compress_type": info.compress_type})
    return recs


def pt2_sidecar(path, model_name="model"):
    recs = pt2_records(path)
    prefix = recs[0]["name"].split("/")[0]
    out = {"file": os.path.basename(path), "zip_root": prefix, "records": recs}
    with zipfile.ZipFile(path) as z:
        for key, rel in (("weights_config", f"data/weights/{model_name}_weights_config.json"),
                         ("constants_config", f"data/constants/{model_name}_constants_config.json")):
            out[key + "_record"] = f"{prefix}/{rel}"
            out[key + "_text"] = z.read(f"{prefix}/{rel}").decode("utf-8")
        for small in ("archive_format", "archive_version", ".data/version", "byteorder"):
            out[small] = z.read(f"{prefix}/{small}").decode("utf-8")
        pickled = []
        for name, meta in json.loads(out["weights_config_text"])["config"].items():
            if meta["use_pickle"]:
                blob = z.read(f"{prefix}/data/weights/{meta['path_name']}")
                with zipfile.ZipFile(io.BytesIO(blob)) as inner:
                    pkl_name = [n for n in inner.namelist() if n.endswith("data.pkl")][0]
                    globals_ = sorted({arg for op, arg, _ in pickletools.genops(inner.read(pkl_name))
                                       if op.name in ("GLOBAL",)})
                    pickled.append({"name": name, "inner_zip_records": inner.namelist(),
                                    "pickle_globals": globals_})
        if pickled:
            out["pickled_weights"] = pickled
    return out


def strip_stack_traces(ep):
    """Drop the graph nodes' stack_trace metadata: it holds this machine's
    absolute source paths and line numbers, which models/model.json would keep."""
    for mod in ep.graph_module.modules():
        if isinstance(mod, torch.fx.GraphModule):
            for node in mod.graph.nodes:
                node.meta.pop("stack_trace", None)
    return ep


class Pt2Module(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)
        base = torch.arange(6, dtype=torch.float32) * 0.5
        self.register_buffer("running", base)
        self.register_buffer("count", torch.tensor(42, dtype=torch.int64))
        self.register_buffer("running_tail", base[2:5])
        self.register_buffer("scratch", torch.full((2,), 0.25), persistent=False)
        self.const_t = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()

    def forward(self, x):
        # Unused parameters and buffers are exported all the same; const_t
        # becomes a lifted constant because forward reads it.
        return self.lin(x) + self.const_t[0]


def make_pt2(outdir):
    root = os.path.join(outdir, "pt2")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    torch.manual_seed(0)
    with torch.no_grad():
        m = Pt2Module()
        m.lin.weight.copy_(torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]))
        m.lin.bias.copy_(torch.tensor([0.125, -8.0]))
    ep = strip_stack_traces(torch.export.export(m, (torch.ones(1, 3),)))
    path = os.path.join(root, "model.pt2")
    torch.export.save(ep, path)
    loaded = torch.export.load(path)
    both = {**loaded.state_dict, **loaded.constants}
    for k, v in {**ep.state_dict, **ep.constants}.items():
        assert torch.equal(both[k].detach(), v.detach()), k
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "weights.pth")
        torch.save(both, p)
        text = listing_text(p)
    with open(path + ".listing.json", "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    side = pt2_sidecar(path)
    side["state_dict_order"] = list(ep.state_dict)
    side["constants_order"] = list(ep.constants)
    side["listing_of"] = "torch.save({**ep.state_dict, **ep.constants}) for ep = torch.export.load(model.pt2)"
    write_json(path + ".json", side)

    from torch.testing._internal.two_tensor import TwoTensor

    class Pickled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(TwoTensor(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])),
                                        requires_grad=False)
            self.register_buffer("plain", torch.tensor([0.5, -0.5]))

        def forward(self, x):
            return x + self.w + self.plain

    ep2 = strip_stack_traces(torch.export.export(Pickled(), (torch.ones(2),)))
    path2 = os.path.join(root, "pickled.pt2")
    torch.export.save(ep2, path2)
    side2 = pt2_sidecar(path2)
    side2["state_dict_order"] = list(ep2.state_dict)
    back = torch.export.load(path2).state_dict
    side2["loaded_types"] = {k: type(v).__module__ + "." + type(v).__qualname__ for k, v in back.items()}
    write_json(path2 + ".json", side2)


# --------------------------------------------------------------------------
# Bare pickles


def make_bare(outdir):
    import torch_listing
    root = os.path.join(outdir, "bare")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    shared = [1, 2, 3]
    as_dict = {
        "name": "bare \u00e9\u4e2d\U0001f600",
        "ints": [0, 1, -1, 255, 256, 65535, 65536, -(2 ** 31), 2 ** 31, 2 ** 63, -(2 ** 70)],
        "floats": [0.0, -0.0, 1.5, -2.25, 1e300, float("inf"), float("-inf")],
        "bytes": b"\x00\x01binary\xff",
        "empty_bytes": b"",
        "tuple": (1, "two", 3.0, None),
        "empty": {"list": [], "tuple": (), "dict": {}, "str": ""},
        "flags": [True, False, None],
        "nested": {"a": {"b": {"c": [shared, shared]}}},
        7: "int key",
    }
    as_list = [
        "list root",
        42,
        -7,
        2 ** 100,
        3.141592653589793,
        b"bytes" * 60,
        (("nested", "tuple"), ()),
        {"k": [None, True], "shared": shared},
        shared,
        "x" * 300,
    ]
    files = []
    for name, obj, proto in (("dict_proto4.pkl", as_dict, 4), ("list_proto5.pkl", as_list, 5)):
        path = os.path.join(root, name)
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=proto)
        with open(path, "rb") as f:
            back = pickle.load(f)
        verdicts = {}
        for weights_only in (True, False):
            try:
                torch.load(path, weights_only=weights_only)
                verdicts[f"weights_only={weights_only}"] = {"raised": None}
            except BaseException as exc:
                verdicts[f"weights_only={weights_only}"] = {"raised": exception_record(exc)}
        files.append({"file": name, "written_by": f"pickle.dump(obj, f, protocol={proto})",
                      "protocol": proto, "size": os.path.getsize(path),
                      "torch_load": verdicts,
                      "listing": torch_listing.listing(back)})
    write_json(os.path.join(root, "expectations.json"), {
        "listing_note": "listing = tools/torch_listing.py's listing(pickle.load(f)); kept here rather than "
                        "in FILE.listing.json, which would enroll the file in the listing conformance tests",
        "files": files})


README_LINES = [
    '- `dcp/single/`, `dcp/threads/`, `dcp/zstd_bf16/`, `dcp/two_ranks/`: torch.distributed.checkpoint directories (`.metadata` pickle + `__RANK_N.distcp`): a nested training state (bytes items, an int optimizer key, 0-dim, empty, transposed and storage-sharing tensors) from one process; a file per item with two writer threads; bfloat16 through the ZStandard stream transform (`stream.zstd/1`); DTensors Shard(0) (5 rows), Shard(1), Replicate() and an empty shard over two gloo ranks. `dcp/NAME.pth` is what `dcp_to_torch_save(NAME, NAME.pth)` writes; `dcp/resaved/` is `torch_save_to_dcp("single.pth", "resaved")` and `dcp/resaved_zstd/` the state of zstd_bf16.pth saved with ZStandard, for writers to match; `dcp/damaged/*` are edited copies (overlap, missing_chunk, traversal, unknown_transform, truncated, missing_file) and `dcp/expectations.json` says what torch makes of every set. Written by `torch.distributed.checkpoint.save` (tools/make_multifile_fixtures.py).',
    '- `sharded/bin/`, `sharded/safetensors/`: Hugging Face sharded sets of one state dict (3 shards + `*.index.json`; float32/bfloat16/float16/int64, a transposed tensor, a tied weight); `sharded/NAME.listing.json` lists the shards merged as transformers merges them (files in sorted order); `sharded/split.json` has `split_torch_state_dict_into_shards` and the index text for several `max_shard_size`s; `sharded/damaged/*` (missing_shard, key_not_in_shard) and `sharded/expectations.json`. Written by `huggingface_hub.save_torch_state_dict` (tools/make_multifile_fixtures.py).',
    '- `pt2/model.pt2`, `pt2/pickled.pt2`: torch.export archives: parameters, buffers (two viewing one storage, a 0-dim int64), a non-persistent buffer and a transposed constant as raw storage records with `*_weights_config.json`/`*_constants_config.json`; a TwoTensor parameter stored pickled (`use_pickle`). `model.pt2.listing.json` lists `{**ep.state_dict, **ep.constants}`; `FILE.json` holds the record table and config texts. Written by `torch.export.save` (tools/make_multifile_fixtures.py).',
    "- `bare/dict_proto4.pkl`, `bare/list_proto5.pkl`: plain Python values (no tensors, nothing that executes) at pickle protocols 4 and 5, which torch.load refuses; `bare/expectations.json` has their listings and torch.load's errors. Written by `pickle.dump` (tools/make_multifile_fixtures.py).",
    '- `hostile/multifile/`: hostile and damaged multi-file checkpoints, a few KB each, edited from valid sets real torch wrote: DCP directories whose `.metadata` declares a shape whose element count overflows (A_overflow), a 4 TiB tensor in two bogus chunks (B_huge_alloc), a planner_data list index of 2**24-1 (C_pad), a zstd frame declaring 2**39 bytes (G_zstd_reserve), lengths of 2**62+1 (I_verify_len), a relative_path of `.` (F_dot) or of a file the test makes a symbolic link out of the set (F_symlink); a valid DCP of one tensor in 64 chunks (E_many); sharded sets whose index names `.` or itself as a shard (S_dot, S_self); `.pt2` archives with a storage offset of 2**63-1, sizes and strides that overflow, an empty record for 1 PiB of zeros (H_offset, H_strides, H_zeros); a valid DCP holding numpy objects with `N_np.pth` from `dcp_to_torch_save`. `expectations.json` says what each edit was and what torch does with it. Written by `torch.distributed.checkpoint.save`, `huggingface_hub.save_torch_state_dict` and `torch.export.save`, then edited (tools/make_multifile_hostile.py).',  # tools/make_multifile_hostile.py writes hostile/multifile/
]


def update_readme(outdir):
    """Put README_LINES at the end of OUTDIR/README.md (written by make_fixtures.py),
    replacing earlier copies of them; nothing when there is no README.md."""
    path = os.path.join(outdir, "README.md")
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    prefixes = tuple(line.split(":")[0] for line in README_LINES)
    lines = [line for line in lines if not line.startswith(prefixes)] + README_LINES
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def make_dcp_resaved(outdir):
    """What torch writes from a state dict already in memory, for writers to match:
    dcp/resaved/ = torch_save_to_dcp("single.pth", "resaved") and
    dcp/resaved_zstd/ = the state of zstd_bf16.pth saved with
    FileSystemWriter("resaved_zstd", _extensions=[ZStandard()]), no_dist=True.
    Both with the fixed save_id, from OUTDIR/dcp (so checkpoint_id is the relative name)."""
    from torch.distributed.checkpoint import FileSystemWriter
    from torch.distributed.checkpoint._extension import ZStandard
    from torch.distributed.checkpoint.format_utils import torch_save_to_dcp
    from torch.distributed.checkpoint.state_dict_saver import _save_state_dict

    root = os.path.join(outdir, "dcp")
    with cwd(root), fixed_save_id(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("resaved", "resaved_zstd"):
            shutil.rmtree(name, ignore_errors=True)
        torch_save_to_dcp("single.pth", "resaved")
        state = torch.load("zstd_bf16.pth", weights_only=False)
        _save_state_dict(state, storage_writer=FileSystemWriter("resaved_zstd", _extensions=[ZStandard()]), no_dist=True)


def main(argv):
    outdir = os.path.abspath(argv[0]) if argv else os.path.join(os.path.dirname(TOOLS_DIR), "fixtures")
    os.makedirs(outdir, exist_ok=True)
    make_bare(outdir)
    make_pt2(outdir)
    make_sharded(outdir)
    make_dcp(outdir)
    make_dcp_resaved(outdir)
    update_readme(outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
