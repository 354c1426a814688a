"""Closed-form optima over the rotation group (Brockett 1991; Sule, Spencer, Czaja 2025).

Smoothness: min over orthogonal P of trace(L P C P^T) is sum_i lambda_i mu_i with lambda (of L)
ascending and mu (of C) descending (von Neumann's trace inequality), reached at P* = T U^T (columns
of T, U: the matching eigenvectors). The optimum is not unique. Writing P = T B U^T, the optimal
B are exactly the products O_L O_C of a block-orthogonal O_L, free inside each group of equal
lambda, and a block-orthogonal O_C, free inside each group of equal mu (signs included: 1 x 1
blocks are +-1). This module picks, deterministically, the optimum closest to a reference
rotation R (Frobenius norm) among those with det +1:

- each "component" (indices linked by equal lambda or equal mu) is solved on its own;
- a component that is one group of ties (or one index) is an orthogonal Procrustes problem,
  solved exactly by an SVD;
- a component where lambda ties and mu ties overlap (e.g. a cos/sin pair of D^T D straddling the
  edge of the null space of a rank-deficient S S^T) is solved by alternating Procrustes over O_L
  and O_C from O_C = I until the fit stops improving: deterministic, a local best;
- if det(P) = -1, the block whose flip (reversing its weakest singular direction) costs least is
  flipped: every optimum stays optimal, so det +1 costs nothing in the objective.

Ties are eigenvalues equal to within the eigensolver's rounding (`TIE_ULPS` n eps times the
largest, n). Where S S^T has many eigenvalues near that level (very smooth signals), mixing them
costs up to about 1e-9 of the objective, the accuracy to which those eigenvalues are known; for
signals of full numerical rank the objective equals the bound to about 1e-13.

Rotational Procrustes: max over SO(n) of trace(P W) = sum of singular values, P = V U^T for
W = U Sigma V^T, the last singular pair flipped when det(V U^T) = -1.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.linalg
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

#: Eigenvalues count as equal when closer than TIE_ULPS * n * eps * n: the rounding error of a
#: symmetric eigensolver on an n x n matrix of spectral norm n (our normalisation). A looser
#: tolerance would let the tie-break mix genuinely different eigenvalues and miss the bound.
TIE_ULPS = 8
#: Alternating Procrustes sweeps for components with overlapping ties.
MAX_SWEEPS = 100
#: ... until the fit (trace) improves by less than this, relatively.
SWEEP_RTOL = 1e-10


def tie_groups(values: np.ndarray, atol: float) -> list[np.ndarray]:
    """Groups of consecutive sorted `values` within `atol` of the group's first value (index arrays)."""
    groups, first = [], 0
    for i in range(1, values.size + 1):
        if i == values.size or abs(values[i] - values[first]) > atol:
            groups.append(np.arange(first, i))
            first = i
    return groups


@dataclasses.dataclass(frozen=True)
class Degeneracy:
    """Why the smoothness optimum is not unique: tie groups of L (ascending) and of C (descending)."""

    operator_groups: tuple[np.ndarray, ...]
    gram_groups: tuple[np.ndarray, ...]
    rank: int
    n: int

    @property
    def unique(self) -> bool:
        """True when the optimum is unique up to signs (no continuous family of optima)."""
        return all(g.size == 1 for g in self.operator_groups + self.gram_groups)

    def explain(self) -> str:
        """One paragraph: the continuous and discrete freedoms of the optimum."""
        parts = []
        sizes = [g.size for g in self.operator_groups if g.size > 1]
        if sizes:
            shape = "pairs" if set(sizes) == {2} else "groups (sizes " + ", ".join(map(str, sizes)) + ")"
            parts.append(f"D^T D has {len(sizes)} degenerate eigenvalue {shape} (for the periodic "
                         "operator: cos/sin of one frequency); the optimum may rotate inside each")
        if self.rank < self.n:
            parts.append(f"S S^T has numerical rank {self.rank} < n = {self.n}: its "
                         f"{self.n - self.rank}-dimensional null space may be mapped onto the "
                         "remaining modes by any rotation")
        repeated = [g for g in self.gram_groups if g.size > 1 and g[0] < self.rank]
        if repeated:
            parts.append(f"S S^T has {len(repeated)} repeated nonzero eigenvalue group(s); the "
                         "optimum may rotate inside each")
        signs = (f"any of the {self.n} eigenvector signs may flip (in pairs, to keep det +1)")
        if not parts:
            return "unique up to signs: " + signs + "."
        return "not unique: " + "; ".join(parts) + "; and " + signs + "."


def degeneracy(lam: np.ndarray, mu: np.ndarray) -> Degeneracy:
    """Tie groups of the normalised eigenvalues `lam` (ascending) and `mu` (descending)."""
    n = lam.size
    atol = TIE_ULPS * n * np.finfo(float).eps * n
    return Degeneracy(tuple(tie_groups(lam, atol)), tuple(tie_groups(mu, atol)),
                      int(np.sum(mu > atol)), n)


