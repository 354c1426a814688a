"""Measurements on a (descrambled) first-layer weight matrix W (n_link x n_in, inputs sampled every dt us).

Input-frequency marginals (summed over the link dimension) do not change when W is multiplied by an
orthogonal matrix from the left, so `notch(..., min_link_frequency=0)` and `bandpass` are properties of
W itself; the link-frequency structure (`notch` away from link frequency 0, `frequency_ridge`,
`multiplexing`) is what descrambling adds.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from ..._validate import non_negative_int, positive, positive_int
from ...deer.simulate import dipolar_frequency
from ...groups.haar import random_rotation
from .spectra import folded_energy, input_frequencies, weight_matrix


@dataclasses.dataclass
class Notch:
    """Energy per bin at zero input frequency over that of the `neighbours` nearest non-zero input
    frequencies, in dB (negative: a notch), over link frequencies >= `min_link_frequency`."""

    depth_db: float
    min_link_frequency: int
    neighbours: int


def notch(W: ArrayLike, min_link_frequency: int = 1, neighbours: int = 3) -> Notch:
    """Depth of the notch at zero input frequency, dB (see `Notch`)."""
    energy, bins = folded_energy(W)
    min_link_frequency = non_negative_int(min_link_frequency, "min_link_frequency")
    if not min_link_frequency < energy.shape[0]:
        raise ValueError(f"min_link_frequency: must lie in [0, {energy.shape[0] - 1}], got {min_link_frequency}")
    neighbours = positive_int(neighbours, "neighbours")
    if neighbours >= energy.shape[1] - 1:
        raise ValueError(f"neighbours: must be smaller than {energy.shape[1] - 1}, got {neighbours}")
    per_bin = energy[min_link_frequency:].sum(axis=0) / bins[min_link_frequency:].sum(axis=0)
    with np.errstate(divide="ignore"):
        depth = 10 * np.log10(per_bin[0] / per_bin[1:neighbours + 1].mean())
    return Notch(float(depth), int(min_link_frequency), neighbours)


@dataclasses.dataclass
class Bandpass:
    """Input-frequency band of W against the dipolar frequencies of the training distances.

    `low_mhz`, `high_mhz`: the band holding the central `fraction` of the energy (quantiles of the
    energy distribution over |input frequency|). `pass_band_mhz`: dipolar frequencies D(r)/2pi of the
    distance range, (nu(rmax), nu(rmin)). `stop_band_share`: share of the energy outside the pass band;
    `white_stop_band_share`: the same for weights with a flat spectrum. `attenuation_db`: mean energy
    per bin above the pass band over that inside it.
    """

    low_mhz: float
    high_mhz: float
    fraction: float
    pass_band_mhz: tuple[float, float]
    stop_band_share: float
    white_stop_band_share: float
    attenuation_db: float
    frequency_mhz: np.ndarray
    energy_per_bin: np.ndarray


def bandpass(W: ArrayLike, dt: float, distance_limits: tuple[float, float], fraction: float = 0.9) -> Bandpass:
    """Measure the input-frequency band of W (time step `dt` in us, distances (rmin, rmax) in nm)."""
    energy, bins = folded_energy(W)
    frequency = input_frequencies(weight_matrix(W).shape[1], dt)
    rmin, rmax = (positive(r, "distance_limits") for r in distance_limits)
    if rmin >= rmax:
        raise ValueError(f"distance_limits: need rmin < rmax, got {distance_limits}")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction: must lie in (0, 1), got {fraction}")
    low_pass, high_pass = float(dipolar_frequency(rmax)), float(dipolar_frequency(rmin))
    profile, counts = energy.sum(axis=0), bins.sum(axis=0)
    cumulative = np.cumsum(profile) / profile.sum()
    tail = (1 - fraction) / 2
    inside = (frequency >= low_pass) & (frequency <= high_pass)
    above = frequency > high_pass
    if not inside.any() or not above.any():
        raise ValueError("distance_limits: the pass band must hold some input frequencies and leave some above it")
    per_bin = profile / counts
    with np.errstate(divide="ignore"):
        attenuation = 10 * np.log10(per_bin[above].mean() / per_bin[inside].mean())
    return Bandpass(
        low_mhz=float(frequency[np.searchsorted(cumulative, tail)]),
        high_mhz=float(frequency[np.searchsorted(cumulative, 1 - tail)]),
        fraction=fraction, pass_band_mhz=(low_pass, high_pass),
        stop_band_share=float(profile[~inside].sum() / profile.sum()),
        white_stop_band_share=float(counts[~inside].sum() / counts.sum()),
        attenuation_db=float(attenuation), frequency_mhz=frequency, energy_per_bin=per_bin)


@dataclasses.dataclass
class FrequencyRidge:
    """Input frequency of maximum energy at each link frequency, fitted by ridge = a * link^exponent.

    Only link frequencies >= 1 whose maximum stands `min_contrast_db` above their median energy
    (and lies above zero input frequency) enter the fit; `ci_low`, `ci_high`: 95 % confidence interval
    of the exponent from the least-squares fit in log-log coordinates.
    """

    exponent: float
    ci_low: float
    ci_high: float
    prefactor_mhz: float
    r_squared: float
    link_frequency: np.ndarray
    ridge_mhz: np.ndarray
    used: np.ndarray


def frequency_ridge(W: ArrayLike, dt: float, min_contrast_db: float = 10.0) -> FrequencyRidge:
    """Power-law fit of the ridge of the folded 2-D spectrum (see `FrequencyRidge`)."""
    energy, bins = folded_energy(W)
    per_bin = energy / bins
    frequency = input_frequencies(weight_matrix(W).shape[1], dt)
    if not np.isfinite(min_contrast_db):
        raise ValueError(f"min_contrast_db: must be finite, got {min_contrast_db!r}")
    link = np.arange(per_bin.shape[0])
    ridge = frequency[np.argmax(per_bin, axis=1)]
    with np.errstate(divide="ignore"):
        contrast = 10 * np.log10(per_bin.max(axis=1) / np.median(per_bin, axis=1))
    used = (link >= 1) & (ridge > 0) & (contrast >= min_contrast_db)
    nan = float("nan")
    if used.sum() < 3:
        return FrequencyRidge(nan, nan, nan, nan, nan, link, ridge, used)
    fit = stats.linregress(np.log(link[used]), np.log(ridge[used]))
    half_width = stats.t.ppf(0.975, used.sum() - 2) * fit.stderr
    return FrequencyRidge(float(fit.slope), float(fit.slope - half_width), float(fit.slope + half_width),
                          float(np.exp(fit.intercept)), float(fit.rvalue**2), link, ridge, used)


@dataclasses.dataclass
class Multiplexing:
    """How separate the input-frequency bands carried by different link frequencies are.

    `overlap`: energy-weighted mean Bhattacharyya coefficient between the normalised input-frequency
    profiles of link frequencies >= 1 (0: disjoint bands, 1: identical bands); `random_overlap`: the
    same after multiplying W by random rotations (mean over `n_random`); `ratio` = overlap / random.
    """

    overlap: float
    random_overlap: float
    ratio: float
    channel_centre_mhz: np.ndarray
    channel_energy: np.ndarray


def channel_profiles(W: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(profiles, energy): for each link frequency 1..n_link//2, the energy per input-frequency bin
    normalised to unit sum (zeros for an empty channel), and the channel's total energy."""
    energy, bins = folded_energy(W)
    per_bin = energy[1:] / bins[1:]
    total = per_bin.sum(axis=1, keepdims=True)
    return np.divide(per_bin, total, out=np.zeros_like(per_bin), where=total > 0), energy[1:].sum(axis=1)


def _channel_overlap(W) -> tuple[float, np.ndarray, np.ndarray]:
    profiles, weight = channel_profiles(W)
    bhattacharyya = np.sqrt(profiles) @ np.sqrt(profiles).T
    pair_weight = np.outer(weight, weight)
    np.fill_diagonal(pair_weight, 0)
    return float((bhattacharyya * pair_weight).sum() / pair_weight.sum()), profiles, weight


def multiplexing(W: ArrayLike, dt: float, n_random: int = 20, seed: int = 0) -> Multiplexing:
    """Overlap of the link-frequency channels of W against randomly rotated copies (see `Multiplexing`)."""
    W = weight_matrix(W)
    n_random = positive_int(n_random, "n_random")
    overlap, profiles, weight = _channel_overlap(W)
    rng = np.random.default_rng(seed)
    random = []
    for _ in range(n_random):
        random.append(_channel_overlap(random_rotation(W.shape[0], rng) @ W)[0])
    centre = profiles @ input_frequencies(W.shape[1], dt)
    random_overlap = float(np.mean(random))
    return Multiplexing(overlap, random_overlap, overlap / random_overlap, centre, weight)
