"""Quality metrics of predicted distributions against true ones, and the validation defaults of training.

The book's metric: the median, over a fixed validation library, of ||p_hat - p||_2 / ||p||_2 with
both distributions normalised to unit sum (so the output scaling does not matter), plus the error
of the main-peak position in nm.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._validate import as_array

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
    """Rows of `p` normalised to unit sum (float64); a row summing to zero stays zero.

    Parameters
    ----------
    p : array_like
        Distributions, (n_dist,) or (n, n_dist), any scale.

    Returns
    -------
    numpy.ndarray
        The rows divided by their sums, float64, the shape of `p`.

    Examples
    --------
    >>> from descrambler.nets import unit_sum
    >>> unit_sum([[1.0, 3.0], [0.0, 0.0]]).tolist()
    [[0.25, 0.75], [0.0, 0.0]]
    """
    p = np.asarray(p, dtype=np.float64)
    total = p.sum(axis=-1, keepdims=True)
    return np.divide(p, total, out=np.zeros_like(p), where=total != 0)


def relative_error(predicted: ArrayLike, true: ArrayLike) -> np.ndarray:
    """Per row: the relative error ``||p_hat - p||_2 / ||p||_2``, both rows normalised to unit sum first.

    Parameters
    ----------
    predicted : array_like
        Predicted distributions p_hat, (n_dist,) or (n, n_dist), any scale.
    true : array_like
        True distributions p, the same shape.

    Returns
    -------
    numpy.ndarray
        One relative error per row, (n,) (n = 1 for 1-D input).

    Raises
    ------
    ValueError
        If the arrays are not finite or their shapes differ (the message starts with "predicted:"
        or "true:").

    Examples
    --------
    >>> from descrambler.nets import relative_error
    >>> relative_error([0.5, 0.5], [1.0, 0.0]).round(4).tolist()
    [0.7071]
    """
    predicted, true = _pair(predicted, true)
    p_hat, p = unit_sum(predicted), unit_sum(true)
    return np.linalg.norm(p_hat - p, axis=1) / np.linalg.norm(p, axis=1)


def peak_error(predicted: ArrayLike, true: ArrayLike, r: ArrayLike) -> np.ndarray:
    """Per row: ``|r[argmax p_hat] - r[argmax p]|``, nm, the error of the main-peak position.

    Parameters
    ----------
    predicted : array_like
        Predicted distributions p_hat, (n_dist,) or (n, n_dist).
    true : array_like
        True distributions p, the same shape.
    r : array_like
        Distance axis, nm, (n_dist,).

    Returns
    -------
    numpy.ndarray
        One error per row, nm, in whole steps of the distance grid.

    Raises
    ------
    ValueError
        If the arrays are not finite, their shapes differ, or `r` does not have one distance per
        point (the message starts with the argument's name).

    Examples
    --------
    >>> from descrambler.nets import peak_error
    >>> peak_error([[0, 1, 0]], [[1, 0, 0]], [2.0, 2.5, 3.0]).tolist()
    [0.5]
    """
    predicted, true = _pair(predicted, true)
    r = as_array(r, "r", ndim=1)
    if r.size != true.shape[1]:
        raise ValueError(f"r: {r.size} distances for distributions of {true.shape[1]} points")
    return np.abs(r[predicted.argmax(axis=1)] - r[true.argmax(axis=1)])


def summary(predicted: ArrayLike, true: ArrayLike, r: ArrayLike) -> dict:
    """Medians (and quartiles, mean and SD of the relative error) of the metrics over the rows.

    The mean and sample SD of the relative error are what the 2018 DEERNet paper reports (its
    Table 2). The peak error comes in whole steps of the distance grid (0.0186 nm by default), so its
    median moves in steps; its mean is reported as well.

    Parameters
    ----------
    predicted : array_like
        Predicted distributions, (n_dist,) or (n, n_dist).
    true : array_like
        True distributions, the same shape.
    r : array_like
        Distance axis, nm, (n_dist,).

    Returns
    -------
    dict
        "median_rel_error", "rel_error_q25", "rel_error_q75", "mean_rel_error", "sd_rel_error" (NaN
        for one row), "median_peak_error_nm", "mean_peak_error_nm" (nm) and "n" (rows).

    Raises
    ------
    ValueError
        As `relative_error` and `peak_error` (the message starts with the argument's name).

    Examples
    --------
    >>> from descrambler.nets import summary
    >>> summary([[1, 2, 1], [1, 1, 0]], [[1, 2, 1], [0, 1, 1]], [2.0, 2.5, 3.0])["median_rel_error"]
    0.5
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
