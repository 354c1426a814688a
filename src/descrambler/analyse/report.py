"""An analysis as a figure, a text report and JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .._io import atomic_write
from ..deer.reference import TikhonovFit
from .trace import Analysis

__all__ = ["plot_analysis", "save_plot", "report", "report_json"]



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


def report(analysis: Analysis, table: bool = True) -> str:
    """Plain-text report of an analysis: the summary, then (with `table`) the distance axis and the distribution.

    Parameters
    ----------
    analysis : Analysis
        From `analyse_trace`.
    table : bool, default True
        Also list the distribution: two columns r (nm) and P (1/nm), four with the band of several networks.

    Returns
    -------
    str
        '#' comment lines (file, mean distance, width, depth, trace length, distance range, the
        loader's notes, the warnings), then the table.

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
    lines += [f"# warning: {warning}" for warning in analysis.warnings]
    if not table:
        return "\n".join(lines)
    band = analysis.band_low is not None
    lines.append("# r_nm  P_per_nm" + ("  band_95_low_per_nm  band_95_high_per_nm" if band else ""))
    for i, (r, p) in enumerate(zip(analysis.r, analysis.distribution)):
        extra = f"  {analysis.band_low[i]:.6g}  {analysis.band_high[i]:.6g}" if band else ""
        lines.append(f"{r:.5f}  {p:.6g}{extra}")
    return "\n".join(lines)


def report_json(analysis: Analysis) -> str:
    """`Analysis.to_dict()` as one JSON object."""
    return json.dumps(analysis.to_dict())
