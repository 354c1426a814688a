"""The paper's Figs. 2, 3 and 4 redrawn in its own layout and scales from our matrices.

Amey, Keeley, Choudhury, Kuprov, PNAS 118 (2021) e2016917118 (CC BY 4.0); the layout follows the
authors' MATLAB script interpretation.m (MIT licence). Everything is in the paper's index units:
MATLAB 1-based pixel indices on the paper's grid (80 link neurons, 256 inputs and outputs), linear
magnitudes, a sequential colour map. The annotations (bandpass, notch, cubic, fast, slow) are pixel
positions on that grid, so the matrices must have the paper's shapes.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.polynomial import chebyshev
from numpy.typing import ArrayLike

from ..._validate import as_array
from .spectra import display_spectrum

N_LINK = 80
N_IO = 256
CMAP = "viridis"
ANNOTATION = "white"
#: Zero link and input frequency after fftshift of 80 and 256 points (1-based): the cubic's centre.
ZERO_LINK, ZERO_INPUT = N_LINK // 2 + 1, N_IO // 2 + 1
#: MATLAB's zoom(3) about the centre of xlim([1 80]), ylim([1 256]).
ZOOM_XLIM = ((1 + N_LINK) / 2 - (N_LINK - 1) / 6, (1 + N_LINK) / 2 + (N_LINK - 1) / 6)
ZOOM_YLIM = ((1 + N_IO) / 2 - (N_IO - 1) / 6, (1 + N_IO) / 2 + (N_IO - 1) / 6)
CUBIC_COEFFICIENT = 0.05
#: Output indices of the "fast" and "slow" lines of Fig. 3.
FAST, SLOW = 15, 242
#: MATLAB's default line colours, in its order; Fig. 4 uses the first five.
MATLAB_COLOURS = ((0.00, 0.45, 0.74), (0.85, 0.33, 0.10), (0.93, 0.69, 0.13), (0.49, 0.18, 0.56),
                  (0.47, 0.67, 0.19))
#: Fig. 4: offsets of right singular vectors 9..13 and of left singular vectors 1..5.
RIGHT_OFFSETS = (-1.0, -0.5, 0.0, 0.5, 1.0)
LEFT_OFFSETS = (0.5, 0.35, 0.0, -0.25, -0.5)
#: Fig. 4's tick marks along the link and output dimensions.
TICKS = {"link": (20, 40, 60, 80), "output": (50, 100, 150, 200, 250)}


def _matrix(value: ArrayLike, name: str, shape: tuple[int, int]) -> np.ndarray:
    """`value` as a finite 2-D float array of the paper's `shape`."""
    array = as_array(value, name, ndim=2)
    if array.shape != shape:
        raise ValueError(f"{name}: expected the paper's shape {shape}, got {array.shape}")
    return array


def _descrambler(P: ArrayLike, name: str, n_link: int, partner: str) -> np.ndarray:
    """`P` as a square matrix matching the link dimension of `partner`."""
    P = as_array(P, name, ndim=2)
    if P.shape[0] != P.shape[1]:
        raise ValueError(f"{name}: expected a square matrix, got shape {P.shape}")
    if P.shape[0] != n_link:
        raise ValueError(f"{name}: size {P.shape[0]} does not match the {n_link} link neurons of {partner}")
    return P


def _first_layer(W1: ArrayLike, P1: ArrayLike) -> np.ndarray:
    """Checked P1 W1 (80 x 256)."""
    W1 = _matrix(W1, "W1", (N_LINK, N_IO))
    return _descrambler(P1, "P1", N_LINK, "W1") @ W1


def _second_layer(W2: ArrayLike, P2: ArrayLike) -> np.ndarray:
    """Checked W2 P2^T (256 x 80)."""
    W2 = _matrix(W2, "W2", (N_IO, N_LINK))
    return W2 @ _descrambler(P2, "P2", N_LINK, "W2").T


def _index_image(ax: Axes, image: np.ndarray, *, origin: str = "lower", aspect: str = "auto") -> None:
    """`image` (rows up or down the axes, columns across) on 1-based pixel indices, like imagesc."""
    n_rows, n_cols = image.shape
    extent = (0.5, n_cols + 0.5, 0.5, n_rows + 0.5) if origin == "lower" else (0.5, n_cols + 0.5, n_rows + 0.5, 0.5)
    ax.imshow(image, cmap=CMAP, origin=origin, aspect=aspect, extent=extent, interpolation="nearest")


