"""The result every descrambler returns: a group element P and how it was found."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class GroupResult:
    """A group element P found by a descrambler, the criterion it reaches and how it was found.

    The base of `DescrambleResult` (smoothness: `descramble`), `PermutationResult` (the signed-permutation
    subgroup: `permutation_descramble`) and `DiagonalResult` (maximum diagonality: `diagonal_descramble`).

    Attributes
    ----------
    P : numpy.ndarray
        (n, n) orthogonal matrix.
    objective : float
        The criterion at P (minimised smoothness, or maximised diagonality: see the subclass).
    bound : float
        The criterion's bound over the group (see the subclass).
    history : numpy.ndarray
        Criterion per iteration, starting value first.
    iterations : int
        Optimiser iterations (0 for a closed form).
    seconds : float
        Wall time of the call, s.
    method : str
        How P was found.
    converged : bool
        Whether the optimiser met its stopping criterion.
    message : str
        The stopping reason.

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.groups import GroupResult, descramble
    >>> isinstance(descramble(np.eye(4)[:, :3] @ np.ones((3, 5)) + np.eye(4, 5), "exact"), GroupResult)
    True
    """

    P: np.ndarray
    objective: float
    bound: float
    history: np.ndarray
    iterations: int
    seconds: float
    method: str
    converged: bool
    message: str
