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
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize_scalar

from .._io import cache_dir, package_data
from .._validate import as_array
from ..deer.metrics import moments
from ..deer.simulate import LibraryConfig, dipolar_kernel
from ..deer.traces import MeasuredTrace, load_trace, noise_level

__all__ = ["analyse_trace", "Analysis", "kuprov_trace", "fit_depth_and_background", "DepthFit"]

#: A distribution whose density at an end of the distance axis is above this share of its peak is flagged:
#: the network cannot return distances beyond the axis, so its mean distance is then biased.
EDGE_SHARE = 0.05
#: Points at each end of the axis whose mean density is read.
EDGE_POINTS = 3
#: Share of the axis at each end whose mass is reported in the warning.
EDGE_WIDTH = 0.1

#: Upper bound of the background decay rate searched by the depth fit, in units of 1 / trace length.
_MAX_DECAY_PER_LENGTH = 20.0
#: The six measured traces of the 2018 DEERNet paper shipped with the package (descrambler/data/kuprov).
KUPROV_DATA = "kuprov"
KUPROV_SAMPLES = ("I", "II", "III", "IV", "V", "VI")


def kuprov_trace(sample: str) -> Path:
    """Path of one of the six measured traces of the 2018 DEERNet paper shipped with the book.

    Parameters
    ----------
    sample : {"I", "II", "III", "IV", "V", "VI"}
        The sample (see descrambler/data/kuprov/README.md).

    Returns
    -------
    pathlib.Path
        The file, descrambler/data/kuprov/sample_<sample>_DEERNet_input.dat inside the installed package.

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
    from .._validate import choice

    return package_data(KUPROV_DATA) / f"sample_{choice(sample, 'sample', KUPROV_SAMPLES)}_DEERNet_input.dat"


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
                    noise_rms=noise_level(signal))


#: The unit of each field of `Analysis.to_dict`.
UNITS = {"mean_distance_nm": "nm", "width_nm": "nm", "modulation_depth": "fraction of the signal at zero time",
         "background_decay_rate_per_us": "1/us", "residual_rms_signal_units": "the file's signal units",
         "noise_rms_signal_units": "the file's signal units", "trace_length_us": "us", "zero_time_us": "us",
         "phase_deg": "degrees", "imaginary_column": "column number, counted from 1", "distance_range_nm": "nm",
         "r_nm": "nm", "distribution_per_nm": "1/nm", "band_95_low_per_nm": "1/nm", "band_95_high_per_nm": "1/nm",
         "n_models": "networks"}


def edge_warnings(r: np.ndarray, p: np.ndarray) -> tuple[str, ...]:
    """Warnings for a distance distribution that is not negligible at an end of its axis.

    Parameters
    ----------
    r : numpy.ndarray
        Uniform distance axis, nm, 1-D (at least 2 * EDGE_POINTS points).
    p : numpy.ndarray
        The distribution on `r` (any scale, >= 0, positive somewhere).

    Returns
    -------
    tuple of str
        One warning per end where the mean density of the EDGE_POINTS end points exceeds EDGE_SHARE of
        the peak: the level, the mass within EDGE_WIDTH of the axis at that end, and how far leaving that
        mass out moves the mean distance (nm), a measure of the bias; empty when both ends are negligible.

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.analyse.trace import edge_warnings
    >>> r = np.linspace(1.5, 6.0, 256)
    >>> edge_warnings(r, np.exp(-(r - 3.5) ** 2 / 0.1)), len(edge_warnings(r, np.exp(-(r - 1.5) ** 2)))
    ((), 1)
    """
    peak = float(p.max())
    span = EDGE_WIDTH * float(r[-1] - r[0])
    mean = moments(r, p)[0]
    warnings_ = []
    for end, points, near in (("shortest", slice(0, EDGE_POINTS), r < r[0] + span),
                              ("longest", slice(-EDGE_POINTS, None), r > r[-1] - span)):
        level = float(p[points].mean()) / peak
        if level <= EDGE_SHARE:
            continue
        mass = float(p[near].sum() / p.sum())
        shift = moments(r[~near], p[~near])[0] - mean if p[~near].sum() > 0 else float("nan")
        edge = r[0] if end == "shortest" else r[-1]
        warnings_.append(f"the distribution is still at {level:.0%} of its peak at the {end} distance the network "
                         f"can return ({edge:.2f} nm), so it may go on beyond it and the mean distance is biased: "
                         f"{mass:.0%} of it lies within {span:.2f} nm of that end, and leaving that part out moves "
                         f"the mean by {shift:+.2f} nm")
    return tuple(warnings_)


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
    warnings : tuple of str
        What makes the reading doubtful (`edge_warnings`: a distribution that does not fall off at an end
        of the distance axis).
    network_note : str or None
        Where the book's network came from when it was trained by this call (trained once, then cached).

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
    warnings: tuple[str, ...] = ()
    network_note: str | None = None

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
            Mean distance, width (nm), modulation depth (a fraction), background decay rate (1/us),
            residual and noise RMS (in the file's signal units, after phase correction: raw spectrometer
            units for a Bruker file), trace length and zero time (us), phase (deg), imaginary column,
            distance range (nm), the loader's notes and the warnings; "units" names each field's unit.
        """
        out = {"source": self.source, "profile": self.profile, "n_models": self.n_models,
               "mean_distance_nm": self.mean_distance, "width_nm": self.width,
               "modulation_depth": self.modulation_depth,
               "background_decay_rate_per_us": self.depth_fit.decay_rate,
               "residual_rms_signal_units": self.depth_fit.residual_rms,
               "noise_rms_signal_units": self.depth_fit.noise_rms,
               "trace_length_us": float(self.trace.t[-1]), "zero_time_us": self.trace.zero_time,
               "phase_deg": math.degrees(self.trace.phase), "imaginary_column": self.trace.imaginary_column,
               "distance_range_nm": [float(self.r[0]), float(self.r[-1])], "notes": list(self.trace.notes),
               "warnings": list(self.warnings), "units": UNITS}
        if arrays:
            out["r_nm"] = self.r.tolist()
            out["distribution_per_nm"] = self.distribution.tolist()
            if self.band_low is not None:
                out["band_95_low_per_nm"] = self.band_low.tolist()
                out["band_95_high_per_nm"] = self.band_high.tolist()
        return out


def _models(model, profile: str | None):
    """(list of networks, training LibraryConfig, profile or None, note or None) for `analyse_trace`."""
    from ..study.spec import book_spec

    if model is None:
        spec = book_spec(profile)
        network, info = spec.network(0)
        note = None if info.get("from_cache") else (
            f"the book's network ({profile} profile) was trained by this run ({info.get('seconds', 0):.0f} s) and "
            f"saved in the model cache, {cache_dir()}; later runs load it from there")
        return [network], spec.library, profile, note
    models = list(model) if isinstance(model, Sequence) else [model]
    if not models:
        raise ValueError("model: an empty list of networks")
    return models, None, None, None


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
    from ..nets import predict, predict_band

    models, trained_on, used_profile, network_note = _models(model, profile)
    if config is None:
        if trained_on is None:
            from ..study.spec import book_spec
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
                    profile=used_profile, config=config, warnings=edge_warnings(trace.r, distribution),
                    network_note=network_note)
