"""DEER simulation: the dipolar kernel, the distance range of a time grid, DEERNet's training library
and the reading of a measured trace. Times are in microseconds (us), distances in nanometres (nm).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import PchipInterpolator
from scipy.special import fresnel, roots_legendre
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
#: Traces generated per random stream; fixed, so a (n, seed) pair always gives the same arrays.
BLOCK_SIZE = 4096


def dipolar_frequency(r: ArrayLike) -> np.ndarray:
    """Dipolar frequency D(r) / (2 pi) in MHz for distances `r` in nm."""
    r = as_array(r, "r")
    if np.any(r <= 0):
        raise ValueError("r: distances must be > 0 nm")
    return DIPOLAR_MHZ / r**3


def dipolar_kernel(t: ArrayLike, r: ArrayLike) -> np.ndarray:
    """Orientation-averaged DEER kernel K(t, r) = int_0^1 cos((1 - 3x^2) D(r) t) dx.

    `t` (us, >= 0) and `r` (nm, > 0) are 1-D; returns an array of shape (len(t), len(r)) from the
    Fresnel-integral closed form, without distance-step weights; K(0, r) = 1.
    """
    t = as_array(t, "t", ndim=1)
    r = as_array(r, "r", ndim=1)
    if t.size == 0 or r.size == 0:
        raise ValueError("t, r: need at least one time and one distance")
    if np.any(t < 0):
        raise ValueError("t: times must be >= 0 us")
    if np.any(r <= 0):
        raise ValueError("r: distances must be > 0 nm")
    phase = np.outer(t, DIPOLAR_ANGULAR / r**3)  # rad
    fresnel_s, fresnel_c = fresnel(np.sqrt(6 * phase / np.pi))
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = np.sqrt(np.pi / (6 * phase)) * (np.cos(phase) * fresnel_c + np.sin(phase) * fresnel_s)
    kernel[phase == 0] = 1.0
    return kernel


def dipolar_kernel_by_quadrature(t: ArrayLike, r: ArrayLike, nodes: int = 4000) -> np.ndarray:
    """The kernel of `dipolar_kernel` by direct Gauss-Legendre integration over x = cos(theta).

    An independent check of the closed form; `nodes` must resolve (1 - 3x^2) D t, i.e. a few nodes
    per oscillation: 4000 nodes are exact to ~1e-12 for D t up to ~2000 rad.
    """
    t = as_array(t, "t", ndim=1)
    r = as_array(r, "r", ndim=1)
    nodes = positive_int(nodes, "nodes")
    if np.any(t < 0):
        raise ValueError("t: times must be >= 0 us")
    if np.any(r <= 0):
        raise ValueError("r: distances must be > 0 nm")
    x, w = roots_legendre(nodes)
    x, w = (x + 1) / 2, w / 2  # map [-1, 1] to [0, 1]
    angular = 1 - 3 * x**2
    frequency = DIPOLAR_ANGULAR / r**3
    return np.stack([np.cos(np.multiply.outer(ti * frequency, angular)) @ w for ti in t])


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


@dataclasses.dataclass(frozen=True)
class LibraryConfig:
    """DEERNet's training database (library_dd.m defaults). Times in us, distances in nm.

    Peaks: 1..`max_peaks` Gaussians, positions triangular on the supported distance range
    (favouring short distances), FWHM between `min_fwhm_fraction` of the position and
    `max_fwhm_fraction` of the range (favouring narrow), amplitudes U(0, 1).
    Trace: (1 - depth + depth F) B with B = exp(-(k t)^(d/3)), Gaussian noise of RMS
    u * `max_noise_fraction` * depth, u ~ U(0, 1); boxed to [0, 1].
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

    def __post_init__(self):
        for name in ("n_time", "n_dist", "max_peaks"):
            positive_int(getattr(self, name), name)
        if self.n_time < 8:
            raise ValueError(f"n_time: need at least 8 time points, got {self.n_time}")
        if self.n_dist < 2:
            raise ValueError(f"n_dist: need at least 2 distance points, got {self.n_dist}")
        positive(self.tmax, "tmax")
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
        if not (np.isfinite(self.max_noise_fraction) and self.max_noise_fraction >= 0):
            raise ValueError(f"max_noise_fraction: must be finite and >= 0, got {self.max_noise_fraction}")
        rmin, rmax = self.distance_limits
        if self.min_fwhm_fraction * rmax > self.max_fwhm_fraction * (rmax - rmin):
            raise ValueError("min_fwhm_fraction, max_fwhm_fraction: the narrowest peak at the longest "
                             "distance would be wider than the widest peak allowed")

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


