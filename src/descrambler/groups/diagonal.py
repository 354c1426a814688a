"""The maximum-diagonality descrambler (the reference's left_diag.m): P in SO(n) making P W most diagonal."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from numpy.typing import ArrayLike

from .._validate import as_array, choice, positive, positive_int
from .cayley import SINGLE_THREADED, ChartProblem, trust_region
from .exact import rotational_procrustes
from .objective import check_orthogonal
from .result import GroupResult

CRITERIA = ("sum", "normsq")
METHODS = ("polar", "cayley")


@dataclasses.dataclass(frozen=True)
class DiagonalResult(GroupResult):
    """A rotation P in SO(n) that makes P W most diagonal, and the criterion it reaches.

    Returned by `diagonal_descramble`.

    Attributes
    ----------
    P : numpy.ndarray
        (n, n) rotation.
    objective : float
        The criterion reached (maximised): sum(diag(P W)) or the squared norm of diag(P W).
    bound : float
        An upper bound on the criterion over SO(n): attained for "sum" (the rotational Procrustes
        maximum); the squared Frobenius norm of W (not attained in general) for "normsq".
    history : numpy.ndarray
        Criterion per iteration, starting value first.
    iterations : int
        Optimiser iterations (0 for the closed form).
    seconds : float
        Wall time of the call, s.
    criterion : str
        "sum" or "normsq".
    method : str
        "polar" or "cayley".
    converged : bool
        Whether the optimiser met its stopping criterion.
    message : str
        The stopping reason.

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.groups import diagonal_descramble
    >>> result = diagonal_descramble(np.random.default_rng(0).standard_normal((3, 3)))
    >>> result.method, bool(np.isclose(result.objective, result.bound))
    ('polar', True)
    """

    criterion: str


def diagonal_criterion(P: np.ndarray, W: np.ndarray, criterion: str) -> float:
    """sum(diag(P W)) or ||diag(P W)||^2."""
    d = np.einsum("ij,ji->i", P, W)
    return float(d.sum() if criterion == "sum" else d @ d)


def diagonal_problem(W: np.ndarray, criterion: str) -> ChartProblem:
    """f(P) = -criterion(P W) on charts P = cayley(Q) P0 (see `cayley` for A, hv and hdiag).

    With Y = P0 W and y = diag(Y): "sum": A = -Y^T, no Euclidean Hessian. "normsq": A = -2 y Y^T
    (rows scaled), Euclidean Hessian term -8 diag(V Y) Y^T.
    """

    def value(P: np.ndarray) -> float:
        return -diagonal_criterion(P, W, criterion)

    def local(P0: np.ndarray):
        Y = P0 @ W
        y = np.diag(Y)
        if criterion == "sum":
            A = -Y.T
            hdiag = 4 * (y[:, None] + y[None, :])

            def hv(V: np.ndarray) -> np.ndarray:
                gamma = -2 * (A @ V + V @ A)
                return gamma - gamma.T

            return -float(y.sum()), A, hv, hdiag
        A = -2 * y[:, None] * Y.T
        squares = Y**2
        hdiag = 8 * (y[:, None] ** 2 + y[None, :] ** 2 - squares - squares.T)

        def hv(V: np.ndarray) -> np.ndarray:
            gamma = -8 * np.sum(V * Y.T, axis=1)[:, None] * Y.T - 2 * (A @ V + V @ A)
            return gamma - gamma.T

        return -float(y @ y), A, hv, hdiag

    return ChartProblem(value, local)


@SINGLE_THREADED
def diagonal_descramble(W: ArrayLike, criterion: str = "sum", method: str | None = None, *, guess: ArrayLike=None,
                        max_iter: int = 500, tol: float = 1e-12,
                        progress: bool | None = None) -> DiagonalResult:
    """The maximum-diagonality descrambler (the reference's left_diag.m): P in SO(n) maximising diag(P W).

    Parameters
    ----------
    W : array_like
        Square matrix (n, n), n >= 2, e.g. a weight matrix.
    criterion : {"sum", "normsq"}, default "sum"
        Maximise trace(P W) or the squared norm of diag(P W).
    method : {"polar", "cayley"} or None, default None
        "polar": exact, rotational Procrustes via the SVD ("sum" only); "cayley": trust-region
        Newton-CG on re-centred Cayley charts from `guess` (a local optimum for "normsq"). None:
        "polar" for "sum", "cayley" for "normsq".
    guess : array_like or None, default None
        Starting rotation for "cayley", det +1; None: identity.
    max_iter : int, default 500
        Most trust-region iterations.
    tol : float, default 1e-12
        Stop when a step's predicted gain falls below `tol` relative.
    progress : bool or None, default None
        Show a progress bar; None: only in a terminal or an interactive notebook.

    Returns
    -------
    DiagonalResult
        P, the criterion reached and its bound.

    Raises
    ------
    ValueError
        If `W` is not a finite square matrix of size at least 2, `criterion` or `method` is unknown,
        "polar" is asked for "normsq", `guess` is not a rotation with det +1, or `max_iter` or `tol`
        is not positive (the message starts with the argument's name).

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.groups import diagonal_descramble
    >>> W = np.random.default_rng(0).standard_normal((3, 3))
    >>> result = diagonal_descramble(W, criterion="normsq")
    >>> result.method, result.objective <= result.bound
    ('cayley', True)
    """
    start = time.perf_counter()
    W = as_array(W, "W", ndim=2)
    if W.shape[0] != W.shape[1] or W.shape[0] < 2:
        raise ValueError(f"W: expected a square matrix of size at least 2, got shape {W.shape}")
    choice(criterion, "criterion", CRITERIA)
    method = method or ("polar" if criterion == "sum" else "cayley")
    choice(method, "method", METHODS)
    if method == "polar" and criterion != "sum":
        raise ValueError("method: 'polar' solves criterion 'sum' only; use 'cayley' for 'normsq'")
    max_iter = positive_int(max_iter, "max_iter")
    tol = positive(tol, "tol")
    n = W.shape[0]
    P0 = np.eye(n) if guess is None else check_orthogonal(guess, n, "guess")
    if np.linalg.det(P0) < 0:
        raise ValueError("guess: det = -1; diagonal_descramble works in SO(n) and needs det +1")
    bound = rotational_procrustes(W)[1] if criterion == "sum" else float(np.sum(W**2))
    if method == "polar":
        P = rotational_procrustes(W)[0]
        f = diagonal_criterion(P, W, criterion)
        return DiagonalResult(P, f, bound, np.array([f]), 0, time.perf_counter() - start, method, True,
                              "closed form", criterion)
    out = trust_region(diagonal_problem(W, criterion), P0, max_iter=max_iter, ftol=tol,
                       progress=progress, report=lambda f: f"criterion {-f:.6g}")
    f = diagonal_criterion(out.P, W, criterion)
    return DiagonalResult(out.P, f, bound, -out.history, out.iterations, time.perf_counter() - start,
                          method, out.converged, out.message, criterion)
