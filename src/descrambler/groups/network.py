"""The paper's second-layer signals, from weight matrices and inputs (numpy only; wiretaps and the
invariance check of a torch network are `descrambler.nets` and `descrambler.layers`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._validate import as_array


def _spectral_norm_squared(gram: np.ndarray) -> float:
    return float(np.linalg.eigvalsh(gram)[-1])


def second_layer_signals(W1: ArrayLike, b1: ArrayLike, W2: ArrayLike, X: ArrayLike, *,
                         include_bias: bool = True) -> np.ndarray:
    """The paper's second-layer signals S2 = [m W2^T, tanh(W1 X + b1)].

    m = norm(tanh(W1 X)) / norm(W2^T) (spectral norms, without the bias, as in the reference
    interpretation.m), so the weight block and the signal block weigh alike. The reference script
    also leaves the bias out of the signal block (tansig(W*inputs)); `include_bias=False` does the
    same. Descramble S2 and read W2 P2^T.

    Parameters
    ----------
    W1 : array_like
        First-layer weights, (h, n_in).
    b1 : array_like
        First-layer bias, (h,).
    W2 : array_like
        Second-layer weights, (n_out, h).
    X : array_like
        Inputs in columns, (n_in, N).
    include_bias : bool, default True
        Include `b1` in the signal block.

    Returns
    -------
    numpy.ndarray
        S2, (h, n_out + N).

    Raises
    ------
    ValueError
        If an array is not finite, not 2-D (`b1`: 1-D), or its shape does not match `W1` (the message
        starts with the argument's name).

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.groups import second_layer_signals
    >>> rng = np.random.default_rng(0)
    >>> W1, b1, W2 = rng.standard_normal((5, 8)), rng.standard_normal(5), rng.standard_normal((8, 5))
    >>> second_layer_signals(W1, b1, W2, rng.random((8, 20))).shape
    (5, 28)
    """
    W1 = as_array(W1, "W1", ndim=2)
    b1 = as_array(b1, "b1", ndim=1)
    W2 = as_array(W2, "W2", ndim=2)
    X = as_array(X, "X", ndim=2)
    h, n_in = W1.shape
    if b1.shape != (h,):
        raise ValueError(f"b1: expected shape ({h},) to match W1 {W1.shape}, got {b1.shape}")
    if W2.shape[1] != h:
        raise ValueError(f"W2: expected {h} columns to match W1 {W1.shape}, got shape {W2.shape}")
    if X.shape[0] != n_in:
        raise ValueError(f"X: expected {n_in} rows (inputs in columns) to match W1 {W1.shape}, "
                         f"got shape {X.shape}")
    pre = W1 @ X
    unbiased = np.tanh(pre)
    post = np.tanh(pre + b1[:, None]) if include_bias else unbiased
    m = np.sqrt(_spectral_norm_squared(unbiased @ unbiased.T) / _spectral_norm_squared(W2.T @ W2))
    return np.hstack([m * W2.T, post])


def second_layer_gram(W2: ArrayLike, gram_post: ArrayLike, gram_post_without_bias: ArrayLike) -> np.ndarray:
    """The Gram matrix S2 S2^T = m^2 W2^T W2 + G_post of the second-layer signals, from streamed Gram matrices.

    Pass the result to ``descramble(..., gram=True)``.

    Parameters
    ----------
    W2 : array_like
        Second-layer weights, (n_out, h).
    gram_post : array_like
        tanh(W1 X + b1) tanh(W1 X + b1)^T, (h, h) (or without the bias, as the reference).
    gram_post_without_bias : array_like
        tanh(W1 X) tanh(W1 X)^T, (h, h), which sets m^2 = norm(.) / norm(W2^T W2) (spectral norms).

    Returns
    -------
    numpy.ndarray
        S2 S2^T, (h, h).

    Raises
    ------
    ValueError
        If an array is not finite and 2-D, or a Gram matrix is not (h, h) (the message starts with
        the argument's name).

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.groups import second_layer_gram, second_layer_signals
    >>> rng = np.random.default_rng(0)
    >>> W1, b1, W2, X = (rng.standard_normal((5, 8)), rng.standard_normal(5),
    ...                  rng.standard_normal((8, 5)), rng.random((8, 20)))
    >>> post, plain = np.tanh(W1 @ X + b1[:, None]), np.tanh(W1 @ X)
    >>> S2 = second_layer_signals(W1, b1, W2, X)
    >>> np.allclose(second_layer_gram(W2, post @ post.T, plain @ plain.T), S2 @ S2.T)
    True
    """
    W2 = as_array(W2, "W2", ndim=2)
    h = W2.shape[1]
    grams = []
    for value, name in ((gram_post, "gram_post"), (gram_post_without_bias, "gram_post_without_bias")):
        gram = as_array(value, name, ndim=2)
        if gram.shape != (h, h):
            raise ValueError(f"{name}: expected shape ({h}, {h}) to match W2 {W2.shape}, got {gram.shape}")
        grams.append(gram)
    weights = W2.T @ W2
    m2 = _spectral_norm_squared(grams[1]) / _spectral_norm_squared(weights)
    return m2 * weights + grams[0]
