"""Measurements on a (descrambled) second-layer weight matrix B = W2 P2^T (n_out x n_link).

Its singular value decomposition B = U S V^T splits into left singular vectors U (output, i.e.
distance, dimension; they do not depend on the descrambler P2), singular values S (nor do they) and
right singular vectors V (link dimension: P2 rotates them).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from numpy.polynomial import chebyshev
from numpy.typing import ArrayLike
from scipy.optimize import minimize_scalar

from ..._validate import as_array, positive_int


def _vector(v, name: str) -> np.ndarray:
    v = as_array(v, name, ndim=1)
    if v.size < 4:
        raise ValueError(f"{name}: need at least 4 points, got {v.size}")
    return v


def r_squared(v: np.ndarray, fitted: np.ndarray) -> float:
    """Coefficient of determination of `fitted` for `v` (NaN for a constant `v`)."""
    total = ((v - v.mean()) ** 2).sum()
    return float(1 - ((v - fitted) ** 2).sum() / total) if total > 0 else float("nan")


@dataclasses.dataclass
class SinusoidFit:
    """v ~ a cos(2 pi f j / n) + b sin(2 pi f j / n) + c, j = 0..n-1; `frequency` f in cycles per
    vector length, `phase` = atan2(-b, a) in radians, `r_squared` about the mean."""

    frequency: float
    phase: float
    amplitude: float
    r_squared: float


def _centred_design(n: int, frequencies: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos(2 pi f j / n) and sin(2 pi f j / n), j = 0..n-1, mean removed (one row per f for an array of f)."""
    angle = np.multiply.outer(2 * np.pi * np.asarray(frequencies), np.arange(n)) / n
    cos, sin = np.cos(angle), np.sin(angle)
    return cos - cos.sum(axis=-1, keepdims=True) / n, sin - sin.sum(axis=-1, keepdims=True) / n  # faster than mean


def _sine_is_noise(sine_norm: float | np.ndarray, n: int) -> bool | np.ndarray:
    """At f = n/2 the sine is rounding noise; lstsq's rank cut-off (relative eps * n) drops it, and so do we."""
    return sine_norm <= np.finfo(float).eps * n * np.sqrt(n)


