"""The paper's smoothness objective: derivative matrices, normalisations and eta(P).

eta(P) = trace(L P C P^T) = ||D P S||_F^2 (up to the normalisations) with, as in the reference
descramble.m, C = n S S^T / ||S S^T||_2 and L = n D^T D / ||D^T D||_2 (spectral norms). D acts on
the neuron axis (rows of S). Everything depends on S only through its Gram matrix S S^T, so every
function here accepts either the signals S (n x N) or, with `gram=True`, the n x n Gram matrix.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import ArrayLike

from .._validate import as_array, choice

DERIVATIVES = ("fourier", "finite")
#: Relative tolerance of the symmetry and positivity checks of a Gram matrix.
GRAM_RTOL = 1e-8
#: Largest |P^T P - I| accepted as orthogonal.
ORTHOGONALITY_TOL = 1e-6


def fourier_second_derivative(n: int) -> np.ndarray:
    """Periodic Fourier spectral second-derivative matrix on n points of [0, 2 pi) (fourdif, order 2).

    Symmetric circulant; its eigenvalues are -k^2 for the Fourier modes k = 0 .. ceil(n/2) - 1
    (cos/sin pairs) and -(n/2)^2 for the Nyquist mode of even n.
    """
    h = 2 * np.pi / n
    k = np.arange(1, n)
    if n % 2 == 0:
        column = np.concatenate([[-np.pi**2 / (3 * h**2) - 1 / 6], -0.5 * (-1.0) ** k / np.sin(h * k / 2) ** 2])
    else:
        column = np.concatenate([[-np.pi**2 / (3 * h**2) + 1 / 12],
                                 -0.5 * (-1.0) ** k / (np.sin(h * k / 2) * np.tan(h * k / 2))])
    index = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    return column[index]


def finite_second_derivative(n: int) -> np.ndarray:
    """Non-periodic second-difference matrix, shape (n - 2, n): rows [1, -2, 1] (unit spacing)."""
    matrix = np.zeros((n - 2, n))
    rows = np.arange(n - 2)
    matrix[rows, rows] = 1.0
    matrix[rows, rows + 1] = -2.0
    matrix[rows, rows + 2] = 1.0
    return matrix


def derivative_matrix(n: int, derivative: str = "fourier") -> np.ndarray:
    """The second-derivative matrix D of `derivative` ("fourier" or "finite") on n points."""
    choice(derivative, "derivative", DERIVATIVES)
    check_size(n, derivative)
    return fourier_second_derivative(n) if derivative == "fourier" else finite_second_derivative(n)


def check_size(n: int, derivative: str) -> None:
    if n < 2 or (derivative == "finite" and n < 3):
        need = 2 if derivative == "fourier" else 3
        raise ValueError(f"S: the {derivative} derivative needs at least {need} signals (rows), got {n}")


@functools.lru_cache(maxsize=16)
def _operator(n: int, derivative: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = derivative_matrix(n, derivative)
    dtd = d.T @ d
    if derivative == "fourier":
        values, vectors = _fourier_modes(n)
    else:
        values, vectors = np.linalg.eigh(dtd)
    scale = n / values[-1]
    operator, values = n * dtd / values[-1], values * scale
    for array in (operator, values, vectors):
        array.flags.writeable = False
    return operator, values, vectors


def _fourier_modes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of the periodic D^T D in closed form, ascending: constant, (cos k, sin k) pairs, Nyquist."""
    x = 2 * np.pi * np.arange(n) / n
    columns, values = [np.full(n, 1 / np.sqrt(n))], [0.0]
    for k in range(1, (n + 1) // 2):
        columns += [np.sqrt(2 / n) * np.cos(k * x), np.sqrt(2 / n) * np.sin(k * x)]
        values += [float(k) ** 4] * 2
    if n % 2 == 0:
        columns.append((-1.0) ** np.arange(n) / np.sqrt(n))
        values.append((n / 2) ** 4)
    return np.array(values), np.column_stack(columns)


def smoothness_operator(n: int, derivative: str = "fourier") -> np.ndarray:
    """L = n D^T D / ||D^T D||_2, the normalised operator of the objective (read-only, cached)."""
    choice(derivative, "derivative", DERIVATIVES)
    check_size(n, derivative)
    return _operator(n, derivative)[0]


def smoothness_eigen(n: int, derivative: str = "fourier") -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and orthonormal eigenvectors (columns) of `smoothness_operator`.

    For "fourier" the eigenvectors are the sampled Fourier modes: constant, then sqrt(2/n) cos(k x)
    and sqrt(2/n) sin(k x) for k = 1, 2, ... (equal eigenvalues), then (-1)^j / sqrt(n) for even n.
    """
    choice(derivative, "derivative", DERIVATIVES)
    check_size(n, derivative)
    return _operator(n, derivative)[1:]


def power_of_two_scaled(array: np.ndarray) -> np.ndarray:
    """`array` times the power of two that brings its largest |entry| into [0.5, 1): exact (no
    rounding), so the objective, which ignores the scale, is unchanged bit for bit, while S S^T of
    signals of any finite scale (1e-300, 1e200) neither underflows to zero nor overflows."""
    largest = float(np.max(np.abs(array))) if array.size else 0.0
    if largest == 0:
        return array
    return np.ldexp(array, -int(np.frexp(largest)[1]))


def signal_gram(S: ArrayLike, *, gram: bool = False, name: str = "S") -> np.ndarray:
    """The Gram matrix S S^T (float64) up to a power-of-two factor, checked: finite, 2-D, at least 2 rows.

    S (or the Gram matrix) is first scaled by `power_of_two_scaled`, since every use normalises the
    Gram matrix anyway. With `gram=True`, `S` already is the Gram matrix: it must be square and
    symmetric (to a relative 1e-8); it is returned symmetrised (`normalise_gram` checks that it is
    positive semi-definite).
    """
    array = power_of_two_scaled(as_array(S, name, ndim=2))
    if array.shape[0] < 2:
        raise ValueError(f"{name}: need at least 2 signals (rows), got shape {array.shape}")
    if not gram:
        return array @ array.T
    if array.shape[0] != array.shape[1]:
        raise ValueError(f"{name}: a Gram matrix must be square, got shape {array.shape}")
    scale = np.max(np.abs(array))
    if np.max(np.abs(array - array.T)) > GRAM_RTOL * scale:
        raise ValueError(f"{name}: a Gram matrix must be symmetric")
    return (array + array.T) / 2


def normalise_gram(C: np.ndarray, name: str = "S") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """C -> n C / ||C||_2, with its eigenvalues (descending, clipped at 0) and eigenvectors (columns).

    Raises ValueError when C is zero or has an eigenvalue below -1e-8 ||C||_2 (not a Gram matrix).
    """
    n = C.shape[0]
    values, vectors = np.linalg.eigh(C)
    top = max(values[-1], -values[0])
    if not top > 0:
        raise ValueError(f"{name}: the signals are all zero (S S^T = 0)")
    if values[0] < -GRAM_RTOL * top:
        raise ValueError(f"{name}: a Gram matrix must be positive semi-definite "
                         f"(eigenvalue {values[0]:.3g})")
    scale = n / values[-1]
    return C * scale, np.clip(values[::-1] * scale, 0.0, None), vectors[:, ::-1]


def check_orthogonal(P: ArrayLike, n: int, name: str = "P") -> np.ndarray:
    """`P` as a float64 (n, n) array, requiring max |P^T P - I| <= 1e-6."""
    P = as_array(P, name, ndim=2)
    if P.shape != (n, n):
        raise ValueError(f"{name}: expected a square ({n}, {n}) matrix, got shape {P.shape}")
    error = np.max(np.abs(P.T @ P - np.eye(n)))
    if error > ORTHOGONALITY_TOL:
        raise ValueError(f"{name}: not orthogonal (max |P^T P - I| = {error:.3g})")
    return P


def trace_objective(P: np.ndarray, L: np.ndarray, C: np.ndarray) -> float:
    """trace(L P C P^T) for normalised L and C."""
    return float(np.sum((L @ P) * (P @ C)))


def smoothness_objective(P: ArrayLike, S: ArrayLike, *, gram: bool = False, derivative: str = "fourier") -> float:
    """The paper's normalised Tikhonov smoothness eta(P) = trace(L P C P^T) of the signals P S.

    C = n S S^T / norm(S S^T) and L = n D^T D / norm(D^T D) (spectral norms), D the second derivative
    acting on the neuron axis (rows of S), as in the reference descramble.m. Dimensionless; smaller
    is smoother; at least the bound of ``descramble(..., method="exact")``.

    Parameters
    ----------
    P : array_like
        Orthogonal (n, n) matrix.
    S : array_like
        Signals, neurons in rows (n, N), or with `gram=True` the Gram matrix S S^T (n, n).
    gram : bool, default False
        `S` is the Gram matrix S S^T.
    derivative : {"fourier", "finite"}, default "fourier"
        Periodic spectral second derivative (the paper's) or non-periodic second differences.

    Returns
    -------
    float
        eta(P).

    Raises
    ------
    ValueError
        If `P` is not orthogonal of the right size, `S` is not a valid signal or Gram matrix, or
        `derivative` is unknown (the message starts with the argument's name).

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.groups import descramble, random_rotation, smoothness_objective
    >>> S = np.exp(-(np.arange(8)[:, None] - np.linspace(0, 7, 50)) ** 2 / 4)  # smooth across neurons
    >>> Q = random_rotation(8, np.random.default_rng(1))
    >>> round(smoothness_objective(np.eye(8), S), 4), round(smoothness_objective(np.eye(8), Q @ S), 4)
    (1.0121, 23.9305)
    """
    C = signal_gram(S, gram=gram)
    n = C.shape[0]
    choice(derivative, "derivative", DERIVATIVES)
    check_size(n, derivative)
    P = check_orthogonal(P, n)
    C, _, _ = normalise_gram(C)
    return trace_objective(P, smoothness_operator(n, derivative), C)
