"""Model files: weights in safetensors with their description inside; nothing is ever unpickled.

`save(model, "m.safetensors", metadata)` writes one file, atomically: the weights, and in the
safetensors header the record that describes them (format, architecture name and arguments, SHA-256
of the tensor data, package and library versions, the caller's metadata: train and library
configurations, seed, metrics). A save interrupted at any point leaves the old file or the new one,
never a mix. A readable copy of the record (with the SHA-256 of the whole file) goes to the JSON
sidecar `m.safetensors.json`; `load` does not need it and never trusts it. `load` refuses pickle and
torch.save files, checks the hash and the sizes the record asks for against the tensors in the file
before allocating anything, and rebuilds the architecture from the record.
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

FORMAT = "descrambler-model/2"
#: The key of the record in the safetensors header's string metadata.
HEADER_KEY = "descrambler"
#: Largest layer width and number of hidden layers a model file may ask for (checked before building).
MAX_WIDTH = 1 << 16
MAX_HIDDEN_LAYERS = 256


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
    """Write a model's weights and their record to a safetensors file, and a readable JSON sidecar.

    One atomic write: an interrupted save leaves the old file or the new one, never a mix. The
    record (format, architecture, SHA-256 of the tensor data, versions, `metadata`) lives in the
    safetensors header; the sidecar ``path + ".json"`` is a readable copy that `load` never needs.

    Parameters
    ----------
    model : torch.nn.Module
        A network built by `two_layer`, `deep` or `denoiser`.
    path : str or os.PathLike
        The weights file, conventionally ``*.safetensors``.
    metadata : dict or None, default None
        Any JSON-ready mapping (dataclasses and numpy values are converted), conventionally
        `train_config`, `seed`, `metrics`.

    Returns
    -------
    pathlib.Path
        The sidecar's path.

    Raises
    ------
    ValueError
        If `model` was not built here, or `metadata` is not a dict or not JSON-ready (the message
        starts with the argument's name).

    Examples
    --------
    >>> import os, tempfile
    >>> from descrambler.nets import save, two_layer
    >>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors")
    >>> save(two_layer(), path, {"seed": 0}).name
    'net.safetensors.json'
    """
    architecture = architecture_of(model)
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"metadata: expected a dict, got {type(metadata).__name__}")
    tensors = {name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()}
    record = {"format": FORMAT, "architecture": architecture,
              "tensors_sha256": hashlib.sha256(_tensor_data(save_tensors(tensors))).hexdigest(),
              "versions": versions(), "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "metadata": metadata or {}}
    try:
        text = json.dumps(record, default=_plain, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"metadata: cannot be written as JSON ({error})") from None
    data = save_tensors(tensors, metadata={HEADER_KEY: text})
    write_bytes(path, data)
    copy = {**json.loads(text), "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    write_text(sidecar_path(path), json.dumps(copy, indent=1))
    return sidecar_path(path)


def _header(data: bytes) -> dict:
    """The parsed JSON header of safetensors bytes (checked by `_refuse_unsafe`)."""
    size = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + size])


def _tensor_data(data: bytes) -> bytes:
    """The tensor data of safetensors bytes: everything after the header."""
    return data[8 + int.from_bytes(data[:8], "little"):]


def _refuse_unsafe(data: bytes, path: Path) -> None:
    """ValueError unless `data` looks like a safetensors file (8-byte header size, then a JSON header).

    The safetensors layout is checked first: the header size's low byte can be 0x80, the first byte of a
    pickle, so that byte alone must not condemn a file.
    """
    header = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    if 0 < header and 8 + header <= len(data) and data[8:9] == b"{":
        return
    if data[:2] == b"PK" or data[:1] == b"\x80":
        raise ValueError(f"path: {path} is a pickle or torch.save file; descrambler never unpickles model "
                         "files (unpickling can run arbitrary code): save the weights with "
                         "descrambler.nets.save")
    raise ValueError(f"path: {path} is not a readable safetensors file (truncated or corrupted header)")


def read_record(path: str | os.PathLike, data: bytes | None = None) -> dict:
    """The record inside the model file `path` (its bytes `data`, if already read); ValueError if the
    file is not a model file written by `save`."""
    path = Path(path)
    if data is None:
        if not path.is_file():
            raise ValueError(f"path: no such model file: {path}")
        data = path.read_bytes()
    _refuse_unsafe(data, path)
    try:
        text = _header(data).get("__metadata__", {}).get(HEADER_KEY)
        record = json.loads(text) if isinstance(text, str) else None
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError) as error:
        raise ValueError(f"path: {path} has an unreadable header ({error})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"path: {path} holds no {FORMAT} record in its header (written by another program "
                         "or an older version of descrambler); save the model again with descrambler.nets.save")
    missing = {"architecture", "tensors_sha256", "metadata"} - set(record)
    if missing:
        raise ValueError(f"path: the record in {path} lacks {', '.join(sorted(missing))}")
    return record


def _check_sizes(architecture, data: bytes, path: Path) -> None:
    """ValueError unless the recorded architecture is of a sane size and its parameters have exactly the
    shapes of the tensors in the file; checked on torch's "meta" device, so nothing is allocated."""
    arguments = architecture.get("arguments") if isinstance(architecture, dict) else None
    if not isinstance(arguments, dict):
        raise ValueError(f"path: the record in {path} has no architecture arguments: {architecture!r}")
    hidden = arguments.get("hidden", [])
    widths = ([arguments.get(k) for k in ("n_in", "n_hidden", "n_out")]
              + (list(hidden) if isinstance(hidden, list) else []))
    if not isinstance(hidden, list) or len(hidden) > MAX_HIDDEN_LAYERS:
        raise ValueError(f"path: the record in {path} asks for {len(hidden) if isinstance(hidden, list) else hidden!r} "
                         f"hidden layers; at most {MAX_HIDDEN_LAYERS}")
    if any(isinstance(w, (int, float)) and not isinstance(w, bool) and w > MAX_WIDTH for w in widths):
        raise ValueError(f"path: the record in {path} asks for a layer wider than {MAX_WIDTH}: {arguments}")
    try:
        with torch.device("meta"):
            expected = {name: tuple(t.shape) for name, t in build(architecture).state_dict().items()}
    except ValueError as error:
        raise ValueError(f"path: the record in {path} has a bad architecture ({error})") from None
    stored = {name: tuple(entry["shape"]) for name, entry in _header(data).items() if name != "__metadata__"}
    if expected != stored:
        raise ValueError(f"path: the weights in {path} do not fit the architecture {architecture} (the file holds "
                         f"{sorted(stored.items())[:4]}..., the architecture needs {sorted(expected.items())[:4]}...)")


def load(path: str | os.PathLike) -> nn.Sequential:
    """The model saved at `path` by `save`, on the CPU in evaluation mode.

    Nothing is ever unpickled: pickle and torch.save files are refused; the hash and the sizes the
    record asks for are checked against the tensors before anything is allocated; the architecture is
    rebuilt from the record. The sidecar is not read.

    Parameters
    ----------
    path : str or os.PathLike
        The safetensors file written by `save`.

    Returns
    -------
    torch.nn.Sequential
        The network; its recorded metadata in `model.metadata`.

    Raises
    ------
    ValueError
        If the file is missing, pickled, truncated or corrupted, its record's hash does not match the
        tensors, the record asks for absurd sizes, the weights do not fit the recorded architecture,
        or they are not finite (the message starts with "path:").

    Examples
    --------
    >>> import os, tempfile
    >>> from descrambler.nets import load, save, two_layer
    >>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors")
    >>> _ = save(two_layer(), path, {"seed": 0})
    >>> load(path).metadata
    {'seed': 0}
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: no such model file: {path}")
    data = path.read_bytes()
    record = read_record(path, data)
    digest = hashlib.sha256(_tensor_data(data)).hexdigest()
    if digest != record["tensors_sha256"]:
        raise ValueError(f"path: content hash mismatch for {path}: its tensors have SHA-256 {digest[:16]}..., "
                         f"its record says {str(record['tensors_sha256'])[:16]}... (corrupted or truncated file)")
    try:
        _check_sizes(record["architecture"], data, path)
    except (TypeError, KeyError) as error:
        raise ValueError(f"path: the record in {path} does not describe an architecture ({error})") from None
    try:
        tensors = load_tensors(data)
    except Exception as error:  # safetensors raises its own error types
        raise ValueError(f"path: {path} cannot be read as safetensors ({error})") from None
    bad = [name for name, tensor in tensors.items() if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if bad:
        raise ValueError(f"path: {path} holds non-finite weights (NaN or infinity) in {', '.join(bad)}: the training "
                         "that wrote it diverged; retrain it")
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
