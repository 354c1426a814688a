"""A cache of trained models: train once, reuse in every later chapter and run.

Files live under `descrambler._io.cache_dir()`, named by a hash of everything that determines the
trained weights: the architecture and its arguments, the training (and library) configuration, the
seed, the package and torch versions, and the source code that computes the weights (SOURCES: the
architectures, the training and the validation it stops on, and the modules that make the training data,
`data_sources`), so a change there invalidates the cache and a change elsewhere (model files, wiretaps,
measurements) does not.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import as_completed
from pathlib import Path

import torch
from torch import nn

from .. import __version__
from .._io import cache_dir
from .._validate import non_negative_int, positive_int
from ..progress import progress_bar
from .architectures import build
from .executors import SCHEDULER_ENV, training_executor
from .modelfile import load, save
from .training import TrainConfig, TrainingRecord, resolve_device, train

#: The book's default network, `two_layer()` with its default arguments.
DEFAULT_ARCHITECTURE = {"name": "two_layer", "arguments": {}}
#: The modules of this package whose code determines a trained network's weights, whatever its data;
#: the data's own modules are added per request (`data_sources`).
SOURCES = ("descrambler.nets.architectures", "descrambler.nets.training", "descrambler.nets.data",
           "descrambler.nets.metrics", "descrambler.nets.predict")


def data_sources(config: TrainConfig) -> tuple[str, ...]:
    """The modules whose code makes `config.data`'s examples: its class's `sources` (module names), else
    the module that defines its class."""
    return tuple(getattr(type(config.data), "sources", (type(config.data).__module__,)))


@functools.lru_cache(maxsize=None)
def source_hash(modules: tuple[str, ...] = ()) -> str:
    """SHA-256 of the code that determines a trained model: SOURCES and `modules` (module names).

    Read once per process and set of modules, so the key describes the code that is running even if
    files change.
    """
    digest = hashlib.sha256()
    for name in (*SOURCES, *modules):
        origin = importlib.util.find_spec(name).origin
        digest.update(name.encode() + b"\0" + Path(origin).read_bytes() + b"\0")
    return digest.hexdigest()


def cache_key(architecture: dict, config: TrainConfig, seed: int, device: str = "cpu") -> str:
    """Hash of a training request (resolved architecture arguments, device type "cpu" or "cuda") and of
    the code that serves it: a GPU-trained network is never served as the CPU-reproducible one."""
    request = {"architecture": architecture, "config": config.to_dict(), "seed": seed, "device": device,
               "descrambler": __version__, "torch": torch.__version__, "source": source_hash(data_sources(config))}
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def _request(seed: int, architecture: dict | None, config: TrainConfig | None, device
             ) -> tuple[nn.Module, TrainConfig, str, Path]:
    """(a fresh model, the configuration, the cache key, the cache path) of a training request."""
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config: expected a TrainConfig (for DEER traces, e.g. "
                         f"descrambler.deer.DEFAULT_TRAIN_CONFIG), got {type(config).__name__}")
    with torch.random.fork_rng(devices=[]):
        model = build(DEFAULT_ARCHITECTURE if architecture is None else architecture)
    key = cache_key(model.architecture, config, seed, resolve_device(device).type)
    return model, config, key, cache_dir() / f"{model.architecture['name']}-seed{seed}-{key[:20]}.safetensors"


def train_weights(architecture: dict, config: TrainConfig, seed: int) -> tuple[dict, dict]:
    """Train one network where an executor runs it (a local process or a Dask worker): its weights as numpy
    arrays and its `TrainingRecord` as fields. It reads and writes no file, so no shared filesystem is
    needed; the submitter stores the result in its own cache."""
    os.environ["DESCRAMBLER_PROGRESS"] = "0"
    with torch.random.fork_rng(devices=[]):
        model = build(architecture)
    model, history = train(model, config, seed=seed, progress=False)
    return {name: value.detach().cpu().numpy() for name, value in model.state_dict().items()}, history.to_dict()


def _store(model: nn.Module, config: TrainConfig, key: str, path: Path, seed: int, weights: dict,
           record: dict) -> None:
    """Write a network trained elsewhere into the cache at `path` (atomically, under its lock), unless
    another process stored it meanwhile."""
    with exclusive_lock(path.with_name(path.name + ".lock")):
        if path.exists():
            return
        model.load_state_dict({name: torch.from_numpy(value) for name, value in weights.items()})
        history = TrainingRecord.from_dict(record)
        save(model.eval(), path, _metadata(model, config, key, seed, history))


def _metadata(model: nn.Module, config: TrainConfig, key: str, seed: int, history: TrainingRecord) -> dict:
    return {"cache_key": key, "architecture": model.architecture, "train_config": config.to_dict(), "seed": seed,
            "metrics": history.final, "seconds": history.seconds_total, "history": history.to_dict(),
            "source_hash": source_hash(data_sources(config))}


def train_or_load_many(seeds: Sequence[int], architecture: dict | None = None, config: TrainConfig | None = None,
                       workers: int | None = None, progress: bool | None = None,
                       scheduler: str | None = None) -> list[tuple[nn.Module, dict]]:
    """`train_or_load` for each of several seeds of one architecture and configuration.

    Parameters
    ----------
    seeds : sequence of int
        Training seeds (each >= 0).
    architecture : dict or None, default None
        {"name", "arguments"} record of the network (None: the book's `two_layer()`).
    config : TrainConfig or None, default None
        How to train (required; the book's default is `descrambler.deer.DEFAULT_TRAIN_CONFIG`).
    workers : int or None, default None
        Training processes (None: one per core).
    progress : bool or None, default None
        Show a progress bar (None: only in a terminal or notebook).
    scheduler : str or None, default None
        Where the missing networks train (`descrambler.nets.executors.training_executor`): None for local
        processes (or `$DESCRAMBLER_SCHEDULER`), "local-dask", or a Dask scheduler's address.

    Returns
    -------
    list of (torch.nn.Module, dict)
        Each seed's network and metadata, as `train_or_load` returns them (see `train_or_load_jobs`).

    Raises
    ------
    ValueError
        If `seeds` is empty or holds a negative or non-integer seed, or as `train_or_load_jobs` (the
        message starts with the argument's name).

    Examples
    --------
    >>> from descrambler.deer import LibraryConfig
    >>> from descrambler.nets import TrainConfig, train_or_load_many
    >>> tiny = TrainConfig(data=LibraryConfig(), epochs=1, n_train=1000, batch_size=100, n_validation=200)
    >>> nets = train_or_load_many([1, 2], {"name": "two_layer", "arguments": {"n_hidden": 8}}, tiny)
    >>> len(nets)
    2
    """
    seeds = [non_negative_int(seed, "seeds") for seed in seeds]
    if not seeds:
        raise ValueError("seeds: need at least one seed")
    return train_or_load_jobs([(architecture, config, seed) for seed in seeds], workers, progress, scheduler)


def train_or_load_jobs(jobs: Sequence[tuple[dict | None, TrainConfig | None, int]], workers: int | None = None,
                       progress: bool | None = None, scheduler: str | None = None) -> list[tuple[nn.Module, dict]]:
    """Cached networks of several architectures and configurations, the missing ones trained in parallel.

    The submitter computes every network's cache key once; the networks missing from the cache are
    trained first by an executor (`training_executor(scheduler, workers)`: local worker processes or a
    Dask cluster), each on one torch thread, the costliest first so that networks of different sizes share
    the cores well. Workers return weights and records (`train_weights`) and the submitter writes them to
    its cache atomically: no shared filesystem is assumed, and a source edit during the call changes no
    key. Then every network is loaded with `train_or_load`. The weights are those `train_or_load` gives
    (tested bit for bit). An interrupted call keeps every network already stored, so calling it again
    continues where it stopped; a Dask worker that dies has its task run again elsewhere.

    Parameters
    ----------
    jobs : sequence of (dict or None, TrainConfig or None, int)
        (architecture, config, seed) of each network, as `train_or_load` takes them.
    workers : int or None, default None
        Training processes (None: one per core).
    progress : bool or None, default None
        Show a progress bar over the networks (None: only in a terminal or notebook).
    scheduler : str or None, default None
        Where the missing networks train: None for local processes (or `$DESCRAMBLER_SCHEDULER`),
        "local-dask" for a Dask LocalCluster, or a Dask scheduler's address.

    Returns
    -------
    list of (torch.nn.Module, dict)
        Each job's network and metadata; "from_cache" is False for the networks this call trained.

    Raises
    ------
    ValueError
        If `jobs` is empty, a seed is negative, `workers` is not a positive integer, or the cache folder
        cannot be written ("cache: ..."; checked before any training) (the message starts with the
        argument's name).

    Examples
    --------
    >>> from descrambler.deer import LibraryConfig
    >>> from descrambler.nets import TrainConfig, train_or_load_jobs
    >>> tiny = TrainConfig(data=LibraryConfig(), epochs=1, n_train=1000, batch_size=100, n_validation=200)
    >>> jobs = [({"name": "two_layer", "arguments": {"n_hidden": 8}}, tiny, 1),
    ...         ({"name": "deep", "arguments": {"hidden": [8, 8], "activation": "tanh", "output": "logsig",
    ...                                          "bias": True, "batch_norm": False, "mean_normalise": False}}, tiny, 1)]
    >>> [model.architecture["name"] for model, _ in train_or_load_jobs(jobs)]
    ['two_layer', 'deep']
    """
    jobs = [(architecture, config, non_negative_int(seed, "seed")) for architecture, config, seed in jobs]
    if not jobs:
        raise ValueError("jobs: need at least one (architecture, config, seed)")
    workers = positive_int(os.cpu_count() or 1 if workers is None else workers, "workers")
    check_writable(cache_dir())
    requests = [_request(seed, architecture, config, "cpu") for architecture, config, seed in jobs]
    missing = {}  # cache path -> (training cost, seed, architecture, config), each network once
    for (_, _, seed), (model, config, key, path) in zip(jobs, requests):
        if not path.exists():
            cost = config.epochs * config.n_train * sum(p.numel() for p in model.parameters())
            missing[path] = (cost, seed, model, config, key)
    remote = scheduler is not None or bool(os.environ.get(SCHEDULER_ENV))
    if (len(missing) > 1 and workers > 1) or (missing and remote):
        bar = progress_bar(total=len(missing), desc="training", enabled=progress, unit="net")
        order = sorted(missing.items(), key=lambda item: -item[1][0])
        with training_executor(scheduler, min(workers, len(missing))) as pool:
            futures = {pool.submit(train_weights, model.architecture, config, seed): (path, model, config, key, seed)
                       for path, (_, seed, model, config, key) in order}
            for future in as_completed(futures):
                path, model, config, key, seed = futures[future]
                _store(model, config, key, path, seed, *future.result())
                bar.update(1)
        bar.close()
    results = [train_or_load(seed, architecture, config, progress=progress) for architecture, config, seed in jobs]
    return [(model, {**info, "from_cache": info["from_cache"] and request[3] not in missing})
            for request, (model, info) in zip(requests, results)]


def train_or_load(seed: int = 0, architecture: dict | None = None, config: TrainConfig | None = None,
                  device="cpu", progress: bool | None = None) -> tuple[nn.Module, dict]:
    """The trained network `train(build(architecture), config, seed)` would give, from the cache when present.

    A cached file that is corrupted or belongs to another request is reported with a warning and replaced
    by a fresh training, never used. The cache folder (`$DESCRAMBLER_CACHE`, default
    ~/.cache/descrambler) is checked for writing before training; a lock file beside the model makes a
    second process asking for the same network wait for the first and load its result.

    Parameters
    ----------
    seed : int, default 0
        Training seed (>= 0): the random start, the training library and the batch order.
    architecture : dict or None, default None
        {"name": "two_layer" | "deep" | "denoiser", "arguments": {...}} (None: the book's `two_layer()`).
    config : TrainConfig or None, default None
        How to train (required; the book's default is `descrambler.deer.DEFAULT_TRAIN_CONFIG`).
    device : str, default "cpu"
        "cpu" or "cuda"; a GPU-trained network is cached apart from the CPU-reproducible one.
    progress : bool or None, default None
        Show a progress bar while training (None: only in a terminal or notebook).

    Returns
    -------
    model : torch.nn.Module
        The network on the CPU in evaluation mode.
    metadata : dict
        Training configuration, seed, final metrics, "history" (a `TrainingRecord`), cache key,
        "from_cache" and "path" (the model's own `metadata` keeps the record as plain fields).

    Raises
    ------
    ValueError
        If `seed` is negative, `architecture` or `config` is malformed, `device` is unavailable, or the
        cache folder cannot be written ("cache: ...") (the message starts with the argument's name).
    TrainingDiverged
        If the training diverges.

    Examples
    --------
    >>> from descrambler.deer import LibraryConfig
    >>> from descrambler.nets import TrainConfig, train_or_load
    >>> tiny = TrainConfig(data=LibraryConfig(), epochs=1, n_train=1000, batch_size=100, n_validation=200)
    >>> model, info = train_or_load(2, {"name": "two_layer", "arguments": {"n_hidden": 8}}, tiny)
    >>> sorted(info["metrics"])[:2]
    ['mean_peak_error_nm', 'mean_rel_error']
    """
    seed = non_negative_int(seed, "seed")
    model, config, key, path = _request(seed, architecture, config, device)
    check_writable(path.parent)
    with exclusive_lock(path.with_name(path.name + ".lock")):  # a second process asking waits, then loads
        return _train_or_load_locked(model, config, key, path, seed, device, progress)


def check_writable(folder: Path) -> None:
    """ValueError unless the cache folder exists (or can be made) and is writable: found before training."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cache: cannot create the model cache folder {folder} ({error.strerror}); set "
                         "DESCRAMBLER_CACHE to a writable folder") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"cache: cannot write in the model cache folder {folder}; set DESCRAMBLER_CACHE to a "
                         "writable folder")


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file `path` (created if missing) while the block runs; other processes
    asking for the same lock wait. Without POSIX file locks (Windows) the block runs unlocked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _train_or_load_locked(model: nn.Module, config: TrainConfig, key: str, path: Path, seed: int, device,
                          progress: bool | None) -> tuple[nn.Module, dict]:
    resolved = model.architecture
    if path.exists():
        try:
            cached = load(path)
            if cached.metadata.get("cache_key") != key:
                raise ValueError(f"path: {path} was written for another request (cache key "
                                 f"{str(cached.metadata.get('cache_key'))[:20]}...)")
            if cached.architecture != resolved:
                raise ValueError(f"path: {path} holds {cached.architecture}, expected {resolved}")
            history = TrainingRecord.from_dict(cached.metadata.get("history", {}))
            return cached, {**cached.metadata, "history": history, "from_cache": True, "path": str(path)}
        except ValueError as error:
            warnings.warn(f"unusable cached model, retraining: {error}", stacklevel=2)
    model, history = train(model, config, seed=seed, device=device, progress=progress)
    model.cpu().eval()
    metadata = _metadata(model, config, key, seed, history)
    save(model, path, metadata)
    model.metadata = metadata
    return model, {**metadata, "history": history, "from_cache": False, "path": str(path)}
