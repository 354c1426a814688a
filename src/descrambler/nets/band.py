"""An ensemble of trained nets: the mean distance distribution and a band, as DEERNet reports them.

DEERNet runs every trace through its ensemble of independently trained networks and shows their mean
distribution with 95 % bounds (the paper's Fig. 1). `predict_band` does that for any list of networks;
`band_coverage` measures, on simulated traces with known distributions, how often the band holds the
truth, which says whether the band may be read as a confidence interval.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm

from .._validate import as_array, choice
from .metrics import unit_sum
from .predict import predict

#: How the band is formed from the networks' outputs at each distance: "sd" is the mean +- z standard
#: deviations (z = 1.96 for 95 %, a normal approximation); "quantile" the empirical quantiles.
BAND_METHODS = ("sd", "quantile")


@dataclasses.dataclass(frozen=True)
class EnsemblePrediction:
    """Distance distributions from an ensemble, each on the network's distance grid (unit sum per row).

    Returned by `predict_band`.

    Attributes
    ----------
    mean : numpy.ndarray
        The networks' mean distribution, (N, n_out), or (n_out,) for one trace.
    low, high : numpy.ndarray
        The band at each distance, the shape of `mean` (`low` clipped at zero: a distribution is
        non-negative).
    level : float
        The band's nominal coverage (0.95: 95 %).
    method : str
        One of BAND_METHODS: "sd" (mean +- z SD, z = 1.96 for 95 %, a normal approximation) or
        "quantile" (empirical quantiles).
    n_nets : int
        Number of networks.
    per_net : numpy.ndarray or None
        Each network's distribution, (n_nets, N, n_out) or (n_nets, n_out), when asked for, else None.

    Examples
    --------
    >>> import torch
    >>> from descrambler.deer import make_library
    >>> from descrambler.nets import predict_band, two_layer
    >>> _ = torch.manual_seed(0)
    >>> band = predict_band([two_layer() for _ in range(3)], make_library(4).traces)
    >>> band.mean.shape, band.n_nets, band.method
    ((4, 256), 3, 'sd')
    """

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float
    method: str
    n_nets: int
    per_net: np.ndarray | None = None


def _level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level: expected a probability strictly between 0 and 1 (0.95 for 95 %), got {level!r}")
    return float(level)


def _models(models) -> list:
    if not isinstance(models, Sequence) or isinstance(models, (str, bytes)):
        raise ValueError(f"models: expected a list of trained networks, got {type(models).__name__}")
    if len(models) < 2:
        raise ValueError(f"models: an ensemble needs at least 2 networks, got {len(models)}")
    return list(models)


def predict_band(models: Sequence, traces: ArrayLike, level: float = 0.95, method: str = "sd",
                 per_net: bool = False, batch_size: int = 8192) -> EnsemblePrediction:
    """The mean distribution of an ensemble of networks and a band around it, for boxed traces.

    DEERNet reports its ensemble's mean distribution with 95 % bounds (the paper's Fig. 1); this does
    that for any list of networks.

    Parameters
    ----------
    models : sequence of torch.nn.Module
        At least 2 trained networks with the same input and output widths.
    traces : array_like
        Boxed traces, (N, n_in) or (n_in,), as `predict` takes them.
    level : float, default 0.95
        Nominal coverage of the band, strictly between 0 and 1.
    method : {"sd", "quantile"}, default "sd"
        "sd": mean +- z standard deviations of the networks (z = 1.96 for 95 %); "quantile": the
        empirical quantiles (see BAND_METHODS).
    per_net : bool, default False
        Also return each network's distributions (memory: n_nets x N x n_out float64).
    batch_size : int, default 8192
        Traces per forward pass.

    Returns
    -------
    EnsemblePrediction
        The mean, the band, and optionally each network's distributions.

    Raises
    ------
    ValueError
        If `models` is not a list of at least 2 networks, `level` is not in (0, 1), `method` is
        unknown, or `traces` do not fit the networks (the message starts with the argument's name).

    Examples
    --------
    >>> import torch
    >>> from descrambler.deer import make_library
    >>> from descrambler.nets import predict_band, two_layer
    >>> _ = torch.manual_seed(0)
    >>> band = predict_band([two_layer(), two_layer()], make_library(4).traces, level=0.9)
    >>> band.low.shape, band.level
    ((4, 256), 0.9)
    """
    models, level = _models(models), _level(level)
    choice(method, "method", BAND_METHODS)
    outputs = np.stack([predict(model, traces, batch_size) for model in models])
    low, high = _band(outputs, level, method)
    return EnsemblePrediction(outputs.mean(axis=0), np.clip(low, 0, None), high, level, method, len(models),
                              outputs if per_net else None)


def _band(values: np.ndarray, level: float, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) edges of the `level` band of `values` over its first axis (the networks)."""
    if method == "sd":
        half = norm.ppf(0.5 + level / 2) * values.std(axis=0, ddof=1)
        return values.mean(axis=0) - half, values.mean(axis=0) + half
    return tuple(np.quantile(values, [0.5 - level / 2, 0.5 + level / 2], axis=0))


@dataclasses.dataclass(frozen=True)
class BandCoverage:
    """How often a band held the truth on simulated traces (fractions in [0, 1]).

    Returned by `band_coverage`.

    Attributes
    ----------
    pointwise : float
        Share of (trace, distance) points, among those where the true distribution is at least 1 % of
        its maximum, at which the truth lies inside the band.
    whole_trace : float
        Share of traces whose truth lies inside the band at all those points.
    mean_distance : float
        Share of traces whose true mean distance lies inside the networks' band of mean distances
        (same level and method, over the networks' means).
    median_band_width_nm : float
        Median width of that mean-distance band, nm.
    level : float
        Nominal coverage of the band.
    method : str
        "sd" or "quantile".
    n_nets : int
        Number of networks.
    n_traces : int
        Number of traces.

    Examples
    --------
    >>> import torch
    >>> from descrambler.deer import make_library
    >>> from descrambler.nets import band_coverage, two_layer
    >>> _ = torch.manual_seed(0)
    >>> library = make_library(4)
    >>> result = band_coverage([two_layer(), two_layer()], library.traces, library.distributions, library.r)
    >>> result.n_traces, 0 <= result.pointwise <= 1
    (4, True)
    """

    pointwise: float
    whole_trace: float
    mean_distance: float
    median_band_width_nm: float
    level: float
    method: str
    n_nets: int
    n_traces: int


def band_coverage(models: Sequence, traces: ArrayLike, distributions: ArrayLike, r: ArrayLike,
                  level: float = 0.95, method: str = "sd") -> BandCoverage:
    """How often `predict_band`'s band holds the true distribution, on traces with known answers.

    Says whether the band may be read as a confidence interval (chapter 2 measures it).

    Parameters
    ----------
    models : sequence of torch.nn.Module
        At least 2 trained networks.
    traces : array_like
        Boxed traces, (N, n_in).
    distributions : array_like
        The true distributions, (N, n_out), any positive scale (normalised to unit sum here).
    r : array_like
        The distance grid, nm, (n_out,).
    level : float, default 0.95
        Nominal coverage of the band, strictly between 0 and 1.
    method : {"sd", "quantile"}, default "sd"
        How the band is formed (see `predict_band`).

    Returns
    -------
    BandCoverage
        Pointwise, whole-trace and mean-distance coverage, and the median width of the mean-distance
        band (nm).

    Raises
    ------
    ValueError
        If `distributions` or `r` does not match the predictions, or an argument of `predict_band` is
        invalid (the message starts with the argument's name).

    Examples
    --------
    >>> import torch
    >>> from descrambler.deer import make_library
    >>> from descrambler.nets import band_coverage, two_layer
    >>> _ = torch.manual_seed(0)
    >>> library = make_library(4)
    >>> band_coverage([two_layer(), two_layer()], library.traces, library.distributions, library.r).n_nets
    2
    """
    prediction = predict_band(models, traces, level, method, per_net=True)
    truth = unit_sum(as_array(distributions, "distributions", ndim=2))
    r = as_array(r, "r", ndim=1)
    if truth.shape != prediction.mean.shape:
        raise ValueError(f"distributions: expected shape {prediction.mean.shape} (one row per trace), "
                         f"got {truth.shape}")
    if r.shape != truth.shape[1:]:
        raise ValueError(f"r: expected {truth.shape[1]} distances, got {r.shape[0]}")
    support = truth >= 0.01 * truth.max(axis=1, keepdims=True)
    inside = (truth >= prediction.low) & (truth <= prediction.high)
    low, high = _band(prediction.per_net @ r, level, method)  # the networks' mean distances, nm
    true_mean = truth @ r
    return BandCoverage(pointwise=float(inside[support].mean()),
                        whole_trace=float(np.mean(np.all(inside | ~support, axis=1))),
                        mean_distance=float(np.mean((true_mean >= low) & (true_mean <= high))),
                        median_band_width_nm=float(np.median(high - low)), level=level, method=method,
                        n_nets=len(models), n_traces=truth.shape[0])
