"""Descrambling inside a network: the second-layer signals of the paper and the invariance check."""

from __future__ import annotations

from typing import TYPE_CHECKING

import copy
import dataclasses

import numpy as np
from numpy.typing import ArrayLike

from .._validate import as_array, positive_int
from ..nets.architectures import linear_layers
from .objective import check_orthogonal

if TYPE_CHECKING:
    import torch


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


@dataclasses.dataclass(frozen=True)
class InvarianceReport:
    """Change of a network's output when P^T P is inserted around hidden layer `layer`.

    `max_abs`: max |output change|; `max_rel`: that over max |output| (float64 evaluation).
    `inputs`: number of inputs evaluated.
    """

    layer: int
    max_abs: float
    max_rel: float
    inputs: int


def default_inputs(n_in: int, count: int = 64, seed: int = 0) -> np.ndarray:
    """`count` test inputs (rows): library traces when `n_in` is 256, else uniform in [0, 1]."""
    if n_in == 256:
        from ..deer import make_library

        return make_library(count, seed=seed).traces
    return np.random.default_rng(seed).uniform(0.0, 1.0, (count, n_in)).astype(np.float32)


def rotate_hidden_layer(model: torch.nn.Module, P: ArrayLike, layer: int):
    """A float64 copy of `model` with hidden layer `layer` (1-based, the k-th Linear's output)
    rotated by P: that Linear's weight and bias become P W and P b, the next Linear's weight W P^T.
    Elementwise activations in between commute only with signed permutations."""
    import torch

    positions = linear_layers(model)
    layer = positive_int(layer, "layer")
    if layer >= len(positions):
        raise ValueError(f"layer: hidden layer {layer} needs a following Linear; the model has "
                         f"{len(positions)} Linear layers, so layer must be 1..{len(positions) - 1}")
    first, second = model[positions[layer - 1]], model[positions[layer]]
    P = check_orthogonal(P, first.out_features)
    rotated = copy.deepcopy(model).double()
    first, second = rotated[positions[layer - 1]], rotated[positions[layer]]
    Pt = torch.as_tensor(P, dtype=torch.float64)
    with torch.no_grad():
        first.weight.copy_(Pt @ first.weight)
        if first.bias is not None:
            first.bias.copy_(Pt @ first.bias)
        second.weight.copy_(second.weight @ Pt.T)
    return rotated


def check_invariance(model: torch.nn.Module, P: ArrayLike, layer: int, inputs: ArrayLike=None) -> InvarianceReport:
    """Insert P^T P around hidden layer `layer` and measure the change of the network's output.

    `model`: torch.nn.Sequential of Linear layers and elementwise activations; `layer`: 1-based
    hidden layer (the output of the `layer`-th Linear; needs a Linear after it); `P`: orthogonal,
    of that layer's width; `inputs`: (batch, n_in) array (default: 64 library traces for 256
    inputs, else uniform random). Evaluated in float64. Zero to rounding for signed permutations
    of a tanh layer (tanh is odd), nonzero for general rotations.
    """
    import torch

    rotated = rotate_hidden_layer(model, P, layer)
    n_in = model[linear_layers(model)[0]].in_features
    x = default_inputs(n_in) if inputs is None else as_array(inputs, "inputs", ndim=2)
    if x.shape[1] != n_in:
        raise ValueError(f"inputs: expected shape (batch, {n_in}), got {x.shape}")
    original = copy.deepcopy(model).double().eval()
    rotated.eval()
    with torch.no_grad():
        xt = torch.as_tensor(np.asarray(x, dtype=np.float64))
        before, after = original(xt), rotated(xt)
    change = float((after - before).abs().max())
    scale = float(before.abs().max())
    return InvarianceReport(layer, change, change / scale if scale > 0 else float("inf"), x.shape[0])
