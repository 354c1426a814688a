"""Random rotations: Haar-distributed elements of SO(n), for scrambling toys and for baselines."""

from __future__ import annotations

import numpy as np

from .._validate import positive_int


def random_rotation(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed random rotation (orthogonal, det +1) of size (n, n)."""
    n = positive_int(n, "n")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy Generator, got {type(rng).__name__}")
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q
