"""A network's reading of a measured trace against the training database (is the trace inside what
the network was trained on?) and against DeerLab's Tikhonov fit."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .._validate import as_array
from ..deer.metrics import moments
from ..deer.reference import TikhonovFit
from .trace import Analysis

__all__ = ["coverage", "Coverage", "compare", "Comparison", "comparison_markdown", "central_width"]


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
