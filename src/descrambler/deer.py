"""DEER simulation: the dipolar kernel, the distance range of a time grid, DEERNet's training library
and the reading of a measured trace. Times are in microseconds (us), distances in nanometres (nm).
"""

from __future__ import annotations

import dataclasses
import numbers
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import PchipInterpolator
from scipy.special import fresnel, ndtr, roots_legendre
from threadpoolctl import threadpool_limits

from ._validate import as_array, choice, non_negative_int, positive, positive_int

HBAR = 1.054571628e-34  # J s
MU0 = 4e-7 * np.pi  # T m / A
GAMMA_ELECTRON = -1.76085963023e11  # rad / (s T), free electron
#: Dipolar angular frequency at 1 nm, rad/us: D(r) = DIPOLAR_ANGULAR / r**3.
DIPOLAR_ANGULAR = MU0 * GAMMA_ELECTRON**2 * HBAR / (4 * np.pi) / 1e-27 * 1e-6
#: Dipolar frequency at 1 nm, MHz nm^3 (about 52.04): D(r) / (2 pi) = DIPOLAR_MHZ / r**3.
DIPOLAR_MHZ = DIPOLAR_ANGULAR / (2 * np.pi)

EXPERIMENTS = ("deer", "ridme")
#: Choices of the LibraryConfig fields of the same names.
NORMALISATIONS = ("box", "first_last")
FWHM_REFERENCES = ("range", "distance")
PEAK_POSITIONS = ("triangular", "uniform")
#: Traces generated per random stream; fixed, so a (n, seed) pair always gives the same arrays.
BLOCK_SIZE = 4096


def dipolar_frequency(r: ArrayLike) -> np.ndarray:
    """Dipolar frequency D(r) / (2 pi) in MHz for distances `r` in nm."""
    r = as_array(r, "r")
    if np.any(r <= 0):
        raise ValueError("r: distances must be > 0 nm")
    return DIPOLAR_MHZ / r**3


def _exchange(exchange_mhz) -> float:
    return float(as_array(exchange_mhz, "exchange_mhz", ndim=0))


def dipolar_kernel(t: ArrayLike, r: ArrayLike, exchange_mhz: float = 0.0) -> np.ndarray:
    """Orientation-averaged DEER kernel K(t, r) = int_0^1 cos(((1 - 3x^2) D(r) + 2 pi J) t) dx.

    `t` (us, >= 0) and `r` (nm, > 0) are 1-D; `exchange_mhz` is the exchange coupling J in MHz
    (0: none). Returns an array of shape (len(t), len(r)) from the Fresnel-integral closed form
    Re[exp(i (D + 2 pi J) t) sqrt(pi / (6 D t)) (C(z) - i S(z))], z = sqrt(6 D t / pi), without
    distance-step weights; K(0, r) = 1.
    """
    t = as_array(t, "t", ndim=1)
    r = as_array(r, "r", ndim=1)
    exchange_mhz = _exchange(exchange_mhz)
    if t.size == 0 or r.size == 0:
        raise ValueError("t, r: need at least one time and one distance")
    if np.any(t < 0):
        raise ValueError("t: times must be >= 0 us")
    if np.any(r <= 0):
        raise ValueError("r: distances must be > 0 nm")
    phase = np.outer(t, DIPOLAR_ANGULAR / r**3)  # rad
    fresnel_s, fresnel_c = fresnel(np.sqrt(6 * phase / np.pi))
    # J = 0 keeps the phase untouched, so the kernel is bit-identical to the kernel without exchange
    total = phase if exchange_mhz == 0 else phase + (2 * np.pi * exchange_mhz * t)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = np.sqrt(np.pi / (6 * phase)) * (np.cos(total) * fresnel_c + np.sin(total) * fresnel_s)
    kernel[phase == 0] = 1.0  # t = 0: cos(2 pi J 0) = 1
    return kernel


