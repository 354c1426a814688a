"""Toy signals whose truth is known, shared by chapter 3, the descramblers' tests and the `descramble` benchmark.

Signals have neurons in rows and examples in columns, (n, count), as the descramblers take them. Smooth
toys are Gaussian peaks and low-frequency cosines across the n neurons; `scramble` hides them behind a
random rotation, which a descrambler should undo up to the objective's symmetries.
"""

from __future__ import annotations

import numpy as np

from .._validate import non_negative_int, positive_int
from ..groups import random_rotation

__all__ = ["smooth_signals", "scramble"]


def smooth_signals(n: int, n_peaks: int, n_waves: int, rng: np.random.Generator, *, max_frequency: int = 3,
                   periodic: bool = False) -> np.ndarray:
    """Smooth toy signals across `n` neurons: `n_peaks` Gaussian peaks, then `n_waves` cosines.

    Parameters
    ----------
    n : int
        Neurons (rows), >= 2.
    n_peaks, n_waves : int
        Examples (columns) of each kind, >= 0 (not both 0).
    rng : numpy.random.Generator
        Source of randomness.
    max_frequency : int, default 3
        Highest cosine frequency, cycles over the n neurons.
    periodic : bool, default False
        False: peaks centred in the middle three quarters of the neurons, standard deviations 3 to 10 %
        of n. True: peaks that wrap around (exp((cos(x - c) - 1) / w^2), w from 0.3 to 0.8 rad), for the
        periodic derivative operator.

    Returns
    -------
    numpy.ndarray
        (n, n_peaks + n_waves) signals, float64.

    Raises
    ------
    ValueError
        If a size is not an integer in range or `rng` is not a numpy Generator (the message starts with
        the argument's name).

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.signals.toys import smooth_signals
    >>> smooth_signals(16, 3, 2, np.random.default_rng(0)).shape
    (16, 5)
    """
    n = positive_int(n, "n")
    if n < 2:
        raise ValueError(f"n: need at least 2 neurons, got {n}")
    n_peaks, n_waves = non_negative_int(n_peaks, "n_peaks"), non_negative_int(n_waves, "n_waves")
    if n_peaks + n_waves == 0:
        raise ValueError("n_peaks, n_waves: need at least one signal")
    max_frequency = positive_int(max_frequency, "max_frequency")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy Generator, got {type(rng).__name__}")
    points = np.arange(n)[:, None]
    if periodic:
        x = 2 * np.pi * points / n
        peaks = np.exp((np.cos(x - rng.uniform(0, 2 * np.pi, n_peaks)) - 1) / rng.uniform(0.3, 0.8, n_peaks) ** 2)
    else:
        centres = rng.uniform(0.125 * n, 0.875 * n, n_peaks)
        peaks = np.exp(-0.5 * ((points - centres) / rng.uniform(0.03 * n, 0.1 * n, n_peaks)) ** 2)
    frequencies = rng.integers(1, max_frequency + 1, n_waves)
    waves = np.cos(2 * np.pi * frequencies * points / n + rng.uniform(0, 2 * np.pi, n_waves))
    return np.hstack([peaks, waves])


def scramble(S: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The signals `S` (n, count) scrambled by a Haar-random rotation R: (R S, R).

    Parameters
    ----------
    S : numpy.ndarray
        Signals, neurons in rows.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    scrambled : numpy.ndarray
        R S, the shape of `S`.
    R : numpy.ndarray
        (n, n) the rotation (det +1).

    Raises
    ------
    ValueError
        If `S` is not 2-D or `rng` is not a numpy Generator (the message starts with the argument's name).

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.signals.toys import scramble, smooth_signals
    >>> rng = np.random.default_rng(0)
    >>> S = smooth_signals(8, 4, 4, rng)
    >>> scrambled, R = scramble(S, rng)
    >>> bool(np.allclose(R.T @ scrambled, S))
    True
    """
    S = np.asarray(S, dtype=np.float64)
    if S.ndim != 2:
        raise ValueError(f"S: expected signals (n, count), got shape {S.shape}")
    R = random_rotation(S.shape[0], rng)
    return R @ S, R