def _label(ax: Axes, x: float, y: float, text: str, **style) -> None:
    """White annotation at (x, y) in data units, anchored at its left, vertically centred (as MATLAB's text)."""
    ax.text(x, y, text, color=ANNOTATION, va="center", **style)


def _first_layer_panel(ax: Axes, image: np.ndarray, title: str) -> None:
    """Panels 1 to 3 of Fig. 2: an 80 x 256 image, link index across, input index up."""
    _index_image(ax, image.T)
    ax.set(title=title, xticks=[20, 40, 60], yticks=[], xlabel="link dim, pts")


def _index_axis(values: ArrayLike, name: str, size: int) -> tuple[float, float]:
    """Edges of evenly spaced, increasing pixel centres `values` of length `size`."""
    values = as_array(values, name, ndim=1)
    if values.size != size or size < 2:
        raise ValueError(f"{name}: expected one pixel centre per image pixel ({size}, at least 2), got {values.size}")
    step = np.diff(values)
    if step[0] <= 0 or not np.allclose(step, step[0], rtol=1e-6, atol=0):
        raise ValueError(f"{name}: pixel centres must be increasing and evenly spaced")
    return values[0] - step[0] / 2, values[-1] + step[0] / 2


def zoom_panel(ax: Axes, image: ArrayLike, link_index: ArrayLike, input_index: ArrayLike, title: str) -> None:
    """Fig. 2, panel 4: a magnitude `image` (rows: input index, going up; columns: link index) whose pixel
    centres are `input_index` and `link_index` in the paper's 1-based units, zoomed by 3 about the centre
    of the paper's 80 x 256 grid, with the curves y = 129 ± 0.05 (x - 41)^3."""
    image = as_array(image, "image", ndim=2)
    left, right = _index_axis(link_index, "link_index", image.shape[1])
    bottom, top = _index_axis(input_index, "input_index", image.shape[0])
    ax.imshow(image, cmap=CMAP, origin="lower", aspect="auto", extent=(left, right, bottom, top),
              interpolation="nearest")
    x = np.linspace(1, N_LINK, 1000)
    for sign in (1, -1):
        ax.plot(x, ZERO_INPUT + sign * CUBIC_COEFFICIENT * (x - ZERO_LINK) ** 3, color=ANNOTATION, lw=1)
    _label(ax, 35.5, 90, r"$y = \pm x^3$", fontsize=12)
    ax.set(title=title, xticks=np.arange(25, 60, 5), yticks=[], xlabel="link dim, pts")
    ax.set(xlim=ZOOM_XLIM, ylim=ZOOM_YLIM)  # after the ticks, which would widen the limits


def _zoom_spectrum(ax: Axes, spectrum: np.ndarray) -> None:
    """`zoom_panel` of the folded spectrum (80 x 256) of the descrambled first layer."""
    zoom_panel(ax, spectrum.T, np.arange(1, N_LINK + 1), np.arange(1, N_IO + 1), "descr. + fft")


def zoom_only(ax: Axes, W1: ArrayLike, P1: ArrayLike) -> None:
    """Fig. 2, panel 4 from W1 (80 x 256) and the descrambler P1 (80 x 80), drawn on `ax`."""
    _zoom_spectrum(ax, display_spectrum(_first_layer(W1, P1)))


