"""Scaling figures of the book's Performance page, drawn from the benchmark records (JSON lines).

Four panels, each from the latest record at each problem size: the ensemble command's seconds per
network against the number of networks (`bench ensemble`), the library's throughput against the
number of traces (`bench library --traces`), the training time against the link width (`bench
training --n-hidden`), and the descramblers' time against the number of neurons (`bench descramble
--sizes`). The caption names the machines and dates the points came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from .._io import write_text

#: The book's link width: `bench training` without --n-hidden trains it.
BOOK_LINK_WIDTH = 80


def series(records: Sequence[dict], name: str | re.Pattern, x: Callable[[dict], float]) -> list[tuple[float, dict]]:
    """(x, record) of the latest record at each x among records whose name equals or matches `name`,
    sorted by x."""
    matches = (lambda n: name.fullmatch(n) is not None) if isinstance(name, re.Pattern) else (lambda n: n == name)
    latest: dict[float, dict] = {}
    for entry in records:
        if matches(entry.get("name", "")):
            latest[float(x(entry))] = entry
    return sorted(latest.items())


def _width(entry: dict) -> float:
    return entry.get("architecture", {}).get("arguments", {}).get("n_hidden", BOOK_LINK_WIDTH)


def scaling_series(records: Sequence[dict]) -> dict[str, list[tuple[float, dict]]]:
    """The four panels' points: "ensemble", "library", "training", "exact", "cayley"."""
    return {
        "ensemble": series(records, re.compile(r"ensemble_n\d+_seconds_per_net"), lambda e: e["nets"]),
        "library": series(records, "library_throughput", lambda e: e["traces"]),
        "training": series(records, re.compile(r"training(_n_hidden\d+)?_median_rel_error"), _width),
        "exact": series(records, re.compile(r"descramble_exact_n\d+"), lambda e: e["n"]),
        "cayley": series(records, re.compile(r"descramble_cayley_n\d+_seconds"), lambda e: e["n"]),
    }


def machines(points: dict[str, list[tuple[float, dict]]]) -> str:
    """The machines and dates the points were measured on, in words."""
    seen = sorted({(e.get("machine", {}).get("cpu", "?"), e.get("machine", {}).get("cores", "?"), e.get("date", "?"))
                   for values in points.values() for _, e in values})
    return "; ".join(f"{cpu}, {cores} cores, {date}" for cpu, cores, date in seen)


def scaling_figure(records: Sequence[dict]):
    """The 2 x 2 figure of the scaling measurements, or None when no panel has two points."""
    points = scaling_series(records)
    if all(len(values) < 2 for values in points.values()):
        return None
    fig = Figure(figsize=(10, 7))
    axes = fig.subplots(2, 2)
    panels = [
        (axes[0, 0], [("ensemble", "train_or_load_many")], "networks N", "seconds per network", "linear"),
        (axes[0, 1], [("library", "make_library")], "traces per call", "traces per second", "log"),
        (axes[1, 0], [("training", "train (15 epochs, 2e5 traces)")], "link width (neurons)", "seconds", "linear"),
        (axes[1, 1], [("exact", "exact"), ("cayley", "Cayley (trust region)")], "neurons n", "seconds", "log"),
    ]
    for ax, lines, xlabel, ylabel, scale in panels:
        for key, label in lines:
            values = points[key]
            if not values:
                continue
            x = [v for v, _ in values]
            y = [e["seconds"] if key == "training" else e["value"] for _, e in values]
            ax.plot(x, y, "o-", label=label)
            if key == "training":
                for xi, yi, (_, e) in zip(x, y, values):
                    ax.annotate(f"error {e['value']:.3f}", (xi, yi), textcoords="offset points", xytext=(4, 4),
                                fontsize=8)
        ax.set(xlabel=xlabel, ylabel=ylabel, xscale=scale, yscale=scale)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def scaling_markdown(records: Sequence[dict], image: str) -> str:
    """The Performance page's scaling section: the figure `image` (a path relative to the page) and a
    caption naming the machines, or a note that nothing has been measured."""
    points = scaling_series(records)
    if all(len(values) < 2 for values in points.values()):
        return "No scaling series has been recorded yet (see the commands above).\n"
    return (f"![Scaling of the benchmarks]({image})\n\n*Upper left: seconds per network of an ensemble trained in "
            "parallel worker processes, against the number of networks. Upper right: library throughput against "
            "the traces generated per call. Lower left: training time (and median relative error) of the "
            "two-layer net against its link width. Lower right: descrambler time against the number of neurons. "
            f"Measured on: {machines(points)}; the machine is shared, so each point is a median over repeats "
            "where the benchmark repeats.*\n")


def write_scaling(records: Sequence[dict], folder: Path) -> None:
    """The scaling section (`scaling.md`) and its figure (`scaling.png`) in `folder`, for a page one level
    above it (the Performance page includes `_generated/scaling.md`)."""
    figure = scaling_figure(records)
    if figure is not None:
        figure.savefig(folder / "scaling.png", dpi=110)
    write_text(folder / "scaling.md", scaling_markdown(records, f"{folder.name}/scaling.png"))
