"""The paper's own readings of its Figs. 2-4, as numbers.

Each function measures what the reference figures show by eye: the notch at zero input frequency
and the band of the first layer A = P1 W1 (Fig. 2), the cubic link/input-frequency ridge of its 2-D
spectrum (Fig. 2, read the paper's way: for each input frequency, the link frequency of maximum
magnitude), and, for the second layer B = W2 P2^T = U S V^T, the sinusoidal right singular vectors,
the polynomial left singular vectors, the fast-to-slow rows and the Gram matrices (Figs. 3-4), with
the effective ranks and polynomial smoothness of the outputs behind the spectral-filtering reading.
Descrambling multiplies the first layer by P1 from the left and the second by P2^T from the right,
so the input response of the first layer, the singular values of either layer, the left singular
vectors of B, B B^T and the output Gram matrix are descrambler-invariant; the link-frequency ridge,
the right singular vectors of B, the row centroids along the link dimension and B^T B are not: they
are what descrambling adds, and `random_like` gives the null control for them.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np
from numpy.polynomial import chebyshev, legendre
from numpy.typing import ArrayLike
from scipy import stats

from ..._validate import as_array, non_negative_int, positive, positive_int
from .second_layer import r_squared, sinusoid_fit
from .spectra import folded_energy, input_frequencies, weight_matrix

FAMILIES = ("chebyshev", "legendre", "cosine")


def _finite(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return float(value)


def _integers(values, name: str, size: int | None = None) -> np.ndarray:
    array = as_array(values, name, ndim=1)
    if array.size == 0 or np.any(array != np.round(array)):
        raise ValueError(f"{name}: expected a non-empty array of integers")
    if size is not None and array.size != size:
        raise ValueError(f"{name}: expected {size} values, got {array.size}")
    return array.astype(int)


# --- first layer: input response, notch, band (Fig. 2) ------------------------------------------


def input_response(A: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(frequency_index 0..n_in//2, response): energy |F|^2 of the 2-D spectrum of A (n_link, n_in)
    per input-frequency bin, folded over sign and summed over the link dimension; it equals
    n_link * sum_l |rfft(A[l])|^2, so it does not change under A -> P A with P orthogonal."""
    A = weight_matrix(A, "A")
    energy, bins = folded_energy(A)
    return np.arange(energy.shape[1]), A.shape[0] * energy.sum(axis=0) / bins.sum(axis=0)


@dataclasses.dataclass(frozen=True)
class NotchReading:
    """`depth_db`: response at zero input frequency over the mean of the `neighbours` next bins, dB
    (negative: a notch), over all link channels. `constant_share`: ||A u0||^2 / ||A||_F^2 with
    u0 = ones / sqrt(n_in), the share of the layer's energy at zero input frequency;
    `constant_share_over_white` = constant_share * n_in (1 for a spectrally flat layer)."""

    depth_db: float
    constant_share: float
    constant_share_over_white: float


def notch_reading(A: ArrayLike, neighbours: int = 3) -> NotchReading:
    """The notch at zero input frequency of the first layer A (n_link, n_in) (see `NotchReading`)."""
    A = weight_matrix(A, "A")
    neighbours = positive_int(neighbours, "neighbours")
    if neighbours > A.shape[1] // 2:
        raise ValueError(f"neighbours: must be at most {A.shape[1] // 2}, got {neighbours}")
    _, response = input_response(A)
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = 10 * np.log10(response[0] / response[1:neighbours + 1].mean())
    total = float(np.sum(A**2))
    share = float(np.sum(A.sum(axis=1) ** 2) / A.shape[1] / total) if total > 0 else float("nan")
    return NotchReading(float(depth), share, share * A.shape[1])


@dataclasses.dataclass(frozen=True)
class BandEdges:
    """Input-frequency band of the first layer: `peak_mhz`, the bin of maximum response, and the
    edges `low_mhz` < peak < `high_mhz` where the response first falls `level_db` below the peak
    (interpolated in dB between bins; 0 and the Nyquist frequency if it never does); the same in
    units of the Nyquist frequency 1 / (2 dt)."""

    peak_mhz: float
    low_mhz: float
    high_mhz: float
    low_nyquist: float
    high_nyquist: float
    peak_nyquist: float


