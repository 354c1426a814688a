"""Wiretaps: the inner signals of a layer, neurons in rows and examples in columns, and their Gram matrix.

Hidden layer k (1-based) is the output of the k-th `nn.Linear`. `where="pre"` taps that Linear's
output, with its bias only if `bias=True`; `where="post"` applies to that signal the modules that
follow the Linear up to the next Linear (its activation, and a batch normalisation or the output
mean-normalisation where the net has one). Earlier layers always run as trained (with their biases),
in evaluation mode.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from .._validate import choice, positive_int
from .architectures import linear_layers
from .predict import check_inputs

WHERE = ("pre", "post")


def _check(model: nn.Module, layer, where, bias) -> tuple[int, int]:
    """Index of the tapped Linear in `model` and the index where its signal stops."""
    indices = linear_layers(model)
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise ValueError(f"layer: expected an integer from 1 to {len(indices)}, got {layer!r}")
    if not 1 <= layer <= len(indices):
        raise ValueError(f"layer: the model has {len(indices)} Linear layer(s), so layer must be "
                         f"1..{len(indices)}, got {layer}")
    choice(where, "where", WHERE)
    if not isinstance(bias, bool):
        raise ValueError(f"bias: expected True or False, got {bias!r}")
    stop = indices[layer] if layer < len(indices) else len(model)
    return indices[layer - 1], stop


def _signals(model: nn.Module, x: np.ndarray, start: int, stop: int, where: str, bias: bool) -> torch.Tensor:
    """Signals (N, n_neurons) of the Linear at `start`, float32, on the model's device."""
    parameter = next(model.parameters())
    h = torch.from_numpy(x).to(parameter.device)
    for module in model[:start]:
        h = module(h)
    linear = model[start]
    h = nn.functional.linear(h, linear.weight, linear.bias if bias else None)
    if where == "post":
        for module in model[start + 1:stop]:
            h = module(h)
    return h


@contextlib.contextmanager
def _tapping(model: nn.Module) -> Iterator[None]:
    """Evaluation mode without gradients, restoring the model's mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def wiretap(model: nn.Module, x: ArrayLike, layer: int, where: str = "pre", bias: bool = False) -> np.ndarray:
    """Inner signals S of hidden layer `layer` for inputs `x`: neurons in rows, examples in columns.

    Parameters
    ----------
    model : torch.nn.Module
        A Sequential network built by `two_layer`, `deep` or `denoiser`.
    x : array_like
        Inputs (boxed traces), (N, n_in).
    layer : int
        Hidden layer k, from 1: the output of the k-th `nn.Linear`.
    where : {"pre", "post"}, default "pre"
        "pre": W h (+ b if `bias`), h being the layer's input; "post": the activation (and
        normalisation) applied to that.
    bias : bool, default False
        Include the Linear layer's bias in the signal.

    Returns
    -------
    numpy.ndarray
        S, float64, (n_neurons, N).

    Raises
    ------
    ValueError
        If `layer` is not 1 .. the number of Linear layers, `where` is unknown, `bias` is not a bool,
        or `x` does not fit the model (the message starts with the argument's name).

    Examples
    --------
    >>> from descrambler.deer import make_library
    >>> from descrambler.nets import two_layer, wiretap
    >>> wiretap(two_layer(), make_library(4).traces, layer=1).shape
    (80, 4)
    """
    start, stop = _check(model, layer, where, bias)
    x = check_inputs(model, x, "x")
    with _tapping(model):
        return _signals(model, x, start, stop, where, bias).double().cpu().numpy().T


def _chunks(x, chunk_size: int) -> Iterable:
    if isinstance(x, (np.ndarray, torch.Tensor)):
        return (x[i:i + chunk_size] for i in range(0, max(len(x), 1), chunk_size))
    if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
        raise ValueError(f"x: expected an array (N, n_in) or an iterable of such arrays, got {type(x).__name__}")
    return x


def gram(model: nn.Module, x: ArrayLike, layer: int, where: str = "pre", bias: bool = False,
         chunk_size: int = 65536) -> np.ndarray:
    """The Gram matrix S S^T of a layer's inner signals, streamed: S is never held in memory.

    Products are accumulated in float64. Signals as in `wiretap`.

    Parameters
    ----------
    model : torch.nn.Module
        A Sequential network built by `two_layer`, `deep` or `denoiser`.
    x : array_like or iterable of array_like
        Inputs (N, n_in), processed `chunk_size` rows at a time, or any iterable of such arrays, e.g.
        ``(lib.traces for lib in iter_library(10**6))``.
    layer : int
        Hidden layer k, from 1: the output of the k-th `nn.Linear`.
    where : {"pre", "post"}, default "pre"
        Tap before or after the activation (see `wiretap`).
    bias : bool, default False
        Include the Linear layer's bias in the signal.
    chunk_size : int, default 65536
        Rows per forward pass when `x` is an array.

    Returns
    -------
    numpy.ndarray
        S S^T, float64, (n_neurons, n_neurons).

    Raises
    ------
    ValueError
        If `x` holds no traces or a chunk does not fit the model, `chunk_size` is not a positive
        integer, or `layer`, `where` or `bias` is invalid as in `wiretap` (the message starts with
        the argument's name).

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.deer import make_library
    >>> from descrambler.nets import gram, two_layer, wiretap
    >>> model, x = two_layer(), make_library(4).traces
    >>> S = wiretap(model, x, layer=1)
    >>> np.allclose(gram(model, x, layer=1), S @ S.T)
    True
    """
    start, stop = _check(model, layer, where, bias)
    chunk_size = positive_int(chunk_size, "chunk_size")
    streamed = not isinstance(x, (np.ndarray, torch.Tensor))
    total = None
    with _tapping(model):
        for number, chunk in enumerate(_chunks(x, chunk_size)):
            if isinstance(chunk, torch.Tensor):
                chunk = chunk.cpu().numpy()
            chunk = check_inputs(model, chunk, f"x (chunk {number})" if streamed else "x")
            s = _signals(model, chunk, start, stop, where, bias).double()
            total = s.T @ s if total is None else total.addmm_(s.T, s)
    if total is None:
        raise ValueError("x: holds no traces")
    return total.cpu().numpy()
