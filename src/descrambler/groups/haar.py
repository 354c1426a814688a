"""Random rotations: Haar-distributed elements of SO(n), for scrambling toys and for baselines."""

from __future__ import annotations

import numpy as np

from .._validate import positive_int


def random_rotation(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed random rotation (orthogonal, det +1).

    Parameters
    ----------
    n : int
        Size (>= 1).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        (n, n) rotation.

    Raises
    ------
    ValueError
        If `n` is not a positive integer or `rng` is not a numpy Generator (the message starts with
        the argument's name).

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.groups import random_rotation
    >>> P = random_rotation(4, np.random.default_rng(0))
    >>> np.allclose(P.T @ P, np.eye(4)), round(float(np.linalg.det(P)), 6)
    (True, 1.0)
    """
    n = positive_int(n, "n")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy Generator, got {type(rng).__name__}")
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q
