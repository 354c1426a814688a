"""Training a net from a random start: Adam or full-batch L-BFGS, on any data that follows the
`TrainingData` protocol (`descrambler.nets.data`): DEERNet's training library, speech-like frames,
multi-exponential decays, or a user's own."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import time
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from .._validate import choice, non_negative_int, positive, positive_int
from ..progress import progress_bar
from .architectures import linear_layers
from .data import TrainingData, data_from_dict, data_to_dict
from .metrics import N_VALIDATION, VALIDATION_SEED

SCHEDULES = ("cosine", "halving", "constant")
#: "adam": mini-batch Adam; "lbfgs": full-batch L-BFGS with a strong Wolfe line search, standing in for
#: the full-batch quasi-Newton / scaled-conjugate-gradient training of MATLAB's shallow networks.
OPTIMISERS = ("adam", "lbfgs")


@dataclasses.dataclass
class TrainingRecord:
    """What a training did, epoch by epoch: returned by `train`, kept in every model file.

    Attributes
    ----------
    epoch : list of int
        Epoch numbers, from 1.
    loss : list of float
        Mean training loss over each epoch's batches (L-BFGS: the loss at the step's start).
    val_rel_error : list of float
        Median relative error on the validation library after each epoch.
    val_peak_error_nm : list of float or None
        Median main-peak position error after each epoch, nm (None where the data have no distances).
    learning_rate : list of float
        Adam's learning rate at each epoch's start (1 for L-BFGS, which does not use it).
    seconds : list of float
        Cumulative wall time after each epoch, s (data generation included).
    data_seconds : list of float
        Of which generating training data, s (cumulative).
    initial, final : dict
        Validation metrics of the random start and of the returned weights.
    best_epoch : int or None
        The epoch whose weights were kept (validation-based stopping), else None.
    seconds_total : float
        Wall time of the whole training, s.
    seed : int
        The training seed.
    device : str
        Where it ran.
    threads : int
        Torch threads it ran on.

    Raises
    ------
    ValueError
        From `from_dict`, for fields that are not a record's (the message starts with the argument's name).

    Examples
    --------
    >>> from descrambler.deer import LibraryConfig
    >>> from descrambler.nets import TrainConfig, TrainingRecord, train, two_layer
    >>> tiny = TrainConfig(data=LibraryConfig(), epochs=2, n_train=1000, batch_size=100, n_validation=200)
    >>> _, record = train(two_layer(n_hidden=8), tiny)
    >>> record.epoch, TrainingRecord.from_dict(record.to_dict()) == record
    ([1, 2], True)
    """

    epoch: list[int] = dataclasses.field(default_factory=list)
    loss: list[float] = dataclasses.field(default_factory=list)
    val_rel_error: list[float] = dataclasses.field(default_factory=list)
    val_peak_error_nm: list[float | None] = dataclasses.field(default_factory=list)
    learning_rate: list[float] = dataclasses.field(default_factory=list)
    seconds: list[float] = dataclasses.field(default_factory=list)
    data_seconds: list[float] = dataclasses.field(default_factory=list)
    initial: dict = dataclasses.field(default_factory=dict)
    final: dict = dataclasses.field(default_factory=dict)
    best_epoch: int | None = None
    seconds_total: float = 0.0
    seed: int = 0
    device: str = "cpu"
    threads: int = 1

    def to_dict(self) -> dict:
        """The record as plain JSON-ready fields.

        Returns
        -------
        dict
            One entry per attribute.

        Examples
        --------
        >>> from descrambler.nets import TrainingRecord
        >>> TrainingRecord(seed=3).to_dict()["seed"]
        3
        """
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, fields: dict) -> "TrainingRecord":
        """The record from `to_dict`'s fields (as a model file stores them).

        Parameters
        ----------
        fields : dict
            The fields; unknown ones are refused.

        Returns
        -------
        TrainingRecord
            The record.

        Raises
        ------
        ValueError
            If `fields` is not a dict or names a field the record does not have (the message starts with
            the argument's name).

        Examples
        --------
        >>> from descrambler.nets import TrainingRecord
        >>> TrainingRecord.from_dict({"epoch": [1], "seed": 2}).epoch
        [1]
        """
        if not isinstance(fields, dict):
            raise ValueError(f"fields: expected a dict, got {type(fields).__name__}")
        unknown = set(fields) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"fields: not fields of a training record: {sorted(unknown)}")
        return cls(**fields)


class TrainingDiverged(RuntimeError):
    """Training stopped because the loss or the weights stopped being finite.

    Raised by `train` (and so by `train_or_load`) after the epoch in which it happened; the message names
    the epoch and the learning rate, e.g. "training diverged in epoch 3 of 15 (...): lower learning_rate".

    Examples
    --------
    >>> from descrambler.deer import LibraryConfig
    >>> from descrambler.nets import TrainConfig, TrainingDiverged, train, two_layer
    >>> config = TrainConfig(data=LibraryConfig(), epochs=1, n_train=512, batch_size=64, n_validation=100,
    ...                      learning_rate=1e30,
    ...                      target="distribution")
    >>> try:
    ...     train(two_layer(n_hidden=8, output="linear"), config)
    ... except TrainingDiverged as error:
    ...     print(str(error)[:31])
    training diverged in epoch 1 of
    """


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How to train: data, optimiser, schedule, target, stopping. Sizes in traces (or frames, decays).

    Parameters
    ----------
    epochs : int, default 15
        Passes over the training library (with "lbfgs": L-BFGS steps).
    n_train : int, default 200000
        Training traces generated per library (at least one batch).
    fresh_data : bool, default False
        Draw a new library every epoch (like the reference, which draws a fresh batch per iteration);
        otherwise one library is reused and reshuffled.
    batch_size : int, default 128
        Traces per Adam step.
    learning_rate : float, default 1e-2
        Adam's peak learning rate.
    schedule : {"cosine", "halving", "constant"}, default "cosine"
        "cosine" decays the learning rate per step to zero; "halving" halves it every `halve_every`
        epochs (the production DEERNet's choice).
    halve_every : int, default 5
        Epochs between halvings of the "halving" schedule.
    weight_decay : float, default 0.0
        L2 weight decay (>= 0).
    optimiser : {"adam", "lbfgs"}, default "adam"
        Mini-batch Adam, or full-batch L-BFGS: the whole library as one batch, one epoch is one step of up
        to `lbfgs_iterations` iterations with a strong Wolfe line search (then `learning_rate`,
        `batch_size` and `schedule` are unused).
    lbfgs_iterations : int, default 20
        Iterations per L-BFGS step.
    patience : int or None, default None
        Validation-based stopping, as MATLAB's training does (its default is 6 failures): stop once the
        validation error has not improved for `patience` epochs and keep the best epoch's weights; None
        trains all `epochs`.
    target : str, default "max_0.75"
        What the net learns, one of `data.targets`: distributions of mean 1 ("distribution"),
        distributions scaled to a maximum of 0.75 ("max_0.75", the 2018 DEERNet's sigmoid output), or the
        clean traces ("clean", a denoiser).
    data : TrainingData (keyword, required)
        The training data (`descrambler.nets.data.TrainingData`): DEER traces
        (`descrambler.deer.LibraryConfig`, also the validation library's recipe), speech-like frames
        (`descrambler.signals.speech.SpeechConfig`, noisy in, clean out: target "clean"), decays
        (`descrambler.signals.laplace.LaplaceConfig`) or a user's own. Validated on `n_validation`
        examples drawn with `validation_seed`.
    n_validation : int, default 5000
        Traces of the fixed validation library.
    validation_seed : int
        Its seed (never a training library's).

    Raises
    ------
    ValueError
        If a field is of the wrong type or out of range, or `target` does not fit `data` (the message
        starts with the field's name).

    Notes
    -----
    The defaults are the book's choice. Development notes (one-off runs during development, not
    reproduced by a script; chapter 2 and the `training` benchmark measure the chosen defaults):
    two-layer net, softplus output, shared 2-core CPU, seed 0, median relative error: batch 128 beat 256
    and 512 at the same epochs (0.277, 0.282, 0.283 after 10 epochs), learning rate 3e-3 beat 1e-3 and
    matched 5e-3, cosine beat halving (0.282 against 0.285), 2e5 traces beat 1e5 (0.265 against 0.277
    after 15 epochs), a fresh library per epoch did not beat a fixed one (0.282 both) at ten times the
    data cost. The paper's logsig output with targets scaled to a maximum of 0.75 (the default since)
    learns more slowly at 3e-3: development seed 100, 15 epochs, median relative error 0.286 at 3e-3
    against 0.249 at 1e-2 (about 20 s each on this machine), hence the default learning rate 1e-2.

    Examples
    --------
    >>> from descrambler.deer import LibraryConfig
    >>> from descrambler.nets import TrainConfig
    >>> config = TrainConfig(data=LibraryConfig(), epochs=2, n_train=20_000)
    >>> config.batch_size, TrainConfig.from_dict(config.to_dict()) == config
    (128, True)
    """

    epochs: int = 15
    n_train: int = 200_000
    fresh_data: bool = False
    batch_size: int = 128
    learning_rate: float = 1e-2
    schedule: str = "cosine"
    halve_every: int = 5
    weight_decay: float = 0.0
    optimiser: str = "adam"
    lbfgs_iterations: int = 20
    patience: int | None = None
    target: str = "max_0.75"
    data: TrainingData = dataclasses.field(kw_only=True)
    n_validation: int = N_VALIDATION
    validation_seed: int = VALIDATION_SEED

    def __post_init__(self):
        for name in ("epochs", "n_train", "batch_size", "halve_every", "n_validation"):
            positive_int(getattr(self, name), name)
        if self.n_train < self.batch_size:
            raise ValueError(f"n_train: need at least one batch ({self.batch_size} traces), got {self.n_train}")
        positive(self.learning_rate, "learning_rate")
        if isinstance(self.weight_decay, bool) or not (isinstance(self.weight_decay, (int, float))
                                                       and math.isfinite(self.weight_decay)
                                                       and self.weight_decay >= 0):
            raise ValueError(f"weight_decay: expected a finite number >= 0, got {self.weight_decay!r}")
        if not isinstance(self.fresh_data, bool):
            raise ValueError(f"fresh_data: expected True or False, got {self.fresh_data!r}")
        choice(self.schedule, "schedule", SCHEDULES)
        choice(self.optimiser, "optimiser", OPTIMISERS)
        positive_int(self.lbfgs_iterations, "lbfgs_iterations")
        if self.patience is not None:
            positive_int(self.patience, "patience")
        if not (isinstance(self.data, TrainingData) and dataclasses.is_dataclass(self.data)):
            raise ValueError(f"data: expected a training-data dataclass (descrambler.nets.data.TrainingData), "
                             f"got {type(self.data).__name__}")
        choice(self.target, "target", type(self.data).targets)
        non_negative_int(self.validation_seed, "validation_seed")

    def to_dict(self) -> dict:
        """Plain JSON-ready fields, the data configuration nested with its kind."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["data"] = data_to_dict(self.data)
        return fields

    @classmethod
    def from_dict(cls, fields: dict) -> "TrainConfig":
        """Inverse of `to_dict`."""
        fields = dict(fields)
        if "data" in fields:
            fields["data"] = data_from_dict(fields["data"])
        return cls(**fields)


def library_seed(seed: int, epoch: int, validation_seed: int = VALIDATION_SEED) -> int:
    """Seed of the training library of `epoch` for a run with `seed`; never the validation seed."""
    state = np.random.SeedSequence([seed, epoch, 0x0DEE7]).generate_state(2, np.uint32)
    value = int(state[0]) << 32 | int(state[1])
    return value + 1 if value == validation_seed else value


def resolve_device(device) -> torch.device:
    """A torch device from "cpu" or "cuda[:k]"; ValueError naming `device` if CUDA is missing."""
    if not isinstance(device, (str, torch.device)):
        raise ValueError(f"device: expected 'cpu' or 'cuda', got {device!r}")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device: {error}") from None
    choice(resolved.type, "device", ("cpu", "cuda"))
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {str(device)!r} requested but CUDA is not available here (torch "
                         f"{torch.__version__}, built for CUDA {torch.version.cuda}); use device='cpu'")
    return resolved


def training_data(config: TrainConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets), float32 (n_train, width), of `config.data` drawn from `seed`."""
    return config.data.training_pairs(config.n_train, seed, config.target)


def validate(model: nn.Module, config: TrainConfig) -> dict:
    """The validation summary of `model` on `config.data`'s fixed validation examples."""
    return config.data.validation_summary(model, config.n_validation, config.validation_seed, config.target)


def _reinitialise(model: nn.Module, seed: int) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in model.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()


def _schedule(config: TrainConfig, steps_per_epoch: int):
    total = config.epochs * steps_per_epoch
    if config.schedule == "cosine":
        return lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    if config.schedule == "halving":
        return lambda step: 0.5 ** (step // (config.halve_every * steps_per_epoch))
    return lambda step: 1.0


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with `threads` intra-op torch threads (None: leave the setting), restoring it afterwards."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(positive_int(threads, "threads"))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train(model: nn.Module, config: TrainConfig, seed: int = 0, device="cpu",
          progress: bool | None = None, threads: int | None = 1) -> tuple[nn.Module, TrainingRecord]:
    """Train `model` from a random start drawn from `seed` (its incoming weights are discarded).

    `config.optimiser` (mini-batch Adam or full-batch L-BFGS) minimises the mean squared error between
    outputs and `config.target` on training data from `training_data` (DEER libraries, speech frames or
    decays) with seeds derived from `seed`; the validation metrics are taken after every epoch (and
    `config.patience` stops on them, recording `best_epoch`). The same seed gives identical weights on the
    CPU.

    Parameters
    ----------
    model : torch.nn.Module
        A network with Linear layers (`two_layer`, `deep`, `denoiser`), trained in place.
    config : TrainConfig
        How to train.
    seed : int, default 0
        Seed of the random start, the training libraries and the batch order (>= 0).
    device : str, default "cpu"
        "cpu" or "cuda".
    progress : bool or None, default None
        Show a progress bar (None: only in a terminal or notebook).
    threads : int or None, default 1
        Intra-op torch threads on the CPU during training (None: torch's setting). One is the default:
        batches of this small net gain little from a second thread, and on a shared 2-core machine two
        threads were measured up to 4 times slower; the weights do not depend on it (measured).

    Returns
    -------
    model : torch.nn.Module
        The trained model, on `device`.
    history : TrainingRecord
        What the training did, epoch by epoch (losses, validation errors, times), and its totals.

    Raises
    ------
    ValueError
        If `config` is not a TrainConfig, `model` has no Linear layer, `seed` is negative or `device` is
        unavailable (the message starts with the argument's name).
    TrainingDiverged
        If the loss or the weights stop being finite (the message names the epoch).

    Examples
    --------
    >>> from descrambler.deer import LibraryConfig
    >>> from descrambler.nets import TrainConfig, train, two_layer
    >>> tiny = TrainConfig(data=LibraryConfig(), epochs=1, n_train=1000, batch_size=100, n_validation=200)
    >>> model, history = train(two_layer(n_hidden=8), tiny, seed=1)
    >>> history.epoch, history.final["median_rel_error"] < 1
    ([1], True)
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config: expected a TrainConfig, got {type(config).__name__}")
    linear_layers(model)
    seed = non_negative_int(seed, "seed")
    device = resolve_device(device)
    with torch_threads(threads):
        return _train(model, config, seed, device, progress)


def _adam_epoch(model: nn.Module, config: TrainConfig, seed: int, device: torch.device):
    """A function running one Adam epoch over (x, y, reshuffle); returns (mean loss, learning rate)."""
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = config.n_train // config.batch_size  # a last partial batch is dropped
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, _schedule(config, steps_per_epoch))
    shuffle = torch.Generator().manual_seed(seed)

    def epoch(x: torch.Tensor, y: torch.Tensor, reshuffle: bool) -> tuple[float, float]:
        order = torch.randperm(len(x), generator=shuffle).to(device) if reshuffle else None
        learning_rate = optimiser.param_groups[0]["lr"]
        total = torch.zeros((), device=device)
        for step in range(steps_per_epoch):
            rows = slice(step * config.batch_size, (step + 1) * config.batch_size)
            xb, yb = (x[rows], y[rows]) if order is None else (x[order[rows]], y[order[rows]])
            loss = nn.functional.mse_loss(model(xb), yb)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            scheduler.step()
            total += loss.detach()
        return float(total) / steps_per_epoch, learning_rate

    return epoch


def _lbfgs_epoch(model: nn.Module, config: TrainConfig):
    """A function running one full-batch L-BFGS step on (x, y); returns (loss at its start, 1.0)."""
    optimiser = torch.optim.LBFGS(model.parameters(), max_iter=config.lbfgs_iterations, history_size=10,
                                  line_search_fn="strong_wolfe")
    parameters = list(model.parameters())

    def epoch(x: torch.Tensor, y: torch.Tensor, reshuffle: bool) -> tuple[float, float]:
        def closure() -> torch.Tensor:
            optimiser.zero_grad(set_to_none=True)
            loss = nn.functional.mse_loss(model(x), y)
            if config.weight_decay:
                loss = loss + 0.5 * config.weight_decay * sum((p ** 2).sum() for p in parameters)
            loss.backward()
            return loss

        return float(optimiser.step(closure).detach()), 1.0

    return epoch


def _train(model: nn.Module, config: TrainConfig, seed: int, device: torch.device,
           progress: bool | None) -> tuple[nn.Module, TrainingRecord]:
    start = time.perf_counter()
    _reinitialise(model, seed)
    model.to(device)
    run_epoch = _adam_epoch(model, config, seed, device) if config.optimiser == "adam" else _lbfgs_epoch(model, config)
    initial = validate(model, config)
    history = TrainingRecord(seed=seed, device=str(device))
    data_seconds = 0.0
    best = (math.inf, None, 0)  # validation error, weights, epoch
    bar = progress_bar(total=config.epochs, desc="training", enabled=progress, unit="epoch")
    x = y = None
    for epoch in range(config.epochs):
        if x is None or config.fresh_data:
            tic = time.perf_counter()
            inputs, wanted = training_data(config, library_seed(seed, epoch if config.fresh_data else 0,
                                                                config.validation_seed))
            x = torch.from_numpy(inputs).to(device)
            y = torch.from_numpy(wanted).to(device)
            del inputs, wanted
            data_seconds += time.perf_counter() - tic
        model.train()
        # a fresh library is already in random order; a reused one is reshuffled every epoch
        loss, learning_rate = run_epoch(x, y, bool(epoch) and not config.fresh_data)
        if not math.isfinite(loss) or not all(torch.isfinite(p).all() for p in model.parameters()):
            bar.close()
            raise TrainingDiverged(f"training diverged in epoch {epoch + 1} of {config.epochs} (mean loss {loss:g}; "
                                   "the weights are no longer finite): lower learning_rate (now "
                                   f"{config.learning_rate:g}) or check the data")
        metrics = validate(model, config)
        history.epoch.append(epoch + 1)
        history.loss.append(loss)
        history.val_rel_error.append(metrics["median_rel_error"])
        history.val_peak_error_nm.append(metrics["median_peak_error_nm"])
        history.learning_rate.append(learning_rate)
        history.seconds.append(time.perf_counter() - start)
        history.data_seconds.append(data_seconds)
        bar.set_postfix(loss=f"{loss:.4g}", val_error=f"{metrics['median_rel_error']:.4f}")
        bar.update(1)
        if config.patience is not None:
            if metrics["median_rel_error"] < best[0]:
                best = (metrics["median_rel_error"], copy.deepcopy(model.state_dict()), epoch + 1)
            elif epoch + 1 - best[2] >= config.patience:
                break
    bar.close()
    stopped_at = None
    if config.patience is not None:
        stopped_at = best[2]
        model.load_state_dict(best[1])
        metrics = validate(model, config)
    history.initial, history.final, history.best_epoch = initial, metrics, stopped_at
    history.seconds_total, history.threads = time.perf_counter() - start, torch.get_num_threads()
    return model, history