@functools.lru_cache(maxsize=8)
def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The search grid 0.25, 0.5, ..., n/2 and, per grid frequency, an orthonormal basis (n x 2) of its
    centred cos and sin (the offset is absorbed by centring)."""
    frequencies = np.arange(0.25, n / 2 + 1e-9, 0.25)
    basis, triangle = np.linalg.qr(np.stack(_centred_design(n, frequencies), axis=-1))
    basis[..., 1] *= ~_sine_is_noise(np.abs(triangle[:, 1, 1:]), n)
    return frequencies, basis


def _fit(centred: np.ndarray, frequency: float) -> tuple[float, float, float]:
    """Least-squares fit of centred v by a cos + b sin at one frequency, from the 2 x 2 normal equations:
    residual sum of squares, a, b."""
    cos, sin = _centred_design(centred.size, frequency)
    cc, ss, cs, zc, zs = cos @ cos, sin @ sin, cos @ sin, cos @ centred, sin @ centred
    det = cc * ss - cs * cs
    if _sine_is_noise(np.sqrt(max(det / cc, 0.0)), centred.size):  # norm of the sine's part orthogonal to the cosine
        a, b = zc / cc, 0.0
    else:
        a, b = (ss * zc - cs * zs) / det, (cc * zs - cs * zc) / det
    residual = centred - a * cos - b * sin
    return float(residual @ residual), float(a), float(b)


def sinusoid_fit(v: ArrayLike) -> SinusoidFit:
    """Best single sinusoid (with offset) of any frequency in (0, n/2], by grid search and refinement."""
    v = _vector(v, "v")
    centred = v - v.mean()
    grid, basis = _grid(v.size)
    coefficients = centred @ basis  # (n_grid, 2)
    residuals = centred - (basis @ coefficients[..., None])[..., 0]
    best = grid[np.argmin(np.einsum("ij,ij->i", residuals, residuals))]
    refined = minimize_scalar(lambda f: _fit(centred, f)[0], bounds=(max(best - 0.25, 1e-3), best + 0.25),
                              method="bounded", options={"xatol": 1e-6})
    residual, a, b = _fit(centred, float(refined.x))
    total = centred @ centred
    r_squared = 1 - residual / total if total > 0 else float("nan")
    return SinusoidFit(float(refined.x), float(np.arctan2(-b, a)), float(np.hypot(a, b)), float(r_squared))


def _uniform_grid(n: int) -> np.ndarray:
    return np.linspace(-1.0, 1.0, n)


def chebyshev_fit(u: ArrayLike, degree: int) -> float:
    """The reference's test: R^2 of u (mean removed) against one Chebyshev polynomial T_degree
    (scaled, mean removed) on a uniform grid over [-1, 1]. NaN for degree 0, whose mean-removed
    polynomial is zero."""
    u = _vector(u, "u")
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 0:
        raise ValueError(f"degree: expected a non-negative integer, got {degree!r}")
    if degree == 0:
        return float("nan")
    return r_squared(u - u.mean(), chebyshev_curve(u, degree))


def chebyshev_curve(u: ArrayLike, degree: int) -> np.ndarray:
    """The reference's fit: T_degree on a uniform grid over [-1, 1], mean removed, scaled by least
    squares to u with its mean removed (zeros for degree 0)."""
    u = _vector(u, "u")
    polynomial = chebyshev.chebval(_uniform_grid(u.size), np.eye(degree + 1)[degree])
    polynomial = polynomial - polynomial.mean()
    norm = polynomial @ polynomial
    return polynomial * ((u - u.mean()) @ polynomial / norm) if norm > 0 else np.zeros_like(u)


def polynomial_share(u: ArrayLike, degree: int) -> float:
    """The better-posed test: share of the energy of u lying in the polynomials of degree <= `degree`
    on the uniform grid (span of T_0..T_degree), i.e. ||projection||^2 / ||u||^2, in [0, 1]."""
    u = _vector(u, "u")
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or not 0 <= degree < u.size:
        raise ValueError(f"degree: expected an integer in [0, {u.size - 1}], got {degree!r}")
    basis, _ = np.linalg.qr(chebyshev.chebvander(_uniform_grid(u.size), degree))
    return float(np.sum((basis.T @ u) ** 2) / (u @ u))


@dataclasses.dataclass
class ChebyshevMap:
    """Left singular vectors u_1..u_count against Chebyshev polynomials T_0..T_(count-1).

    `reference_r_squared[i]`: the reference's fit of u_(i+1) against T_i (NaN for T_0);
    `best_degree[i]`: the degree in 0..count-1 whose reference fit is best (0 when none is defined);
    `polynomial_share[i]`: share of u_(i+1) in the polynomials of degree <= i;
    `subspace_share`: mean squared cosine of the principal angles between span(u_1..u_count) and the
    polynomials of degree < count (1: the same space).
    """

    reference_r_squared: np.ndarray
    best_degree: np.ndarray
    polynomial_share: np.ndarray
    subspace_share: float


def chebyshev_map(U: ArrayLike, count: int = 5) -> ChebyshevMap:
    """Compare the first `count` columns of U (output dimension, uniform grid) with T_0..T_(count-1)."""
    U = as_array(U, "U", ndim=2)
    count = positive_int(count, "count")
    if count > U.shape[1] or count >= U.shape[0]:
        raise ValueError(f"count: must be at most {min(U.shape[1], U.shape[0] - 1)}, got {count}")
    reference = np.array([chebyshev_fit(U[:, i], i) for i in range(count)])
    fits = np.array([[chebyshev_fit(U[:, i], d) if d else -np.inf for d in range(count)] for i in range(count)])
    share = np.array([polynomial_share(U[:, i], i) for i in range(count)])
    basis, _ = np.linalg.qr(chebyshev.chebvander(_uniform_grid(U.shape[0]), count - 1))
    columns, _ = np.linalg.qr(U[:, :count])
    cosines = np.linalg.svd(basis.T @ columns, compute_uv=False)
    return ChebyshevMap(reference, np.nanargmax(fits, axis=1), share, float(np.mean(cosines**2)))


@dataclasses.dataclass
class HarmonicVectors:
    """Sinusoid fits of right singular vectors (link dimension): one `SinusoidFit` per vector,
    with `r_squared` and `frequency` (cycles across the link dimension) collected as arrays."""

    fits: list[SinusoidFit]
    r_squared: np.ndarray
    frequency: np.ndarray


def harmonic_vectors(V: ArrayLike, indices: ArrayLike) -> HarmonicVectors:
    """Fit a sinusoid to each listed column of V (0-based `indices`)."""
    V = as_array(V, "V", ndim=2)
    indices = np.asarray(indices, dtype=int)
    if indices.size == 0 or indices.min() < 0 or indices.max() >= V.shape[1]:
        raise ValueError(f"indices: must be non-empty and lie in [0, {V.shape[1] - 1}]")
    fits = [sinusoid_fit(V[:, i]) for i in indices]
    return HarmonicVectors(fits, np.array([f.r_squared for f in fits]), np.array([f.frequency for f in fits]))


@dataclasses.dataclass
class GroupEmbedding:
    """Do the singular values come in near-degenerate pairs, as a sum of two-dimensional
    representations of a rotation group would make them?

    `gap_ratio`: the mean relative gap within pairs over the mean relative gap between pairs, for
    the better of the two ways of pairing consecutive singular values among the first `count`
    (1: no pairing, a smooth decay; 0: exact pairs). `pairs`: the 0-based index pairs of that pairing.
    `cos_sin_pairs`: how many of those pairs are, after descrambling, a cos/sin pair (both vectors
    sinusoids with R^2 >= 0.9 of the same frequency within 0.5 cycles and phases 90 +/- 20 degrees apart).
    """

    gap_ratio: float
    pairs: list[tuple[int, int]]
    cos_sin_pairs: int


def group_embedding(singular_values: ArrayLike, V: ArrayLike=None, count: int = 20) -> GroupEmbedding:
    """Measure pairing of the first `count` singular values (and, given V, the cos/sin shape of the pairs)."""
    s = as_array(singular_values, "singular_values", ndim=1)
    count = positive_int(count, "count")
    if count < 4 or count > s.size:
        raise ValueError(f"count: must lie in [4, {s.size}], got {count}")
    if np.any(s[:count] <= 0) or np.any(np.diff(s[:count]) > 0):
        raise ValueError("singular_values: must be positive and sorted in decreasing order")
    gaps = -np.diff(np.log(s[:count]))  # relative gaps between consecutive singular values
    best = None
    for offset in (0, 1):
        within = gaps[offset::2]
        between = gaps[1 - offset::2]
        ratio = within.mean() / between.mean() if between.mean() > 0 else np.inf
        if best is None or ratio < best[0]:
            best = (float(ratio), [(i, i + 1) for i in range(offset, count - 1, 2)])
    ratio, pairs = best
    cos_sin = 0
    if V is not None:
        V = as_array(V, "V", ndim=2)
        if V.shape[1] < count:
            raise ValueError(f"V: need at least count = {count} columns (singular vectors), got {V.shape[1]}")
        for i, j in pairs:
            a, b = sinusoid_fit(V[:, i]), sinusoid_fit(V[:, j])
            quarter = abs((a.phase - b.phase + np.pi) % (2 * np.pi) - np.pi)
            cos_sin += (min(a.r_squared, b.r_squared) >= 0.9 and abs(a.frequency - b.frequency) <= 0.5
                        and abs(quarter - np.pi / 2) <= np.radians(20))
    return GroupEmbedding(ratio, pairs, int(cos_sin))
