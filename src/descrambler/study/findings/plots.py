"""Figures of the findings chapters, drawn one way everywhere: weights in a diverging map centred on
zero, spectra in a sequential map on a decibel scale, axes in physical units (time in us, distance in
nm, input frequency in MHz)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import ArrayLike

from .first_layer import Bandpass, FrequencyRidge
from .second_layer import SinusoidFit
from .spectra import display_spectrum
from .table import FindingRow

WEIGHTS_CMAP = "RdBu_r"
SPECTRUM_CMAP = "magma"
PASS_BAND_COLOUR = "tab:green"
FIT_COLOUR = "tab:red"


def weights_image(ax: plt.Axes, W: np.ndarray, title: str, *, x: ArrayLike=None, xlabel: str = "input time (µs)",
                  ylabel: str = "link (inner neuron) index", x_is_rows: bool = False) -> None:
    """Image of a weight matrix, symmetric colour limits. `x`: physical coordinate of the columns
    (or of the rows, drawn along the vertical axis, with `x_is_rows`)."""
    limit = np.abs(W).max()
    n_rows, n_cols = W.shape
    if x_is_rows:
        extent = (-0.5, n_cols - 0.5, x[-1], x[0]) if x is not None else None
    else:
        extent = (x[0], x[-1], n_rows - 0.5, -0.5) if x is not None else None
    image = ax.imshow(W, aspect="auto", cmap=WEIGHTS_CMAP, vmin=-limit, vmax=limit, extent=extent,
                      interpolation="nearest")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    plt.colorbar(image, ax=ax, label="weight")


def spectrum_image(ax: plt.Axes, W: np.ndarray, dt: float, title: str, pass_band_mhz=None,
                   dynamic_range_db: float = 50.0) -> None:
    """The reference's folded 2-D spectrum of W (link frequency across, input frequency up), in dB."""
    shown = display_spectrum(W)
    db = 20 * np.log10(shown / shown.max() + 1e-300)
    n_link, n_in = W.shape
    link = np.fft.fftshift(np.fft.fftfreq(n_link, 1 / n_link))
    frequency = np.fft.fftshift(np.fft.fftfreq(n_in, dt))
    image = ax.imshow(db.T, aspect="auto", origin="lower", cmap=SPECTRUM_CMAP, vmin=-dynamic_range_db, vmax=0,
                      extent=(link[0] - 0.5, link[-1] + 0.5, frequency[0], frequency[-1]), interpolation="nearest")
    if pass_band_mhz is not None:
        for edge in pass_band_mhz[1:]:
            for sign in (-1, 1):
                ax.axhline(sign * edge, color=PASS_BAND_COLOUR, ls="--", lw=1)
    ax.set(title=title, xlabel="link frequency (cycles across the layer)", ylabel="input frequency (MHz)")
    plt.colorbar(image, ax=ax, label="|F| folded (dB)")


def power_db(ax: plt.Axes, frequency: np.ndarray, power: np.ndarray, label: str = "", *,
             floor_db: float = -60.0, **style) -> None:
    """A power (or energy) spectrum in dB relative to its own maximum, against frequency in MHz; the axis
    stops at `floor_db` (a removed mean leaves an empty zero-frequency bin)."""
    with np.errstate(divide="ignore"):
        ax.plot(frequency, 10 * np.log10(power / power.max()), label=label or None, **style)
    ax.set(xlabel="input frequency (MHz)", ylabel="relative power per bin (dB)", ylim=(floor_db, 3))


def input_energy(ax: plt.Axes, result: Bandpass, label: str = "") -> None:
    """Energy per input-frequency bin (summed over the link dimension), with the dipolar pass band."""
    power_db(ax, result.frequency_mhz, result.energy_per_bin, label)
    ax.axvspan(*result.pass_band_mhz, color=PASS_BAND_COLOUR, alpha=0.1)


