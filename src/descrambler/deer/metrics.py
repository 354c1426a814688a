"""DEERNet's measures on DEER data: the fixed validation library, a network's summary on it, and the
moments of a distance distribution (distances in nm)."""

from __future__ import annotations

import functools

import numpy as np
import torch
from numpy.typing import ArrayLike

from .._validate import as_array, positive_int
from ..nets.data import clean_summary, distribution_targets
from ..nets.metrics import N_VALIDATION, VALIDATION_SEED, summary
from ..nets.predict import predict
from ..nets.training import TrainConfig
from .simulate import Library, LibraryConfig, make_library

__all__ = ["validation_library", "evaluate", "moments", "DEFAULT_TRAIN_CONFIG"]


@functools.lru_cache(maxsize=4)
def validation_library(config: LibraryConfig | None = None, n: int = N_VALIDATION,
                       seed: int = VALIDATION_SEED) -> Library:
    """The fixed validation library: `n` traces of `config` with `seed` (cached; treat it as read-only).

    Parameters
    ----------
    config : LibraryConfig or None, default None
        The recipe; None: LibraryConfig().
    n : int, default 5000
        Number of traces (N_VALIDATION).
    seed : int, default VALIDATION_SEED
        Random seed (20210202), distinct from every training library's seed.

    Returns
    -------
    Library
        The validation traces (shared between calls: do not modify it).

    Raises
    ------
    ValueError
        If `n` is not a positive integer, or `config` or `seed` is invalid as in
        `descrambler.deer.make_library` (the message starts with the argument's name).

    Examples
    --------
    >>> from descrambler.deer import validation_library
    >>> len(validation_library(n=100))
    100
    """
    return make_library(positive_int(n, "n"), LibraryConfig() if config is None else config, seed)


def evaluate(model: torch.nn.Module, library: Library | None = None) -> dict:
    """The `summary` of `model`'s predictions on a library.

    Parameters
    ----------
    model : torch.nn.Module
        A trained network whose input width is the library's n_time.
    library : Library or None, default None
        The traces and true distributions; None: the validation library (`validation_library()`,
        5000 traces).

    Returns
    -------
    dict
        The keys of `summary` ("median_rel_error", "median_peak_error_nm", ...).

    Raises
    ------
    ValueError
        If the traces do not fit the network, or it returns NaN or infinity (the message starts with
        the argument's name: "traces:" or "model:").

    Examples
    --------
    >>> from descrambler.deer import evaluate, validation_library
    >>> from descrambler.nets import two_layer
    >>> result = evaluate(two_layer(), validation_library(n=100))
    >>> result["n"]
    100
    """
    library = validation_library() if library is None else library
    return summary(predict(model, library.traces), library.distributions, library.r)


def moments(r: ArrayLike, p: ArrayLike) -> tuple[float, float]:
    """Mean and standard deviation, nm, of a distance distribution.

    Parameters
    ----------
    r : array_like
        Uniform distance axis, nm, 1-D (the weights are the values of `p`).
    p : array_like
        The distribution on `r`, any scale, >= 0, with a positive sum.

    Returns
    -------
    tuple of float
        (mean, standard deviation), nm.

    Raises
    ------
    ValueError
        If an array is not finite and 1-D, their sizes differ, or `p` has a negative value or no
        positive sum (the message starts with the argument's name).

    Examples
    --------
    >>> from descrambler.deer import moments
    >>> mean, sd = moments([1.0, 2.0, 3.0], [1, 2, 1])
    >>> mean, round(sd, 4)
    (2.0, 0.7071)
    """
    r = as_array(r, "r", ndim=1)
    p = as_array(p, "p", ndim=1)
    if p.shape != r.shape:
        raise ValueError(f"p: {p.size} values for {r.size} distances")
    if np.any(p < 0) or p.sum() <= 0:
        raise ValueError("p: needs non-negative values with a positive sum")
    w = p / p.sum()
    mean = float(w @ r)
    return mean, float(np.sqrt(w @ (r - mean) ** 2))


def training_pairs(config: LibraryConfig, n: int, seed: int, target: str) -> tuple[np.ndarray, np.ndarray]:
    """(traces, targets) of `make_library(n, config, seed)` for `target` (see `LibraryConfig.targets`)."""
    library = make_library(n, config, seed)
    wanted = library.clean if target == "clean" else distribution_targets(library.distributions, target)
    return library.traces, wanted


def validation_summary(config: LibraryConfig, model: torch.nn.Module, n: int, seed: int, target: str) -> dict:
    """`evaluate` on the validation library; for the "clean" target the denoising error on its traces."""
    library = validation_library(config, n, seed)
    if target == "clean":
        return clean_summary(model, library.traces, library.clean)
    return evaluate(model, library)


#: The book's default training on DEERNet's database, `TrainConfig(data=LibraryConfig())` (chosen by
#: measurement in chapter 2; see the benchmark `training`).
DEFAULT_TRAIN_CONFIG = TrainConfig(data=LibraryConfig())