def figure2(W1: ArrayLike, P1: ArrayLike, *, suptitle: str | None = None) -> Figure:
    """Fig. 2: raw W1^T, descrambled (P1 W1)^T, its folded 2-D spectrum |F| (linear) with the bandpass and
    notch marks, and the spectrum zoomed with the cubic curves. W1: 80 x 256; P1: 80 x 80."""
    descrambled = _first_layer(W1, P1)
    raw = np.asarray(W1, dtype=float)
    fig, axes = plt.subplots(1, 4, figsize=(10, 4.8), constrained_layout=True)
    _first_layer_panel(axes[0], raw, "raw weight m.")
    axes[0].set(yticks=np.arange(50, 300, 50), ylabel="input dimension, points")
    _first_layer_panel(axes[1], descrambled, "descrambled")
    for ax in axes[:2]:
        _label(ax, 62, 240, r"$\mathbf{W}^{\top}_1$")
    spectrum, magnitude = axes[2], display_spectrum(descrambled)
    _first_layer_panel(spectrum, magnitude, "descr. + fft")
    _label(spectrum, 32, 240, r"$(\mathbf{F}_{+}\mathbf{W}_{1}\mathbf{F}_{-})^{\top}$")
    for row in (162, 95):
        spectrum.plot([5, 75], [row, row], color=ANNOTATION, lw=1)
    _label(spectrum, 5, 172, "bandpass")
    spectrum.plot([15, 35], [129, 129], color=ANNOTATION, lw=1)
    spectrum.plot([15, 15], [70, 129], color=ANNOTATION, lw=1)
    _label(spectrum, 12, 65, "notch")
    _zoom_spectrum(axes[3], magnitude)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def figure3(W2: ArrayLike, P2: ArrayLike, *, suptitle: str | None = None) -> Figure:
    """Fig. 3: raw W2^T and the descrambled (W2 P2^T)^T less its mean over the link dimension, with the
    "fast" and "slow" lines. W2: 256 x 80; P2: 80 x 80."""
    descrambled = _second_layer(W2, P2).T
    fig, axes = plt.subplots(2, 1, figsize=(6.5, 5), constrained_layout=True)
    for ax, image, title in ((axes[0], np.asarray(W2, dtype=float).T, "raw weight matrix"),
                             (axes[1], descrambled - descrambled.mean(axis=0), "descrambled weight matrix")):
        _index_image(ax, image, aspect="equal")
        ax.set(title=title, yticks=[20, 40, 60], xlabel="output dimension, points", ylabel="link dim, pts")
    for x, x_text, text in ((FAST, 18, "fast"), (SLOW, 237, "slow")):
        axes[1].plot([x, x], [1, N_LINK], color=ANNOTATION, lw=1)
        _label(axes[1], x_text, 5, text, rotation=90, rotation_mode="anchor")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def _chebyshev_scaled(v: np.ndarray, degree: int) -> np.ndarray:
    """The script's fit: T_degree on a uniform grid over [-1, 1] (mean kept) times the least-squares
    scalar for v."""
    polynomial = chebyshev.chebval(np.linspace(-1, 1, v.size), np.eye(degree + 1)[degree])
    return polynomial * (v @ polynomial) / (polynomial @ polynomial)


def figure4(W2: ArrayLike, P2: ArrayLike, *, suptitle: str | None = None) -> Figure:
    """Fig. 4 for B = W2 P2^T: the Gram matrices B^T B and B B^T, the right singular vectors 9 to 13
    (link dimension) with offsets, and the left singular vectors 1 to 5 less their means (dots) with
    their Chebyshev fits T0 to T4 (lines). W2: 256 x 80; P2: 80 x 80."""
    B = _second_layer(W2, P2)
    left, _, right_t = np.linalg.svd(B, full_matrices=False)
    fig, axes = plt.subplots(2, 2, figsize=(8, 6.5), constrained_layout=True)
    grams = ((axes[0, 0], B.T @ B, r"$\mathbf{W}^{\top}_2 \mathbf{W}_2$", (52, 8), "link"),
             (axes[1, 0], B @ B.T, r"$\mathbf{W}_2 \mathbf{W}^{\top}_2$", (170, 25), "output"))
    for ax, gram, label, position, dim in grams:
        _index_image(ax, gram, origin="upper", aspect="equal")
        _label(ax, *position, label)
        ax.set(xticks=TICKS[dim], yticks=TICKS[dim], xlabel=f"{dim} dim, pts", ylabel=f"{dim} dim, pts")
    link = np.arange(1, B.shape[1] + 1)
    for k, (offset, colour) in enumerate(zip(RIGHT_OFFSETS, MATLAB_COLOURS), start=8):
        axes[0, 1].plot(link, right_t[k] + offset, color=colour)
    output = np.arange(1, B.shape[0] + 1)
    vectors = left[:, :5] - left[:, :5].mean(axis=0)
    for degree, (offset, colour) in enumerate(zip(LEFT_OFFSETS, MATLAB_COLOURS[::-1])):
        axes[1, 1].plot(output, vectors[:, degree] + offset, ".", color=colour, ms=3)
        axes[1, 1].plot(output, _chebyshev_scaled(vectors[:, degree], degree) + offset, "-", color=colour, lw=1)
    for ax, dim in ((axes[0, 1], "link"), (axes[1, 1], "output")):
        ax.autoscale(enable=True, tight=True)
        ax.grid(True)
        ax.set(title=f"singular vectors, {dim} dim", xticks=TICKS[dim], yticks=[], xlabel=f"{dim} dimension, pts",
               ylabel="amplitude, a.u.")
    if suptitle:
        fig.suptitle(suptitle)
    return fig
