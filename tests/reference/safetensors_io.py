"""Minimal hand-written safetensors reader/writer (no dependency on the `safetensors` package).

Format: 8-byte little-endian unsigned header length n, then n bytes of UTF-8 JSON, then the raw
tensor bytes. The JSON maps tensor name -> {"dtype", "shape", "data_offsets": [begin, end]} with
offsets relative to the first byte after the header; an optional "__metadata__" entry is a
string -> string map. Tensors are packed in header order with no gaps. The header is padded with
spaces so that the data section starts at a multiple of 8.

Supported dtypes: F32, I32, I64 (little-endian).
"""
from __future__ import annotations

import json
import struct
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Tuple

import numpy as np
import torch

_TO_NUMPY = {"F32": np.dtype("<f4"), "I32": np.dtype("<i4"), "I64": np.dtype("<i8")}
_FROM_TORCH = {torch.float32: "F32", torch.int32: "I32", torch.int64: "I64"}


def write_safetensors(path: str, tensors: Mapping[str, torch.Tensor],
                      metadata: Optional[Mapping[str, str]] = None) -> int:
    """Writes `tensors` (in the mapping's order) to `path`; returns the file size in bytes.

    Tensors must already have dtype float32, int32 or int64 (no silent conversion)."""
    header: "OrderedDict[str, object]" = OrderedDict()
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"{path}: __metadata__ must map str to str, got {k!r}: {v!r}")
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name, t in tensors.items():
        if name == "__metadata__":
            raise ValueError(f"{path}: tensor name '__metadata__' is reserved")
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{path}: tensor '{name}' is {type(t).__name__}, expected torch.Tensor")
        if t.dtype not in _FROM_TORCH:
            raise TypeError(f"{path}: tensor '{name}' has unsupported dtype {t.dtype} (F32, I32, I64 only)")
        dtype = _FROM_TORCH[t.dtype]
        data = t.detach().cpu().contiguous().numpy().astype(_TO_NUMPY[dtype], copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-(8 + len(hjson))) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
    return 8 + len(hjson) + offset


def read_safetensors(path: str) -> Tuple["OrderedDict[str, torch.Tensor]", Dict[str, str]]:
    """Reads a safetensors file; returns (name -> tensor in header order, metadata)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: file is {len(raw)} bytes, too short for the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} exceeds file size {len(raw)}")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"), object_pairs_hook=OrderedDict)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: header is not valid UTF-8 JSON: {e}") from e
    data = memoryview(raw)[8 + n:]
    metadata = header.pop("__metadata__", None) or {}
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    # Validate that tensors tile the data section in header order without gaps.
    expected_begin = 0
    for name, info in header.items():
        dtype = info.get("dtype")
        if dtype not in _TO_NUMPY:
            raise ValueError(f"{path}: tensor '{name}' has unsupported dtype {dtype!r} (F32, I32, I64 only)")
        shape = info.get("shape")
        begin, end = info.get("data_offsets", [None, None])
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise ValueError(f"{path}: tensor '{name}' has invalid shape {shape!r}")
        count = int(np.prod(shape)) if shape else 1
        nbytes = count * _TO_NUMPY[dtype].itemsize
        if begin != expected_begin or end - begin != nbytes or end > len(data):
            raise ValueError(f"{path}: tensor '{name}' has data_offsets [{begin}, {end}], expected "
                             f"[{expected_begin}, {expected_begin + nbytes}] within {len(data)} data bytes")
        arr = np.frombuffer(data[begin:end], dtype=_TO_NUMPY[dtype]).reshape(shape).copy()
        out[name] = torch.from_numpy(arr)
        expected_begin = end
    if expected_begin != len(data):
        raise ValueError(f"{path}: {len(data) - expected_begin} trailing bytes after the last tensor")
    return out, dict(metadata)