def _crossing(frequency: np.ndarray, level: np.ndarray, threshold: float) -> float | None:
    """First frequency, walking from frequency[0] (the peak), where `level` drops below `threshold`."""
    below = np.flatnonzero(level < threshold)
    if below.size == 0:
        return None
    i = below[0]
    step = (threshold - level[i - 1]) / (level[i] - level[i - 1])
    return float(frequency[i - 1] + step * (frequency[i] - frequency[i - 1]))


def band_edges(A: ArrayLike, dt: float, level_db: float = -10.0) -> BandEdges:
    """Band of the input response of A (n_link, n_in), inputs sampled every `dt` us; `level_db` < 0."""
    A = weight_matrix(A, "A")
    if _finite(level_db, "level_db") >= 0:
        raise ValueError(f"level_db: must be < 0, got {level_db!r}")
    dt = positive(dt, "dt")
    frequency, nyquist = input_frequencies(A.shape[1], dt), 1 / (2 * dt)
    _, response = input_response(A)
    with np.errstate(divide="ignore"):
        level = 10 * np.log10(response)
    peak = int(np.argmax(response))
    threshold = level[peak] + level_db
    with np.errstate(invalid="ignore"):
        high = _crossing(frequency[peak:], level[peak:], threshold)
        low = _crossing(frequency[peak::-1], level[peak::-1], threshold)
    high = nyquist if high is None else high
    low = 0.0 if low is None else low
    return BandEdges(float(frequency[peak]), low, high, low / nyquist, high / nyquist, float(frequency[peak] / nyquist))


# --- first layer: the rescaling ridge (Fig. 2) -----------------------------------------------


