"""A second Fredholm problem for the descrambler: the inverse Laplace transform of multi-exponential decays.

**The physics.** Many measurements record a sum of exponential decays s(t) = sum_k a_k exp(-t / tau_k),
or, for a continuum of relaxation times, s(t) = int p(log tau) exp(-t / tau) d(log tau): the transverse
(T2) relaxation of NMR relaxometry, where each pore size, tissue compartment or phase of a food or a rock
relaxes at its own rate (a CPMG echo train sampled at equal intervals), and the fluorescence decay of a
sample holding several emitters or environments (time-correlated single-photon counting, lifetimes in ns).
The wanted answer is the relaxation-time distribution p(log tau): the inverse Laplace transform. Like
DEER, it is a Fredholm integral equation of the first kind, s = K p, with the kernel K(t, tau) =
exp(-t / tau) in place of the dipolar kernel K(t, r), so DEERNet's recipe carries over unchanged: simulate
distributions, compute their noisy signals, train a network from signals to distributions.

**Why it is harder than DEER.** The dipolar kernel maps each distance to an oscillation of its own
frequency, so distances are told apart by frequency and its singular values fall slowly. The Laplace
kernel maps every relaxation time to a smooth, positive, monotone decay; decays of neighbouring tau are
nearly parallel, and the singular values fall exponentially (McWhirter and Pike, J. Phys. A 11, 1729
(1978)): at a given noise level only a handful of independent components of p survive, and peaks closer
than about a factor of two or three in tau cannot be resolved by any method. Chapter 12 compares the two
kernels' singular values on the book's grids.

**The database.** Times t in [0, `t_max`] on `n_time` equal steps (an echo train; any unit, the same for
t and tau: ms for T2 relaxometry, ns for lifetimes); relaxation times on a log-spaced grid of `n_tau`
points over [`tau_min`, `tau_max`]. Each distribution has `min_peaks`..`max_peaks` Gaussian peaks on the
log10 tau axis (log-normal in tau), positions uniform over the grid's log range, FWHM uniform in
[`min_width`, `max_width`] decades, areas proportional to amplitudes U(0, 1]; it is normalised to mean 1
over the grid (as the DEER library's distributions), so the weights of the sum are p / n_tau and the
clean signal starts at s(0) = 1. Gaussian noise of RMS U(`min_noise`, `max_noise`), relative to s(0) = 1, is added.

**Not boxed.** DEER traces are mapped to [0, 1] by their minimum and maximum because a DEER trace's scale
and background level carry no distance information. A decay's level does: relaxation times longer than
the window leave a plateau, and boxing would map every plateau to zero, erasing those components. The
decays are instead kept at their natural scale, s(0) = 1 for the clean signal (in relaxometry the total
amplitude is the equilibrium magnetisation, known from the first echoes or a separate measurement).

Chapter 12's reading of a net trained on these decays is `descrambler.study.findings.laplace` (kept apart: this
module determines trained weights and is hashed into the model cache key; the reading is not).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from numpy.typing import ArrayLike

from .._validate import as_array, check_fields, non_negative_int, positive_int
from ..nets.data import distribution_summary, distribution_targets
from ..nets.predict import predict

#: Most peaks per distribution: `LaplaceLibrary.n_peaks` is an int8 counter.
MAX_PEAKS = int(np.iinfo(np.int8).max)
#: Decays drawn per random stream; fixed, so an (n, seed) pair always gives the same arrays.
BLOCK_SIZE = 4096


@dataclasses.dataclass(frozen=True)
class LaplaceConfig:
    """A database of multi-exponential decays and their relaxation-time distributions (see the module).

    Times (`t_max`) and relaxation times (`tau_min`, `tau_max`) share one unit; peak widths (`min_width`,
    `max_width`) are FWHM in decades of tau; the noise RMS (`min_noise`, `max_noise`) is relative to the clean
    decay's start s(0) = 1. Counts must be integers; each refusal is a ValueError naming the field. The log
    tau grid must resolve the narrowest peak (FWHM at least half a grid step).
    """

    n_time: int = 256
    t_max: float = 1.0
    n_tau: int = 256
    tau_min: float = 0.01
    tau_max: float = 1.0
    min_peaks: int = 1
    max_peaks: int = 3
    min_width: float = 0.05
    max_width: float = 0.5
    min_noise: float = 0.0
    max_noise: float = 0.02

    def __post_init__(self):
        check_fields(self, positive_int=("n_time", "n_tau", "min_peaks", "max_peaks"),  # np.int64(4) -> 4
                     positive=("t_max", "tau_min", "tau_max", "min_width", "max_width"),
                     non_negative=("min_noise", "max_noise"))
        if self.n_time < 8:
            raise ValueError(f"n_time: need at least 8 time points, got {self.n_time}")
        if self.n_tau < 2:
            raise ValueError(f"n_tau: need at least 2 relaxation times, got {self.n_tau}")
        if self.tau_min >= self.tau_max:
            raise ValueError(f"tau_min: must be below tau_max, got {self.tau_min} and {self.tau_max}")
        if self.max_peaks > MAX_PEAKS:
            raise ValueError(f"max_peaks: at most {MAX_PEAKS}, got {self.max_peaks}")
        if self.min_peaks > self.max_peaks:
            raise ValueError(f"min_peaks: need min_peaks <= max_peaks, got {self.min_peaks} and {self.max_peaks}")
        if self.min_width > self.max_width:
            raise ValueError(f"min_width: must not exceed max_width, got {self.min_width} > {self.max_width}")
        if self.min_noise > self.max_noise:
            raise ValueError(f"min_noise: must not exceed max_noise, got {self.min_noise} > {self.max_noise}")
        if self.min_width < self.log_step / 2:  # such a peak can fall between grid points: an empty distribution
            raise ValueError(f"min_width: the narrowest peak ({self.min_width:g} decades) is under half the "
                             f"log10 tau step ({self.log_step:.3g} decades); raise it or n_tau")

    #: What a network learns from the decays (`descrambler.nets.data.TrainingData`): relaxation-time
    #: distributions scaled to a peak of 0.75, or of mean 1.
    targets = ("max_0.75", "distribution")

    def training_pairs(self, n: int, seed: int, target: str) -> tuple[np.ndarray, np.ndarray]:
        """(decays, targets) of `make_laplace(n, self, seed)`, float32 (n, n_time), (n, n_tau)."""
        decays = make_laplace(n, self, seed)
        return decays.traces, distribution_targets(decays.distributions, target)

    def validation_summary(self, model, n: int, seed: int, target: str) -> dict:
        """The median relative error of the distributions on `n` fixed decays (no peak error: its unit
        would be decades of tau)."""
        decays = validation_laplace(self, n, seed)
        return distribution_summary(predict(model, decays.traces), decays.distributions)

    @property
    def dt(self) -> float:
        """Time step."""
        return self.t_max / (self.n_time - 1)

    @property
    def log_step(self) -> float:
        """Step of the log10 tau grid, decades."""
        return float(np.log10(self.tau_max / self.tau_min)) / (self.n_tau - 1)

    @property
    def t(self) -> np.ndarray:
        """Time axis, from 0 to `t_max`."""
        return np.linspace(0.0, self.t_max, self.n_time)

    @property
    def log_tau(self) -> np.ndarray:
        """log10 of the relaxation times, equally spaced from log10 `tau_min` to log10 `tau_max`."""
        return np.linspace(np.log10(self.tau_min), np.log10(self.tau_max), self.n_tau)

    @property
    def tau(self) -> np.ndarray:
        """Relaxation times, log-spaced from `tau_min` to `tau_max`."""
        return 10.0 ** self.log_tau


def laplace_kernel(t: ArrayLike, tau: ArrayLike) -> np.ndarray:
    """K(t, tau) = exp(-t / tau), shape (len(t), len(tau)), for times `t` >= 0 and relaxation times `tau` > 0
    (1-D, one unit). With weights w (unit sum over a grid of tau), K @ w is the decay sum_j w_j exp(-t / tau_j)."""
    t = as_array(t, "t", ndim=1)
    tau = as_array(tau, "tau", ndim=1)
    if t.size == 0 or tau.size == 0:
        raise ValueError("t, tau: need at least one time and one relaxation time")
    if np.any(t < 0):
        raise ValueError("t: times must be >= 0")
    if np.any(tau <= 0):
        raise ValueError("tau: relaxation times must be > 0")
    return np.exp(-np.outer(t, 1 / tau))


@dataclasses.dataclass
class LaplaceLibrary:
    """Simulated decays (rows) with their relaxation-time distributions and sampled parameters.

    `traces`: noisy decays (n, n_time); `clean`: the same without noise (s(0) = 1); `distributions`:
    (n, n_tau) on the log10 tau grid `log_tau`, mean 1 over it. Per trace: `n_peaks`; per peak
    ((n, max_peaks), NaN where a trace has fewer): `peak_position` (log10 tau), `peak_width` (FWHM,
    decades), `peak_amplitude`; `noise_rms` (relative to s(0) = 1). Arrays are float32.
    """

    config: LaplaceConfig
    t: np.ndarray
    log_tau: np.ndarray
    traces: np.ndarray
    clean: np.ndarray
    distributions: np.ndarray
    n_peaks: np.ndarray
    peak_position: np.ndarray
    peak_width: np.ndarray
    peak_amplitude: np.ndarray
    noise_rms: np.ndarray

    def __len__(self) -> int:
        return self.traces.shape[0]


def _fill(out: dict, config: LaplaceConfig, kernel_t: np.ndarray, rng: np.random.Generator) -> None:
    """Fill the arrays of `out` (the rows of one block) with decays drawn from `rng`, in a fixed order."""
    f32 = np.float32
    n = out["traces"].shape[0]
    shape = (n, config.max_peaks)
    n_peaks = rng.integers(config.min_peaks, config.max_peaks + 1, n)
    present = np.arange(config.max_peaks) < n_peaks[:, None]
    u = rng.random((3, *shape), dtype=f32)
    log_tau = config.log_tau.astype(f32)
    position = log_tau[0] + (log_tau[-1] - log_tau[0]) * u[0]
    width = f32(config.min_width) + f32(config.max_width - config.min_width) * u[1]
    amplitude = np.where(present, 1 - u[2], f32(0))  # in (0, 1] for the peaks present
    noise_rms = f32(config.min_noise) + f32(config.max_noise - config.min_noise) * rng.random(n, dtype=f32)
    inverse_width = f32(np.sqrt(4 * np.log(2))) / width  # exp(-4 ln 2 (x / w)^2): FWHM w
    weight = amplitude * inverse_width  # each peak's area is proportional to its amplitude
    distributions = out["distributions"]
    distributions.fill(0)
    for k in range(config.max_peaks):
        z = (log_tau[None, :] - position[:, k, None]) * inverse_width[:, k, None]
        distributions += weight[:, k, None] * np.exp(-z * z)
    distributions *= f32(config.n_tau) / distributions.sum(axis=1, keepdims=True)
    clean, traces = out["clean"], out["traces"]
    np.matmul(distributions, kernel_t, out=clean)
    rng.standard_normal(out=traces, dtype=f32)
    traces *= noise_rms[:, None]
    traces += clean
    out["n_peaks"][:] = n_peaks
    for name, value in (("peak_position", position), ("peak_width", width), ("peak_amplitude", amplitude)):
        out[name][:] = np.where(present, value, f32(np.nan))
    out["noise_rms"][:] = noise_rms


def make_laplace(n: int, config: LaplaceConfig | None = None, seed: int = 0) -> LaplaceLibrary:
    """`n` noisy decays and their distributions drawn from `seed` (`config` defaults to LaplaceConfig()).

    Vectorised over blocks of BLOCK_SIZE rows, block b drawn from the random stream (seed, b): the same
    (n, config, seed) always gives identical arrays, and the first k * BLOCK_SIZE rows do not depend on n.
    """
    n = positive_int(n, "n")
    config = LaplaceConfig() if config is None else config
    if not isinstance(config, LaplaceConfig):
        raise ValueError(f"config: expected a LaplaceConfig, got {type(config).__name__}")
    seed = non_negative_int(seed, "seed")
    per_peak = (n, config.max_peaks)
    shapes = {"traces": (n, config.n_time), "clean": (n, config.n_time), "distributions": (n, config.n_tau),
              "n_peaks": (n,), "peak_position": per_peak, "peak_width": per_peak, "peak_amplitude": per_peak,
              "noise_rms": (n,)}
    arrays = {name: np.empty(shape, np.int8 if name == "n_peaks" else np.float32) for name, shape in shapes.items()}
    kernel_t = np.ascontiguousarray(laplace_kernel(config.t, config.tau).T / config.n_tau, dtype=np.float32)
    for block, start in enumerate(range(0, n, BLOCK_SIZE)):
        rows = {name: array[start:start + BLOCK_SIZE] for name, array in arrays.items()}
        _fill(rows, config, kernel_t, np.random.default_rng([seed, block]))
    return LaplaceLibrary(config=config, t=config.t, log_tau=config.log_tau, **arrays)


@functools.lru_cache(maxsize=4)
def validation_laplace(config: LaplaceConfig, n: int, seed: int) -> LaplaceLibrary:
    """The fixed validation decays (cached; treat them as read-only)."""
    return make_laplace(n, config, seed)
