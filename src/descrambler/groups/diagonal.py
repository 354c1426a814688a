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

CRITERIA = ("sum", "normsq")
METHODS = ("polar", "cayley")


@dataclasses.dataclass(frozen=True)
class DiagonalResult:
    """P in SO(n) and the criterion it reaches (maximised): sum(diag(P W)) or ||diag(P W)||^2.

    `bound`: an upper bound on the criterion over SO(n): attained for "sum" (the rotational
    Procrustes maximum), ||W||_F^2 (not attained in general) for "normsq". `history`: criterion per
    iteration, starting value first.
    """

    P: np.ndarray
    objective: float
    bound: float
    history: np.ndarray
    iterations: int
    seconds: float
    criterion: str
    method: str
    converged: bool
    message: str


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
    """The rotation P in SO(n) that maximises the diagonal of P W (W square, e.g. a weight matrix).

    `criterion`: "sum" (trace(P W)) or "normsq" (||diag(P W)||^2). `method`: "polar" (exact:
    rotational Procrustes via the SVD; "sum" only) or "cayley" (trust-region Newton-CG on
    re-centred Cayley charts from `guess`, default identity; local optimum for "normsq").
    Default: "polar" for "sum", "cayley" for "normsq".
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
        return DiagonalResult(P, f, bound, np.array([f]), 0, time.perf_counter() - start, criterion,
                              method, True, "closed form")
    out = trust_region(diagonal_problem(W, criterion), P0, max_iter=max_iter, ftol=tol,
                       progress=progress, report=lambda f: f"criterion {-f:.6g}")
    f = diagonal_criterion(out.P, W, criterion)
    return DiagonalResult(out.P, f, bound, -out.history, out.iterations, time.perf_counter() - start,
                          criterion, method, out.converged, out.message)