def folded_magnitude(A: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(magnitude, input_offsets, link_offsets): |fftshift(fft2(A))| of A (n_link, n_in), transposed
    so that rows are input-frequency offsets (-n_in//2 .. ) and columns link-frequency offsets,
    the raw linear magnitude; the offsets are integers (cycles per length)."""
    A = weight_matrix(A, "A")
    magnitude = np.abs(np.fft.fftshift(np.fft.fft2(A))).T
    offsets = [np.fft.fftshift(np.fft.fftfreq(n, 1 / n)).round().astype(int) for n in (A.shape[1], A.shape[0])]
    return magnitude, offsets[0], offsets[1]


@dataclasses.dataclass(frozen=True)
class RowRidge:
    """Fit of the ridge k*(f) = a f^q of a folded 2-D magnitude: `exponent` q with its 90 %
    confidence interval (`ci_low`, `ci_high`; t distribution, n - 2 dof), `prefactor` a, `r_squared`
    in log-log coordinates; per |input offset| f (`input_offset`), the |link offset| of maximum
    magnitude (`link_offset_of_max`, -1 where the row is absent) and whether the row entered the
    fit (`used`: k* >= 1). NaNs when fewer than 3 rows are used."""

    exponent: float
    ci_low: float
    ci_high: float
    prefactor: float
    r_squared: float
    input_offset: np.ndarray
    link_offset_of_max: np.ndarray
    used: np.ndarray


def row_ridge(magnitude: ArrayLike, input_offsets: ArrayLike, link_offsets: ArrayLike, min_input_offset: int = 1,
              max_input_offset: int | None = None, min_link_offset: int = 1) -> RowRidge:
    """For each |input offset| f in [min_input_offset, max_input_offset], the |link offset| k >=
    `min_link_offset` of maximum `magnitude`, then a log-log least-squares fit (see `RowRidge`).

    `magnitude` (rows: input offsets, columns: link offsets, both zero-centred integers) may be any
    monotone proxy of the magnitude: only its order is used. The cells (+-f, +-k) are combined by
    their maximum, not their sum.
    """
    magnitude = as_array(magnitude, "magnitude", ndim=2)
    rows = np.abs(_integers(input_offsets, "input_offsets", magnitude.shape[0]))
    columns = np.abs(_integers(link_offsets, "link_offsets", magnitude.shape[1]))
    min_input_offset = positive_int(min_input_offset, "min_input_offset")
    if min_input_offset > rows.max():
        raise ValueError(f"min_input_offset: must be at most the largest |input offset| {rows.max()}, "
                         f"got {min_input_offset}")
    max_input_offset = rows.max() if max_input_offset is None else positive_int(max_input_offset, "max_input_offset")
    if max_input_offset < min_input_offset:
        raise ValueError(f"max_input_offset: the range [{min_input_offset}, {max_input_offset}] is empty")
    min_link_offset = non_negative_int(min_link_offset, "min_link_offset")
    if min_link_offset > columns.max():
        raise ValueError(f"min_link_offset: must be at most the largest |link offset| {columns.max()}, "
                         f"got {min_link_offset}")
    folded = np.full((rows.max() + 1, columns.max() + 1), -np.inf)
    np.maximum.at(folded, (rows[:, None], columns[None, :]), magnitude)
    f = np.arange(min_input_offset, min(max_input_offset, rows.max()) + 1)
    window = folded[f, min_link_offset:]
    present = np.isfinite(window).any(axis=1)
    k = np.where(present, min_link_offset + np.argmax(window, axis=1), -1)
    used = k >= 1
    nan = float("nan")
    if used.sum() < 3:
        return RowRidge(nan, nan, nan, nan, nan, f, k, used)
    x, y = np.log(f[used]), np.log(k[used])
    fit = stats.linregress(x, y)
    half_width = stats.t.ppf(0.95, used.sum() - 2) * fit.stderr
    return RowRidge(float(fit.slope), float(fit.slope - half_width), float(fit.slope + half_width),
                    float(np.exp(fit.intercept)), r_squared(y, fit.intercept + fit.slope * x), f, k, used)


def equivalent(ci_low: float, ci_high: float, target: float, margin: float) -> bool:
    """Equivalence test (two one-sided tests at 5 % with a 90 % interval): True when
    [ci_low, ci_high] lies inside [target - margin, target + margin]; False on NaN."""
    target = _finite(target, "target")
    margin = positive(margin, "margin")
    return bool(target - margin <= ci_low and ci_high <= target + margin)


# --- second layer (Figs. 3-4) ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MultiplexingReading:
    """Sinusoid R^2 of right singular vectors of B (link dimension): `r_squared` at the chosen
    indices and `median` over them, `all_median` over all of them (NaN-skipping: a constant vector
    has no R^2); `control_r_squared` (n_controls, n_indices) for the control matrices,
    `control_median` and `control_all_median` the means over controls of their medians;
    `excess` = median - control_median."""

    r_squared: np.ndarray
    control_r_squared: np.ndarray
    median: float
    control_median: float
    all_median: float
    control_all_median: float
    excess: float


def _sinusoid_r_squared(B: np.ndarray) -> np.ndarray:
    _, _, Vt = np.linalg.svd(B, full_matrices=False)
    return np.array([sinusoid_fit(v).r_squared for v in Vt])


def multiplexing_reading(B: ArrayLike, B_controls: list[ArrayLike], indices: ArrayLike = range(8, 13)
                         ) -> MultiplexingReading:
    """Sinusoid fits of the right singular vectors of B (n_out, n_link) at 0-based `indices` (the
    reference's 9..13) against the same for each matrix of `B_controls` (see `MultiplexingReading`)."""
    B = weight_matrix(B, "B")
    if len(B_controls) == 0:
        raise ValueError("B_controls: need at least one control matrix")
    controls = [weight_matrix(C, "B_controls") for C in B_controls]
    if any(C.shape != B.shape for C in controls):
        raise ValueError(f"B_controls: every control must have the shape of B {B.shape}")
    if B.shape[1] < 4:
        raise ValueError(f"B: need at least 4 link columns, got shape {B.shape}")
    indices = _integers(indices, "indices")
    if indices.min() < 0 or indices.max() >= min(B.shape):
        raise ValueError(f"indices: must lie in [0, {min(B.shape) - 1}]")
    r2 = _sinusoid_r_squared(B)
    control = np.array([_sinusoid_r_squared(C) for C in controls])
    median, control_median = float(np.median(r2[indices])), float(np.median(control[:, indices], axis=1).mean())
    return MultiplexingReading(r2[indices], control[:, indices], median, control_median, float(np.nanmedian(r2)),
                               float(np.nanmedian(control, axis=1).mean()), median - control_median)


@dataclasses.dataclass(frozen=True)
class PolynomialReading:
    """Left singular vectors u_1..u_count of B (output dimension) against one function of degree or
    order i - 1 of each family on a uniform grid over [-1, 1], the reference's way: u_i minus its
    mean, fitted by a * g with a least-squares scalar a and g NOT mean-removed;
    R^2 = 1 - ||u_c - a g||^2 / ||u_c||^2 (= cos^2 of the angle between u_c and g, in [0, 1]).
    `best_family[i]`: the family of highest R^2 for vector i + 1 (for i = 0 all three are the
    constant, which the mean removal makes meaningless)."""

    chebyshev_r_squared: np.ndarray
    legendre_r_squared: np.ndarray
    cosine_r_squared: np.ndarray
    best_family: tuple[str, ...]

    @property
    def chebyshev_median(self) -> float:
        """Median Chebyshev R^2 over vectors 2..count (T_1..T_(count-1)); NaN for count 1."""
        rest = self.chebyshev_r_squared[1:]
        return float(np.median(rest)) if rest.size else float("nan")


def _family_functions(n: int, count: int) -> np.ndarray:
    """(3, n, count): T_d, P_d and cos(d pi (x + 1) / 2), d = 0..count-1, on a uniform grid over [-1, 1]."""
    x = np.linspace(-1.0, 1.0, n)
    return np.stack([chebyshev.chebvander(x, count - 1), legendre.legvander(x, count - 1),
                     np.cos(np.pi * (x[:, None] + 1) / 2 * np.arange(count))])


def polynomial_reading(B: ArrayLike, count: int = 5) -> PolynomialReading:
    """Compare the first `count` left singular vectors of B (n_out, n_link) with T_(i-1), P_(i-1)
    and cos((i-1) pi (x+1)/2) (see `PolynomialReading`)."""
    B = weight_matrix(B, "B")
    count = positive_int(count, "count")
    if count > min(B.shape):
        raise ValueError(f"count: must be at most {min(B.shape)}, got {count}")
    U = np.linalg.svd(B, full_matrices=False)[0][:, :count]
    centred = U - U.mean(axis=0)
    g = _family_functions(B.shape[0], count)
    scale = (centred * g).sum(axis=1) / (g * g).sum(axis=1)
    r2 = 1 - ((centred - scale[:, None, :] * g) ** 2).sum(axis=1) / (centred**2).sum(axis=0)
    return PolynomialReading(r2[0], r2[1], r2[2], tuple(FAMILIES[i] for i in np.argmax(r2, axis=0)))


@dataclasses.dataclass(frozen=True)
class SpectralFilteringReading:
    """`rank_first`, `rank_second`: effective ranks of W1 and W2, the smallest numbers of singular
    values holding each share of sum(s^2) in `energy`. `polynomial_share_by_degree[d]`: share of the
    centred output signals' energy (trace of their Gram matrix) in the polynomials of degree <= d on
    the uniform output grid of `n_grid` points; `polynomial_degree`: the smallest d whose share
    reaches the first share of `energy`."""

    rank_first: tuple[int, ...]
    rank_second: tuple[int, ...]
    polynomial_degree: int
    polynomial_share_by_degree: np.ndarray
    n_grid: int


def _effective_rank(W: np.ndarray, energy: np.ndarray) -> tuple[int, ...]:
    s2 = np.linalg.svd(W, compute_uv=False) ** 2
    cumulative = np.cumsum(s2) / s2.sum()
    return tuple(int(r) for r in np.minimum(np.searchsorted(cumulative, energy) + 1, s2.size))


def smoothness_rank_reading(W1: ArrayLike, W2: ArrayLike, output_gram: ArrayLike,
                            energy: tuple[float, ...] = (0.9, 0.99)) -> SpectralFilteringReading:
    """Effective ranks of W1 (n_link, n_in) and W2 (n_out, n_link), and the polynomial degree of the
    outputs from `output_gram` = Z_c Z_c^T (n_out, n_out), Z_c the pre-activation outputs of the
    second layer (n_out, traces) minus their mean over traces (see `SpectralFilteringReading`)."""
    W1, W2 = weight_matrix(W1, "W1"), weight_matrix(W2, "W2")
    if W2.shape[1] != W1.shape[0]:
        raise ValueError(f"W2: expected {W1.shape[0]} columns to match W1 {W1.shape}, got shape {W2.shape}")
    G = as_array(output_gram, "output_gram", ndim=2)
    n = W2.shape[0]
    if G.shape != (n, n):
        raise ValueError(f"output_gram: expected shape ({n}, {n}) to match W2 {W2.shape}, got {G.shape}")
    if not np.allclose(G, G.T, rtol=1e-8, atol=1e-12 * np.abs(G).max()) or np.trace(G) <= 0:
        raise ValueError("output_gram: must be symmetric with a positive trace")
    energy = as_array(energy, "energy", ndim=1)
    if energy.size == 0 or np.any((energy <= 0) | (energy > 1)):
        raise ValueError(f"energy: expected a non-empty list of shares in (0, 1], got {energy.tolist()}")
    Q, _ = np.linalg.qr(chebyshev.chebvander(np.linspace(-1.0, 1.0, n), n - 1))
    share = np.cumsum(np.sum(Q * (G @ Q), axis=0)) / np.trace(G)
    degree = int(min(np.searchsorted(share, energy[0]), n - 1))
    return SpectralFilteringReading(_effective_rank(W1, energy), _effective_rank(W2, energy), degree, share, n)


@dataclasses.dataclass(frozen=True)
class FastSlowReading:
    """`centroid[j]`: link-frequency centroid of |rfft|^2 of row j of B (mean over the link
    dimension removed), cycles per link length (0..n_link/2; NaN for a constant row); `spearman`,
    `pearson`: correlation of the centroid with the distance r over rows with a centroid
    (negative: fast at short distances, slow at long ones, as the paper's Fig. 3 reads)."""

    centroid: np.ndarray
    spearman: float
    pearson: float


def fast_slow_reading(B: ArrayLike, r: ArrayLike) -> FastSlowReading:
    """Link-frequency centroid of each row of B (n_out, n_link) against the distances `r` (n_out,), nm."""
    B = weight_matrix(B, "B")
    r = as_array(r, "r", ndim=1)
    if r.size != B.shape[0]:
        raise ValueError(f"r: expected {B.shape[0]} distances (one per row of B), got {r.size}")
    power = np.abs(np.fft.rfft(B - B.mean(axis=1, keepdims=True), axis=1)) ** 2
    total = power.sum(axis=1)
    frequency = np.fft.rfftfreq(B.shape[1], 1 / B.shape[1])
    centroid = np.divide(power @ frequency, total, out=np.full(total.shape, np.nan), where=total > 0)
    ok = np.isfinite(centroid)
    if ok.sum() < 3 or np.ptp(centroid[ok]) == 0:
        return FastSlowReading(centroid, float("nan"), float("nan"))
    return FastSlowReading(centroid, float(stats.spearmanr(centroid[ok], r[ok]).statistic),
                           float(np.corrcoef(centroid[ok], r[ok])[0, 1]))


@dataclasses.dataclass(frozen=True)
class GramReading:
    """Off-diagonal share ||G - diag(G)||_F^2 / ||G||_F^2 of G = B^T B (link, n_link x n_link) and of
    H = B B^T (output, n_out x n_out): 0 for orthogonal columns (rows), (n-1)/n for all-equal ones."""

    link_off_diagonal_share: float
    output_off_diagonal_share: float


def _off_diagonal_share(G: np.ndarray) -> float:
    total = float(np.sum(G**2))
    return float(np.sum((G - np.diag(np.diag(G))) ** 2) / total) if total > 0 else float("nan")


def gram_reading(B: ArrayLike) -> GramReading:
    """Off-diagonal shares of B^T B and B B^T for B (n_out, n_link) (see `GramReading`)."""
    B = weight_matrix(B, "B")
    return GramReading(_off_diagonal_share(B.T @ B), _off_diagonal_share(B @ B.T))


# --- null control ----------------------------------------------------------------------------


def random_like(W: ArrayLike, rng: np.random.Generator) -> np.ndarray:
    """A Gaussian random matrix of the shape and Frobenius norm of W (the null control)."""
    W = weight_matrix(W, "W")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy Generator, got {type(rng).__name__}")
    norm = np.linalg.norm(W)
    if norm == 0:
        raise ValueError("W: has zero norm")
    Z = rng.standard_normal(W.shape)
    return Z * (norm / np.linalg.norm(Z))
