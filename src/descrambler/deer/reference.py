"""DeerLab's Tikhonov fit of a measured trace: the reference the network's reading is compared with."""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from .._validate import positive_int
from .metrics import moments
from .traces import MeasuredTrace

__all__ = ["tikhonov_fit", "TikhonovFit"]



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
    >>> from descrambler.deer.traces import load_trace
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
    >>> from descrambler.deer.traces import load_trace
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
