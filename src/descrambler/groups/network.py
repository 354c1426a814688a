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
    """The paper's second-layer signals S2 = [m W2^T, tanh(W1 X + b1)], shape (h, n_out + N).

    `W1` (h, n_in), `b1` (h,), `W2` (n_out, h); `X` (n_in, N): inputs in columns.
    m = ||tanh(W1 X)||_2 / ||W2^T||_2 (spectral norms, without the bias, as in the reference
    interpretation.m), so the weight block and the signal block weigh alike. The reference script
    also leaves the bias out of the signal block (tansig(W*inputs)); `include_bias=False` does
    the same. Descramble S2 and read W2 P2^T.
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
    """S2 S2^T = m^2 W2^T W2 + G_post from streamed Gram matrices, shape (h, h).

    `gram_post`: tanh(W1 X + b1) tanh(W1 X + b1)^T (or without the bias, as the reference);
    `gram_post_without_bias`: tanh(W1 X) tanh(W1 X)^T, which sets m^2 = ||.||_2 / ||W2^T W2||_2.
    Pass the result to `descramble(..., gram=True)`.
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
