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

    `mean`: the networks' mean distribution, (N, n_out) or (n_out,) for one trace; `low`, `high`: the
    band at each distance (low clipped at zero: a distribution is non-negative); `level`: its nominal
    coverage (0.95: 95 %); `method`: one of BAND_METHODS; `per_net`: each network's distribution,
    (n_nets, N, n_out) or (n_nets, n_out), when asked for, else None.
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
    """The mean distribution of `models` (at least 2 networks) and a `level` band, for boxed `traces`.

    `traces`: (N, n_in) or (n_in,), as `predict` takes them. `method`: see BAND_METHODS. With `per_net`
    the networks' own distributions come back too (memory: n_nets x N x n_out float64).
    """
    models, level = _models(models), _level(level)
    choice(method, "method", BAND_METHODS)
    outputs = np.stack([predict(model, traces, batch_size) for model in models])
    mean = outputs.mean(axis=0)
    if method == "sd":
        half = norm.ppf(0.5 + level / 2) * outputs.std(axis=0, ddof=1)
        low, high = mean - half, mean + half
    else:
        low, high = np.quantile(outputs, [0.5 - level / 2, 0.5 + level / 2], axis=0)
    return EnsemblePrediction(mean, np.clip(low, 0, None), high, level, method, len(models),
                              outputs if per_net else None)


@dataclasses.dataclass(frozen=True)
class BandCoverage:
    """How often a band held the truth on simulated traces (fractions in [0, 1]).

    `pointwise`: share of (trace, distance) points where the true distribution is at least 1 % of its
    maximum at which the truth lies inside the band; `whole_trace`: share of traces whose truth lies
    inside the band at all those points; `mean_distance`: share of traces whose true mean distance lies
    inside the networks' band of mean distances (same level and method, over the networks' means);
    `median_band_width_nm`: median width of that mean-distance band, nm.
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
    """Coverage of `predict_band(models, traces, level, method)` against the true `distributions`
    (N, n_out; any positive scale) on the distance grid `r` (nm, n_out points)."""
    prediction = predict_band(models, traces, level, method, per_net=True)
    truth = unit_sum(as_array(distributions, "distributions", ndim=2))
    r = as_array(r, "r", ndim=1)
    if truth.shape != prediction.mean.shape:
        raise ValueError(f"distributions: expected shape {prediction.mean.shape} (one row per trace), got {truth.shape}")
    if r.shape != truth.shape[1:]:
        raise ValueError(f"r: expected {truth.shape[1]} distances, got {r.shape[0]}")
    support = truth >= 0.01 * truth.max(axis=1, keepdims=True)
    inside = (truth >= prediction.low) & (truth <= prediction.high)
    means = prediction.per_net @ r  # (nets, traces), nm
    if method == "sd":
        centre, half = means.mean(axis=0), norm.ppf(0.5 + level / 2) * means.std(axis=0, ddof=1)
        low, high = centre - half, centre + half
    else:
        low, high = np.quantile(means, [0.5 - level / 2, 0.5 + level / 2], axis=0)
    true_mean = truth @ r
    return BandCoverage(pointwise=float(inside[support].mean()),
                        whole_trace=float(np.mean(np.all(inside | ~support, axis=1))),
                        mean_distance=float(np.mean((true_mean >= low) & (true_mean <= high))),
                        median_band_width_nm=float(np.median(high - low)), level=level, method=method,
                        n_nets=len(models), n_traces=truth.shape[0])
