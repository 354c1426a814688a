"""The rational replica of DEERNet (the paper's Figs. 5-6, Eq. 13): two FIR filters and one linear map.

The paper rebuilds its two-layer net from textbook parts: a low-pass FIR filter (order 32, pass-band
edge 0.01, stop-band edge 0.3) that removes the noise, a notch at zero frequency (an order-256 FIR
high-pass, stop-band edge 0.001, pass-band edge 0.008) that removes the non-oscillating baseline, and
one regularised time-to-distance matrix T = P F^T (F F^T + lam 1)^-1 (Eq. 13) with lam at the corner
of the L-curve. Frequencies are normalised: 1 is the Nyquist frequency 1 / (2 dt).

Choices the paper leaves open, and ours (each a keyword of `fit_replica`, so the chapter can try the
others):

- **Boundaries.** An order-256 filter (257 taps) is longer than a 256-point trace, so `filtfilt` and
  'valid' convolution do not apply. Every filter acts as a 'same'-size convolution of the trace
  extended beyond its ends: "edge" (default; the first and last points repeated, so a constant trace
  comes out as the same constant times the filter's gain at zero frequency: no edge transients),
  "zero" (zeros, numpy's 'same' convolution; a boxed trace then meets a step at either end, which
  the notch turns into large transients) or "reflect" (the trace mirrored, d c b a | a b c d |
  d c b a). Each is linear, so a filter is an (n, n) matrix (`filter_matrix`). Low-pass first, then
  the notch, as in the paper's Fig. 6.
- **What T maps from.** The paper fits T on noise-free form factors F = K p. A boxed library trace is
  not a form factor: it carries the background decay, the non-modulated part 1 - depth, the box
  map and the noise. Our default ("traces") fits T on the filtered library traces themselves, so T
  learns to ignore what the filters leave of the background and the noise; "form_factors" is the
  paper's choice (the training distributions' form factors, through the same filters).
- **Gain.** With `normalise=True` (default) each filtered trace is divided by its Euclidean norm
  before T: a per-trace gain control, the one non-linear step of the replica. It removes the
  trace's amplitude (set by the modulation depth and the box map), which a linear map cannot.
- **Targets and outputs.** T is fitted to unit-sum distributions; predictions are clipped at zero
  and renormalised to unit sum (as `descrambler.nets.predict` treats a network's output).

Beyond the paper: `holdout_lambda` picks lambda by the median error on a held-out library (to set
against the L-curve corner), `variants` and `study_variants` fit and score every variant the chapter
reports, and `swap_test` replaces the net's first layer by the filters and refits only what is behind
them (a linear map, or with `fit_output_layer`, the one function here that uses torch, the net's kind
of output layer).
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import signal
from threadpoolctl import threadpool_limits

from .._validate import as_array, choice, positive, positive_int
from ..deer.simulate import Library, dipolar_kernel

#: Boundary handling of `filter_matrix` and `apply`: how a trace is extended beyond its ends.
BOUNDARIES = ("edge", "zero", "reflect")
#: Filter design methods: least squares (default; converges for any band edges) or equiripple
#: (Parks-McClellan, MATLAB's default for `designfilt` FIR filters; it fails on some wide transitions).
METHODS = ("firls", "remez")
#: What T maps from in `fit_replica`.
SOURCES = ("traces", "form_factors")
#: What T maps to in `fit_replica`: distributions of unit sum, or scaled to a maximum of 0.75 (the
#: net's training targets).
TARGETS = ("unit_sum", "max_0.75")
#: The paper's band edges (Fig. 5), normalised frequency (1 = Nyquist).
PAPER_NOTCH = {"order": 256, "stop": 0.001, "passband": 0.008}
PAPER_LOWPASS = {"order": 32, "passband": 0.01, "stop": 0.3}
#: Seeds of the replica's training library and of its held-out library (for lambda and variant
#: choices), distinct from the validation seed and from the networks' library seeds.
FIT_SEED = 2021_0913
HOLDOUT_SEED = 2021_0914
#: Default lambda grid of `l_curve`, relative to the largest eigenvalue of F F^T.
RELATIVE_LAMS = 10.0 ** np.arange(-12.0, 0.01, 0.25)


def _one_blas_thread(function):
    """Run `function` with one BLAS thread: on a shared 2-core machine, with torch's OpenMP threads
    also loaded, two OpenBLAS threads made a 256 x 256 eigendecomposition up to 50 times slower
    (about 1 s instead of 0.01-0.03 s), and one thread was never slower for these matrix sizes."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with threadpool_limits(1, user_api="blas"):
            return function(*args, **kwargs)

    return wrapper


# --- filters --------------------------------------------------------------------------------------


