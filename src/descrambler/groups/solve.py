"""`descramble`: the rotation P in SO(n) that makes the signals P S smoothest, iteratively or exactly."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from numpy.typing import ArrayLike

from .._validate import choice, positive, positive_int
from .cayley import SINGLE_THREADED, lbfgs_reference, smoothness_problem, trust_region
from .exact import closest_optimum, degeneracy
from .objective import (
    DERIVATIVES,
    check_size,
    check_orthogonal,
    normalise_gram,
    signal_gram,
    smoothness_eigen,
    smoothness_operator,
    trace_objective,
)
from .result import GroupResult

METHODS = ("cayley", "exact")
#: An optimum below ZERO_OPTIMUM_ULPS n^2 eps is zero to rounding: eta of normalised L and C is
#: computed to about n^2 eps (measured: at most 1.0 n^2 eps, n = 2 .. 256, on signals whose optimum
#: is exactly zero), so objective / optimum would be noise (values like 1.84 or -15.2).
ZERO_OPTIMUM_ULPS = 16


def zero_level(n: int) -> float:
    """The objective's rounding level for n signals: optima below it count as zero."""
    return ZERO_OPTIMUM_ULPS * n * n * float(np.finfo(float).eps)


@dataclasses.dataclass(frozen=True)
class DescrambleResult(GroupResult):
    """A descrambling rotation of the smoothness objective and how it was found.

    Returned by `descramble` (a `GroupResult`; `permutation_descramble` returns its subclass
    `PermutationResult`). `ratio` (objective / bound, 1 is optimal) and `ratio_note` are properties.

    Attributes
    ----------
    P : numpy.ndarray
        (n, n) orthogonal matrix (det +1 unless `message` says otherwise); read P S (signals) or, as the
        reference descramble.m does, P W1 (signals tapped before the activation) or W2 P^T (after it).
    objective : float
        eta(P), the normalised smoothness (dimensionless).
    bound : float
        The exact global minimum of eta over SO(n).
    history : numpy.ndarray
        Objective per iteration, starting value first.
    iterations : int
        Optimiser iterations (outer trust-region steps, L-BFGS iterations, accepted local-search
        moves; 0 for the closed form).
    seconds : float
        Wall time of the call, s.
    method : str
        "cayley", "exact" or "permutation".
    converged : bool
        Whether the optimiser met its stopping criterion.
    message : str
        The optimiser's stopping reason.
    unique : bool
        Whether the optimum over SO(n) is unique up to signs.
    degeneracy : str
        Why it is not unique, in words.
    rank : int
        Numerical rank of S S^T.

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.groups import descramble, random_rotation, smoothness_objective
    >>> S = np.exp(-(np.arange(8)[:, None] - np.linspace(0, 7, 50)) ** 2 / 4)  # smooth across neurons
    >>> Q = random_rotation(8, np.random.default_rng(1))
    >>> result = descramble(Q @ S, "exact")
    >>> result.P.shape, round(result.ratio, 6), result.method
    ((8, 8), 1.0, 'exact')
    """

    unique: bool
    degeneracy: str
    rank: int

    @property
    def ratio(self) -> float:
        """objective / bound (1 is optimal); NaN when the bound is zero to rounding (see `ratio_note`)."""
        return float("nan") if self.ratio_note else self.objective / self.bound

    @property
    def ratio_note(self) -> str:
        """Why `ratio` is undefined (NaN), or "" where it is defined."""
        level = zero_level(self.P.shape[0])
        if self.bound > level:
            return ""
        return (f"objective/optimum undefined: the optimum ({self.bound:.3g}) is zero to rounding (below "
                f"{level:.3g}): the signals (rank {self.rank}) can be rotated into the null space of the "
                f"derivative, where they are perfectly smooth; compare `objective` with {level:.3g} instead")


@dataclasses.dataclass(frozen=True)
class Problem:
    """The normalised objective's ingredients: L with eigenpairs, C with eigenpairs, the bound."""

    L: np.ndarray
    lam: np.ndarray
    T: np.ndarray
    C: np.ndarray
    mu: np.ndarray
    U: np.ndarray
    derivative: str

    @property
    def n(self) -> int:
        return self.C.shape[0]

    @property
    def bound(self) -> float:
        return float(self.lam @ self.mu)


def prepare(S: ArrayLike, gram: bool, derivative: str) -> Problem:
    """Check and normalise the signals (or Gram matrix) and the operator of `derivative`."""
    choice(derivative, "derivative", DERIVATIVES)
    C = signal_gram(S, gram=gram)
    n = C.shape[0]
    check_size(n, derivative)
    C, mu, U = normalise_gram(C)
    lam, T = smoothness_eigen(n, derivative)
    return Problem(smoothness_operator(n, derivative), lam, T, C, mu, U, derivative)


def _rotation(P, n: int, name: str) -> np.ndarray:
    if P is None:
        return np.eye(n)
    P = check_orthogonal(P, n, name)
    if np.linalg.det(P) < 0:
        raise ValueError(f"{name}: det = -1; descramble works in SO(n) and needs det +1")
    return P


