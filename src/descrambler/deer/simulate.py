"""DEER simulation: the dipolar kernel, the distance range of a time grid and DEERNet's training
library (reading a measured trace is `descrambler.deer.traces`). Times are in microseconds (us), distances in
nanometres (nm).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import fresnel, ndtr, roots_legendre
from threadpoolctl import threadpool_limits

from .._validate import as_array, check_fields, choice, non_negative_int, positive, positive_int

__all__ = ["dipolar_frequency", "dipolar_kernel", "dipolar_kernel_by_quadrature", "distance_range",
           "LibraryConfig", "library_preset", "Library", "make_library", "iter_library", "BLOCK_SIZE"]

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
#: Distances, nm, the kernel accepts: from below any bond length to a millimetre (whose dipolar phase
#: stays below 1e-9 rad for a second), far wider than DEER measures (1.5-10 nm); far beyond them r^3
#: under- or overflows (1e-110 nm gave a NaN kernel).
DISTANCE_RANGE_NM = (0.01, 1e6)
#: Nonzero times, us, the kernel accepts: up to a second (DEER traces last microseconds), and down to
#: far below any physical time (rounding residues such as 1.7e-16 us are common) but above where the
#: closed form's sqrt(pi / (6 D t)) overflows (t = 1e-308 us gave an infinite kernel).
TIME_RANGE_US = (1e-100, 1e6)
#: Most peaks per distribution: `Library.n_peaks` is an int8 counter.
MAX_PEAKS = int(np.iinfo(np.int8).max)


def _distances(r, name: str = "r", ndim: int | None = None) -> np.ndarray:
    """`r` (nm) as a float array, each inside DISTANCE_RANGE_NM."""
    r = as_array(r, name, ndim=ndim)
    low, high = DISTANCE_RANGE_NM
    if np.any(r <= 0):
        raise ValueError(f"{name}: distances must be > 0 nm")
    if r.size and (r.min() < low or r.max() > high):
        raise ValueError(f"{name}: distances must lie in {low:g} .. {high:g} nm (a spin pair's physical range), "
                         f"got {r.min():.3g} .. {r.max():.3g} nm")
    return r


def _times(t) -> np.ndarray:
    """`t` (us) as a 1-D float array, each 0 or inside TIME_RANGE_US."""
    t = as_array(t, "t", ndim=1)
    if np.any(t < 0):
        raise ValueError("t: times must be >= 0 us")
    low, high = TIME_RANGE_US
    nonzero = t[t != 0]
    if nonzero.size and (nonzero.min() < low or nonzero.max() > high):
        raise ValueError(f"t: times must be 0 or lie in {low:g} .. {high:g} us (at most a second), got "
                         f"{nonzero.min():.3g} .. {nonzero.max():.3g} us; are they in us?")
    return t


def dipolar_frequency(r: ArrayLike) -> np.ndarray:
    """Dipolar frequency D(r) / (2 pi), MHz, of spin pairs at distances `r`.

    Parameters
    ----------
    r : array_like
        Distances, nm, each inside DISTANCE_RANGE_NM (0.01 .. 1e6 nm).

    Returns
    -------
    numpy.ndarray
        D(r) / (2 pi) = DIPOLAR_MHZ / r^3 in MHz (about 52.04 MHz at 1 nm), the shape of `r`.

    Raises
    ------
    ValueError
        If `r` is not finite, not positive or outside DISTANCE_RANGE_NM (the message starts with "r:").

    Examples
    --------
    >>> from descrambler.deer import dipolar_frequency
    >>> round(float(dipolar_frequency(3.0)), 3)
    1.927
    """
    return DIPOLAR_MHZ / _distances(r)**3


def _exchange(exchange_mhz) -> float:
    return float(as_array(exchange_mhz, "exchange_mhz", ndim=0))


def dipolar_kernel(t: ArrayLike, r: ArrayLike, exchange_mhz: float = 0.0) -> np.ndarray:
    """Orientation-averaged DEER kernel K(t, r) = int_0^1 cos(((1 - 3x^2) D(r) + 2 pi J) t) dx.

    Computed from the Fresnel-integral closed form
    Re[exp(i (D + 2 pi J) t) sqrt(pi / (6 D t)) (C(z) - i S(z))], z = sqrt(6 D t / pi), without
    distance-step weights; K(0, r) = 1.

    Parameters
    ----------
    t : array_like
        Times, us, 1-D; each 0 or inside TIME_RANGE_US (1e-100 .. 1e6 us).
    r : array_like
        Distances, nm, 1-D; each inside DISTANCE_RANGE_NM (0.01 .. 1e6 nm).
    exchange_mhz : float, default 0.0
        Exchange coupling J, MHz (0: none).

    Returns
    -------
    numpy.ndarray
        K, shape (len(t), len(r)).

    Raises
    ------
    ValueError
        If `t` or `r` is empty, not 1-D, not finite or out of its range, or `exchange_mhz` is not a
        finite number (the message starts with the argument's name).

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.deer import dipolar_kernel
    >>> K = dipolar_kernel(np.linspace(0, 2, 256), np.linspace(1.5, 6, 100))
    >>> K.shape, float(K[0, 0])
    ((256, 100), 1.0)
    """
    t = _times(t)
    r = _distances(r, ndim=1)
    exchange_mhz = _exchange(exchange_mhz)
    if t.size == 0 or r.size == 0:
        raise ValueError("t, r: need at least one time and one distance")
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

    An independent check of the closed form.

    Parameters
    ----------
    t : array_like
        Times, us, 1-D; each 0 or inside TIME_RANGE_US.
    r : array_like
        Distances, nm, 1-D; each inside DISTANCE_RANGE_NM.
    nodes : int, default 4000
        Quadrature nodes. They must resolve (1 - 3x^2) D t, i.e. a few nodes per oscillation: 4000
        nodes are exact to about 1e-12 for D t up to about 2000 rad.
    exchange_mhz : float, default 0.0
        Exchange coupling J, MHz (0: none).

    Returns
    -------
    numpy.ndarray
        K, shape (len(t), len(r)).

    Raises
    ------
    ValueError
        If `t`, `r` or `exchange_mhz` is invalid as in `dipolar_kernel`, or `nodes` is not a positive
        integer (the message starts with the argument's name).

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.deer import dipolar_kernel, dipolar_kernel_by_quadrature
    >>> t, r = np.linspace(0, 2, 64), np.linspace(1.5, 6, 20)
    >>> np.allclose(dipolar_kernel_by_quadrature(t, r), dipolar_kernel(t, r), atol=1e-9)
    True
    """
    t = _times(t)
    r = _distances(r, ndim=1)
    nodes = positive_int(nodes, "nodes")
    exchange_mhz = _exchange(exchange_mhz)
    x, w = roots_legendre(nodes)
    x, w = (x + 1) / 2, w / 2  # map [-1, 1] to [0, 1]
    angular = 1 - 3 * x**2
    frequency = DIPOLAR_ANGULAR / r**3
    return np.stack([np.cos(np.multiply.outer(ti * frequency, angular) + 2 * np.pi * exchange_mhz * ti) @ w
                     for ti in t])


def distance_range(dt: float, tmax: float, experiment: str = "deer") -> tuple[float, float]:
    """Distances (rmin, rmax), nm, that a uniform time grid supports.

    DEER: half a dipolar period fits in `tmax`, four steps per period. RIDME: a full period fits,
    eight steps per period.

    Parameters
    ----------
    dt : float
        Time step, us (> 0, smaller than `tmax`).
    tmax : float
        Length of the time axis, us (> 0).
    experiment : {"deer", "ridme"}, default "deer"
        The experiment whose rule applies.

    Returns
    -------
    tuple of float
        (rmin, rmax), nm.

    Raises
    ------
    ValueError
        If `dt` or `tmax` is not a positive number, `dt` >= `tmax`, or `experiment` is unknown (the
        message starts with the argument's name).

    Examples
    --------
    >>> from descrambler.deer import distance_range
    >>> [round(x, 3) for x in distance_range(2 / 255, 2.0)]
    [1.178, 5.927]
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
    """A DEER training database; the defaults are DEERNet's library_dd.m. Times in us, distances in nm.

    Frozen dataclass; `t`, `r`, `dt` and `distance_limits` are its axes (properties). Counts
    (`n_time`, `n_dist`, `min_peaks`, `max_peaks`) must be integers (256.0 is refused); the other
    numeric fields must be finite numbers (not strings, None or bools).

    Parameters
    ----------
    n_time : int, default 256
        Points of the time axis (at least 8).
    n_dist : int, default 256
        Points of the distance axis (at least 2).
    tmax : float, default 2.0
        Length of the time axis, us. The time grid must give distances inside DISTANCE_RANGE_NM.
    max_peaks : int, default 4
        Most peaks per distribution (at most MAX_PEAKS = 127).
    min_fwhm_fraction : float, default 0.025
        Narrowest FWHM as a fraction of the peak position r0. The distance grid must resolve the
        narrowest peak (FWHM at rmin at least half a distance step).
    max_fwhm_fraction : float, default 0.5
        Widest FWHM as a fraction of the distance range (`fwhm_reference` "range") or of r0
        ("distance").
    min_depth : float, default 0.01
        Smallest modulation depth; depths are uniform in [`min_depth`, `max_depth`] within (0, 1].
    max_depth : float, default 1.0
        Largest modulation depth.
    max_noise_fraction : float, default 0.05
        Largest noise RMS as a fraction of the modulation depth.
    min_decay_rate, max_decay_rate : float, default 0.0 and 0.5
        Range of the background decay rate k, 1/us (uniform).
    min_dimension, max_dimension : float, default 2.0 and 3.5
        Range of the background dimension d (uniform, > 0).
    normalisation : {"box", "first_last"}, default "box"
        Normalisation of each noisy trace: "box" maps its min and max to 0 and 1; "first_last" (the
        2018 DEERNet) maps its first point to 1 and its last point to 0, and falls back to "box" for
        a trace whose first and last points are equal. The same affine map is applied to `clean`
        and `background`.
    min_peaks : int, default 1
        Fewest peaks per distribution (1 <= `min_peaks` <= `max_peaks`).
    fwhm_reference : {"range", "distance"}, default "range"
        What `max_fwhm_fraction` multiplies: the distance range, or r0 (the 2018 DEERNet).
    peak_positions : {"triangular", "uniform"}, default "triangular"
        Distribution of the peak positions r0 on [rmin, rmax]: "triangular"
        r0 = rmin + (rmax - rmin) abs(u1 + u2 - 1) (favouring short distances) or "uniform".
    max_skew : float, default 0.0
        Largest skew-normal shape; 0: Gaussian peaks.
    max_exchange_mhz : float, default 0.0
        Largest exchange coupling, MHz; J ~ U(-max, max) per trace (see `dipolar_kernel`).
    min_noise_fraction : float, default 0.0
        Smallest noise RMS as a fraction of the modulation depth (at most `max_noise_fraction`).

    Raises
    ------
    ValueError
        If a field is of the wrong type or out of range, or the fields contradict each other (the
        message starts with the field's name).

    Notes
    -----
    Peaks: `min_peaks` .. `max_peaks` of them (integer uniform), amplitudes U(0, 1], positions r0 as
    `peak_positions` says. FWHM between `min_fwhm_fraction` r0 and a widest FWHM of
    `max_fwhm_fraction` times the distance range or r0, sampled as
    narrowest + (widest - narrowest) abs(u3 + u4 - 1) (favouring narrow). Shape: Gaussian for
    `max_skew` = 0; otherwise each peak is a skew normal 2 phi(z) Phi(alpha z), z = (r - r0) / sigma,
    alpha ~ U(-max_skew, max_skew), where r0 and the FWHM = 2 sqrt(2 ln 2) sigma remain the location
    and the width of the underlying normal (not the mode, mean or FWHM of the skewed peak).
    Trace: (1 - depth + depth F) B with F = K p, B = exp(-(k t)^(d/3)); Gaussian noise of RMS
    (`min_noise_fraction` + (`max_noise_fraction` - `min_noise_fraction`) u) depth, u ~ U(0, 1).
    With `normalisation` .. `min_noise_fraction` at their defaults no extra random numbers are drawn
    and the library is bit-identical to the library_dd.m recipe this module had before them.

    Examples
    --------
    >>> from descrambler.deer import LibraryConfig
    >>> config = LibraryConfig(n_time=128, tmax=3.0)
    >>> [round(x, 2) for x in config.distance_limits]
    [1.7, 6.78]
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
        check_fields(self, positive_int=("n_time", "n_dist", "max_peaks", "min_peaks"),  # np.int64(4) -> 4
                     finite=("tmax", "min_fwhm_fraction", "max_fwhm_fraction", "min_depth", "max_depth",
                             "max_noise_fraction", "min_decay_rate", "max_decay_rate", "min_dimension",
                             "max_dimension", "max_skew", "max_exchange_mhz", "min_noise_fraction"))
        if self.max_peaks > MAX_PEAKS:
            raise ValueError(f"max_peaks: at most {MAX_PEAKS} (the library counts peaks in an int8), "
                             f"got {self.max_peaks}")
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
        check_fields(self, non_negative=("max_noise_fraction", "min_noise_fraction", "max_skew", "max_exchange_mhz"))
        if self.min_noise_fraction > self.max_noise_fraction:
            raise ValueError(f"min_noise_fraction: must not exceed max_noise_fraction, got "
                             f"{self.min_noise_fraction} > {self.max_noise_fraction}")
        rmin, rmax = self.distance_limits
        low, high = DISTANCE_RANGE_NM
        if rmin < low or rmax > high:
            raise ValueError(f"tmax, n_time: the time grid ({self.n_time} points over {self.tmax:g} us) supports "
                             f"distances {rmin:.3g} .. {rmax:.3g} nm, outside {low:g} .. {high:g} nm; is tmax in us?")
        narrowest, step = self.min_fwhm_fraction * rmin, (rmax - rmin) / (self.n_dist - 1)
        if narrowest < step / 2:  # such a peak can fall between grid points: all zeros, NaN traces
            raise ValueError(f"min_fwhm_fraction, n_dist: the narrowest peak (FWHM {narrowest:.3g} nm at rmin) is "
                             f"under half the distance step ({step:.3g} nm), so it can fall between the grid points "
                             f"and vanish; use n_dist >= {int(np.ceil((rmax - rmin) / (2 * narrowest))) + 1} or "
                             f"min_fwhm_fraction >= {step / 2 / rmin:.3g}")
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

    #: What a network can learn from this database (`descrambler.nets.data.TrainingData`): distributions
    #: scaled to a peak of 0.75, distributions of mean 1, or the clean traces (a denoiser).
    targets = ("max_0.75", "distribution", "clean")
    #: The modules whose code makes its training data and validation (part of the model cache's key).
    sources = ("descrambler.deer.simulate", "descrambler.deer.metrics")

    def training_pairs(self, n: int, seed: int, target: str) -> tuple[np.ndarray, np.ndarray]:
        """A training library as (traces, targets), the `descrambler.nets.data.TrainingData` protocol.

        Parameters
        ----------
        n : int
            Number of traces.
        seed : int
            Seed of `make_library`.
        target : {"max_0.75", "distribution", "clean"}
            Distributions scaled to a peak of 0.75, distributions of mean 1, or the clean traces.

        Returns
        -------
        traces, targets : numpy.ndarray
            float32, (n, n_time) and (n, n_dist) (clean: (n, n_time)).
        """
        from .metrics import training_pairs  # torch-side code, imported only when a network trains

        return training_pairs(self, n, seed, target)

    def validation_summary(self, model, n: int, seed: int, target: str) -> dict:
        """A network's summary on the validation library (the `descrambler.nets.data.TrainingData` protocol).

        Parameters
        ----------
        model : torch.nn.Module
            A network whose input width is `n_time`.
        n : int
            Traces of the validation library.
        seed : int
            Its seed.
        target : {"max_0.75", "distribution", "clean"}
            What the network learns ("clean": the denoising error on the traces).

        Returns
        -------
        dict
            `descrambler.deer.evaluate`'s keys ("median_rel_error", "median_peak_error_nm" in nm, ...).
        """
        from .metrics import validation_summary

        return validation_summary(self, model, n, seed, target)


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
    """The LibraryConfig of a named training database.

    Parameters
    ----------
    name : str
        A key of LIBRARY_PRESETS: "library_dd" (DEERNet's library_dd.m, the database of the PNAS 2021
        paper) or "deernet_2018" (Table 1 of Worswick et al., Sci. Adv. 2018, on this project's grid).

    Returns
    -------
    LibraryConfig
        The preset (frozen, safe to share).

    Raises
    ------
    ValueError
        If `name` is not a preset (the message starts with "name:").

    Examples
    --------
    >>> from descrambler.deer import library_preset
    >>> library_preset("deernet_2018").normalisation
    'first_last'
    """
    return LIBRARY_PRESETS[choice(name, "name", LIBRARY_PRESETS)]


@dataclasses.dataclass
class Library:
    """Simulated DEER traces (rows) with their distance distributions and sampled parameters.

    Returned by `make_library` and `iter_library`; ``len(library)`` is the number of traces n.
    Per-peak arrays are NaN where a trace has fewer than `config.max_peaks` peaks.

    Attributes
    ----------
    config : LibraryConfig
        The recipe.
    t : numpy.ndarray
        Time axis, us, (n_time,).
    r : numpy.ndarray
        Distance axis, nm, (n_dist,).
    traces : numpy.ndarray
        Noisy traces, (n, n_time), normalised by `config.normalisation` ("box": to [0, 1] by the noisy
        trace's min and max; "first_last": first point 1, last point 0).
    clean : numpy.ndarray
        Noise-free traces, (n, n_time), mapped by the same affine map as their noisy trace.
    background : numpy.ndarray
        The background (1 - depth) B of each trace, (n, n_time), mapped the same way.
    distributions : numpy.ndarray
        Distance distributions, (n, n_dist), mean 1 over the distance axis.
    n_peaks : numpy.ndarray
        Peaks per trace, (n,), int8.
    peak_position : numpy.ndarray
        Location of each peak's underlying normal, nm, (n, max_peaks).
    peak_fwhm : numpy.ndarray
        FWHM of each peak's underlying normal, nm, (n, max_peaks).
    peak_amplitude : numpy.ndarray
        Peak amplitudes, (n, max_peaks).
    modulation_depth : numpy.ndarray
        Modulation depth per trace, (n,).
    decay_rate : numpy.ndarray
        Background decay rate k, 1/us, (n,).
    dimension : numpy.ndarray
        Background dimension d, (n,).
    noise_rms : numpy.ndarray
        Noise RMS relative to the unnormalised trace's value at zero time, V(0) = 1, (n,).
    peak_skew : numpy.ndarray
        Skew-normal shape alpha of each peak (0 for Gaussian peaks), (n, max_peaks).
    exchange_mhz : numpy.ndarray
        Exchange coupling J, MHz (0 without exchange), (n,).

    Examples
    --------
    >>> from descrambler.deer import make_library
    >>> library = make_library(8, seed=1)
    >>> len(library), library.traces.shape, library.distributions.shape
    (8, (8, 256), (8, 256))
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
    """Generate `n` training traces with DEERNet's recipe.

    Vectorised over blocks of BLOCK_SIZE (4096) traces, each with its own random stream, one thread
    per core; float32 arrays; the same (n, config, seed) always gives identical arrays.

    Parameters
    ----------
    n : int
        Number of traces (>= 1).
    config : LibraryConfig or None, default None
        The recipe; None: LibraryConfig().
    seed : int, default 0
        Random seed (>= 0).

    Returns
    -------
    Library
        The traces, distributions and sampled parameters.

    Raises
    ------
    ValueError
        If `n` is not a positive integer, `config` is not a LibraryConfig, or `seed` is not a
        non-negative integer (the message starts with the argument's name).

    Examples
    --------
    >>> from descrambler.deer import make_library
    >>> library = make_library(8, seed=1)
    >>> library.traces.shape, library.traces.dtype
    ((8, 256), dtype('float32'))
    """
    n, config, seed = _check_request(n, config, seed)
    arrays = _empty_arrays(n, config)
    _generate(n, config, seed, 0, arrays)
    return _library(config, arrays)


def iter_library(n: int, config: LibraryConfig | None = None, seed: int = 0,
                 chunk_size: int = 16 * BLOCK_SIZE) -> Iterator[Library]:
    """The traces of ``make_library(n, config, seed)``, in consecutive chunks of `chunk_size` traces.

    For streaming statistics over more traces than fit in memory; the concatenated chunks equal
    ``make_library(n, config, seed)``.

    Parameters
    ----------
    n : int
        Number of traces in all (>= 1).
    config : LibraryConfig or None, default None
        The recipe; None: LibraryConfig().
    seed : int, default 0
        Random seed (>= 0).
    chunk_size : int, default 65536
        Traces per chunk, rounded up to a multiple of BLOCK_SIZE (4096); the last chunk may be shorter.

    Yields
    ------
    Library
        One chunk of traces.

    Raises
    ------
    ValueError
        If `n` or `chunk_size` is not a positive integer, `config` is not a LibraryConfig, or `seed`
        is not a non-negative integer (the message starts with the argument's name).

    Examples
    --------
    >>> from descrambler.deer import iter_library
    >>> [len(chunk) for chunk in iter_library(10000, chunk_size=4096)]
    [4096, 4096, 1808]
    """
    n, config, seed = _check_request(n, config, seed)
    blocks_per_chunk = -(-positive_int(chunk_size, "chunk_size") // BLOCK_SIZE)
    for start in range(0, n, blocks_per_chunk * BLOCK_SIZE):
        size = min(blocks_per_chunk * BLOCK_SIZE, n - start)
        arrays = _empty_arrays(size, config)
        _generate(size, config, seed, start // BLOCK_SIZE, arrays)
        yield _library(config, arrays)