def _edge(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or not 0 < value < 1:
        raise ValueError(f"{name}: a band edge must be a normalised frequency in (0, 1), got {value!r}")
    return float(value)


def _design(order, low, high, name_low: str, name_high: str, gains: tuple[int, int], method: str) -> np.ndarray:
    order = positive_int(order, "order")
    low, high = _edge(low, name_low), _edge(high, name_high)
    if low >= high:
        raise ValueError(f"{name_low}: the band edges are out of order: {name_low} = {low} must be below "
                         f"{name_high} = {high}")
    choice(method, "method", METHODS)
    bands = [0.0, low, high, 1.0]
    if method == "firls":
        return signal.firls(order + 1, bands, [gains[0], gains[0], gains[1], gains[1]])
    try:
        return signal.remez(order + 1, bands, list(gains), fs=2.0, maxiter=100)
    except ValueError as error:  # no convergence: a property of the band edges, not a bug
        raise ValueError(f"method: the equiripple design did not converge for these band edges ({error}); "
                         "use method='firls'") from None


def notch_filter(order: int = 256, stop: float = 0.001, passband: float = 0.008,
                 method: str = "firls") -> np.ndarray:
    """FIR high-pass (a notch at zero frequency): `order` + 1 coefficients, stop band [0, `stop`],
    pass band [`passband`, 1] (normalised frequency, 1 = Nyquist); the defaults are the paper's Fig. 5.

    `method`: "firls" (least squares, default) or "remez" (equiripple). A high-pass FIR needs an even
    `order` (an odd one has a zero at the Nyquist frequency). With the paper's edges the transition
    band (0.007) is about one frequency bin of a 257-tap filter, so the notch is shallow: about
    -22 dB over [0, 0.001] and -2 dB at the pass-band edge, within 0.4 dB of 0 dB from 0.016 on.
    """
    order = positive_int(order, "order")
    if order % 2:
        raise ValueError(f"order: a high-pass FIR filter needs an even order, got {order}")
    return _design(order, stop, passband, "stop", "passband", (0, 1), method)


def lowpass_filter(order: int = 32, passband: float = 0.01, stop: float = 0.3,
                   method: str = "firls") -> np.ndarray:
    """FIR low-pass: `order` + 1 coefficients, pass band [0, `passband`], stop band [`stop`, 1]
    (normalised frequency, 1 = Nyquist); the defaults are the paper's Fig. 5. `method`: as in
    `notch_filter`."""
    return _design(order, passband, stop, "passband", "stop", (1, 0), method)


def _coefficients(h, name: str = "h") -> np.ndarray:
    h = as_array(h, name, ndim=1)
    if h.size == 0:
        raise ValueError(f"{name}: holds no coefficients")
    return h


def frequency_response(h: ArrayLike, n: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """(frequency, magnitude_db): |H| of the FIR filter `h` in dB at `n` frequencies from 0 to 1
    (normalised, 1 = Nyquist), both ends included."""
    h = _coefficients(h)
    n = positive_int(n, "n")
    if n < 2:
        raise ValueError(f"n: need at least 2 frequencies, got {n}")
    frequency = np.linspace(0.0, 1.0, n)
    _, response = signal.freqz(h, worN=np.pi * frequency)
    with np.errstate(divide="ignore"):
        return frequency, 20 * np.log10(np.abs(response))


def filter_matrix(h: ArrayLike, n: int, boundary: str = "edge") -> np.ndarray:
    """The (n, n) matrix M of the 'same'-size convolution of an n-point signal x with `h`:
    (M x)[i] = sum_k h[k] x~[i + c - k] with c = (len(h) - 1) // 2 and x~ the signal extended beyond
    its ends by `boundary` ("edge", "zero" or "reflect"; see `BOUNDARIES`)."""
    h = _coefficients(h)
    n = positive_int(n, "n")
    choice(boundary, "boundary", BOUNDARIES)
    before = h.size // 2  # so that the output is numpy's 'same' convolution for any length of h
    after = h.size - 1 - before
    mode = {"edge": "edge", "zero": "constant", "reflect": "symmetric"}[boundary]
    extended = np.pad(np.eye(n), ((before, after), (0, 0)), mode=mode)  # (n + len(h) - 1, n)
    return signal.oaconvolve(extended, h[:, None], mode="valid", axes=0)


def _traces(traces, name: str = "traces") -> tuple[np.ndarray, bool]:
    traces = as_array(traces, name)
    if traces.ndim not in (1, 2) or traces.shape[-1] < 2:
        raise ValueError(f"{name}: expected a trace (n,) or traces (N, n) with n >= 2, got shape {traces.shape}")
    if traces.ndim == 2 and traces.shape[0] == 0:
        raise ValueError(f"{name}: holds no traces")
    return np.atleast_2d(traces), traces.ndim == 1


def apply(h: ArrayLike, traces: ArrayLike, boundary: str = "edge") -> np.ndarray:
    """The FIR filter `h` applied to each trace (rows of `traces`, or one 1-D trace), same length out.

    A 'same'-size convolution with the trace extended beyond its ends by `boundary` (see
    `filter_matrix`): this works for filters longer than the trace, such as the paper's order-256
    notch on 256 points, where `filtfilt` cannot.
    """
    traces, single = _traces(traces)
    out = traces @ filter_matrix(h, traces.shape[1], boundary).T
    return out[0] if single else out


# --- the regularised transform (Eq. 13) and the L-curve --------------------------------------------


def _columns(F, P) -> tuple[np.ndarray, np.ndarray]:
    F = as_array(F, "F", ndim=2)
    P = as_array(P, "P", ndim=2)
    if F.shape[1] != P.shape[1]:
        raise ValueError(f"P: F has {F.shape[1]} columns (examples) but P has {P.shape[1]}; both hold one "
                         "example per column")
    if F.shape[1] == 0:
        raise ValueError("F: holds no examples (columns)")
    return F, P


@_one_blas_thread
def time_distance_transform(F: ArrayLike, P: ArrayLike, lam: float) -> np.ndarray:
    """T = P F^T (F F^T + lam 1)^-1 (Eq. 13), the minimiser of ||T F - P||_F^2 + lam ||T||_F^2.

    `F` (n_in, N): inputs in columns (form factors or filtered traces); `P` (n_out, N): the
    distributions in columns; `lam` > 0. Returns T, (n_out, n_in).
    """
    F, P = _columns(F, P)
    lam = positive(lam, "lam")
    gram = F @ F.T
    gram[np.diag_indices_from(gram)] += lam
    return np.linalg.solve(gram, F @ P.T).T


class _Spectral:
    """T(lam) for many lam from one eigendecomposition F F^T = V diag(s) V^T: T = (P F^T V) diag(1 / (s + lam)) V^T."""

    def __init__(self, F: np.ndarray, P: np.ndarray):
        s, self.V = np.linalg.eigh(F @ F.T)
        self.s = np.clip(s, 0, None)
        self.C = (P @ F.T) @ self.V  # (n_out, n_in)
        self.p_norm2 = float(np.sum(P**2))

    @property
    def scale(self) -> float:
        return float(self.s.max())

    def transform(self, lam: float) -> np.ndarray:
        return (self.C / (self.s + lam)) @ self.V.T

    def norms(self, lams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(||T F - P||_F, ||T||_F) for each lam, without touching the N examples again."""
        c2 = np.sum(self.C**2, axis=0)  # per eigenvector
        kept = self.s > self.s.max() * 1e-13
        projected = np.zeros_like(c2)
        projected[kept] = c2[kept] / self.s[kept]  # ||P projected on F's row space||^2, per direction
        outside = max(self.p_norm2 - projected.sum(), 0.0)
        shrink = lams[:, None] / (self.s[None, :] + lams[:, None])
        residual = np.sqrt(outside + (shrink**2 * projected).sum(axis=1))
        solution = np.sqrt((c2[None, :] / (self.s[None, :] + lams[:, None]) ** 2).sum(axis=1))
        return residual, solution


@dataclasses.dataclass(frozen=True)
class LCurve:
    """The L-curve of Eq. 13: for each `lams[i]`, the residual norm ||T F - P||_F and the solution
    norm ||T||_F; `curvature` of the curve (log residual, log solution) as a function of log lam
    (positive where it bends like the corner of an L); `corner`, the index of maximum curvature."""

    lams: np.ndarray
    residual_norms: np.ndarray
    solution_norms: np.ndarray
    curvature: np.ndarray
    corner: int

    @property
    def lam(self) -> float:
        """lambda at the corner."""
        return float(self.lams[self.corner])

    @property
    def interior(self) -> bool:
        """False when the corner sits within two points of either end of the grid: the curve then has
        no clear corner inside the range of lambda scanned, and the corner depends on the grid."""
        return 2 < self.corner < self.lams.size - 3


def _lams(lams, name: str = "lams") -> np.ndarray:
    lams = as_array(lams, name, ndim=1)
    if lams.size < 5:
        raise ValueError(f"{name}: need at least 5 values of lambda, got {lams.size}")
    if np.any(lams <= 0) or np.any(np.diff(lams) <= 0):
        raise ValueError(f"{name}: values must be > 0 and strictly increasing")
    return lams


def _curvature(lams: np.ndarray, residual: np.ndarray, solution: np.ndarray) -> np.ndarray:
    u = np.log(lams)
    x, y = np.log(residual), np.log(solution)
    dx, dy = np.gradient(x, u), np.gradient(y, u)
    ddx, ddy = np.gradient(dx, u), np.gradient(dy, u)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (dx * ddy - ddx * dy) / (dx**2 + dy**2) ** 1.5
    return np.nan_to_num(kappa, nan=-np.inf)


def _l_curve(spectral: _Spectral, lams: np.ndarray | None) -> LCurve:
    lams = spectral.scale * RELATIVE_LAMS if lams is None else lams
    residual, solution = spectral.norms(lams)
    kappa = _curvature(lams, residual, solution)
    inner = kappa[1:-1]  # one-sided differences at the ends are unreliable
    return LCurve(lams, residual, solution, kappa, int(np.argmax(inner)) + 1)


@_one_blas_thread
def l_curve(F: ArrayLike, P: ArrayLike, lams: ArrayLike | None = None) -> LCurve:
    """The L-curve of `time_distance_transform(F, P, lam)` over `lams` (increasing, > 0; default: 49
    values from 1e-12 to 1 times the largest eigenvalue of F F^T) and its corner, the point of
    maximum curvature of (log ||T F - P||, log ||T||) (Hansen and O'Leary 1993)."""
    F, P = _columns(F, P)
    return _l_curve(_Spectral(F, P), None if lams is None else _lams(lams))


# --- the replica -----------------------------------------------------------------------------------


def chain_matrix(filters: Sequence[ArrayLike], n: int, boundary: str = "edge") -> np.ndarray:
    """The (n, n) matrix of `filters` applied one after the other (the first one first)."""
    matrix = np.eye(positive_int(n, "n"))
    for k, h in enumerate(filters):
        matrix = filter_matrix(_coefficients(h, f"filters[{k}]"), n, boundary) @ matrix
    return matrix


def _gain(x: np.ndarray, normalise: bool, intercept: bool) -> np.ndarray:
    if normalise:
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        x = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    if intercept:
        x = np.hstack([x, np.ones((x.shape[0], 1))])
    return x


def _distributions(outputs: np.ndarray) -> np.ndarray:
    """Outputs clipped at zero, rows of unit sum; a row without a positive output becomes uniform."""
    p = np.clip(outputs, 0, None)
    total = p.sum(axis=1, keepdims=True)
    empty = total[:, 0] <= 0
    p[empty], total[empty] = 1.0, p.shape[1]
    return p / total


def _errors(outputs: np.ndarray, true: np.ndarray) -> np.ndarray:
    from ..nets.metrics import relative_error

    return relative_error(_distributions(outputs), true)


@dataclasses.dataclass
class Replica:
    """The rational replica: `filters` (FIR coefficients, applied in order with `boundary`), an
    optional per-trace gain control (`normalise`: each filtered trace divided by its norm), an
    optional constant input (`intercept`), and the transform `T` (n_dist, n_time [+ 1]) of Eq. 13
    with its `lam`, fitted on `source` ("traces" or "form_factors") to `targets` ("unit_sum" or
    "max_0.75"). `r`: the distance grid, nm; `lcurve`: the L-curve of the fit."""

    filters: tuple[np.ndarray, ...]
    T: np.ndarray
    lam: float
    boundary: str = "edge"
    normalise: bool = True
    intercept: bool = False
    source: str = "traces"
    targets: str = "unit_sum"
    r: np.ndarray | None = None
    lcurve: LCurve | None = dataclasses.field(default=None, repr=False)
    _spectral: _Spectral | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def n_time(self) -> int:
        """Points per trace."""
        return self.T.shape[1] - int(self.intercept)

    @property
    def matrix(self) -> np.ndarray:
        """The filters as one (n_time, n_time) matrix."""
        return chain_matrix(self.filters, self.n_time, self.boundary)

    def _checked(self, traces) -> tuple[np.ndarray, bool]:
        x, single = _traces(traces)
        if x.shape[1] != self.n_time:
            raise ValueError(f"traces: expected {self.n_time} points per trace, got {x.shape[1]}")
        return x, single

    def stages(self, traces: ArrayLike) -> list[np.ndarray]:
        """The traces after each filter in turn: [after filters[0], after filters[0] and [1], ...]."""
        x, single = self._checked(traces)
        out = []
        for h in self.filters:
            x = x @ filter_matrix(h, self.n_time, self.boundary).T
            out.append(x[0] if single else x)
        return out

    def features(self, traces: ArrayLike) -> np.ndarray:
        """What T acts on: the filtered traces, divided by their norms with `normalise`, with a
        constant column with `intercept`; (N, n_time [+ 1])."""
        x, _ = self._checked(traces)
        return _gain(x @ self.matrix.T, self.normalise, self.intercept)

    def outputs(self, traces: ArrayLike) -> np.ndarray:
        """Raw outputs T x of the features, (N, n_dist)."""
        return self.features(traces) @ self.T.T

    def predict(self, traces: ArrayLike) -> np.ndarray:
        """Distance distributions on the grid `r` for traces (N, n_time) or one trace (n_time,):
        outputs clipped at zero, each row of unit sum (a row with no positive output becomes the
        uniform distribution, as `descrambler.nets.predict` does)."""
        single = np.ndim(traces) == 1
        p = _distributions(self.outputs(traces))
        return p[0] if single else p

    def with_lambda(self, lam: float) -> Replica:
        """The same replica refitted with another `lam` (instant: the fit's eigendecomposition is kept)."""
        if self._spectral is None:
            raise ValueError("lam: this replica does not keep its fit; call fit_replica with this lam")
        lam = positive(lam, "lam")
        return dataclasses.replace(self, T=self._spectral.transform(lam), lam=lam)


def paper_filters(method: str = "firls") -> tuple[np.ndarray, np.ndarray]:
    """(low-pass, notch) with the paper's orders and band edges, in the order the replica applies them."""
    return lowpass_filter(**PAPER_LOWPASS, method=method), notch_filter(**PAPER_NOTCH, method=method)


def _library(library, name: str = "library") -> Library:
    if not isinstance(library, Library):
        raise ValueError(f"{name}: expected a descrambler.deer.Library, got {type(library).__name__}")
    return library


def _holdout_scan(spectral: _Spectral, features: np.ndarray, true: np.ndarray,
                  lams: np.ndarray) -> np.ndarray:
    projected = features @ spectral.V
    return np.array([np.median(_errors((projected / (spectral.s + lam)) @ spectral.C.T, true)) for lam in lams])


def _default_scan(curve: LCurve) -> np.ndarray:
    """Every second lambda of the L-curve grid (half a decade apart), plus the corner."""
    return np.union1d(curve.lams[::2], [curve.lam])


@_one_blas_thread
def holdout_lambda(replica: Replica, library: Library,
                   lams: ArrayLike | None = None) -> tuple[float, np.ndarray, np.ndarray]:
    """(lam, lams, medians): the lambda of `lams` that minimises the median relative error of
    `replica` on `library` (a held-out library: never the validation library), and the median error
    at each lambda. Default `lams`: every second value of the replica's L-curve grid and its corner."""
    library = _library(library)
    if replica._spectral is None or replica.lcurve is None:
        raise ValueError("replica: does not keep its fit; use the result of fit_replica")
    lams = _default_scan(replica.lcurve) if lams is None else _lams(lams)
    medians = _holdout_scan(replica._spectral, replica.features(library.traces), library.distributions, lams)
    return float(lams[int(np.argmin(medians))]), lams, medians


def _flag(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return value


def _lam_choice(lam, holdout) -> float | str:
    if isinstance(lam, str):
        choice(lam, "lam", ("corner", "holdout"))
        if lam == "holdout" and holdout is None:
            raise ValueError("holdout: lam='holdout' needs a held-out library")
        return lam
    return positive(lam, "lam")


def unit_targets(library: Library, targets: str = "unit_sum") -> np.ndarray:
    """The library's distributions, float64 (N, n_dist), scaled to unit sum (`targets` "unit_sum",
    the default targets of T) or to a maximum of 0.75 ("max_0.75", the net's training targets)."""
    choice(targets, "targets", TARGETS)
    p = _library(library).distributions.astype(np.float64)
    return p / p.sum(axis=1, keepdims=True) if targets == "unit_sum" else p * (0.75 / p.max(axis=1, keepdims=True))


def form_factors(library: Library) -> np.ndarray:
    """Noise-free form factors F = K p (F(0) = 1) of the library's distributions, (N, n_time)."""
    library = _library(library)
    factors = unit_targets(library) @ dipolar_kernel(library.t, library.r).T
    factors[:, 0] = 1.0
    return factors


@_one_blas_thread
def fit_replica(library: Library, filters: Sequence[ArrayLike] | None = None, *, boundary: str = "edge",
                normalise: bool = True, source: str = "traces", intercept: bool = False,
                targets: str = "unit_sum", lam: float | str = "corner", lams: ArrayLike | None = None,
                holdout: Library | None = None) -> Replica:
    """Fit the replica's transform T (Eq. 13) on a training `library`.

    `filters`: FIR coefficient arrays applied in order (default: the paper's low-pass then notch,
    `paper_filters()`; an empty sequence gives ridge regression on the unfiltered traces).
    `source`: "traces" (default) fits T on the library's filtered traces; "form_factors" on the
    noise-free form factors K p of the library's distributions (the paper's choice), through the same
    filters and gain control. `normalise`, `intercept`, `boundary`: see `Replica`. `targets`: the
    library's distributions scaled to unit sum (default) or to a maximum of 0.75. `lam`: a number,
    "corner" (default: the corner of the L-curve over `lams`) or "holdout" (`holdout_lambda` on the
    `holdout` library over `lams`).
    The L-curve is kept (`Replica.lcurve`), and the fit, so `with_lambda` is instant.
    """
    library = _library(library)
    filters = paper_filters() if filters is None else tuple(_coefficients(h, f"filters[{k}]")
                                                             for k, h in enumerate(filters))
    choice(boundary, "boundary", BOUNDARIES)
    choice(source, "source", SOURCES)
    normalise, intercept = _flag(normalise, "normalise"), _flag(intercept, "intercept")
    outputs = unit_targets(library, targets)
    lam = _lam_choice(lam, holdout)
    lams = None if lams is None else _lams(lams)
    inputs = library.traces.astype(np.float64) if source == "traces" else form_factors(library)
    matrix = chain_matrix(filters, inputs.shape[1], boundary)
    spectral = _Spectral(_gain(inputs @ matrix.T, normalise, intercept).T, outputs.T)
    curve = _l_curve(spectral, lams)
    replica = Replica(filters=filters, T=np.empty((outputs.shape[1], matrix.shape[0] + int(intercept))),
                      lam=float("nan"), boundary=boundary, normalise=normalise, intercept=intercept,
                      source=source, targets=targets, r=np.asarray(library.r, dtype=np.float64), lcurve=curve,
                      _spectral=spectral)
    if lam == "corner":
        lam = curve.lam
    elif lam == "holdout":
        lam = holdout_lambda(replica, _library(holdout, "holdout"), lams)[0]
    return replica.with_lambda(lam)


@_one_blas_thread
def evaluate(predictor, library: Library) -> np.ndarray:
    """Relative errors (`descrambler.nets.relative_error`) of `predictor` on `library`, one per trace.
    `predictor`: a `Replica` or a torch network (run through `descrambler.nets.predict`)."""
    from ..nets.metrics import relative_error

    library = _library(library)
    if isinstance(predictor, Replica):
        predicted = predictor.predict(library.traces)
    else:
        from ..nets.predict import predict

        predicted = predict(predictor, library.traces)
    return relative_error(predicted, library.distributions)


# --- the variants the chapter tries ---------------------------------------------------------------


def variants() -> dict[str, tuple[str, dict]]:
    """Every variant of the replica the chapter fits: name -> (what changes, keyword arguments of
    `fit_replica`). "replica" is `fit_replica`'s default (the paper's filters, T on the filtered
    traces, gain control); each other line changes one or two choices."""
    low, notch = paper_filters()
    no_gain = {"normalise": False}
    return {
        "paper recipe": ("the paper's: T on filtered form factors, no gain control",
                         {"source": "form_factors", **no_gain}),
        "paper filters, T on traces": ("T on filtered library traces, no gain control", no_gain),
        "replica": ("+ gain control (each filtered trace divided by its norm)", {}),
        "form factors + gain": ("T on filtered form factors, with gain control", {"source": "form_factors"}),
        "boundary zero": ("filters extend the trace with zeros", {"boundary": "zero"}),
        "boundary reflect": ("filters extend the trace by mirroring", {"boundary": "reflect"}),
        "equiripple filters": ("filters designed by remez instead of firls", {"filters": paper_filters("remez")}),
        "intercept": ("T gets a constant input (a bias)", {"intercept": True}),
        "targets peak 0.75": ("T fitted to distributions scaled to a maximum of 0.75 (the net's targets)",
                              {"targets": "max_0.75"}),
        "notch pass 0.016": ("notch pass-band edge 0.016 (paper 0.008)",
                             {"filters": (low, notch_filter(passband=0.016))}),
        "notch pass 0.03": ("notch pass-band edge 0.03", {"filters": (low, notch_filter(passband=0.03))}),
        "notch order 128": ("notch of order 128 (paper 256)", {"filters": (low, notch_filter(order=128))}),
        "low-pass stop 0.1": ("low-pass stop-band edge 0.1 (paper 0.3)",
                              {"filters": (lowpass_filter(stop=0.1), notch)}),
        "low-pass stop 0.6": ("low-pass stop-band edge 0.6", {"filters": (lowpass_filter(stop=0.6), notch)}),
        "no low-pass": ("the notch alone", {"filters": (notch,)}),
        "no notch": ("the low-pass alone", {"filters": (low,)}),
        "no low-pass, notch pass 0.016": ("the notch alone, pass-band edge 0.016",
                                          {"filters": (notch_filter(passband=0.016),)}),
        "ridge + gain": ("no filters, gain control", {"filters": ()}),
        "plain ridge": ("no filters, no gain control: ridge on the boxed traces", {"filters": (), **no_gain}),
    }


@_one_blas_thread
def study_variants(library: Library, holdout: Library, validation: Library,
                   names: Sequence[str] | None = None) -> list[dict]:
    """Fit each variant of `variants()` (or those in `names`) on `library`, with lambda from the
    L-curve corner and from the `holdout` library, and score both on `validation`. One dict per
    variant: name, change, seconds (the fit), lam_corner, corner_interior (`LCurve.interior`),
    lam_holdout (both also relative to the largest eigenvalue of F F^T, `lam_*_relative`), the held-out
    median errors at both (`holdout_median_corner`, `holdout_median_holdout`), `errors_corner` and
    `errors_holdout` (the relative error of each validation trace), and the fitted replicas
    (`replica`, `replica_holdout`)."""
    _library(library), _library(holdout, "holdout"), _library(validation, "validation")
    table = variants()
    names = list(table) if names is None else list(names)
    for name in names:
        choice(name, "names", table)
    rows = []
    for name in names:
        change, settings = table[name]
        start = time.perf_counter()
        replica = fit_replica(library, **settings)
        seconds = time.perf_counter() - start
        lam_holdout, lams, medians = holdout_lambda(replica, holdout)
        corner = replica.lam
        tuned = replica.with_lambda(lam_holdout)
        scale = replica._spectral.scale
        rows.append({"name": name, "change": change, "seconds": seconds, "lam_corner": corner,
                     "lam_corner_relative": corner / scale, "corner_interior": replica.lcurve.interior,
                     "lam_holdout": lam_holdout, "lam_holdout_relative": lam_holdout / scale,
                     "holdout_median_corner": float(medians[np.searchsorted(lams, corner)]),
                     "holdout_median_holdout": float(medians.min()),
                     "errors_corner": evaluate(replica, validation), "errors_holdout": evaluate(tuned, validation),
                     "replica": replica, "replica_holdout": tuned})
    return rows


# --- the swap test -------------------------------------------------------------------------------


@dataclasses.dataclass
class SwapTest:
    """Relative errors on a validation library (`errors`: name -> one error per trace) of the arms
    of `swap_test`, and the lambda of each linear map (`lams`)."""

    errors: dict[str, np.ndarray]
    lams: dict[str, float]

    def medians(self) -> dict[str, float]:
        """Median relative error of each arm."""
        return {name: float(np.median(e)) for name, e in self.errors.items()}

    def kept(self, name: str) -> float:
        """Share of the net's gain over plain ridge that arm `name` keeps, in medians:
        (ridge - name) / (ridge - net); 1: as good as the net, 0: no better than plain ridge."""
        m = self.medians()
        choice(name, "name", m)
        return (m["plain ridge"] - m[name]) / (m["plain ridge"] - m["net"])


def _fit_map(features: np.ndarray, targets: np.ndarray, lam, holdout_features,
             holdout_true) -> tuple[np.ndarray, float]:
    """T of Eq. 13 behind fixed features (rows), lambda by `lam` ("corner", "holdout" or a number)."""
    spectral = _Spectral(features.T, targets.T)
    curve = _l_curve(spectral, None)
    if lam == "corner":
        lam = curve.lam
    elif lam == "holdout":
        lams = _default_scan(curve)
        lam = float(lams[int(np.argmin(_holdout_scan(spectral, holdout_features, holdout_true, lams)))])
    return spectral.transform(lam), float(lam)


OUTPUTS = ("logsig", "softplus", "linear")


def fit_output_layer(features: ArrayLike, library: Library, output: str = "logsig", target: str = "max_0.75",
                     epochs: int = 6, batch_size: int = 128, learning_rate: float = 1e-2, seed: int = 0):
    """Train one fully connected layer with the net's output activation on fixed `features`
    (N, n_features), one row per trace of `library`, the way the net's layers are trained (Adam,
    cosine schedule, mean squared error to the `target` distributions: "max_0.75" or "unit_sum").

    The features are whitened first (centred and rotated onto their principal axes with unit
    variance, axes below 1e-8 of the largest variance dropped): the same function class, but Adam
    then converges on features as ill-conditioned as filtered traces. Returns a function
    features -> outputs (N, n_dist). The only part of this module that uses torch.
    """
    import torch
    from torch import nn

    features = as_array(features, "features", ndim=2)
    library = _library(library)
    if features.shape[0] != len(library):
        raise ValueError(f"features: {features.shape[0]} rows for a library of {len(library)} traces")
    choice(output, "output", OUTPUTS)
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    learning_rate = positive(learning_rate, "learning_rate")
    mean = features.mean(axis=0)
    variance, axes = np.linalg.eigh(np.cov((features - mean).T))
    kept = variance > variance.max() * 1e-8
    whiten = axes[:, kept] / np.sqrt(variance[kept])
    y = torch.tensor(unit_targets(library, target), dtype=torch.float32)
    x = torch.tensor((features - mean) @ whiten, dtype=torch.float32)
    activation = {"logsig": nn.Sigmoid(), "softplus": nn.Softplus(), "linear": nn.Identity()}[output]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = nn.Sequential(nn.Linear(x.shape[1], y.shape[1]), activation)
    optimiser = torch.optim.Adam(layer.parameters(), lr=learning_rate)
    steps = max(len(x) // batch_size, 1)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, epochs * steps)
    shuffle = torch.Generator().manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small steps: on a loaded 2-core machine two threads ran 80 times slower
    try:
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=shuffle)
            for step in range(steps):
                rows = order[step * batch_size:(step + 1) * batch_size]
                loss = nn.functional.mse_loss(layer(x[rows]), y[rows])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                schedule.step()
    finally:
        torch.set_num_threads(threads)
    layer.eval()

    def apply_layer(new: ArrayLike) -> np.ndarray:
        new = as_array(new, "features", ndim=2)
        with torch.no_grad():
            return layer(torch.tensor((new - mean) @ whiten, dtype=torch.float32)).double().numpy()

    return apply_layer


@_one_blas_thread
def swap_test(model, library: Library, validation: Library, replica: Replica | None = None,
              lam: float | str = "corner", holdout: Library | None = None, output: str | None = None,
              target: str = "max_0.75", epochs: int = 6, seed: int = 0) -> SwapTest:
    """Replace the net's first layer by the replica's filters and fit only the layer behind them.

    Arms, fitted on the training `library` and scored on `validation` (`SwapTest.errors`):

    - "net": the net itself;
    - "net layer 1 + linear map": a linear map T (Eq. 13, with a constant input, as the net's second
      layer has a bias) behind the net's own first layer, tanh(W1 x + b1);
    - "net layer 1 without tanh + linear map": the same behind W1 x + b1;
    - "replica": `replica` (default `fit_replica(library, lam=lam)`): T behind the filters and gain
      control;
    - "plain ridge": T on the boxed traces, the zero point of `SwapTest.kept`.

    `lam`: as in `fit_replica`, for the maps fitted here. With `output` ("logsig", "softplus" or
    "linear"; usually the net's own) two more arms train an output layer with that activation
    (`fit_output_layer`, `target`, `epochs`, `seed`) instead of T: "net layer 1 + trained output
    layer" (the net's second layer retrained: it calibrates the training) and "replica + trained
    output layer" (the same layer behind the replica's filters and gain control).
    """
    from .findings.analysis import weights

    library, validation = _library(library), _library(validation, "validation")
    lam = _lam_choice(lam, holdout)
    if output is not None:
        choice(output, "output", OUTPUTS)
    W1, b1, _ = weights(model)
    layers = {"net layer 1 + linear map": lambda x: np.tanh(x @ W1.T + b1),
              "net layer 1 without tanh + linear map": lambda x: x @ W1.T + b1}
    targets = unit_targets(library)
    train_x, valid_x = library.traces.astype(np.float64), validation.traces.astype(np.float64)
    hold_x = None if holdout is None else holdout.traces.astype(np.float64)
    errors, lams = {"net": evaluate(model, validation)}, {}
    for name, layer in layers.items():
        train_f, valid_f = _gain(layer(train_x), False, True), _gain(layer(valid_x), False, True)
        hold_f = None if hold_x is None else _gain(layer(hold_x), False, True)
        T, lams[name] = _fit_map(train_f, targets, lam, hold_f, None if holdout is None else holdout.distributions)
        errors[name] = _errors(valid_f @ T.T, validation.distributions)
    replica = fit_replica(library, lam=lam, holdout=holdout) if replica is None else replica
    ridge = fit_replica(library, (), normalise=False, lam=lam, holdout=holdout)
    for name, fitted in (("replica", replica), ("plain ridge", ridge)):
        errors[name], lams[name] = evaluate(fitted, validation), fitted.lam
    if output is not None:
        for name, features in (("net layer 1 + trained output layer", lambda x: np.tanh(x @ W1.T + b1)),
                               ("replica + trained output layer", replica.features)):
            layer = fit_output_layer(features(train_x), library, output, target, epochs, seed=seed)
            errors[name] = _errors(layer(features(valid_x)), validation.distributions)
    return SwapTest(errors, lams)