@SINGLE_THREADED
def descramble(S: ArrayLike, method: str = "cayley", *, gram: bool = False, derivative: str = "fourier",
               guess: ArrayLike=None, max_iter: int | None = None, tol: float | None = None,
               reference_settings: bool = False, progress: bool | None = None) -> DescrambleResult:
    """The rotation P in SO(n) minimising the paper's smoothness eta(P) = trace(L P C P^T) of P S.

    Methods: "cayley", the paper's Cayley parametrisation with analytic gradients. By default a
    trust-region Newton-CG with analytic Hessian-vector products on a chart re-centred at every
    accepted step (worked in the eigenbasis of L, CG preconditioned by the Hessian's diagonal),
    starting at `guess`. With `reference_settings=True`, the reference's own settings: one chart from
    Q = 0 around `guess`, L-BFGS with memory 5; it converges slowly and can stop far above the
    optimum (chapters 3 and 4 measure how far). "exact": the closed form T U^T, choosing among the
    equally optimal rotations the one closest to `guess` with det +1 (see
    `descrambler.groups.exact`); its objective equals `bound` to rounding.

    Parameters
    ----------
    S : array_like
        Signals, neurons in rows (n, N), or with `gram=True` the Gram matrix S S^T (n, n) (the
        objective depends on S only through it).
    method : {"cayley", "exact"}, default "cayley"
        Iterative (Cayley chart) or closed form.
    gram : bool, default False
        `S` is the Gram matrix S S^T.
    derivative : {"fourier", "finite"}, default "fourier"
        The paper's periodic spectral second derivative, or non-periodic second differences.
    guess : array_like or None, default None
        Starting rotation (n, n), det +1; None: identity.
    max_iter : int or None, default None
        Most iterations; None: 500 (trust region) or 1e4 (reference settings).
    tol : float or None, default None
        Trust region: stop when a step would lower the objective by less than `tol` relative
        (default 1e-10); reference settings: gradient tolerance (default 1e-6).
    reference_settings : bool, default False
        Use the reference's L-BFGS settings ("cayley" only).
    progress : bool or None, default None
        Show a progress bar; None: only in a terminal or an interactive notebook.

    Returns
    -------
    DescrambleResult
        P, its objective, the bound, and how it was found.

    Raises
    ------
    ValueError
        If `S` is not a valid signal or Gram matrix (fewer than 2 rows, not finite, all zero, not
        symmetric positive semi-definite), `method` or `derivative` is unknown, `guess` is not a
        rotation with det +1, `max_iter` or `tol` is not positive, or `reference_settings` is used
        with "exact" (the message starts with the argument's name).

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.groups import descramble, random_rotation, smoothness_objective
    >>> S = np.exp(-(np.arange(8)[:, None] - np.linspace(0, 7, 50)) ** 2 / 4)  # smooth across neurons
    >>> Q = random_rotation(8, np.random.default_rng(1))
    >>> result = descramble(Q @ S)  # trust-region Newton-CG on Cayley charts
    >>> round(result.ratio, 6), result.converged
    (1.0, True)
    """
    start = time.perf_counter()
    choice(method, "method", METHODS)
    if reference_settings and method != "cayley":
        raise ValueError("reference_settings: applies to method 'cayley' only")
    problem = prepare(S, gram, derivative)
    n = problem.n
    P0 = _rotation(guess, n, "guess")
    if max_iter is not None:
        max_iter = positive_int(max_iter, "max_iter")
    if tol is not None:
        tol = positive(tol, "tol")
    info = degeneracy(problem.lam, problem.mu)
    bound = problem.bound
    if method == "exact":
        P = closest_optimum(problem.T, problem.U, info, None if guess is None else P0)
        f = trace_objective(P, problem.L, problem.C)
        history, iterations, converged, message = np.array([f]), 0, True, "closed form"
    else:
        def report(f: float) -> str:
            return f"objective/bound {f / bound:.6g}" if bound > zero_level(n) else f"objective {f:.4g}"

        if reference_settings:
            out = lbfgs_reference(smoothness_problem(problem.L, problem.C), P0,
                                  max_iter=max_iter or 10_000, gtol=tol or 1e-6,
                                  progress=progress, report=report)
            P = out.P
        else:
            # work in the eigenbasis T of L (the Fourier modes), where L is diagonal
            out = trust_region(smoothness_problem(problem.lam, problem.C), problem.T.T @ P0,
                               max_iter=max_iter or 500, ftol=tol or 1e-10, progress=progress,
                               report=report)
            P = problem.T @ out.P
        f = trace_objective(P, problem.L, problem.C)
        history, iterations, converged, message = out.history, out.iterations, out.converged, out.message
        if out.hessian_products:
            message = f"{message}; {out.hessian_products} Hessian-vector products"
    return DescrambleResult(P, f, bound, history, iterations, time.perf_counter() - start, method,
                            converged, message, info.unique, info.explain(), info.rank)
