"""Two-dimensional spectra of weight matrices, folded over the signs of both frequencies.

A weight matrix W (n_link x n_in) maps an input signal (sampled every `dt` us) to the link
dimension (inner neurons). Its 2-D Fourier transform has a link frequency (cycles across the
link dimension) and an input frequency (MHz). For real W, |F(k, f)| = |F(-k, -f)|; folding over
both signs keeps one quadrant: link frequency 0..n_link//2, input frequency 0..n_in//2.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..._validate import as_array, positive


def weight_matrix(W: ArrayLike, name: str = "W") -> np.ndarray:
    """`W` as a finite 2-D float array with at least 2 rows and 2 columns."""
    W = as_array(W, name, ndim=2)
    if min(W.shape) < 2:
        raise ValueError(f"{name}: need at least 2 rows and 2 columns, got shape {W.shape}")
    return W


def input_frequencies(n_in: int, dt: float) -> np.ndarray:
    """Non-negative input frequencies of the folded quadrant, MHz, for a time step `dt` in us."""
    return np.arange(n_in // 2 + 1) / (n_in * positive(dt, "dt"))


def folded_energy(W: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Energy |F|^2 of the 2-D spectrum of W summed over the sign of both frequencies.

    Returns (energy, bins): arrays of shape (n_link//2 + 1, n_in//2 + 1); `bins` counts how many
    frequency pairs were folded into each cell, so `energy / bins` is the mean energy per bin.
    """
    W = weight_matrix(W)
    energy = np.abs(np.fft.fft2(W)) ** 2
    n_link, n_in = W.shape
    link = np.abs(np.fft.fftfreq(n_link, 1 / n_link)).round().astype(int)
    inp = np.abs(np.fft.fftfreq(n_in, 1 / n_in)).round().astype(int)
    shape = (n_link // 2 + 1, n_in // 2 + 1)
    rows, cols = np.meshgrid(link, inp, indexing="ij")
    folded = np.zeros(shape)
    np.add.at(folded, (rows, cols), energy)
    bins = np.zeros(shape)
    np.add.at(bins, (rows, cols), 1.0)
    return folded, bins


def power_spectrum(signals: ArrayLike, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """(frequency in MHz, mean power per bin) of signals in rows (n, n_points) sampled every `dt` us,
    each with its mean removed, folded over the sign of the frequency like `input_frequencies`."""
    signals = as_array(signals, "signals", ndim=2)
    if signals.shape[1] < 2:
        raise ValueError(f"signals: need at least 2 points per signal, got shape {signals.shape}")
    centred = signals - signals.mean(axis=1, keepdims=True)
    power = np.abs(np.fft.rfft(centred, axis=1)) ** 2
    return input_frequencies(signals.shape[1], dt), power.mean(axis=0)


def display_spectrum(W: ArrayLike) -> np.ndarray:
    """The reference figure's folded magnitude, |F| + |F mirrored along the link axis and shifted
    by one|, with zero frequencies centred (fftshift); shape of W."""
    F = np.abs(np.fft.fftshift(np.fft.fft2(weight_matrix(W))))
    return F + (np.roll(F[::-1], 1, axis=0) if F.shape[0] % 2 == 0 else F[::-1])