@dataclasses.dataclass
class Library:
    """Simulated DEER traces (rows) with their distance distributions and sampled parameters.

    `traces`, `clean`, `background`: (n, n_time), boxed to [0, 1] by each noisy trace's min and max;
    `distributions`: (n, n_dist), mean 1 over the distance axis. Per trace: `n_peaks`, and
    (n, max_peaks) arrays `peak_position` (nm), `peak_fwhm` (nm), `peak_amplitude` (NaN where a
    trace has fewer peaks), `modulation_depth`, `decay_rate` (1/us), `dimension`, `noise_rms`
    (relative to the unboxed trace's value at zero time, V(0) = 1).
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

    def __len__(self) -> int:
        return self.traces.shape[0]


def _uniform(rng: np.random.Generator, low: float, high: float, size) -> np.ndarray:
    return (low + (high - low) * rng.random(size, dtype=np.float32)).astype(np.float32)


def _empty_arrays(n: int, config: LibraryConfig) -> dict:
    per_trace, per_peak = (n,), (n, config.max_peaks)
    shapes = {"traces": (n, config.n_time), "clean": (n, config.n_time), "background": (n, config.n_time),
              "distributions": (n, config.n_dist), "n_peaks": per_trace, "peak_position": per_peak,
              "peak_fwhm": per_peak, "peak_amplitude": per_peak, "modulation_depth": per_trace,
              "decay_rate": per_trace, "dimension": per_trace, "noise_rms": per_trace}
    return {name: np.empty(shape, np.int8 if name == "n_peaks" else np.float32)
            for name, shape in shapes.items()}


def _fill_block(out: dict, config: LibraryConfig, kernel_t: np.ndarray, rng: np.random.Generator) -> None:
    """Fill the arrays of `out` (rows of one block) with library traces drawn from `rng`.

    `kernel_t` is the float32 kernel transposed, (n_dist, n_time). Works in place: the block's
    arrays are large and this is the hot path of every training run.
    """
    n = out["traces"].shape[0]
    rmin, rmax = config.distance_limits
    span = rmax - rmin
    r = config.r.astype(np.float32)
    with np.errstate(divide="ignore"):
        log_t = np.log(config.t).astype(np.float32)  # log 0 = -inf gives B(0) = 1 below
    shape = (n, config.max_peaks)

    n_peaks = rng.integers(1, config.max_peaks + 1, n)
    present = np.arange(config.max_peaks) < n_peaks[:, None]
    u = rng.random((5, *shape), dtype=np.float32)
    position = rmin + span * np.abs(u[0] + u[1] - 1)
    narrowest = config.min_fwhm_fraction * position
    fwhm = narrowest + (config.max_fwhm_fraction * span - narrowest) * np.abs(u[2] + u[3] - 1)
    amplitude = 1 - u[4]  # in (0, 1]: never an empty distribution
    inverse_width = np.float32(np.sqrt(4 * np.log(2))) / fwhm  # 1 / (sqrt(2) sigma)
    weight = amplitude * inverse_width  # normal pdf: each peak's area is proportional to its amplitude
    distributions = out["distributions"]
    distributions.fill(0)
    for k in range(config.max_peaks):
        rows = np.flatnonzero(present[:, k])
        z = r[None, :] - position[rows, k, None]
        z *= inverse_width[rows, k, None]
        np.multiply(z, -z, out=z)
        np.exp(z, out=z)
        z *= weight[rows, k, None]
        distributions[rows] += z
    distributions /= distributions.sum(axis=1, keepdims=True)

    clean = out["clean"]
    np.matmul(distributions, kernel_t, out=clean)  # form factor, F(0) = 1
    clean[:, 0] = 1.0
    depth = _uniform(rng, config.min_depth, config.max_depth, n)
    rate = _uniform(rng, config.min_decay_rate, config.max_decay_rate, n)
    dimension = _uniform(rng, config.min_dimension, config.max_dimension, n)
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
    noise_rms = rng.random(n, dtype=np.float32) * np.float32(config.max_noise_fraction) * depth
    traces = out["traces"]
    rng.standard_normal(out=traces, dtype=np.float32)
    traces *= noise_rms[:, None]
    traces += clean

    low = traces.min(axis=1, keepdims=True)
    scale = 1 / (traces.max(axis=1, keepdims=True) - low)
    for name in ("traces", "clean"):
        out[name] -= low
        out[name] *= scale
    background *= (1 - depth)[:, None]
    background -= low
    background *= scale
    distributions *= np.float32(config.n_dist)
    out["n_peaks"][:] = n_peaks
    for name, value in (("peak_position", position), ("peak_fwhm", fwhm), ("peak_amplitude", amplitude)):
        out[name][:] = np.where(present, value, np.nan)
    out["modulation_depth"][:] = depth
    out["decay_rate"][:] = rate
    out["dimension"][:] = dimension
    out["noise_rms"][:] = noise_rms


def _kernel_t(config: LibraryConfig) -> np.ndarray:
    return np.ascontiguousarray(dipolar_kernel(config.t, config.r).T, dtype=np.float32)


def _check_request(n, config, seed) -> tuple[int, LibraryConfig, int]:
    n = positive_int(n, "n")
    config = LibraryConfig() if config is None else config
    if not isinstance(config, LibraryConfig):
        raise ValueError(f"config: expected a LibraryConfig, got {type(config).__name__}")
    return n, config, non_negative_int(seed, "seed")


def _generate(n: int, config: LibraryConfig, seed: int, first_block: int, out: dict) -> None:
    """Fill `out` (n rows) with blocks `first_block`, `first_block + 1`, ... of the library, on two threads."""
    kernel_t = _kernel_t(config)

    def fill(block: int) -> None:
        start = (block - first_block) * BLOCK_SIZE
        rows = {name: array[start:start + BLOCK_SIZE] for name, array in out.items()}
        _fill_block(rows, config, kernel_t, np.random.default_rng([seed, block]))

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

    `t`: uniform time axis from 0 to the last measured time, us; `trace`: the real signal resampled
    onto `t` (pchip) and boxed to [0, 1]; `r`: the distance axis, nm, that a net trained on the
    notional `config.tmax` applies to, scaled by (t[-1] / config.tmax)^(1/3).
    `raw_t`, `raw_signal`: the file's data.
    """

    t: np.ndarray
    trace: np.ndarray
    r: np.ndarray
    raw_t: np.ndarray
    raw_signal: np.ndarray


