"""The signed-permutation descrambler: the exact symmetries of a tanh layer (tanh is odd, so flipping
the signs of one neuron's incoming weights, bias and outgoing weights leaves the network unchanged).

Finding the smoothest order and signs of the signals is a seriation (quadratic assignment)
problem; this module solves it heuristically:

1. sign-invariant distances between neurons, d_ab = C_aa + C_bb - 2 |C_ab| (the squared
   difference of the two normalised signals with the better relative sign);
2. tours through all neurons: nearest-neighbour tours from several starts and the spectral
   (Fiedler-vector) order, each improved by 2-opt segment reversals (a cycle for the periodic
   operator; a path, via a dummy node, for the finite one); signs set along the tour so that
   neighbours correlate positively;
3. local search on the true objective trace(L P C P^T) over position swaps and sign flips, with
   all move deltas evaluated at once (vectorised, O(n^2) per move), best improvement first;
4. the best result; det +1 when a symmetry of the objective gives it for free (cyclic shift by one
   for even n or the global sign for odd n with the periodic operator; reversal or global sign
   with the finite one when their determinant is -1).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from numpy.typing import ArrayLike

from .._validate import positive_int
from ..progress import progress_bar
from .cayley import SINGLE_THREADED
from .exact import degeneracy
from .objective import trace_objective
from .solve import DescrambleResult, prepare


@dataclasses.dataclass(frozen=True)
class PermutationResult(DescrambleResult):
    """A signed permutation that makes the signals smooth: an exact symmetry of a tanh layer.

    Returned by `permutation_descramble`. Its P is `signed_permutation_matrix(order, signs)`: row i of
    P S is signal `order[i]` times `signs[i]`. `bound` is the optimum over all of SO(n), which a
    permutation reaches only exceptionally; `ratio` says how far it stays above it.

    Attributes
    ----------
    P : numpy.ndarray
        (n, n) signed permutation matrix.
    objective : float
        eta(P), the normalised smoothness.
    bound : float
        The exact global minimum of eta over SO(n).
    history : numpy.ndarray
        Objective after each accepted local-search move, starting value first.
    iterations : int
        Accepted local-search moves.
    seconds : float
        Wall time of the call, s.
    method : str
        "permutation".
    converged : bool
        Whether the local search ended at a local optimum.
    message : str
        The stopping reason (and a note when det P is -1).
    unique : bool
        Always False: a local optimum, not a proven global one.
    degeneracy : str
        The symmetries that give equally good permutations, in words.
    rank : int
        Numerical rank of S S^T.
    order : numpy.ndarray
        (n,) the signal placed in each row.
    signs : numpy.ndarray
        (n,) the sign (+1 or -1) of each row.

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.groups import permutation_descramble, signed_permutation_matrix
    >>> S = np.sin(np.linspace(0, np.pi, 6))[:, None] * np.ones((6, 3))
    >>> result = permutation_descramble(S[[3, 0, 5, 1, 4, 2]])
    >>> bool(np.allclose(result.P, signed_permutation_matrix(result.order, result.signs)))
    True
    """

    order: np.ndarray
    signs: np.ndarray


def signed_permutation_matrix(order: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """The signed permutation matrix P with P[p, order[p]] = signs[p].

    Row p of P S is signs[p] S[order[p]].

    Parameters
    ----------
    order : numpy.ndarray
        A permutation of 0 .. n - 1, (n,).
    signs : numpy.ndarray
        +1 or -1 per row, (n,).

    Returns
    -------
    numpy.ndarray
        P, (n, n).

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.groups import signed_permutation_matrix
    >>> signed_permutation_matrix(np.array([1, 0, 2]), np.array([1.0, -1.0, 1.0])).tolist()
    [[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    n = order.size
    P = np.zeros((n, n))
    P[np.arange(n), order] = signs
    return P


def tour_distances(C: np.ndarray) -> np.ndarray:
    """Sign-invariant neuron distances d_ab = C_aa + C_bb - 2 |C_ab| (>= 0, zero diagonal)."""
    c = np.diag(C)
    d = np.maximum(c[:, None] + c[None, :] - 2 * np.abs(C), 0.0)
    np.fill_diagonal(d, 0.0)
    return d


def nearest_neighbour_tour(d: np.ndarray, start: int) -> np.ndarray:
    """Greedy tour: from `start`, always go to the closest unvisited node."""
    n = d.shape[0]
    visited = np.zeros(n, dtype=bool)
    tour = np.empty(n, dtype=int)
    tour[0], visited[start] = start, True
    for k in range(1, n):
        row = np.where(visited, np.inf, d[tour[k - 1]])
        tour[k] = int(np.argmin(row))
        visited[tour[k]] = True
    return tour


def spectral_order(C: np.ndarray) -> np.ndarray:
    """Order of the Fiedler vector of the graph Laplacian with weights |correlation|."""
    c = np.sqrt(np.maximum(np.diag(C), np.finfo(float).tiny))
    weights = np.abs(C) / np.outer(c, c)
    np.fill_diagonal(weights, 0.0)
    laplacian = np.diag(weights.sum(axis=1)) - weights
    return np.argsort(np.linalg.eigh(laplacian)[1][:, 1], kind="stable")


def two_opt(tour: np.ndarray, d: np.ndarray, max_moves: int) -> np.ndarray:
    """Improve a cyclic tour by segment reversals (best improvement, all moves vectorised)."""
    tour = tour.copy()
    m = tour.size
    valid = np.triu(np.ones((m, m), dtype=bool), k=2)
    for _ in range(max_moves):
        D = d[np.ix_(tour, tour)]
        edge = D[np.arange(m), (np.arange(m) + 1) % m]
        after = np.roll(np.roll(D, -1, axis=0), -1, axis=1)
        delta = np.where(valid, D + after - edge[:, None] - edge[None, :], 0.0)
        i, j = np.unravel_index(np.argmin(delta), delta.shape)
        if delta[i, j] >= -1e-12 * max(edge.sum(), np.finfo(float).tiny):
            break
        tour[i + 1:j + 1] = tour[i + 1:j + 1][::-1]
    return tour


def tour_signs(order: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Signs making each neuron correlate positively with its predecessor in `order`."""
    links = np.sign(C[order[:-1], order[1:]])
    links[links == 0] = 1.0
    return np.concatenate([[1.0], np.cumprod(links)])


def move_deltas(X: np.ndarray, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Changes of trace(L X) when two positions swap (matrix over (p, q)) or one flips sign (vector).

    X = P C P^T is the arranged Gram matrix. With Z = X L, z = diag(Z), x = diag(X), l = diag(L):
    swap(p, q) = 2 [Z_pq + Z_qp - z_p - z_q - (L_pq - l_p)(x_p - X_pq) - (l_q - L_pq)(X_pq - x_q)]
    + (l_q - l_p)(x_p - x_q);  flip(p) = -4 (z_p - l_p x_p).
    """
    Z = X @ L
    z, x, l = np.diag(Z), np.diag(X), np.diag(L)
    swap = 2 * (Z + Z.T - z[:, None] - z[None, :] - (L - l[:, None]) * (x[:, None] - X)
                - (l[None, :] - L) * (X - x[None, :])) + (l[None, :] - l[:, None]) * (x[:, None] - x[None, :])
    np.fill_diagonal(swap, 0.0)
    return swap, -4 * (z - l * x)


def local_search(order: np.ndarray, signs: np.ndarray, C: np.ndarray, L: np.ndarray,
                 max_moves: int) -> tuple[np.ndarray, np.ndarray, list[float], bool]:
    """Best-improvement swaps and sign flips on trace(L P C P^T); returns the objective history and
    whether a local optimum (no improving move) was reached."""
    order, signs = order.copy(), signs.copy()
    X = C[np.ix_(order, order)] * np.outer(signs, signs)
    history = [float(np.sum(L * X))]
    for _ in range(max_moves):
        swap, flip = move_deltas(X, L)
        p, q = np.unravel_index(np.argmin(swap), swap.shape)
        f = int(np.argmin(flip))
        if min(swap[p, q], flip[f]) >= -1e-12 * abs(history[-1]):
            return order, signs, history, True
        if swap[p, q] <= flip[f]:
            order[[p, q]], signs[[p, q]] = order[[q, p]], signs[[q, p]]
        else:
            signs[f] = -signs[f]
        X = C[np.ix_(order, order)] * np.outer(signs, signs)
        history.append(float(np.sum(L * X)))
    return order, signs, history, False


def symmetry_between(A: np.ndarray, B: np.ndarray, periodic: bool = True, atol: float = 1e-10):
    """The symmetry of the smoothness objective that maps B onto A, or None.

    The symmetries under signed permutations: a global sign, reversal of the order and (for the
    periodic operator) cyclic shifts.

    Parameters
    ----------
    A, B : numpy.ndarray
        Signals, neurons in rows, the same shape.
    periodic : bool, default True
        Try cyclic shifts (the periodic "fourier" operator); else only reversal and sign.
    atol : float, default 1e-10
        Absolute tolerance of the comparison.

    Returns
    -------
    tuple or None
        (reversed, shift, sign) with A = sign roll(B reversed or not, shift) along rows, or None.

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.groups import permutation_descramble, symmetry_between
    >>> S = np.exp(-(np.arange(8)[:, None] - np.linspace(0, 7, 50)) ** 2 / 4)  # smooth across neurons
    >>> scrambled = S[[2, 0, 3, 1, 7, 5, 6, 4]]
    >>> result = permutation_descramble(scrambled)
    >>> symmetry_between(result.P @ scrambled, S)  # the order is found up to a reversal and a shift
    (True, 4, 1)
    """
    for reverse in (False, True):
        rows = B[::-1] if reverse else B
        for shift in range(A.shape[0]) if periodic else [0]:
            moved = np.roll(rows, shift, axis=0)
            for sign in (1, -1):
                if np.allclose(A, sign * moved, rtol=0, atol=atol):
                    return reverse, shift, sign
    return None


def _free_det_fix(order: np.ndarray, signs: np.ndarray, derivative: str):
    """A symmetry of the objective that turns det -1 into +1, or None."""
    n = order.size
    if derivative == "fourier" and n % 2 == 0:
        return np.roll(order, 1), np.roll(signs, 1)  # cyclic shift: an odd permutation
    if n % 2 == 1:
        return order, -signs  # global sign: det (-1)^n = -1
    if (n // 2) % 2 == 1:
        return order[::-1], signs[::-1]  # reversal: det (-1)^(n/2)
    return None


@SINGLE_THREADED
def permutation_descramble(S: ArrayLike, *, gram: bool = False, derivative: str = "fourier", starts: int = 8,
                           max_moves: int | None = None, progress: bool | None = None
                           ) -> DescrambleResult:
    """The signed permutation P that makes the signals P S smoothest (the exact symmetries of a tanh layer).

    A seriation heuristic (see the module `descrambler.groups.permutation`): sign-invariant neuron
    distances, nearest-neighbour and spectral tours improved by 2-opt, then local search over swaps
    and sign flips on the true objective; the result is a local optimum, not a proven global one.

    Parameters
    ----------
    S : array_like
        Signals, neurons in rows (n, N), or with `gram=True` the Gram matrix S S^T.
    gram : bool, default False
        `S` is the Gram matrix S S^T.
    derivative : {"fourier", "finite"}, default "fourier"
        The operator of the objective (see `descramble`).
    starts : int, default 8
        Nearest-neighbour tours tried (evenly spaced start neurons; the spectral order is always
        tried too).
    max_moves : int or None, default None
        Cap on 2-opt and local-search moves per start; None: 20 n.
    progress : bool or None, default None
        Show a progress bar; None: only in a terminal or an interactive notebook.

    Returns
    -------
    DescrambleResult
        `P` a signed permutation matrix, `bound` the SO(n) optimum (which a signed permutation need
        not reach); `iterations` counts the local-search moves of the winning start and `converged`
        says whether it ended at a local optimum.

    Raises
    ------
    ValueError
        If `S` is not a valid signal or Gram matrix, `derivative` is unknown, or `starts` or
        `max_moves` is not a positive integer (the message starts with the argument's name).

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.groups import permutation_descramble, symmetry_between
    >>> S = np.exp(-(np.arange(8)[:, None] - np.linspace(0, 7, 50)) ** 2 / 4)  # smooth across neurons
    >>> scrambled = S[[2, 0, 3, 1, 7, 5, 6, 4]]
    >>> result = permutation_descramble(scrambled)
    >>> sorted(np.abs(result.P).sum(axis=0).tolist()) == [1.0] * 8  # one +-1 per row and column
    True
    """
    start_time = time.perf_counter()
    problem = prepare(S, gram, derivative)
    starts = positive_int(starts, "starts")
    n = problem.n
    max_moves = positive_int(max_moves, "max_moves") if max_moves is not None else 20 * n
    C, L = problem.C, problem.L
    d = tour_distances(C)
    firsts = np.unique(np.linspace(0, n - 1, min(starts, n)).round().astype(int))
    tours = [nearest_neighbour_tour(d, int(a)) for a in firsts] + [spectral_order(C)]
    if derivative == "finite":  # an open path: a cycle through a dummy node at distance 0
        d = np.pad(d, ((0, 1), (0, 1)))
    best = None
    for tour in progress_bar(tours, desc="signed-permutation starts", enabled=progress):
        if derivative == "finite":
            tour = _open_path(two_opt(np.append(tour, n), d, max_moves), n)
        else:
            tour = two_opt(tour, d, max_moves)
        result = local_search(tour, tour_signs(tour, C), C, L, max_moves)
        if best is None or result[2][-1] < best[2][-1] - 1e-12 * abs(best[2][-1]):
            best = result
    order, signs, history, converged = best
    note = ""
    if np.linalg.det(signed_permutation_matrix(order, signs)) < 0:
        fixed = _free_det_fix(order, signs, derivative)
        if fixed is None:
            note = "; det -1: no symmetry of this objective gives det +1 for free"
        else:
            order, signs = fixed
    P = signed_permutation_matrix(order, signs)
    objective = trace_objective(P, L, C)
    symmetries = ("cyclic shifts and reversal of the order, and a global sign"
                  if derivative == "fourier" else "reversal of the order and a global sign")
    message = ("local optimum of swaps and sign flips" if converged else
               f"stopped after {max_moves} moves") + note
    return PermutationResult(P, objective, problem.bound, np.asarray(history), len(history) - 1,
                             time.perf_counter() - start_time, "permutation", converged, message,
                             False, f"a signed permutation found by seriation and local search (a "
                             f"local optimum, not a proven global one); equally good: {symmetries}.",
                             degeneracy(problem.lam, problem.mu).rank, np.asarray(order), np.asarray(signs))


def _open_path(cycle: np.ndarray, dummy: int) -> np.ndarray:
    """The path obtained by cutting a cycle at its dummy node."""
    k = int(np.flatnonzero(cycle == dummy)[0])
    return np.concatenate([cycle[k + 1:], cycle[:k]])
