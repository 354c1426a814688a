"""Model files: weights in safetensors, a JSON sidecar describing them; nothing is ever unpickled.

`save(model, "m.safetensors", metadata)` writes `m.safetensors` and `m.safetensors.json` (format,
architecture name and arguments, SHA-256 of the weights file, package and library versions, the
caller's metadata: train and library configurations, seed, metrics), each atomically. `load`
refuses pickle and torch.save files, checks the hash, and rebuilds the architecture from the sidecar.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import safetensors
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from .. import __version__
from .._io import write_bytes, write_text
from .architectures import architecture_of, build

FORMAT = "descrambler-model/1"


def sidecar_path(path: str | os.PathLike) -> Path:
    """The JSON sidecar of a weights file: the same name with `.json` appended."""
    return Path(f"{os.fspath(path)}.json")


def versions() -> dict:
    """Versions of the software that wrote a file."""
    return {"descrambler": __version__, "torch": torch.__version__, "safetensors": safetensors.__version__,
            "numpy": np.__version__, "python": platform.python_version()}


def _plain(value):
    """JSON fallback: dataclasses as dicts, numpy scalars and arrays as Python values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def save(model: nn.Module, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Write `model`'s weights to `path` (safetensors) and its sidecar; return the sidecar path.

    `model` must come from `two_layer`, `deep` or `denoiser`; `metadata` is any JSON-ready mapping
    (dataclasses and numpy values are converted), conventionally `train_config`, `seed`, `metrics`.
    """
    architecture = architecture_of(model)
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"metadata: expected a dict, got {type(metadata).__name__}")
    tensors = {name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()}
    data = save_tensors(tensors)
    sidecar = {"format": FORMAT, "architecture": architecture, "sha256": hashlib.sha256(data).hexdigest(),
               "bytes": len(data), "versions": versions(), "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "metadata": metadata or {}}
    try:
        text = json.dumps(sidecar, indent=1, default=_plain, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"metadata: cannot be written as JSON ({error})") from None
    write_bytes(path, data)
    write_text(sidecar_path(path), text)
    return sidecar_path(path)


def _refuse_unsafe(data: bytes, path: Path) -> None:
    """ValueError unless `data` looks like a safetensors file (8-byte header size, then a JSON header)."""
    if data[:2] == b"PK" or data[:1] == b"\x80":
        raise ValueError(f"path: {path} is a pickle or torch.save file; descrambler never unpickles model "
                         "files (unpickling can run arbitrary code): save the weights with "
                         "descrambler.nets.save")
    header = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    if header <= 0 or 8 + header > len(data) or data[8:9] != b"{":
        raise ValueError(f"path: {path} is not a readable safetensors file (truncated or corrupted header)")


def read_sidecar(path: str | os.PathLike) -> dict:
    """The parsed sidecar of the weights file `path`; ValueError if missing or malformed."""
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        raise ValueError(f"path: the sidecar {sidecar} is missing; a model file needs its sidecar")
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"path: the sidecar {sidecar} is not valid JSON ({error})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"path: the sidecar {sidecar} is not a {FORMAT} record")
    missing = {"architecture", "sha256", "metadata"} - set(record)
    if missing:
        raise ValueError(f"path: the sidecar {sidecar} lacks {', '.join(sorted(missing))}")
    return record


def load(path: str | os.PathLike) -> nn.Sequential:
    """The model saved at `path`, on the CPU in evaluation mode; its sidecar metadata in `.metadata`.

    Raises ValueError for a missing, pickled, truncated or corrupted file, a sidecar whose hash does
    not match the weights, or weights that do not fit the recorded architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: no such model file: {path}")
    data = path.read_bytes()
    _refuse_unsafe(data, path)
    record = read_sidecar(path)
    digest = hashlib.sha256(data).hexdigest()
    if digest != record["sha256"]:
        raise ValueError(f"path: content hash mismatch for {path}: the file has SHA-256 {digest[:16]}..., "
                         f"the sidecar records {str(record['sha256'])[:16]}... (corrupted, truncated or "
                         "replaced file)")
    try:
        tensors = load_tensors(data)
    except Exception as error:  # safetensors raises its own error types
        raise ValueError(f"path: {path} cannot be read as safetensors ({error})") from None
    with torch.random.fork_rng(devices=[]):  # building initialises weights: keep the caller's RNG
        model = build(record["architecture"])
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        raise ValueError(f"path: the weights in {path} do not fit the architecture {record['architecture']} "
                         f"({error})") from None
    model.eval()
    model.metadata = record["metadata"]
    return model
