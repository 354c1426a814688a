"""Optimisation over SO(n) on the Cayley chart P = (I + Q)^-1 (I - Q) P0, Q antisymmetric.

Q is parametrised by its strict lower triangle q (n(n-1)/2 numbers), as in the reference code.
Two optimisers:

- `trust_region`: Newton-CG (Steihaug) with analytic gradients and Hessian-vector products, the
  chart re-centred at the current point after every accepted step (so Q stays small and any
  rotation is reachable);
- `lbfgs_reference`: the reference's settings, one chart around the starting point (no
  re-centring), quasi-Newton L-BFGS with memory 5 (scipy's L-BFGS-B standing in for MATLAB's
  fmincon interior-point with an L-BFGS(5) Hessian approximation).

A problem is described by a `ChartProblem`: the objective f(P), and at a point P0 the matrix
A = E P0^T (E the Euclidean gradient df/dP) and a Hessian-vector product. With V antisymmetric and
the chart at Q = 0, P = (I - 2V + 2V^2 + ...) P0, so the chart gradient is G = -2 (A - A^T) and the
chart Hessian acts as Hv(V) = Gamma - Gamma^T with Gamma = 4 H[V P0] P0^T - 2 (A V + V A), where H
is the Euclidean Hessian of f. (The reference composes on the other side, P = P0 cayley(Q) in
effect; from P0 = I, as it starts, the two charts coincide.) Antisymmetric matrices carry the
lower-triangle inner product <X, Y> = sum_{i>j} X_ij Y_ij = sum(X * Y) / 2, so G's lower triangle is
the gradient in q.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from ..progress import progress_bar

#: Decorator: run with single-threaded BLAS. The matrices here are small (n up to a few hundred);
#: on the shared, loaded 2-core machine threaded BLAS lost far more to contention than it gained
#: (measured during development: an n = 256 trust-region run took 155 s with 2 threads and 10 s
#: with 1; L-BFGS-B on 2016 variables ran 40 times slower with 2 threads).
SINGLE_THREADED = threadpool_limits.wrap(limits=1, user_api="blas")
#: Relative residual at which CG stops (a fixed forcing term: cheap steps, linear convergence).
CG_RTOL = 0.1
#: Preconditioner entries below this fraction of the largest are raised to it (zero for tied
#: eigenvalues). Measured on n = 256: 1e-9 took 2 s where 1e-6 took 10-27 s and 1e-4 up to 200 s.
PRECONDITION_FLOOR = 1e-9


def cayley(Q: np.ndarray) -> np.ndarray:
    """The Cayley transform (I + Q)^-1 (I - Q) = 2 (I + Q)^-1 - I of an antisymmetric Q (a rotation)."""
    n = Q.shape[0]
    return 2 * np.linalg.solve(np.eye(n) + Q, np.eye(n)) - np.eye(n)


def generator(q: np.ndarray, n: int) -> np.ndarray:
    """The antisymmetric (n, n) matrix whose strict lower triangle (row-major order) is q."""
    Q = np.zeros((n, n))
    Q[np.tril_indices(n, -1)] = q
    return Q - Q.T


def lower_triangle(Q: np.ndarray) -> np.ndarray:
    """The strict lower triangle of Q, row-major: the chart coordinates q."""
    return Q[np.tril_indices(Q.shape[0], -1)]


def inner(X: np.ndarray, Y: np.ndarray) -> float:
    """Lower-triangle inner product of two antisymmetric matrices, sum(X * Y) / 2."""
    return float(np.vdot(X, Y)) / 2


@dataclasses.dataclass
class ChartProblem:
    """A smooth function on SO(n) for the optimisers of this module (charts P = cayley(Q) P0).

    `value(P)`: f(P). `local(P0)`: (f(P0), A, hv, hdiag) at Q = 0, with A = df/dP(P0) P0^T, hv(V)
    the chart Hessian applied to an antisymmetric V, and hdiag a symmetric (n, n) matrix whose
    (i, j) entry is the chart Hessian's diagonal element for the generator E_ij - E_ji (used as a
    preconditioner).
    """

    value: Callable[[np.ndarray], float]
    local: Callable[[np.ndarray], tuple]


def smoothness_problem(L: np.ndarray, C: np.ndarray) -> ChartProblem:
    """f(P) = trace(L P C P^T) for symmetric L and C (L given as a matrix, or as a vector when diagonal).

    Euclidean gradient E = 2 L P C and Hessian H[Y] = 2 L Y C. With X = P0 C P0^T the chart
    quantities at P0 are A = 2 L X, Hv(V) = Gamma - Gamma^T, Gamma = 8 L V X - 2 (A V + V A), and
    hdiag_ij = 8 (L_ii X_jj + L_jj X_ii - 2 L_ij X_ij) - 4 (A_ii + A_jj).
    """
    diagonal = L.ndim == 1
    Ldiag = L if diagonal else np.diag(L)

    def left(Y: np.ndarray) -> np.ndarray:
        return L[:, None] * Y if diagonal else L @ Y

    def value(P: np.ndarray) -> float:
        return float(np.sum(left(P) * (P @ C)))

    def local(P0: np.ndarray):
        X = P0 @ C @ P0.T
        A = 2 * left(X)
        f = float(np.trace(A)) / 2
        dA, dX = np.diag(A), np.diag(X)
        hdiag = 8 * (np.outer(Ldiag, dX) + np.outer(dX, Ldiag)) - 4 * (dA[:, None] + dA[None, :])
        if not diagonal:
            hdiag -= 16 * L * X

        def hv(V: np.ndarray) -> np.ndarray:
            gamma = 8 * left(V) @ X - 2 * (A @ V + V @ A)
            return gamma - gamma.T

        return f, A, hv, hdiag

    return ChartProblem(value, local)


def chart_gradient(problem: ChartProblem, P0: np.ndarray, Q: np.ndarray | None = None
                   ) -> tuple[float, np.ndarray]:
    """f and the chart gradient G (antisymmetric; its lower triangle is df/dq) at P = cayley(Q) P0.

    With B = (I + Q)^-1, cayley(Q) = 2 B - I and d cayley = -2 B dQ B, so for A = E P^T at P:
    G = -2 (K - K^T) with K = B^T A cayley(Q) B^T (K = A at Q = 0).
    """
    if Q is None:
        f, A, _, _ = problem.local(P0)
        return f, -2 * (A - A.T)
    n = Q.shape[0]
    B = np.linalg.solve(np.eye(n) + Q, np.eye(n))
    R = 2 * B - np.eye(n)
    f, A, _, _ = problem.local(R @ P0)
    K = B.T @ A @ R @ B.T
    return f, -2 * (K - K.T)


@dataclasses.dataclass
class OptimiserOutput:
    """What an optimiser returns: the rotation, objective history (one entry per iteration, the
    starting value first), iteration count, Hessian-vector products, convergence and a message."""

    P: np.ndarray
    history: np.ndarray
    iterations: int
    hessian_products: int
    converged: bool
    message: str
    seconds: float


def _steihaug(g: np.ndarray, hv, precondition: np.ndarray, radius: float, rtol: float, max_cg: int):
    """Approximate minimiser of <g, z> + <z, H z>/2 with ||z||_M <= radius (truncated, preconditioned CG).

    `precondition`: positive symmetric (n, n) M, applied elementwise (a diagonal preconditioner in
    the chart coordinates); ||z||_M^2 = <z, M z>. Returns (z, predicted decrease, Hessian products
    used, whether the boundary was reached).
    """
    z = np.zeros_like(g)
    hz = np.zeros_like(g)
    r = g.copy()
    y = r / precondition
    d = -y
    ry = inner(r, y)
    stop = rtol * np.sqrt(inner(r, r))
    products = 0

    def boundary(z, d, hd):
        a, b = inner(d, precondition * d), 2 * inner(z, precondition * d)
        c = inner(z, precondition * z) - radius**2
        tau = (-b + np.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
        z, h = z + tau * d, hz + tau * hd
        return z, -(inner(g, z) + inner(z, h) / 2), products, True

    for _ in range(max_cg):
        hd = hv(d)
        products += 1
        curvature = inner(d, hd)
        if curvature <= 0:
            return boundary(z, d, hd)
        alpha = ry / curvature
        step = z + alpha * d
        if inner(step, precondition * step) >= radius**2:
            return boundary(z, d, hd)
        z, hz = step, hz + alpha * hd
        r = r + alpha * hd
        if np.sqrt(inner(r, r)) <= stop:
            break
        y = r / precondition
        ry_new = inner(r, y)
        d = -y + (ry_new / ry) * d
        ry = ry_new
    return z, -(inner(g, z) + inner(z, hz) / 2), products, False


@SINGLE_THREADED
def trust_region(problem: ChartProblem, P0: np.ndarray, *, max_iter: int = 500, gtol: float = 1e-10,
                 ftol: float = 1e-12, max_cg: int | None = None, progress: bool | None = None,
                 report: Callable[[float], str] | None = None) -> OptimiserOutput:
    """Minimise f over SO(n) from P0 by trust-region Newton-CG on re-centred Cayley charts.

    Each outer iteration builds the chart cayley(Q) P at the current point P, solves the
    trust-region subproblem by CG preconditioned with |diagonal of the chart Hessian| (trust region
    in that metric), and re-centres on acceptance. Stops when the chart gradient norm falls below
    `gtol` * max(|f|, 1), or after `max_iter` outer iterations. `max_cg` caps the CG iterations per
    step (default n(n-1)/2). Also stops when a step's predicted decrease falls below `ftol` * |f|
    (rounding decides beyond that). `report(f)` formats the progress-bar text.
    """
    start = time.perf_counter()
    n = P0.shape[0]
    max_cg = max_cg or n * (n - 1) // 2
    P = P0.copy()
    f, A, hv, hdiag = problem.local(P)
    history = [f]
    radius = None
    products, converged, message = 0, False, f"stopped after {max_iter} iterations"
    iterations = 0
    with progress_bar(total=max_iter, desc="cayley trust-region", enabled=progress) as bar:
        for iterations in range(1, max_iter + 1):
            g = -2 * (A - A.T)
            gnorm = np.sqrt(inner(g, g))
            scale = max(abs(f), 1.0)
            if gnorm <= gtol * scale:
                converged, message = True, f"gradient norm {gnorm:.2e} below tolerance"
                iterations -= 1
                break
            weights = np.abs(hdiag)
            top = np.max(weights)
            precondition = np.maximum(weights, PRECONDITION_FLOOR * top) if top > 0 else np.ones_like(weights)
            if radius is None:
                radius = np.sqrt(inner(g, g / precondition))
            V, predicted, used, boundary = _steihaug(g, hv, precondition, radius, CG_RTOL, max_cg)
            products += used
            P_trial = cayley(V) @ P
            f_trial = problem.value(P_trial)
            rho = (f - f_trial) / predicted if predicted > 0 else -1.0
            if rho < 0.25:
                radius = 0.25 * np.sqrt(inner(V, precondition * V))
            elif rho > 0.75 and boundary:
                radius = 2 * radius
            if rho > 1e-4:
                # one Newton-Schulz step keeps P orthogonal to rounding error
                P = (1.5 * np.eye(n) - 0.5 * P_trial @ P_trial.T) @ P_trial
                f, A, hv, hdiag = problem.local(P)
            history.append(f)
            bar.update(1)
            if report is not None:
                bar.set_postfix_str(report(f), refresh=False)
            if predicted <= ftol * abs(f):
                converged, message = True, f"predicted decrease {predicted:.2e} below ftol * |f|"
                break
    return OptimiserOutput(P, np.asarray(history), iterations, products, converged, message,
                           time.perf_counter() - start)


@SINGLE_THREADED
def lbfgs_reference(problem: ChartProblem, P0: np.ndarray, *, max_iter: int = 10_000,
                    memory: int = 5, gtol: float = 1e-6, progress: bool | None = None,
                    report: Callable[[float], str] | None = None) -> OptimiserOutput:
    """The reference's optimiser: one Cayley chart around P0 from Q = 0, L-BFGS with `memory`.

    scipy's L-BFGS-B without bounds, `max_iter` iterations, projected-gradient tolerance `gtol`
    (fmincon's default optimality tolerance is 1e-6).
    """
    start = time.perf_counter()
    n = P0.shape[0]

    def fun(q: np.ndarray):
        f, G = chart_gradient(problem, P0, generator(q, n))
        return f, lower_triangle(G)

    history = [problem.value(P0)]
    with progress_bar(total=max_iter, desc="cayley L-BFGS (reference)", enabled=progress) as bar:
        def callback(intermediate_result):
            history.append(float(intermediate_result.fun))
            bar.update(1)
            if report is not None:
                bar.set_postfix_str(report(history[-1]), refresh=False)

        result = minimize(fun, np.zeros(n * (n - 1) // 2), jac=True, method="L-BFGS-B",
                          callback=callback,
                          options={"maxcor": memory, "maxiter": max_iter, "maxfun": 20 * max_iter,
                                   "gtol": gtol, "ftol": 0.0})
    P = cayley(generator(result.x, n)) @ P0
    return OptimiserOutput(P, np.asarray(history), int(result.nit), 0, bool(result.success),
                           str(result.message), time.perf_counter() - start)