_SEPARATORS = re.compile(r"[\s,;]+")


def _read_columns(path: Path) -> np.ndarray:
    """Numeric rows of a text file: leading header lines and '#'/'%' comments are skipped."""
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
        rows.append(values[:2])
    if not rows:
        raise ValueError(f"path: {path} holds no numeric rows")
    return np.array(rows)


def load_trace(path: str | os.PathLike, config: LibraryConfig | None = None) -> MeasuredTrace:
    """Read a measured DEER trace (column 1: time in us, column 2: real signal) for a trained net.

    Header lines, comments and extra columns are allowed. Time must start at zero time (0 us, or
    within one resampled step after it), be strictly increasing and cover at least 8 points.
    The trace is resampled (pchip) to `config.n_time` points and boxed to [0, 1].
    """
    config = LibraryConfig() if config is None else config
    if not isinstance(config, LibraryConfig):
        raise ValueError(f"config: expected a LibraryConfig, got {type(config).__name__}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: no such file: {path}")
    data = _read_columns(path)
    raw_t, raw_signal = data[:, 0], data[:, 1]
    if not np.all(np.isfinite(data)):
        raise ValueError(f"path: {path} contains NaN or infinite values")
    if raw_t.size < 8:
        raise ValueError(f"path: {path} has {raw_t.size} data points; need at least 8")
    if np.any(np.diff(raw_t) <= 0):
        raise ValueError(f"path: the time column of {path} is not strictly increasing")
    if raw_t[0] < 0:
        raise ValueError(f"path: {path} has negative times (from {raw_t[0]} us); shift the trace so "
                         "that zero time is t = 0 and drop the points before it")
    t = np.linspace(0.0, raw_t[-1], config.n_time)
    if raw_t[0] > t[1]:
        raise ValueError(f"path: {path} starts at {raw_t[0]} us; the net needs the trace from zero time "
                         f"(first point at most {t[1]:.4g} us)")
    if np.ptp(raw_signal) == 0:
        raise ValueError(f"path: the signal column of {path} is constant")
    resampled = PchipInterpolator(raw_t, raw_signal, extrapolate=True)(t)
    boxed = (resampled - resampled.min()) / np.ptp(resampled)
    r = config.r * np.cbrt(raw_t[-1] / config.tmax)
    return MeasuredTrace(t=t, trace=boxed.astype(np.float32), r=r, raw_t=raw_t, raw_signal=raw_signal)
