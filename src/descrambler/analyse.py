"""A measured DEER trace through the book's network: distance distribution, mean distance, width,
modulation depth; a DeerLab Tikhonov fit of the same trace for comparison; and the checks that explain
why the two may disagree (is the trace inside what the training database covers?).

`analyse_trace(path)` is the user's path (also `python -m descrambler analyse FILE`): `load_trace`
(zero time, phase, resampling, distance axis scaled by the trace length), the book's network
(`book_spec(profile).network(0)`, trained once and cached), and a small least-squares fit of the modulation
depth and a homogeneous 3-D background exp(-k t) with the network's distribution held fixed.
`tikhonov_fit(trace)` is the reference: DeerLab's `fit(dipolarmodel(t, r, Bmodel=bg_hom3d), V)`.
`coverage(analysis)` compares the trace with the ranges of the training database.

Several networks (an ensemble) can be passed as `model`: the distribution is then their mean, with their
95 % band (`descrambler.nets.predict_band`: mean +- 1.96 SD of the networks) in `Analysis.band_low` and
`band_high`. Chapter 2 measures how often such a band holds the truth (`descrambler.nets.band_coverage`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize_scalar
from threadpoolctl import threadpool_limits

from ._io import atomic_write
from ._validate import as_array, positive_int
from .deer import LibraryConfig, dipolar_kernel
from .traces import MeasuredTrace, _noise_level, load_trace

__all__ = ["analyse_trace", "Analysis", "kuprov_trace", "fit_depth_and_background", "DepthFit",
           "moments", "tikhonov_fit", "TikhonovFit", "coverage", "Coverage", "compare",
           "Comparison", "comparison_markdown", "plot_analysis", "save_plot", "report"]

#: Upper bound of the background decay rate searched by the depth fit, in units of 1 / trace length.
_MAX_DECAY_PER_LENGTH = 20.0
#: The six measured traces of the 2018 DEERNet paper shipped with the book (see data/kuprov/README.md).
KUPROV_DATA = Path(__file__).resolve().parents[2] / "data" / "kuprov"
KUPROV_SAMPLES = ("I", "II", "III", "IV", "V", "VI")


def kuprov_trace(sample: str) -> Path:
    """Path of one of the six measured traces of the 2018 DEERNet paper shipped with the book.

    Parameters
    ----------
    sample : {"I", "II", "III", "IV", "V", "VI"}
        The sample (see data/kuprov/README.md).

    Returns
    -------
    pathlib.Path
        The file, data/kuprov/sample_<sample>_DEERNet_input.dat.

    Raises
    ------
    ValueError
        If `sample` is unknown (the message starts with "sample:").

    Examples
    --------
    >>> from descrambler.analyse import kuprov_trace
    >>> kuprov_trace("I").name
    'sample_I_DEERNet_input.dat'
    """
    from ._validate import choice

    return KUPROV_DATA / f"sample_{choice(sample, 'sample', KUPROV_SAMPLES)}_DEERNet_input.dat"


def moments(r: ArrayLike, p: ArrayLike) -> tuple[float, float]:
    """Mean and standard deviation, nm, of a distance distribution.

    Parameters
    ----------
    r : array_like
        Uniform distance axis, nm, 1-D (the weights are the values of `p`).
    p : array_like
        The distribution on `r`, any scale, >= 0, with a positive sum.

    Returns
    -------
    tuple of float
        (mean, standard deviation), nm.

    Raises
    ------
    ValueError
        If an array is not finite and 1-D, their sizes differ, or `p` has a negative value or no
        positive sum (the message starts with the argument's name).

    Examples
    --------
    >>> from descrambler.analyse import moments
    >>> mean, sd = moments([1.0, 2.0, 3.0], [1, 2, 1])
    >>> mean, round(sd, 4)
    (2.0, 0.7071)
    """
    r = as_array(r, "r", ndim=1)
    p = as_array(p, "p", ndim=1)
    if p.shape != r.shape:
        raise ValueError(f"p: {p.size} values for {r.size} distances")
    if np.any(p < 0) or p.sum() <= 0:
        raise ValueError("p: needs non-negative values with a positive sum")
    w = p / p.sum()
    mean = float(w @ r)
    return mean, float(np.sqrt(w @ (r - mean) ** 2))


@dataclasses.dataclass
class DepthFit:
    """A trace fitted as V(t) = scale [(1 - depth) + depth F(t)] exp(-decay_rate t), F = K p for a fixed p.

    Returned by `fit_depth_and_background`.

    Attributes
    ----------
    depth : float
        Modulation depth (not clipped: outside [0, 1] the distribution does not explain the trace).
    decay_rate : float
        Background decay rate k, 1/us (homogeneous 3-D background exp(-k t)).
    scale : float
        V(0) of the model, in the signal's units.
    t : numpy.ndarray
        Times from zero time, us: the data fitted.
    signal : numpy.ndarray
        The data fitted.
    fit : numpy.ndarray
        The model on `t`.
    background : numpy.ndarray
        scale (1 - depth) exp(-k t) on `t`.
    residual_rms : float
        RMS of fit - signal, in the signal's units.
    noise_rms : float
        Noise RMS of the signal (from second differences), in the signal's units.

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.analyse import fit_depth_and_background
    >>> from descrambler.deer import dipolar_kernel
    >>> t, r = np.linspace(0, 3, 200), np.linspace(2, 6, 100)
    >>> p = np.exp(-(r - 4) ** 2 / 0.1)
    >>> signal = (0.7 + 0.3 * dipolar_kernel(t, r) @ (p / p.sum())) * np.exp(-0.2 * t)
    >>> fit = fit_depth_and_background(t, signal, r, p)
    >>> round(fit.depth, 3), round(fit.decay_rate, 3), round(fit.scale, 3)
    (0.3, 0.2, 1.0)
    """

    depth: float
    decay_rate: float
    scale: float
    t: np.ndarray
    signal: np.ndarray
    fit: np.ndarray
    background: np.ndarray
    residual_rms: float
    noise_rms: float


def fit_depth_and_background(t: ArrayLike, signal: ArrayLike, r: ArrayLike, p: ArrayLike) -> DepthFit:
    """Least-squares modulation depth, background decay rate and scale of a trace, its distribution held fixed.

    For each decay rate k the model scale [(1 - depth) + depth K p] exp(-k t) is linear in
    (scale (1 - depth), scale depth); k is searched on [0, 20 / t_max] (bounded Brent). The depth is
    not clipped: a value outside [0, 1] says the distribution does not explain the trace.

    Parameters
    ----------
    t : array_like
        Times from zero time, us, >= 0, 1-D (at least 4).
    signal : array_like
        The trace at `t`, any scale.
    r : array_like
        Distance axis, nm, 1-D.
    p : array_like
        The distance distribution on `r`, >= 0, with a positive sum.

    Returns
    -------
    DepthFit
        Depth, decay rate k (1/us), scale, the fit and its residual.

    Raises
    ------
    ValueError
        If an array is not finite and 1-D, `signal` does not have one value per time (at least 4),
        or `p` does not have one non-negative value per distance with a positive sum (the message
        starts with the argument's name).

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.analyse import fit_depth_and_background
    >>> from descrambler.deer import dipolar_kernel
    >>> t, r = np.linspace(0, 3, 200), np.linspace(2, 6, 100)
    >>> p = np.exp(-(r - 4) ** 2 / 0.1)
    >>> signal = (0.7 + 0.3 * dipolar_kernel(t, r) @ (p / p.sum())) * np.exp(-0.2 * t)
    >>> round(fit_depth_and_background(t, signal, r, p).depth, 3)
    0.3
    """
    t = as_array(t, "t", ndim=1)
    signal = as_array(signal, "signal", ndim=1)
    r = as_array(r, "r", ndim=1)
    p = as_array(p, "p", ndim=1)
    if t.shape != signal.shape or t.size < 4:
        raise ValueError(f"signal: need as many values as times (at least 4), got {signal.size} and {t.size}")
    if p.shape != r.shape or p.sum() <= 0:
        raise ValueError("p: needs one non-negative value per distance and a positive sum")
    form = dipolar_kernel(t, r) @ (p / p.sum())

    def solve(k: float) -> tuple[np.ndarray, float]:
        decay = np.exp(-k * t)
        design = np.column_stack([decay, form * decay])
        coefficients, *_ = np.linalg.lstsq(design, signal, rcond=None)
        return coefficients, float(np.sum((design @ coefficients - signal) ** 2))

    upper = _MAX_DECAY_PER_LENGTH / t[-1]
    best = minimize_scalar(lambda k: solve(k)[1], bounds=(0.0, upper), method="bounded",
                           options={"xatol": 1e-6 * upper})
    k = float(best.x)
    if solve(0.0)[1] <= solve(k)[1]:
        k = 0.0
    (a, b), _ = solve(k)
    decay = np.exp(-k * t)
    fit = (a + b * form) * decay
    scale = a + b
    depth = b / scale if scale != 0 else float("nan")
    return DepthFit(depth=float(depth), decay_rate=k, scale=float(scale), t=t, signal=signal, fit=fit,
                    background=a * decay, residual_rms=float(np.sqrt(np.mean((fit - signal) ** 2))),
                    noise_rms=_noise_level(signal))


@dataclasses.dataclass
class Analysis:
    """A measured trace read by a network.

    Returned by `analyse_trace`. `modulation_depth` (property) is ``depth_fit.depth``; `to_dict()`
    gives a JSON-ready summary.

    Attributes
    ----------
    source : str
        The file.
    trace : MeasuredTrace
        What `load_trace` made of it.
    r : numpy.ndarray
        Distance axis, nm.
    distribution : numpy.ndarray
        The network's distance distribution, a probability density, 1/nm
        (sum(distribution) dr = 1).
    band_low, band_high : numpy.ndarray or None
        With several networks, their 95 % band at each distance (1/nm, `predict_band`), else None.
    n_models : int
        Number of networks.
    mean_distance : float
        Mean distance, nm.
    width : float
        Standard deviation of the distribution, nm.
    depth_fit : DepthFit
        Modulation depth and background of the trace with this distribution held fixed.
    profile : str or None
        The book profile of the network (None for a network passed in).
    config : LibraryConfig
        The training database of the network.

    Examples
    --------
    >>> import torch
    >>> from descrambler.analyse import analyse_trace, kuprov_trace
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> analysis = analyse_trace(kuprov_trace("I"), model=two_layer())  # untrained: fast, meaningless
    >>> analysis.distribution.shape, analysis.n_models, analysis.profile
    ((256,), 1, None)
    """

    source: str
    trace: MeasuredTrace
    r: np.ndarray
    distribution: np.ndarray
    band_low: np.ndarray | None
    band_high: np.ndarray | None
    n_models: int
    mean_distance: float
    width: float
    depth_fit: DepthFit
    profile: str | None
    config: LibraryConfig

    @property
    def modulation_depth(self) -> float:
        """Modulation depth estimated with the network's distribution held fixed."""
        return self.depth_fit.depth

    def to_dict(self, arrays: bool = True) -> dict:
        """JSON-ready summary of the analysis.

        Parameters
        ----------
        arrays : bool, default True
            Also include the distance axis ("r_nm"), the distribution ("distribution_per_nm") and, with
            several networks, their band.

        Returns
        -------
        dict
            Mean distance, width (nm), modulation depth, background decay rate (1/us), residual and
            noise RMS, trace length and zero time (us), phase (deg), imaginary column, distance range
            (nm) and the loader's notes.
        """
        out = {"source": self.source, "profile": self.profile, "n_models": self.n_models,
               "mean_distance_nm": self.mean_distance, "width_nm": self.width,
               "modulation_depth": self.modulation_depth,
               "background_decay_rate_per_us": self.depth_fit.decay_rate,
               "residual_rms": self.depth_fit.residual_rms, "noise_rms": self.depth_fit.noise_rms,
               "trace_length_us": float(self.trace.t[-1]), "zero_time_us": self.trace.zero_time,
               "phase_deg": math.degrees(self.trace.phase), "imaginary_column": self.trace.imaginary_column,
               "distance_range_nm": [float(self.r[0]), float(self.r[-1])], "notes": list(self.trace.notes)}
        if arrays:
            out["r_nm"] = self.r.tolist()
            out["distribution_per_nm"] = self.distribution.tolist()
            if self.band_low is not None:
                out["band_95_low_per_nm"] = self.band_low.tolist()
                out["band_95_high_per_nm"] = self.band_high.tolist()
        return out


def _models(model, profile: str | None):
    """(list of networks, training LibraryConfig, profile or None) for `analyse_trace`."""
    from .spec import book_spec

    if model is None:
        spec = book_spec(profile)
        return [spec.network(0)[0]], spec.library, profile
    models = list(model) if isinstance(model, Sequence) else [model]
    if not models:
        raise ValueError("model: an empty list of networks")
    return models, None, None


def analyse_trace(path: str | os.PathLike, model=None, profile: str = "full", *,
                  config: LibraryConfig | None = None, zero_time: float | str = "auto",
                  phase: float | str = "auto", imaginary: int | str | None = "auto",
                  time_unit: str | None = None) -> Analysis:
    """Read a measured trace file with a trained network: distance distribution, mean, width, depth.

    `load_trace` (zero time, phase, resampling, distance axis scaled by the trace length), the
    network (or networks), then `fit_depth_and_background` (modulation depth and a homogeneous 3-D
    background exp(-k t) with the network's distribution held fixed). Also
    ``python -m descrambler analyse FILE``.

    Parameters
    ----------
    path : str or os.PathLike
        The trace file (text or Bruker BES3T, see `load_trace`).
    model : torch.nn.Module, list of torch.nn.Module, or None, default None
        None: the book's network of `profile` (``book_spec(profile).network(0)``, from the model cache
        or trained once); one network; or a list of networks (their mean distribution, and their
        95 % band in `Analysis.band_low`, `band_high`).
    profile : str, default "full"
        The book profile whose network and training database are used.
    config : LibraryConfig or None, default None
        The database the network was trained on; None: the book's, ``book_spec(profile).library``.
    zero_time : float or "auto", default "auto"
        Passed to `load_trace` (us).
    phase : float or "auto", default "auto"
        Passed to `load_trace` (rad).
    imaginary : int, "auto" or None, default "auto"
        Passed to `load_trace`.
    time_unit : {"us", "ns", "ms", "s"} or None, default None
        Passed to `load_trace` (None: us for a text file, the descriptor's unit for a BES3T file).

    Returns
    -------
    Analysis
        The distribution (1/nm), its mean and width (nm), the depth fit and the loaded trace.

    Raises
    ------
    ValueError
        If `model` is an empty list, or an argument or the file is refused by `load_trace` (the
        message starts with the argument's name).

    Examples
    --------
    >>> import torch
    >>> from descrambler.analyse import analyse_trace, kuprov_trace
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> analysis = analyse_trace(kuprov_trace("I"), model=two_layer())  # untrained: fast, meaningless
    >>> round(float(analysis.distribution.sum() * (analysis.r[1] - analysis.r[0])), 6)
    1.0
    """
    from .nets import predict, predict_band

    models, trained_on, used_profile = _models(model, profile)
    if config is None:
        if trained_on is None:
            from .spec import book_spec
            trained_on = book_spec(profile).library
        config = trained_on
    trace = load_trace(path, config, zero_time=zero_time, phase=phase, imaginary=imaginary, time_unit=time_unit)
    step = float(trace.r[1] - trace.r[0])
    low = high = None
    if len(models) > 1:
        band = predict_band(models, trace.trace)
        distribution, low, high = band.mean / step, band.low / step, band.high / step  # densities, 1/nm
    else:
        distribution = predict(models[0], trace.trace) / step
    mean, width = moments(trace.r, distribution)
    t, signal = trace.after_zero_time()
    depth_fit = fit_depth_and_background(t, signal, trace.r, distribution)
    return Analysis(source=str(path), trace=trace, r=trace.r, distribution=distribution, band_low=low, band_high=high,
                    n_models=len(models), mean_distance=mean, width=width, depth_fit=depth_fit,
                    profile=used_profile, config=config)


# ---------------------------------------------------------------- the Tikhonov reference (DeerLab)

@dataclasses.dataclass
class TikhonovFit:
    """DeerLab's Tikhonov fit of a measured trace, the reference for the network's reading.

    The model is ``dipolarmodel(t, r, Bmodel=bg_hom3d)``, Tikhonov regularisation with the
    regularisation parameter chosen by AIC, zero time held at the loader's. Returned by
    `tikhonov_fit`. `decay_rate` (property) is the background's k, 1/us.

    Attributes
    ----------
    r : numpy.ndarray
        Distance axis, nm.
    distribution : numpy.ndarray
        The distance distribution, 1/nm, unit area.
    lower, upper : numpy.ndarray
        Its 95 % confidence band, 1/nm.
    mean_distance : float
        Mean distance, nm.
    width : float
        Standard deviation, nm.
    modulation_depth : float
        Modulation depth.
    concentration : float
        Spin concentration of the bg_hom3d background, uM.
    t : numpy.ndarray
        Times, us (binned when the trace has more than `max_points` points).
    signal : numpy.ndarray
        The data fitted, normalised to max 1.
    fit : numpy.ndarray
        DeerLab's model on `t`.
    background : numpy.ndarray
        DeerLab's background, (1 - depth) B, on `t`.
    seconds : float
        Fit time, s.

    Examples
    --------
    >>> from descrambler.analyse import kuprov_trace, tikhonov_fit
    >>> from descrambler.traces import load_trace
    >>> reference = tikhonov_fit(load_trace(kuprov_trace("I")))  # needs DeerLab; a few seconds
    >>> reference.distribution.shape, round(reference.mean_distance, 1)
    ((100,), 4.3)
    """

    r: np.ndarray
    distribution: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    mean_distance: float
    width: float
    modulation_depth: float
    concentration: float
    t: np.ndarray
    signal: np.ndarray
    fit: np.ndarray
    background: np.ndarray
    seconds: float

    @property
    def decay_rate(self) -> float:
        """The background's decay rate k (1/us) of exp(-k t), from its values at the ends of `t`."""
        return float(np.log(self.background[0] / self.background[-1]) / (self.t[-1] - self.t[0]))


def _binned(t: np.ndarray, v: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Means of consecutive blocks of equal size so that at most `max_points` remain (the tail that
    does not fill a block is dropped)."""
    size = -(-t.size // max_points)
    if size == 1:
        return t, v
    n = t.size // size * size
    return t[:n].reshape(-1, size).mean(axis=1), v[:n].reshape(-1, size).mean(axis=1)


def tikhonov_fit(trace: MeasuredTrace, *, n_r: int = 100, max_points: int = 256,
                 r_range: tuple[float, float] | None = None) -> TikhonovFit:
    """DeerLab's Tikhonov fit of a measured trace (its points after zero time, phased): the reference.

    The fit is DeerLab's ``fit(dipolarmodel(t, r, Bmodel=bg_hom3d), V)``. A trace longer than
    `max_points` points is block-averaged first, and the fit runs on one BLAS thread, both for speed
    (a few seconds a trace). Needs the `deerlab` package.

    Parameters
    ----------
    trace : MeasuredTrace
        A trace from `load_trace`.
    n_r : int, default 100
        Points of the distance axis (at least 10).
    max_points : int, default 256
        Most time points fitted (block averages beyond that).
    r_range : tuple of float or None, default None
        (rmin, rmax), nm; None: DeerLab's `distancerange` for the measured time axis, whose longest
        distance follows the same half-period rule as the network's axis.

    Returns
    -------
    TikhonovFit
        The distribution (1/nm) with its 95 % band, mean and width (nm), depth and background.

    Raises
    ------
    ValueError
        If `trace` is not a MeasuredTrace, `n_r` or `max_points` is not a positive integer, `n_r` is
        below 10, or `r_range` is not 0 < rmin < rmax (the message starts with the argument's name).
    RuntimeError
        If DeerLab is not installed.

    Examples
    --------
    >>> from descrambler.analyse import kuprov_trace, tikhonov_fit
    >>> from descrambler.traces import load_trace
    >>> reference = tikhonov_fit(load_trace(kuprov_trace("I")), n_r=80)  # a few seconds
    >>> reference.r.shape
    (80,)
    """
    try:
        import deerlab as dl
    except ImportError as error:  # pragma: no cover - deerlab is a test dependency
        raise RuntimeError("tikhonov_fit needs DeerLab: pip install deerlab") from error
    if not isinstance(trace, MeasuredTrace):
        raise ValueError(f"trace: expected a MeasuredTrace, got {type(trace).__name__}")
    n_r = positive_int(n_r, "n_r")
    max_points = positive_int(max_points, "max_points")
    if n_r < 10:
        raise ValueError(f"n_r: need at least 10 distances, got {n_r}")
    t, v = trace.after_zero_time()
    if r_range is None:
        r_range = dl.distancerange(t)
    rmin, rmax = (float(x) for x in r_range)
    if not 0 < rmin < rmax:
        raise ValueError(f"r_range: need 0 < rmin < rmax, got {r_range}")
    t, v = _binned(t, v, max_points)
    v = v / np.max(v)
    r = np.linspace(rmin, rmax, n_r)
    started = time.perf_counter()
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = dl.dipolarmodel(t, r, Bmodel=dl.bg_hom3d)
        model.reftime.freeze(0)
        result = dl.fit(model, v)
        lower, upper = result.PUncert.ci(95).T
    seconds = time.perf_counter() - started
    area = np.sum(result.P) * (r[1] - r[0])
    mean, width = moments(r, np.clip(result.P, 0, None))
    depth = float(result.mod)
    background = np.asarray(result.bg, dtype=float)  # DeerLab's bg of a dipolar model is already V0 (1 - depth) B
    return TikhonovFit(r=r, distribution=result.P / area, lower=np.clip(lower, 0, None) / area, upper=upper / area,
                       mean_distance=mean, width=width, modulation_depth=depth, concentration=float(result.conc),
                       t=t, signal=v, fit=np.asarray(result.model, dtype=float),
                       background=background, seconds=seconds)


# ---------------------------------------------------------------- is the trace inside the training database?

@dataclasses.dataclass
class Coverage:
    """How a measured trace compares with the network's training database (all on the notional axis).

    Returned by `coverage`.

    Attributes
    ----------
    stretch : float
        The time-axis factor t_max / config.tmax (the distance axis is scaled by its cube root).
    notional_decay_rate : float
        The background decay rate as the network sees it, k t_max / config.tmax, 1/us.
    decay_range : tuple of float
        The database's decay-rate range, 1/us.
    noise_fraction : float
        Noise RMS / (depth V(0)).
    max_noise_fraction : float
        The database's largest noise fraction.
    modulation_depth : float
        The trace's modulation depth (from the depth fit).
    depth_range : tuple of float
        The database's depth range.
    distance_range : tuple of float
        The distances, nm, the network can return for this trace.
    reference_mass_outside : float or None
        Share of a reference distribution (DeerLab's) outside that range, or None.
    flags : tuple of str
        The findings, in words.

    Examples
    --------
    >>> import torch
    >>> from descrambler.analyse import analyse_trace, kuprov_trace
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> analysis = analyse_trace(kuprov_trace("I"), model=two_layer())  # untrained: fast, meaningless
    >>> from descrambler.analyse import coverage
    >>> round(coverage(analysis).stretch, 3)
    2.656
    """

    stretch: float
    notional_decay_rate: float
    decay_range: tuple[float, float]
    noise_fraction: float
    max_noise_fraction: float
    modulation_depth: float
    depth_range: tuple[float, float]
    distance_range: tuple[float, float]
    reference_mass_outside: float | None
    flags: tuple[str, ...]


def coverage(analysis: Analysis, reference: TikhonovFit | None = None) -> Coverage:
    """Compare an analysed trace (and optionally a reference distribution) with the training database.

    Parameters
    ----------
    analysis : Analysis
        From `analyse_trace`.
    reference : TikhonovFit or None, default None
        A reference fit (`tikhonov_fit`); its share outside the network's distance range is reported.

    Returns
    -------
    Coverage
        Decay rate, noise and depth against the database's ranges, and flags in words.

    Examples
    --------
    >>> import torch
    >>> from descrambler.analyse import analyse_trace, kuprov_trace
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> analysis = analyse_trace(kuprov_trace("I"), model=two_layer())  # untrained: fast, meaningless
    >>> from descrambler.analyse import coverage
    >>> coverage(analysis).distance_range == (float(analysis.r[0]), float(analysis.r[-1]))
    True
    """
    config = analysis.config
    fit = analysis.depth_fit
    stretch = float(analysis.trace.t[-1] / config.tmax)
    notional = fit.decay_rate * stretch
    signal_size = abs(fit.scale * fit.depth) if np.isfinite(fit.depth) else 0.0
    noise_fraction = fit.noise_rms / signal_size if signal_size > 0 else float("inf")
    low, high = float(analysis.r[0]), float(analysis.r[-1])
    flags = []
    if not config.min_decay_rate <= notional <= config.max_decay_rate:
        flags.append(f"background decay {notional:.3g}/us on the network's 2 us axis, outside the database's "
                     f"{config.min_decay_rate:g}..{config.max_decay_rate:g}/us")
    if noise_fraction > config.max_noise_fraction:
        flags.append(f"noise {noise_fraction:.3g} of the modulation, above the database's "
                     f"{config.max_noise_fraction:g}")
    if not config.min_depth <= fit.depth <= config.max_depth:
        flags.append(f"modulation depth {fit.depth:.3g} outside the database's {config.min_depth:g}.."
                     f"{config.max_depth:g}")
    outside = None
    if reference is not None:
        w = np.clip(reference.distribution, 0, None)
        w = w / w.sum()
        outside = float(w[(reference.r < low) | (reference.r > high)].sum())
        if outside > 0.05:
            flags.append(f"{100 * outside:.0f} % of the Tikhonov distribution lies outside the network's "
                         f"{low:.2f}..{high:.2f} nm")
    return Coverage(stretch=stretch, notional_decay_rate=notional,
                    decay_range=(config.min_decay_rate, config.max_decay_rate), noise_fraction=noise_fraction,
                    max_noise_fraction=config.max_noise_fraction, modulation_depth=fit.depth,
                    depth_range=(config.min_depth, config.max_depth), distance_range=(low, high),
                    reference_mass_outside=outside, flags=tuple(flags))


# ---------------------------------------------------------------- network against Tikhonov

def central_width(r: ArrayLike, p: ArrayLike) -> tuple[float, float]:
    """(median, half the 16-84 % quantile range) in nm of `p` on uniform `r`: a width that, unlike the
    standard deviation, small tails far from the peak barely move (equal to the SD for a Gaussian)."""
    r = as_array(r, "r", ndim=1)
    p = np.clip(as_array(p, "p", ndim=1), 0, None)
    if p.shape != r.shape or p.sum() <= 0:
        raise ValueError("p: needs one non-negative value per distance and a positive sum")
    cumulative = np.cumsum(p) / p.sum()
    low, median, high = np.interp([0.16, 0.5, 0.84], cumulative, r)
    return float(median), float((high - low) / 2)


@dataclasses.dataclass
class Comparison:
    """One trace read by the network and by DeerLab, and what could explain a difference.

    Returned by `compare`.

    Attributes
    ----------
    name : str
        The trace's name.
    analysis : Analysis
        The network's reading.
    reference : TikhonovFit
        DeerLab's reading.
    alternatives : tuple of TikhonovFit
        The same Tikhonov fit with other settings.
    coverage : Coverage
        The trace against the training database.
    difference : float
        Network minus reference mean distance, nm.
    tolerance : float
        Largest absolute difference that counts as agreement, nm.
    agrees : bool
        Whether the absolute difference is at most `tolerance`.
    reference_means : tuple of float
        (lowest, highest) mean distance, nm, over reference and alternatives.
    reasons : tuple of str
        Computed observations that bear on any disagreement, in words.

    Examples
    --------
    >>> import torch
    >>> from descrambler.analyse import analyse_trace, kuprov_trace
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> analysis = analyse_trace(kuprov_trace("I"), model=two_layer())  # untrained: fast, meaningless
    >>> from descrambler.analyse import tikhonov_fit
    >>> reference = tikhonov_fit(analysis.trace)  # needs DeerLab; a few seconds
    >>> from descrambler.analyse import compare
    >>> result = compare("I", analysis, reference)
    >>> result.difference == analysis.mean_distance - reference.mean_distance
    True
    """

    name: str
    analysis: Analysis
    reference: TikhonovFit
    alternatives: tuple[TikhonovFit, ...]
    coverage: Coverage
    difference: float
    tolerance: float
    agrees: bool
    reference_means: tuple[float, float]
    reasons: tuple[str, ...]


def compare(name: str, analysis: Analysis, reference: TikhonovFit, alternatives: Sequence[TikhonovFit] = (),
            tolerance: float = 0.3) -> Comparison:
    """Set the network's reading of a trace against DeerLab's and list what could explain a difference.

    The reasons looked for: distances the network cannot return, a background, noise or depth
    outside the training database, a Tikhonov answer that moves with its settings, a network
    distribution that does not explain the trace (fit residual well above the noise), and a width
    difference due to tails rather than the peak.

    Parameters
    ----------
    name : str
        The trace's name (for tables).
    analysis : Analysis
        The network's reading (`analyse_trace`).
    reference : TikhonovFit
        DeerLab's reading (`tikhonov_fit`).
    alternatives : sequence of TikhonovFit, default ()
        The same fit with other settings (e.g. other distance grids).
    tolerance : float, default 0.3
        Largest absolute difference of the mean distances that counts as agreement, nm.

    Returns
    -------
    Comparison
        The difference, the verdict and the reasons.

    Raises
    ------
    ValueError
        If a distribution of `analysis` or `reference` has no positive sum (the message starts
        with "p:").

    Examples
    --------
    >>> import torch
    >>> from descrambler.analyse import analyse_trace, kuprov_trace
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> analysis = analyse_trace(kuprov_trace("I"), model=two_layer())  # untrained: fast, meaningless
    >>> from descrambler.analyse import tikhonov_fit
    >>> reference = tikhonov_fit(analysis.trace)  # needs DeerLab; a few seconds
    >>> from descrambler.analyse import compare
    >>> compare("I", analysis, reference, tolerance=10.0).agrees
    True
    """
    checked = coverage(analysis, reference)
    difference = analysis.mean_distance - reference.mean_distance
    means = [reference.mean_distance, *(fit.mean_distance for fit in alternatives)]
    reasons = list(checked.flags)
    low, high = analysis.r[0], analysis.r[-1]
    share = np.clip(reference.distribution, 0, None)
    share = share / share.sum()
    below = float(share[reference.r < low].sum())
    if below > 0.01:
        inside = reference.r >= low
        restricted = moments(reference.r[inside], share[inside])[0]
        reasons.append(f"{100 * below:.1f} % of the Tikhonov distribution lies below {low:.2f} nm, the shortest "
                       f"distance the network can return for this trace; without it DeerLab's mean would be "
                       f"{restricted:.2f} nm")
    far = low + 0.75 * (high - low)  # the last quarter of the axis: long distances trade off with the background
    net_share = analysis.distribution / analysis.distribution.sum()
    far_reference, far_network = float(share[reference.r >= far].sum()), float(net_share[analysis.r >= far].sum())
    if abs(far_reference - far_network) > 0.02:
        reasons.append(f"beyond {far:.2f} nm (the last quarter of the distance axis, where a distance and the "
                       f"background are hard to tell apart) DeerLab puts {100 * far_reference:.1f} % of its "
                       f"distribution, the network {100 * far_network:.1f} %")
    if max(means) - min(means) > 0.1:
        reasons.append(f"the Tikhonov mean moves between {min(means):.2f} and {max(means):.2f} nm with the distance "
                       "grid: the reference itself is uncertain (background against long-distance tail)")
    fit = analysis.depth_fit
    if fit.noise_rms > 0 and fit.residual_rms > 2 * fit.noise_rms:
        reasons.append(f"the trace computed from the network's distribution misses the data by {fit.residual_rms:.2g} "
                       f"RMS, {fit.residual_rms / fit.noise_rms:.1f} x the noise: the network's distribution does not "
                       "explain every feature of the trace")
    net_median, net_central = central_width(analysis.r, analysis.distribution)
    ref_median, ref_central = central_width(reference.r, reference.distribution)
    if abs(analysis.width - reference.width) > 0.2 * max(analysis.width, reference.width):
        where = ("in the tails (their central widths agree: "
                 if abs(net_central - ref_central) <= 0.2 * max(net_central, ref_central) else "in the peak itself (")
        reasons.append(f"the widths (SD) differ, {analysis.width:.2f} against {reference.width:.2f} nm, "
                       f"{where}{net_central:.2f} against {ref_central:.2f} nm)")
    if abs(difference) > 0.1 and abs(net_median - ref_median) < 0.5 * abs(difference):
        reasons.append(f"the medians are closer ({net_median:.2f} against {ref_median:.2f} nm) than the means: "
                       "most of the difference of the means comes from the tails")
    return Comparison(name=name, analysis=analysis, reference=reference, alternatives=tuple(alternatives),
                      coverage=checked, difference=float(difference), tolerance=float(tolerance),
                      agrees=bool(abs(difference) <= tolerance), reference_means=(min(means), max(means)),
                      reasons=tuple(reasons))


def comparison_markdown(comparisons: Sequence[Comparison]) -> str:
    """A Markdown table of comparisons: means, widths (SD and central), depths, agreement.

    Parameters
    ----------
    comparisons : sequence of Comparison
        From `compare`, one row each.

    Returns
    -------
    str
        The table (header, separator, one row per comparison).

    Raises
    ------
    ValueError
        If a distribution of a comparison has no positive sum (the message starts with "p:").

    Examples
    --------
    >>> import torch
    >>> from descrambler.analyse import analyse_trace, kuprov_trace
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> analysis = analyse_trace(kuprov_trace("I"), model=two_layer())  # untrained: fast, meaningless
    >>> from descrambler.analyse import tikhonov_fit
    >>> reference = tikhonov_fit(analysis.trace)  # needs DeerLab; a few seconds
    >>> from descrambler.analyse import compare, comparison_markdown
    >>> table = comparison_markdown([compare("I", analysis, reference)])
    >>> len(table.splitlines())
    3
    """
    header = ["trace", "length (µs)", "network range (nm)", "mean: network", "mean: DeerLab",
              "DeerLab mean, other settings", "difference", "SD: network", "SD: DeerLab",
              "central width: network", "central width: DeerLab", "depth: network", "depth: DeerLab"]
    rows = []
    for c in comparisons:
        a, f = c.analysis, c.reference
        low, high = c.reference_means
        rows.append([c.name, f"{a.trace.t[-1]:.3g}", f"{a.r[0]:.2f}-{a.r[-1]:.2f}", f"{a.mean_distance:.2f}",
                     f"{f.mean_distance:.2f}", f"{low:.2f}-{high:.2f}",
                     f"{c.difference:+.2f}" + ("" if c.agrees else " (miss)"), f"{a.width:.2f}", f"{f.width:.2f}",
                     f"{central_width(a.r, a.distribution)[1]:.2f}", f"{central_width(f.r, f.distribution)[1]:.2f}",
                     f"{a.modulation_depth:.3f}", f"{f.modulation_depth:.3f}"])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


# ---------------------------------------------------------------- plotting and text output

def plot_analysis(analysis: Analysis, reference: TikhonovFit | None = None, axes=None, title: str | None = None):
    """Plot an analysis in two panels: the trace with its fit, and the distance distribution.

    The trace panel shows the fit implied by the network's distribution and the background; the
    distribution panel shows the networks' 95 % band when there are several, and the Tikhonov
    reference when given.

    Parameters
    ----------
    analysis : Analysis
        From `analyse_trace`.
    reference : TikhonovFit or None, default None
        DeerLab's reading, drawn with its 95 % band.
    axes : sequence of matplotlib.axes.Axes or None, default None
        Two axes to draw on; None: a new figure.
    title : str or None, default None
        Title of the trace panel (the distribution panel then shows the mean and SD).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Examples
    --------
    >>> import torch
    >>> from descrambler.analyse import analyse_trace, kuprov_trace
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> analysis = analyse_trace(kuprov_trace("I"), model=two_layer())  # untrained: fast, meaningless
    >>> from descrambler.analyse import plot_analysis
    >>> len(plot_analysis(analysis).axes)
    2
    """
    import matplotlib.pyplot as plt

    if axes is None:
        figure, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    else:
        figure = axes[0].figure
    ax_t, ax_r = axes
    fit = analysis.depth_fit
    ax_t.plot(fit.t, fit.signal, lw=0.6, color="0.5", label="data")
    ax_t.plot(fit.t, fit.fit, lw=1.2, label="network fit")
    ax_t.plot(fit.t, fit.background, lw=1, ls="--", label="background")
    ax_t.set(xlabel="time (µs)", ylabel="signal")
    ax_t.legend(fontsize=8)
    ax_r.plot(analysis.r, analysis.distribution, lw=1.5, label="network")
    if analysis.band_low is not None:
        ax_r.fill_between(analysis.r, analysis.band_low, analysis.band_high, alpha=0.3,
                          label=f"95 % band of {analysis.n_models} networks")
    if reference is not None:
        ax_r.plot(reference.r, reference.distribution, lw=1.2, color="k", label="DeerLab Tikhonov")
        ax_r.fill_between(reference.r, reference.lower, reference.upper, color="k", alpha=0.15, lw=0,
                          label="DeerLab 95 % CI")
    ax_r.axvspan(analysis.r[0], analysis.r[-1], color="C0", alpha=0.05)
    top = max(analysis.distribution.max(), reference.distribution.max() if reference is not None else 0)
    ax_r.set(xlabel="distance (nm)", ylabel="P(r) (1/nm)", ylim=(0, 1.4 * top))
    ax_r.legend(fontsize=8)
    if title:
        ax_t.set_title(title, fontsize=10)
        ax_r.set_title(f"mean {analysis.mean_distance:.2f} nm, SD {analysis.width:.2f} nm", fontsize=10)
    figure.tight_layout()
    return figure


def save_plot(analysis: Analysis, path: str | os.PathLike, reference: TikhonovFit | None = None) -> None:
    """Write `plot_analysis` of an analysis to a file, atomically.

    Parameters
    ----------
    analysis : Analysis
        From `analyse_trace`.
    path : str or os.PathLike
        The image file; its suffix gives the format (png, pdf, svg, ...).
    reference : TikhonovFit or None, default None
        DeerLab's reading, drawn too.

    Examples
    --------
    >>> import torch
    >>> from descrambler.analyse import analyse_trace, kuprov_trace
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> analysis = analyse_trace(kuprov_trace("I"), model=two_layer())  # untrained: fast, meaningless
    >>> import os, tempfile
    >>> from descrambler.analyse import save_plot
    >>> path = os.path.join(tempfile.mkdtemp(), "I.png")
    >>> save_plot(analysis, path)
    >>> os.path.exists(path)
    True
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    figure = plot_analysis(analysis, reference, title=Path(analysis.source).name)
    try:
        with atomic_write(path, "wb") as stream:
            figure.savefig(stream, format=path.suffix.lstrip(".") or "png", dpi=120)
    finally:
        plt.close(figure)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)  # the temporary file of the atomic write is private; a plot is not


def report(analysis: Analysis) -> str:
    """Plain-text report of an analysis: the summary, then the distance axis and the distribution.

    Parameters
    ----------
    analysis : Analysis
        From `analyse_trace`.

    Returns
    -------
    str
        '#' comment lines (file, mean distance, width, depth, trace length, distance range, the
        loader's notes), then two columns r (nm) and P (1/nm), four with the band of several networks.

    Examples
    --------
    >>> import torch
    >>> from descrambler.analyse import analyse_trace, kuprov_trace
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> analysis = analyse_trace(kuprov_trace("I"), model=two_layer())  # untrained: fast, meaningless
    >>> from descrambler.analyse import report
    >>> report(analysis).splitlines()[0].endswith("sample_I_DEERNet_input.dat")
    True
    """
    lines = [f"# {analysis.source}",
             f"# mean distance {analysis.mean_distance:.3f} nm, width (SD) {analysis.width:.3f} nm, "
             f"modulation depth {analysis.modulation_depth:.3f}",
             f"# trace {analysis.trace.t[-1]:.4g} us from zero time {analysis.trace.zero_time:.4g} us; "
             f"distances {analysis.r[0]:.3f}..{analysis.r[-1]:.3f} nm"]
    lines += [f"# {note}" for note in analysis.trace.notes]
    band = analysis.band_low is not None
    lines.append("# r_nm  P_per_nm" + ("  band_95_low_per_nm  band_95_high_per_nm" if band else ""))
    for i, (r, p) in enumerate(zip(analysis.r, analysis.distribution)):
        extra = f"  {analysis.band_low[i]:.6g}  {analysis.band_high[i]:.6g}" if band else ""
        lines.append(f"{r:.5f}  {p:.6g}{extra}")
    return "\n".join(lines)


def report_json(analysis: Analysis) -> str:
    """`Analysis.to_dict()` as one JSON object."""
    return json.dumps(analysis.to_dict())