def _procrustes(W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """max over O(k) of trace(O W), batched over leading axes: (O, cost of the cheapest det flip,
    O with its weakest singular direction reversed)."""
    try:
        X, sigma, Yt = np.linalg.svd(W)
    except np.linalg.LinAlgError:  # LAPACK's gesdd occasionally fails to converge; gesvd does not
        X, sigma, Yt = map(np.array, zip(*(scipy.linalg.svd(w, lapack_driver="gesvd")
                                            for w in W.reshape(-1, *W.shape[-2:]))))
        X, sigma, Yt = X.reshape(W.shape), sigma.reshape(W.shape[:-1]), Yt.reshape(W.shape)
    Y = np.swapaxes(Yt, -1, -2)
    O = Y @ np.swapaxes(X, -1, -2)
    flipped = O - 2 * Y[..., :, -1:] * X[..., :, -1][..., None, :]
    return O, 2 * sigma[..., -1], flipped


def _components(n: int, groups_a, groups_b) -> np.ndarray:
    """Labels 0..m-1 of the connected components of indices linked by membership of one group."""
    rows = np.concatenate([np.arange(n)] + [g[:-1] for g in (*groups_a, *groups_b)])
    cols = np.concatenate([np.arange(n)] + [g[1:] for g in (*groups_a, *groups_b)])
    graph = coo_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _labels(groups, n: int) -> np.ndarray:
    labels = np.empty(n, dtype=int)
    for i, g in enumerate(groups):
        labels[g] = i
    return labels


def _distinct_per_component(component: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Number of distinct `labels` inside each component."""
    pairs = np.unique(component * labels.size + labels)
    return np.bincount(pairs // labels.size, minlength=component.max() + 1)


def _mixed_component(W: np.ndarray, lam_groups, mu_groups):
    """Alternating Procrustes for max trace(O_L O_C W) over block-orthogonal O_L, O_C from O_C = I.

    Returns (B = O_L O_C, flips) with flips listing (cost, B with one block's det flipped)."""
    O_c = np.eye(W.shape[0])
    value = -np.inf
    for _ in range(MAX_SWEEPS):
        O_l = _block_procrustes(O_c @ W, lam_groups)[0]
        O_c, c_flips = _block_procrustes(W @ O_l, mu_groups)
        new = float(np.sum(O_l.T * (O_c @ W)))
        if new <= value + SWEEP_RTOL * max(1.0, abs(new)):
            break
        value = new
    O_l, l_flips = _block_procrustes(O_c @ W, lam_groups)
    flips = [(cost, alternative @ O_c) for cost, alternative in l_flips]
    flips += [(cost, O_l @ alternative) for cost, alternative in c_flips]
    return O_l @ O_c, flips


def _block_procrustes(Z: np.ndarray, groups) -> tuple[np.ndarray, list]:
    """Block-diagonal O maximising trace(O Z) (blocks: `groups`; identity elsewhere), and for each
    block size the cheapest (cost, O with that block's weakest direction reversed)."""
    O = np.eye(Z.shape[0])
    flips = []
    sizes = np.array([g.size for g in groups])
    for size in np.unique(sizes):
        index = np.array([g for g in groups if g.size == size])
        rows, cols = index[:, :, None], index[:, None, :]
        blocks, cost, flipped = _procrustes(Z[rows, cols])
        O[rows, cols] = blocks
        flips.append((int(np.argmin(cost)), index, cost, flipped))
    options = []
    for best, index, cost, flipped in flips:
        alternative = O.copy()
        alternative[np.ix_(index[best], index[best])] = flipped[best]
        options.append((float(cost[best]), alternative))
    return O, options


def closest_optimum(T: np.ndarray, U: np.ndarray, info: Degeneracy,
                    reference: np.ndarray | None = None) -> np.ndarray:
    """The optimal P = T B U^T with det +1 closest to `reference` (default identity); see module doc.

    `T`: eigenvectors of L (columns, ascending eigenvalues); `U`: eigenvectors of C (columns,
    descending eigenvalues); `info`: their tie groups.
    """
    n = T.shape[0]
    W = U.T @ T if reference is None else U.T @ reference.T @ T
    B = np.zeros((n, n))
    flips = []  # (cost, component indices, replacement block of B)
    lam_of = _labels(info.operator_groups, n)
    mu_of = _labels(info.gram_groups, n)
    component = _components(n, info.operator_groups, info.gram_groups)
    simple = ((_distinct_per_component(component, lam_of) == 1)
              | (_distinct_per_component(component, mu_of) == 1))
    order = np.argsort(component, kind="stable")
    sizes = np.bincount(component)
    members = np.split(order, np.cumsum(sizes)[:-1])
    for size in np.unique(sizes[simple]):  # one batched SVD per block size
        index = np.array([members[c] for c in np.flatnonzero(simple & (sizes == size))])
        rows, cols = index[:, :, None], index[:, None, :]
        O, cost, flipped = _procrustes(W[rows, cols])
        B[rows, cols] = O
        best = int(np.argmin(cost))
        flips.append((float(cost[best]), index[best], flipped[best]))
    for c in np.flatnonzero(~simple):
        comp = members[c]
        mu_groups = [np.flatnonzero(mu_of[comp] == v) for v in np.unique(mu_of[comp])]
        # a tie group of L inside one group of C is absorbed by O_C: only straddling groups move
        lam_groups = [np.flatnonzero(lam_of[comp] == v) for v in np.unique(lam_of[comp])]
        lam_groups = [g for g in lam_groups if np.unique(mu_of[comp][g]).size > 1]
        B[np.ix_(comp, comp)], options = _mixed_component(W[np.ix_(comp, comp)], lam_groups, mu_groups)
        flips += [(cost, comp, alternative) for cost, alternative in options]
    P = T @ B @ U.T
    if np.linalg.det(P) < 0:
        _, comp, replacement = min(flips, key=lambda item: item[0])
        B[np.ix_(comp, comp)] = replacement
        P = T @ B @ U.T
    return P


def rotational_procrustes(W: np.ndarray) -> tuple[np.ndarray, float]:
    """argmax over SO(n) of trace(P W) and the maximum (sum of singular values, less twice the
    smallest one when the unconstrained optimum has det -1)."""
    X, sigma, Yt = np.linalg.svd(W)
    sign = np.sign(np.linalg.det(Yt.T @ X.T)) or 1.0
    d = np.ones_like(sigma)
    d[-1] = sign
    return (Yt.T * d) @ X.T, float(np.sum(sigma * d))
