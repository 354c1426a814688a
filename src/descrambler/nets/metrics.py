"""Quality metrics of predicted distance distributions, and the fixed validation library.

The book's metric: the median, over a fixed validation library, of ||p_hat - p||_2 / ||p||_2 with
both distributions normalised to unit sum (so the output scaling does not matter), plus the error
of the main-peak position in nm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import functools

import numpy as np
from numpy.typing import ArrayLike

from .._validate import as_array, positive_int
from ..deer import Library, LibraryConfig, make_library
from .predict import predict

if TYPE_CHECKING:
    import torch

#: Seed of the validation library. Training libraries use seeds derived from (seed, epoch) that
#: `descrambler.nets.training` keeps distinct from this one.
VALIDATION_SEED = 2021_0202
#: Traces in the validation library.
N_VALIDATION = 5000


def _pair(predicted, true, width_name: str = "true") -> tuple[np.ndarray, np.ndarray]:
    predicted = as_array(predicted, "predicted")
    true = as_array(true, width_name)
    if predicted.ndim not in (1, 2) or predicted.shape != true.shape:
        raise ValueError(f"predicted: shape {predicted.shape} does not match {width_name} {true.shape} "
                         "(expected (n_dist,) or (n, n_dist))")
    return np.atleast_2d(predicted), np.atleast_2d(true)


def unit_sum(p: np.ndarray) -> np.ndarray:
    """Rows of `p` normalised to unit sum (float64); a row summing to zero stays zero."""
    p = np.asarray(p, dtype=np.float64)
    total = p.sum(axis=-1, keepdims=True)
    return np.divide(p, total, out=np.zeros_like(p), where=total != 0)


def relative_error(predicted: ArrayLike, true: ArrayLike) -> np.ndarray:
    """Per row: ||p_hat - p||_2 / ||p||_2 with both rows normalised to unit sum first."""
    predicted, true = _pair(predicted, true)
    p_hat, p = unit_sum(predicted), unit_sum(true)
    return np.linalg.norm(p_hat - p, axis=1) / np.linalg.norm(p, axis=1)


def peak_error(predicted: ArrayLike, true: ArrayLike, r: ArrayLike) -> np.ndarray:
    """Per row: |r[argmax p_hat] - r[argmax p]|, nm, the error of the main-peak position."""
    predicted, true = _pair(predicted, true)
    r = as_array(r, "r", ndim=1)
    if r.size != true.shape[1]:
        raise ValueError(f"r: {r.size} distances for distributions of {true.shape[1]} points")
    return np.abs(r[predicted.argmax(axis=1)] - r[true.argmax(axis=1)])


def summary(predicted: ArrayLike, true: ArrayLike, r: ArrayLike) -> dict:
    """Medians (and quartiles, mean and SD of the relative error) of the metrics over the rows.

    The mean and sample SD of the relative error are what the 2018 DEERNet paper reports (its Table 2).

    The peak error comes in whole steps of the distance grid (0.0186 nm by default), so its median
    moves in steps; its mean is reported as well.
    """
    errors = relative_error(predicted, true)
    peaks = peak_error(predicted, true, r)
    q25, q75 = np.percentile(errors, [25, 75])
    return {"median_rel_error": float(np.median(errors)), "rel_error_q25": float(q25),
            "rel_error_q75": float(q75), "mean_rel_error": float(errors.mean()),
            "sd_rel_error": float(errors.std(ddof=1)) if errors.size > 1 else float("nan"),
            "median_peak_error_nm": float(np.median(peaks)),
            "mean_peak_error_nm": float(peaks.mean()),
            "n": int(errors.size)}


@functools.lru_cache(maxsize=4)
def validation_library(config: LibraryConfig | None = None, n: int = N_VALIDATION,
                       seed: int = VALIDATION_SEED) -> Library:
    """The fixed validation library (cached; treat it as read-only): `n` traces of `config`, `seed`."""
    return make_library(positive_int(n, "n"), LibraryConfig() if config is None else config, seed)


def evaluate(model: torch.nn.Module, library: Library | None = None) -> dict:
    """`summary` of `model`'s predictions on `library` (default: the validation library)."""
    library = validation_library() if library is None else library
    return summary(predict(model, library.traces), library.distributions, library.r)