def _dipolar_sine_kernel(t: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Ks(t, r) = int_0^1 sin((1 - 3x^2) D(r) t) dx, the imaginary part of the kernel's closed form.

    With it, the kernel with exchange J is cos(2 pi J t) K(t, r) - sin(2 pi J t) Ks(t, r).
    """
    phase = np.outer(t, DIPOLAR_ANGULAR / r**3)
    fresnel_s, fresnel_c = fresnel(np.sqrt(6 * phase / np.pi))
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = np.sqrt(np.pi / (6 * phase)) * (np.sin(phase) * fresnel_c - np.cos(phase) * fresnel_s)
    kernel[phase == 0] = 0.0
    return kernel


def dipolar_kernel_by_quadrature(t: ArrayLike, r: ArrayLike, nodes: int = 4000,
                                 exchange_mhz: float = 0.0) -> np.ndarray:
    """The kernel of `dipolar_kernel` by direct Gauss-Legendre integration over x = cos(theta).

    An independent check of the closed form; `nodes` must resolve (1 - 3x^2) D t, i.e. a few nodes
    per oscillation: 4000 nodes are exact to ~1e-12 for D t up to ~2000 rad. `exchange_mhz`: J, MHz.
    """
    t = as_array(t, "t", ndim=1)
    r = as_array(r, "r", ndim=1)
    nodes = positive_int(nodes, "nodes")
    exchange_mhz = _exchange(exchange_mhz)
    if np.any(t < 0):
        raise ValueError("t: times must be >= 0 us")
    if np.any(r <= 0):
        raise ValueError("r: distances must be > 0 nm")
    x, w = roots_legendre(nodes)
    x, w = (x + 1) / 2, w / 2  # map [-1, 1] to [0, 1]
    angular = 1 - 3 * x**2
    frequency = DIPOLAR_ANGULAR / r**3
    return np.stack([np.cos(np.multiply.outer(ti * frequency, angular) + 2 * np.pi * exchange_mhz * ti) @ w
                     for ti in t])


def distance_range(dt: float, tmax: float, experiment: str = "deer") -> tuple[float, float]:
    """Distances (rmin, rmax) in nm that a uniform time grid of step `dt` and length `tmax` (us) supports.

    DEER: half a dipolar period fits in `tmax`, four steps per period. RIDME: a full period fits,
    eight steps per period.
    """
    dt = positive(dt, "dt")
    tmax = positive(tmax, "tmax")
    choice(experiment, "experiment", EXPERIMENTS)
    if dt >= tmax:
        raise ValueError(f"dt: the time step ({dt} us) must be smaller than tmax ({tmax} us)")
    periods_max, steps_min = (2.0, 4.0) if experiment == "deer" else (1.0, 8.0)
    return float(np.cbrt(steps_min * DIPOLAR_MHZ * dt)), float(np.cbrt(periods_max * DIPOLAR_MHZ * tmax))


def _non_negative_float(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name}: must be a finite number >= 0, got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class LibraryConfig:
    """A DEER training database; the defaults are DEERNet's library_dd.m. Times in us, distances in nm.

    Peaks: `min_peaks`..`max_peaks` of them (integer uniform), amplitudes U(0, 1], positions r0 on
    the supported distance range [rmin, rmax]: `peak_positions` "triangular" (default)
    r0 = rmin + (rmax - rmin) |u1 + u2 - 1| (favouring short distances) or "uniform".
    FWHM between `min_fwhm_fraction` * r0 and a widest FWHM of `max_fwhm_fraction` times the
    distance range (`fwhm_reference` "range", default) or times r0 ("distance", the 2018 DEERNet),
    sampled as narrowest + (widest - narrowest) |u3 + u4 - 1| (favouring narrow).
    Shape: Gaussian for `max_skew` = 0 (default); otherwise each peak is a skew normal
    2 phi(z) Phi(alpha z), z = (r - r0) / sigma, alpha ~ U(-max_skew, max_skew), where r0 and the
    FWHM = 2 sqrt(2 ln 2) sigma remain the location and the width of the underlying normal (not the
    mode, mean or FWHM of the skewed peak).
    Trace: (1 - depth + depth F) B with F = K p, B = exp(-(k t)^(d/3)); with `max_exchange_mhz` > 0
    the kernel includes an exchange coupling J ~ U(-max, max) MHz per trace (see `dipolar_kernel`).
    Gaussian noise of RMS (`min_noise_fraction` + (`max_noise_fraction` - `min_noise_fraction`) u)
    * depth, u ~ U(0, 1). Normalisation of each noisy trace (`normalisation`): "box" (default) maps
    its min and max to 0 and 1; "first_last" (the 2018 DEERNet) maps its first point to 1 and its
    last point to 0, and falls back to "box" for a trace whose first and last points are equal.
    The same affine map is applied to `clean` and `background`.
    With `normalisation` .. `min_noise_fraction` at their defaults no extra random numbers are drawn
    and the library is bit-identical to the library_dd.m recipe this module had before them.
    """

    n_time: int = 256
    n_dist: int = 256
    tmax: float = 2.0
    max_peaks: int = 4
    min_fwhm_fraction: float = 0.025
    max_fwhm_fraction: float = 0.5
    min_depth: float = 0.01
    max_depth: float = 1.0
    max_noise_fraction: float = 0.05
    min_decay_rate: float = 0.0
    max_decay_rate: float = 0.5
    min_dimension: float = 2.0
    max_dimension: float = 3.5
    normalisation: str = "box"
    min_peaks: int = 1
    fwhm_reference: str = "range"
    peak_positions: str = "triangular"
    max_skew: float = 0.0
    max_exchange_mhz: float = 0.0
    min_noise_fraction: float = 0.0

    def __post_init__(self):
        for name in ("n_time", "n_dist", "max_peaks", "min_peaks"):  # stored as int: 4.0 -> 4
            object.__setattr__(self, name, positive_int(getattr(self, name), name))
        if self.min_peaks > self.max_peaks:
            raise ValueError(f"min_peaks: need 1 <= min_peaks <= max_peaks, got {self.min_peaks} "
                             f"and max_peaks = {self.max_peaks}")
        if self.n_time < 8:
            raise ValueError(f"n_time: need at least 8 time points, got {self.n_time}")
        if self.n_dist < 2:
            raise ValueError(f"n_dist: need at least 2 distance points, got {self.n_dist}")
        positive(self.tmax, "tmax")
        choice(self.normalisation, "normalisation", NORMALISATIONS)
        choice(self.fwhm_reference, "fwhm_reference", FWHM_REFERENCES)
        choice(self.peak_positions, "peak_positions", PEAK_POSITIONS)
        for low, high in (("min_depth", "max_depth"), ("min_decay_rate", "max_decay_rate"),
                          ("min_dimension", "max_dimension")):
            a, b = getattr(self, low), getattr(self, high)
            if not (np.isfinite(a) and np.isfinite(b) and 0 <= a <= b):
                raise ValueError(f"{low}, {high}: need 0 <= {low} <= {high}, got {a} and {b}")
        if self.max_depth > 1 or self.min_depth <= 0:
            raise ValueError(f"min_depth, max_depth: modulation depths must lie in (0, 1], got "
                             f"{self.min_depth} and {self.max_depth}")
        if self.min_dimension <= 0:
            raise ValueError(f"min_dimension: must be > 0, got {self.min_dimension}")
        positive(self.min_fwhm_fraction, "min_fwhm_fraction")
        positive(self.max_fwhm_fraction, "max_fwhm_fraction")
        for name in ("max_noise_fraction", "min_noise_fraction", "max_skew", "max_exchange_mhz"):
            _non_negative_float(getattr(self, name), name)
        if self.min_noise_fraction > self.max_noise_fraction:
            raise ValueError(f"min_noise_fraction: must not exceed max_noise_fraction, got "
                             f"{self.min_noise_fraction} > {self.max_noise_fraction}")
        rmin, rmax = self.distance_limits
        if self.fwhm_reference == "range":
            if self.min_fwhm_fraction * rmax > self.max_fwhm_fraction * (rmax - rmin):
                raise ValueError("min_fwhm_fraction, max_fwhm_fraction: the narrowest peak at the longest "
                                 "distance would be wider than the widest peak allowed")
        elif self.min_fwhm_fraction > self.max_fwhm_fraction:
            raise ValueError("min_fwhm_fraction, max_fwhm_fraction: with fwhm_reference 'distance' the "
                             "narrowest peak would be wider than the widest peak allowed")

    @property
    def dt(self) -> float:
        """Time step, us."""
        return self.tmax / (self.n_time - 1)

    @property
    def distance_limits(self) -> tuple[float, float]:
        """(rmin, rmax) in nm supported by the DEER time grid."""
        return distance_range(self.dt, self.tmax, "deer")

    @property
    def t(self) -> np.ndarray:
        """Time axis, us, from 0 to `tmax`."""
        return np.linspace(0.0, self.tmax, self.n_time)

    @property
    def r(self) -> np.ndarray:
        """Distance axis, nm, from rmin to rmax."""
        return np.linspace(*self.distance_limits, self.n_dist)


#: Named training databases for the fidelity study; configs are frozen, so sharing them is safe.
LIBRARY_PRESETS: dict[str, LibraryConfig] = {
    # DEERNet's library_dd.m (Spinach), the database of the PNAS 2021 descrambler paper
    "library_dd": LibraryConfig(),
    # The 2018 DEERNet database: Worswick et al., Sci. Adv. 4, eaat5218 (2018), Table 1 (suggested
    # ranges), on this project's time grid (n_time = 256, tmax = 2 us: distances 1.18..5.93 nm).
    # Each range below is Table 1's as transcribed for the fidelity study; fields not listed (the
    # grid, n_dist) keep the library_dd values.
    "deernet_2018": LibraryConfig(
        min_peaks=1, max_peaks=3,  # Table 1: number of distance peaks 1..3
        peak_positions="uniform",  # Table 1: peak positions uniform over the distance range
        fwhm_reference="distance",  # Table 1: peak FWHM 5..50 % of the peak's own distance
        min_fwhm_fraction=0.05, max_fwhm_fraction=0.5,
        max_skew=3.0,  # Table 1: skew-normal peaks, shape parameter -3..3
        min_depth=0.1, max_depth=0.6,  # Table 1: modulation depth 0.1..0.6
        min_noise_fraction=0.0, max_noise_fraction=0.1,  # Table 1: noise RMS 0..10 % of the depth
        max_exchange_mhz=5.0,  # Table 1: exchange coupling -5..5 MHz
        min_decay_rate=0.0, max_decay_rate=0.5,  # Table 1: background decay rate 0..0.5 1/us
        min_dimension=2.0, max_dimension=3.5,  # Table 1: background dimension 2..3.5
        normalisation="first_last",  # 2018 DEERNet: first point 1, last point 0
    ),
}


def library_preset(name: str) -> LibraryConfig:
    """The LibraryConfig of preset `name` (a key of LIBRARY_PRESETS)."""
    return LIBRARY_PRESETS[choice(name, "name", LIBRARY_PRESETS)]


@dataclasses.dataclass
class Library:
    """Simulated DEER traces (rows) with their distance distributions and sampled parameters.

    `traces`, `clean`, `background`: (n, n_time), each mapped by the affine map that normalises its
    noisy trace (`config.normalisation`: "box" to [0, 1] by the noisy trace's min and max,
    "first_last" to first point 1 and last point 0); `distributions`: (n, n_dist), mean 1 over the
    distance axis. Per trace: `n_peaks`, and (n, max_peaks) arrays `peak_position` (nm, the
    location of the underlying normal), `peak_fwhm` (nm, the FWHM of the underlying normal),
    `peak_amplitude`, `peak_skew` (skew-normal shape alpha; 0 for Gaussian peaks), all NaN where a
    trace has fewer peaks; `modulation_depth`, `decay_rate` (1/us), `dimension`, `noise_rms`
    (relative to the unnormalised trace's value at zero time, V(0) = 1), `exchange_mhz` (exchange
    coupling J, MHz; 0 without exchange).
    """

    config: LibraryConfig
    t: np.ndarray
    r: np.ndarray
    traces: np.ndarray
    clean: np.ndarray
    background: np.ndarray
    distributions: np.ndarray
    n_peaks: np.ndarray
    peak_position: np.ndarray
    peak_fwhm: np.ndarray
    peak_amplitude: np.ndarray
    modulation_depth: np.ndarray
    decay_rate: np.ndarray
    dimension: np.ndarray
    noise_rms: np.ndarray
    peak_skew: np.ndarray
    exchange_mhz: np.ndarray

    def __len__(self) -> int:
        return self.traces.shape[0]


def _uniform(rng: np.random.Generator, low: float, high: float, size) -> np.ndarray:
    return (low + (high - low) * rng.random(size, dtype=np.float32)).astype(np.float32)


def _empty_arrays(n: int, config: LibraryConfig) -> dict:
    per_trace, per_peak = (n,), (n, config.max_peaks)
    shapes = {"traces": (n, config.n_time), "clean": (n, config.n_time), "background": (n, config.n_time),
              "distributions": (n, config.n_dist), "n_peaks": per_trace, "peak_position": per_peak,
              "peak_fwhm": per_peak, "peak_amplitude": per_peak, "modulation_depth": per_trace,
              "decay_rate": per_trace, "dimension": per_trace, "noise_rms": per_trace,
              "peak_skew": per_peak, "exchange_mhz": per_trace}
    return {name: np.empty(shape, np.int8 if name == "n_peaks" else np.float32)
            for name, shape in shapes.items()}


def _normalisation_map(traces: np.ndarray, normalisation: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-row (offset, scale), (n, 1) each, such that (traces - offset) * scale is normalised.

    "box": offset = min, scale = 1 / (max - min). "first_last": offset = last point,
    scale = 1 / (first - last point), so the first point maps to 1 and the last to 0; a row whose
    first and last points are equal (zero denominator) falls back to the box map instead of
    producing infinities and NaN.
    """
    low = traces.min(axis=1, keepdims=True)
    if normalisation == "box":
        return low, 1 / (traces.max(axis=1, keepdims=True) - low)
    offset = traces[:, -1:].copy()
    span = traces[:, :1] - offset
    flat = span[:, 0] == 0
    if np.any(flat):
        offset[flat] = low[flat]
        span[flat] = traces[flat].max(axis=1, keepdims=True) - low[flat]
    return offset, 1 / span


def _skew_normal_factor(z: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """2 Phi(alpha z') for the skew normal, from z = (r - r0) / (sqrt(2) sigma) and alpha, (rows, 1).

    Multiplying the Gaussian exp(-z^2) by this factor gives the skew-normal density 2 phi Phi; it has
    the same area, so the peak amplitudes keep their meaning. float32 in, float32 out.
    """
    factor = z * (alpha * np.float32(np.sqrt(2)))  # alpha (r - r0) / sigma
    ndtr(factor, out=factor)
    factor *= np.float32(2)
    return factor


def _fill_block(out: dict, config: LibraryConfig, kernels: tuple, rng: np.random.Generator) -> None:
    """Fill the arrays of `out` (rows of one block) with library traces drawn from `rng`.

    `kernels` is (K, Ks): the float32 kernel transposed, (n_dist, n_time), and the transposed sine
    kernel of `_dipolar_sine_kernel` (None without exchange). Works in place: the block's arrays are
    large and this is the hot path of every training run. The random draws of the library_dd.m
    recipe come first and in a fixed order; the optional features draw only when switched on.
    """
    kernel_t, sine_kernel_t = kernels
    n = out["traces"].shape[0]
    rmin, rmax = config.distance_limits
    span = rmax - rmin
    r = config.r.astype(np.float32)
    with np.errstate(divide="ignore"):
        log_t = np.log(config.t).astype(np.float32)  # log 0 = -inf gives B(0) = 1 below
    shape = (n, config.max_peaks)

    n_peaks = rng.integers(config.min_peaks, config.max_peaks + 1, n)
    present = np.arange(config.max_peaks) < n_peaks[:, None]
    u = rng.random((5, *shape), dtype=np.float32)
    if config.peak_positions == "triangular":
        position = rmin + span * np.abs(u[0] + u[1] - 1)
    else:
        position = rmin + span * u[0]
    narrowest = config.min_fwhm_fraction * position
    widest = config.max_fwhm_fraction * (span if config.fwhm_reference == "range" else position)
    fwhm = narrowest + (widest - narrowest) * np.abs(u[2] + u[3] - 1)
    amplitude = 1 - u[4]  # in (0, 1]: never an empty distribution
    skewed = config.max_skew > 0
    skew = _uniform(rng, -config.max_skew, config.max_skew, shape) if skewed else np.zeros(shape, np.float32)
    inverse_width = np.float32(np.sqrt(4 * np.log(2))) / fwhm  # 1 / (sqrt(2) sigma)
    weight = amplitude * inverse_width  # normal pdf: each peak's area is proportional to its amplitude
    distributions = out["distributions"]
    distributions.fill(0)
    for k in range(config.max_peaks):
        rows = np.flatnonzero(present[:, k])
        z = r[None, :] - position[rows, k, None]
        z *= inverse_width[rows, k, None]
        factor = _skew_normal_factor(z, skew[rows, k, None]) if skewed else None
        np.multiply(z, -z, out=z)
        np.exp(z, out=z)
        z *= weight[rows, k, None]
        if skewed:
            z *= factor
        distributions[rows] += z
    distributions /= distributions.sum(axis=1, keepdims=True)

    clean = out["clean"]
    np.matmul(distributions, kernel_t, out=clean)  # form factor, F(0) = 1
    depth = _uniform(rng, config.min_depth, config.max_depth, n)
    rate = _uniform(rng, config.min_decay_rate, config.max_decay_rate, n)
    dimension = _uniform(rng, config.min_dimension, config.max_dimension, n)
    if config.max_exchange_mhz > 0:
        exchange = _uniform(rng, -config.max_exchange_mhz, config.max_exchange_mhz, n)
        phase = np.multiply.outer(exchange * np.float32(2 * np.pi), config.t.astype(np.float32))
        sine_part = distributions @ sine_kernel_t
        sine_part *= np.sin(phase)
        clean *= np.cos(phase)
        clean -= sine_part  # F = cos(2 pi J t) (p @ K) - sin(2 pi J t) (p @ Ks)
    else:
        exchange = np.zeros(n, np.float32)
    clean[:, 0] = 1.0
    background = out["background"]
    with np.errstate(divide="ignore"):
        np.add(np.log(rate)[:, None], log_t[None, :], out=background)
    background *= (dimension / 3)[:, None]
    np.exp(background, out=background)
    np.negative(background, out=background)
    np.exp(background, out=background)  # exp(-(k t)^(d/3))
    clean *= depth[:, None]
    clean += (1 - depth)[:, None]
    clean *= background
    noise_fraction = np.float32(config.min_noise_fraction) + (
        np.float32(config.max_noise_fraction - config.min_noise_fraction) * rng.random(n, dtype=np.float32))
    noise_rms = noise_fraction * depth  # min = 0: u * max * depth, bit for bit
    traces = out["traces"]
    rng.standard_normal(out=traces, dtype=np.float32)
    traces *= noise_rms[:, None]
    traces += clean

    low, scale = _normalisation_map(traces, config.normalisation)
    for name in ("traces", "clean"):
        out[name] -= low
        out[name] *= scale
    background *= (1 - depth)[:, None]
    background -= low
    background *= scale
    distributions *= np.float32(config.n_dist)
    out["n_peaks"][:] = n_peaks
    for name, value in (("peak_position", position), ("peak_fwhm", fwhm), ("peak_amplitude", amplitude),
                        ("peak_skew", skew)):
        out[name][:] = np.where(present, value, np.nan)
    out["modulation_depth"][:] = depth
    out["decay_rate"][:] = rate
    out["dimension"][:] = dimension
    out["noise_rms"][:] = noise_rms
    out["exchange_mhz"][:] = exchange


def _kernels(config: LibraryConfig) -> tuple:
    """(K, Ks) of `_fill_block`: float32, transposed to (n_dist, n_time); Ks only with exchange."""
    t, r = config.t, config.r
    kernel_t = np.ascontiguousarray(dipolar_kernel(t, r).T, dtype=np.float32)
    if config.max_exchange_mhz == 0:
        return kernel_t, None
    return kernel_t, np.ascontiguousarray(_dipolar_sine_kernel(t, r).T, dtype=np.float32)


def _check_request(n, config, seed) -> tuple[int, LibraryConfig, int]:
    n = positive_int(n, "n")
    config = LibraryConfig() if config is None else config
    if not isinstance(config, LibraryConfig):
        raise ValueError(f"config: expected a LibraryConfig, got {type(config).__name__}")
    return n, config, non_negative_int(seed, "seed")


def _generate(n: int, config: LibraryConfig, seed: int, first_block: int, out: dict) -> None:
    """Fill `out` (n rows) with blocks `first_block`, `first_block + 1`, ... of the library, on two threads."""
    kernels = _kernels(config)

    def fill(block: int) -> None:
        start = (block - first_block) * BLOCK_SIZE
        rows = {name: array[start:start + BLOCK_SIZE] for name, array in out.items()}
        _fill_block(rows, config, kernels, np.random.default_rng([seed, block]))

    blocks = range(first_block, first_block + -(-n // BLOCK_SIZE))
    # one BLAS thread per worker: nested BLAS threads oversubscribe the cores and halve the speed
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(fill, blocks))


def _library(config: LibraryConfig, arrays: dict) -> Library:
    return Library(config=config, t=config.t, r=config.r, **arrays)


def make_library(n: int, config: LibraryConfig | None = None, seed: int = 0) -> Library:
    """Generate `n` training traces with DEERNet's recipe (`config` defaults to LibraryConfig()).

    Vectorised over blocks of BLOCK_SIZE traces, each with its own random stream, one thread per core;
    float32 arrays; the same (n, config, seed) always gives identical arrays.
    """
    n, config, seed = _check_request(n, config, seed)
    arrays = _empty_arrays(n, config)
    _generate(n, config, seed, 0, arrays)
    return _library(config, arrays)


def iter_library(n: int, config: LibraryConfig | None = None, seed: int = 0,
                 chunk_size: int = 16 * BLOCK_SIZE) -> Iterator[Library]:
    """The traces of `make_library(n, config, seed)`, in consecutive chunks of `chunk_size` traces.

    For streaming statistics over more traces than fit in memory; `chunk_size` is rounded up to a
    multiple of BLOCK_SIZE, so the concatenated chunks equal `make_library(n, config, seed)`.
    """
    n, config, seed = _check_request(n, config, seed)
    blocks_per_chunk = -(-positive_int(chunk_size, "chunk_size") // BLOCK_SIZE)
    for start in range(0, n, blocks_per_chunk * BLOCK_SIZE):
        size = min(blocks_per_chunk * BLOCK_SIZE, n - start)
        arrays = _empty_arrays(size, config)
        _generate(size, config, seed, start // BLOCK_SIZE, arrays)
        yield _library(config, arrays)


@dataclasses.dataclass
class MeasuredTrace:
    """A measured trace made ready for a network trained on `LibraryConfig`.

    `t`: uniform time axis from zero time to the last measured time, us; `trace`: the phased real
    signal resampled onto `t` (pchip) and boxed to [0, 1]; `r`: the distance axis, nm, that a net
    trained on the notional `config.tmax` applies to, scaled by (t[-1] / config.tmax)^(1/3).
    `raw_t` (us), `raw_signal` (real channel), `raw_imaginary` (imaginary channel, or None): the
    file's data, all of its points, before any correction. `zero_time`: zero time on the file's
    time axis, us (`raw_t - zero_time` is the corrected axis). `phase`: the phase removed from the
    complex signal, rad: the real signal used is Re[(raw_signal + i raw_imaginary) exp(-i phase)];
    0 without an imaginary channel. `imaginary_column`: the file's column (counted from 1) read as
    the imaginary channel, or None. `notes`: what `load_trace` decided, in words.
    """

    t: np.ndarray
    trace: np.ndarray
    r: np.ndarray
    raw_t: np.ndarray
    raw_signal: np.ndarray
    zero_time: float = 0.0
    phase: float = 0.0
    imaginary_column: int | None = None
    raw_imaginary: np.ndarray | None = None
    notes: tuple[str, ...] = ()

    @property
    def signal(self) -> np.ndarray:
        """The phased real signal at the file's times `raw_t` (not resampled, not boxed)."""
        return _rotate(self.raw_signal, self.raw_imaginary, self.phase)[0]

    def after_zero_time(self) -> tuple[np.ndarray, np.ndarray]:
        """(time from zero time in us, phased real signal) of the file's points at or after zero time."""
        keep = self.raw_t >= self.zero_time
        return self.raw_t[keep] - self.zero_time, self.signal[keep]


_SEPARATORS = re.compile(r"[\s,;]+")
#: Time units `load_trace` reads, in us.
TIME_UNITS = {"us": 1.0, "ns": 1e-3}
#: A time column running longer than this (us) is refused as probably not in microseconds.
_LONGEST_TRACE_US = 100.0
#: Auto mode reads a third column as imaginary when, after phasing, what is left in it (its RMS
#: about its mean) is below this fraction of the real signal's range, or below 3 x its noise.
_IMAGINARY_RESIDUAL_FRACTION = 0.04
#: Points per raw step of the fine grid of the zero-time search.
_ZERO_TIME_REFINE = 10


def _read_columns(path: Path) -> np.ndarray:
    """Numeric rows of a text file, (rows, columns): leading header lines and '#'/'%' comments are
    skipped; only the columns every row has are kept (at least two: time and signal)."""
    rows: list[list[float]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#%":
            continue
        fields = [f for f in _SEPARATORS.split(stripped) if f]
        try:
            values = [float(f) for f in fields]
        except ValueError:
            if rows:
                raise ValueError(f"path: line {number} of {path} is not numeric: {stripped[:60]!r}") from None
            continue  # header line
        if len(values) < 2:
            raise ValueError(f"path: line {number} of {path} has {len(values)} column(s); need time and signal")
        rows.append(values)
    if not rows:
        hint = (" (a Bruker binary file? export it as text, or read it with deerlab.deerload)"
                if path.suffix.lower() in (".dta", ".dsc") else "")
        raise ValueError(f"path: {path} holds no numeric rows{hint}")
    width = min(len(row) for row in rows)
    return np.array([row[:width] for row in rows])


def _rotate(real: np.ndarray, imaginary: np.ndarray | None, phase: float) -> tuple[np.ndarray, np.ndarray]:
    """Real and imaginary parts of (real + i imaginary) exp(-i phase)."""
    if imaginary is None:
        return real, np.zeros_like(real)
    c, s = np.cos(phase), np.sin(phase)
    return real * c + imaginary * s, imaginary * c - real * s


def _auto_phase(real: np.ndarray, imaginary: np.ndarray) -> float:
    """The phase (rad, in [0, 2 pi)) whose removal puts most of the signal on the real axis.

    Minimises the energy left in the imaginary part, sum Im[V exp(-i phase)]^2 (closed form: the
    angle of the principal axis of the (Re, Im) point cloud), and of the two minimisers picks the one
    that leaves a real part with a positive mean. DeerLab's `correctphase` uses the same criterion.
    """
    a = np.sum(real**2)
    b = np.sum(imaginary**2)
    c = np.sum(real * imaginary)
    phase = 0.5 * np.arctan2(2 * c, a - b)  # maximises sum Re^2
    if np.mean(_rotate(real, imaginary, phase)[0]) < 0:
        phase += np.pi
    return float(np.mod(phase, 2 * np.pi))


def _noise_level(x: np.ndarray) -> float:
    """Robust estimate of white-noise RMS from second differences (median absolute deviation)."""
    second = np.diff(np.asarray(x, dtype=float), 2)
    if second.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(second - np.median(second))) / np.sqrt(6))


def _first_moment_zero_time(t: np.ndarray, v: np.ndarray) -> float | None:
    """Zero time, us, from the echo maximum refined by a first-moment analysis (DeerAnalysis' method).

    The signal is interpolated (pchip) on a grid ten times finer than the mean raw step; around its
    maximum, each candidate t0 within half the distance to the nearer end is scored by
    |sum v(t) (t - t0)| over a window of that half-width centred on t0; the candidate with the
    smallest first moment is zero time (a symmetric echo has none). A maximum at the first point
    gives that point; a maximum at the last point gives None (no echo in the trace).
    """
    fine_t = np.linspace(t[0], t[-1], (t.size - 1) * _ZERO_TIME_REFINE + 1)
    fine_v = PchipInterpolator(t, v)(fine_t)
    peak = int(np.argmax(fine_v))
    if peak == fine_t.size - 1:
        return None
    if peak == 0:
        return float(fine_t[0])
    half = min(peak, fine_t.size - 1 - peak) // 2
    offsets = np.arange(-half, half + 1)
    candidates = np.arange(peak - half, peak + half + 1)
    windows = candidates[:, None] + offsets[None, :]
    moments = np.abs(np.sum(fine_v[windows] * (fine_t[windows] - fine_t[candidates, None]), axis=1))
    return float(fine_t[candidates[np.argmin(moments)]])


def _has_echo_rise(t: np.ndarray, v: np.ndarray, zero_time: float) -> bool:
    """Whether the signal rises significantly from its first point to a maximum more than two raw
    steps later: the mark of points recorded before zero time. A processed trace that starts at its
    zero time and only looks higher a few points in because of noise does not have one."""
    step = float(np.median(np.diff(t)))
    if zero_time - t[0] <= 2 * step:
        return False
    width = min(5, v.size)
    smooth = np.convolve(np.pad(v, (width // 2, width - 1 - width // 2), mode="edge"),
                         np.ones(width) / width, mode="valid")
    return bool(smooth.max() - smooth[0] > 5 * _noise_level(v) / np.sqrt(width))


def _number_or_auto(value, name: str) -> float | str:
    if isinstance(value, str) and value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}: expected 'auto' or a finite number, got {value!r}")
    return float(value)


def _imaginary_argument(value) -> int | str | None:
    if value is None or (isinstance(value, str) and value == "auto"):
        return value
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)) or value < 3:
        raise ValueError(f"imaginary: expected 'auto', None or a column number >= 3 (column 1 is time, "
                         f"column 2 the real signal), got {value!r}")
    return int(value)


def load_trace(path: str | os.PathLike, config: LibraryConfig | None = None, *,
               zero_time: float | str = "auto", phase: float | str = "auto",
               imaginary: int | str | None = "auto", time_unit: str = "us") -> MeasuredTrace:
    """Read a measured DEER trace for a trained net: a raw spectrometer export or a processed trace.

    The file is text: column 1 time (`time_unit`: "us" or "ns"), column 2 the real signal, optionally
    an imaginary channel. Header lines, '#'/'%' comments and extra columns are allowed; time must be
    strictly increasing, with at least 8 points.

    `imaginary`: the file's column (counted from 1) holding the imaginary channel; None: none;
    "auto" (default): column 3 of a file with exactly three columns, if it behaves as an imaginary
    channel (after phasing, the RMS left in it is below 4 % of the real signal's range or below three
    times its noise), else it is ignored and `notes` says so. Files with four or more columns never get one automatically.
    `phase`: with an imaginary channel the complex signal is multiplied by exp(-i phase) and its
    real part is used; "auto" (default) takes the phase that leaves the least energy in the imaginary
    part and a positive mean real part (DeerLab's `correctphase` criterion). A number (rad) overrides
    it, and then the third column of a three-column file is taken as imaginary without the check.
    `zero_time` (us, on the file's time axis): points before it are used only for the resampling
    near zero time, then dropped. "auto" (default): from the echo maximum refined by a first-moment
    analysis (the DeerAnalysis method; DeerLab's `correctzerotime` does the same), except for a file
    that starts at or just after 0 (within one resampled step) without a significant rise to a later
    maximum: that is a processed trace and its own zero, t = 0, is kept.
    After the corrections the trace must start at zero time (or within one resampled step after it);
    the phased real signal is resampled (pchip) to `config.n_time` points from zero time to the last
    point and boxed to [0, 1], and the distance axis is `config.r` scaled by (length / config.tmax)^(1/3).
    Every refusal is a ValueError naming the argument at fault (`path` for the file's content).
    """
    config = LibraryConfig() if config is None else config
    if not isinstance(config, LibraryConfig):
        raise ValueError(f"config: expected a LibraryConfig, got {type(config).__name__}")
    zero_time = _number_or_auto(zero_time, "zero_time")
    phase = _number_or_auto(phase, "phase")
    imaginary = _imaginary_argument(imaginary)
    unit = TIME_UNITS[choice(time_unit, "time_unit", TIME_UNITS)]
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: no such file: {path}")
    data = _read_columns(path)
    if not np.all(np.isfinite(data)):
        raise ValueError(f"path: {path} contains NaN or infinite values")
    raw_t, raw_signal = data[:, 0] * unit, data[:, 1]
    if raw_t.size < 8:
        raise ValueError(f"path: {path} has {raw_t.size} data points; need at least 8")
    if np.any(np.diff(raw_t) <= 0):
        raise ValueError(f"path: the time column of {path} is not strictly increasing")
    if raw_t[-1] - raw_t[0] > _LONGEST_TRACE_US:
        raise ValueError(f"path: the time column of {path} spans {raw_t[-1] - raw_t[0]:.6g} us, longer than any "
                         f"DEER trace; if it is in nanoseconds, pass time_unit='ns'")
    notes: list[str] = []

    # ---- channels and phase
    raw_imaginary, column = None, None
    if isinstance(imaginary, int):
        if imaginary > data.shape[1]:
            raise ValueError(f"imaginary: column {imaginary} requested, but {path} has {data.shape[1]} columns")
        column = imaginary
    elif imaginary == "auto" and data.shape[1] == 3:
        column = 3
    if column is not None:
        raw_imaginary = data[:, column - 1]
    if raw_imaginary is None:
        if phase != "auto" and phase != 0:
            raise ValueError(f"phase: {path} is read without an imaginary channel, so there is nothing to "
                             "rotate; name its column with imaginary=")
        phase = 0.0
    elif phase == "auto":
        phase = _auto_phase(raw_signal, raw_imaginary)
        real, rest = _rotate(raw_signal, raw_imaginary, phase)
        if imaginary == "auto":
            left, limit = np.std(rest), max(_IMAGINARY_RESIDUAL_FRACTION * np.ptp(real), 3 * _noise_level(real))
            if left > limit:
                notes.append(f"column 3 ignored: it does not behave as an imaginary channel (after phasing "
                             f"its RMS is {left:.3g}, above {limit:.3g}); pass imaginary=3 to use it")
                raw_imaginary, column, phase = None, None, 0.0
        if column is not None:
            notes.append(f"column {column} read as the imaginary channel; phase {np.degrees(phase):.2f} deg "
                         "removed (auto)")
    else:
        notes.append(f"column {column} read as the imaginary channel; phase {np.degrees(phase):.2f} deg "
                     "removed (given)")
    real = _rotate(raw_signal, raw_imaginary, phase)[0]
    if np.ptp(real) == 0:
        raise ValueError(f"path: the signal column of {path} is constant")

    # ---- zero time
    if zero_time == "auto":
        found = _first_moment_zero_time(raw_t, real)
        if found is None:
            negative = f" has negative times (from {raw_t[0]:.6g} us) but" if raw_t[0] < 0 else ""
            raise ValueError(f"path: cannot find zero time in {path}: it{negative} peaks at its last point, while "
                             "a DEER trace peaks at zero time; pass zero_time= (us) if the trace is right")
        if raw_t[0] >= 0 and not _has_echo_rise(raw_t, real, found):
            zero_time = 0.0
            notes.append("zero time 0 us: the file starts at zero time (no echo rise before a later maximum)")
        else:
            zero_time = found
            notes.append(f"zero time {found:.4g} us from the echo maximum and a first-moment fit around it")
    else:
        if zero_time >= raw_t[-1]:
            raise ValueError(f"zero_time: {zero_time} us is at or after the last time of {path} "
                             f"({raw_t[-1]:.6g} us)")
        notes.append(f"zero time {zero_time:.4g} us (given)")
    shifted = raw_t - zero_time
    after = int(np.count_nonzero(shifted >= 0))
    if after < 8:
        raise ValueError(f"path: {path} has {after} points after zero time ({zero_time:.6g} us); need at least 8")
    t = np.linspace(0.0, shifted[-1], config.n_time)
    if shifted[0] > t[1]:
        raise ValueError(f"path: {path} starts at {shifted[0]:.6g} us after zero time; the net needs the trace "
                         f"from zero time (first point at most {t[1]:.4g} us after it); pass zero_time= if "
                         "zero time is elsewhere")
    resampled = PchipInterpolator(shifted, real, extrapolate=True)(t)
    if np.ptp(resampled) == 0:
        raise ValueError(f"path: the signal of {path} is constant after zero time")
    boxed = (resampled - resampled.min()) / np.ptp(resampled)
    r = config.r * np.cbrt(shifted[-1] / config.tmax)
    return MeasuredTrace(t=t, trace=boxed.astype(np.float32), r=r, raw_t=raw_t, raw_signal=raw_signal,
                         zero_time=float(zero_time), phase=float(phase), imaginary_column=column,
                         raw_imaginary=raw_imaginary, notes=tuple(notes))