def ridge(ax: plt.Axes, result: FrequencyRidge) -> None:
    """Ridge of the folded spectrum on log-log axes, its power-law fit and the cube for reference."""
    used = result.used
    ax.loglog(result.link_frequency[1:], np.where(result.ridge_mhz[1:] > 0, result.ridge_mhz[1:], np.nan), "o",
              color="0.75", label="ridge (not significant)")
    ax.loglog(result.link_frequency[used], result.ridge_mhz[used], "o", color="k", label="ridge (used in the fit)")
    if np.isfinite(result.exponent):
        k = result.link_frequency[used]
        ax.loglog(k, result.prefactor_mhz * k**result.exponent, color=FIT_COLOUR,
                  label=f"fit: exponent {result.exponent:.2f} [{result.ci_low:.2f}, {result.ci_high:.2f}]")
        ax.loglog(k, result.ridge_mhz[used][0] * (k / k[0]) ** 3, ls="--", color="tab:blue", label="cube (paper)")
    ax.set(xlabel="link frequency (cycles)", ylabel="input frequency of maximum energy (MHz)")
    ax.legend(fontsize=8)


def singular_vectors(ax: plt.Axes, vectors: np.ndarray, x: np.ndarray, labels: Sequence[str], xlabel: str,
                     fits: Sequence[np.ndarray] | None = None, offset: float = 0.3) -> None:
    """Columns of `vectors` stacked with vertical offsets, optionally with fitted curves."""
    for i in range(vectors.shape[1]):
        ax.plot(x, vectors[:, i] + i * offset, color="k", lw=1.2)
        if fits is not None:
            ax.plot(x, fits[i] + i * offset, color=FIT_COLOUR, ls="--", lw=1)
        ax.text(x[-1], i * offset, f" {labels[i]}", va="center", fontsize=8)
    ax.set(xlabel=xlabel, yticks=[])


def sinusoid_curve(fit: SinusoidFit, v: np.ndarray) -> np.ndarray:
    """The fitted sinusoid of `fit` evaluated on the points of v (offset taken from v's residual mean)."""
    j = np.arange(v.size)
    curve = fit.amplitude * np.cos(2 * np.pi * fit.frequency * j / v.size + fit.phase)
    return curve + (v - curve).mean()


def filter_factors(ax: plt.Axes, sigma: np.ndarray, factors: np.ndarray, alpha: float, scale: float) -> None:
    """Filter factors of the net's Jacobian (median and quartiles over inputs) with a Tikhonov fit."""
    low, median, high = np.quantile(factors, [0.25, 0.5, 0.75], axis=0)
    ax.fill_between(sigma, low, high, color="0.8", label="net: quartiles over inputs")
    ax.plot(sigma, median, "k.", ms=4, label="net: median")
    ax.plot(sigma, scale * sigma**2 / (sigma**2 + alpha**2), color=FIT_COLOUR,
            label=f"Tikhonov, alpha = {alpha:.3g}")
    ax.set(xscale="log", xlabel="singular value of the DEER kernel", ylabel="filter factor (scaled)")
    ax.legend(fontsize=8)


def findings_strip(axes: Sequence[plt.Axes], rows: Sequence[FindingRow],
                   controls: dict[str, Sequence[FindingRow]] | None = None) -> None:
    """One panel per claim: the metric of each network against the two thresholds, and the metric of each
    null control (`controls`: name -> rows in the order of `rows`) in a column of its own to the right."""
    colours = {"holds": "tab:green", "partly": "tab:orange", "does not hold": "tab:red"}
    controls = controls or {}
    for i, (ax, row) in enumerate(zip(axes, rows)):
        values = np.array(row.values, dtype=float)
        ax.scatter(np.arange(values.size), values, c=[colours[v] for v in row.verdicts], zorder=3, s=12)
        for j, control in enumerate(controls.values()):
            ax.scatter(np.full(len(control[i].values), values.size + 1 + j), control[i].values, marker="x",
                       color="0.4", s=12, zorder=3)
        ax.axhline(row.claim.holds, color="tab:green", ls="--", lw=1)
        ax.axhline(row.claim.partly, color="tab:orange", ls=":", lw=1)
        ax.set_title(row.claim.claim, fontsize=9)
        ax.set_xticks([values.size // 2, *(values.size + 1 + j for j in range(len(controls)))],
                      ["networks", *controls], fontsize=8)
