"""Running a trained net: boxed traces in, unit-sum distance distributions out."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from .._validate import as_array, positive_int
from .architectures import linear_layers


def check_inputs(model: nn.Module, x: ArrayLike, name: str = "x") -> np.ndarray:
    """`x` as a finite float32 array (N, n_in) matching the first Linear layer of `model`."""
    first = model[linear_layers(model)[0]]
    x = as_array(x, name, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != first.in_features:
        raise ValueError(f"{name}: expected shape (N, {first.in_features}), got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name}: holds no traces")
    return x


def outputs(model: nn.Module, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """Raw network outputs for checked inputs `x`, in evaluation mode and without gradients (float32)."""
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            parts = [model(torch.from_numpy(x[i:i + batch_size]).to(device)).cpu().numpy()
                     for i in range(0, x.shape[0], batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(parts)


def predict(model: nn.Module, traces: ArrayLike, batch_size: int = 8192) -> np.ndarray:
    """Distance distributions from a trained net for boxed traces.

    Negative outputs (a linear output layer rings below zero) are set to zero before normalising: a
    distance distribution is non-negative. A row with no positive output at all becomes the uniform
    distribution (no information), which the relative-error metric scores as a failure.

    Parameters
    ----------
    model : torch.nn.Module
        A network built by `two_layer`, `deep` or `denoiser` (any Sequential with a first Linear).
    traces : array_like
        Boxed traces (values in [0, 1]), (N, n_in) or one trace (n_in,).
    batch_size : int, default 8192
        Traces per forward pass.

    Returns
    -------
    numpy.ndarray
        Distributions, float64, each row summing to 1: (N, n_out), or (n_out,) for one trace.

    Raises
    ------
    ValueError
        If `traces` is not finite, empty or of the wrong width, `batch_size` is not a positive
        integer, or the network returns NaN or infinity ("model: ..."; the message says whether its
        weights are finite) (the message starts with the argument's name).

    Examples
    --------
    >>> import numpy as np
    >>> from descrambler.nets import predict, two_layer
    >>> p = predict(two_layer(), np.linspace(1, 0, 256))
    >>> p.shape, round(float(p.sum()), 6)
    ((256,), 1.0)
    """
    single = np.ndim(traces) == 1
    x = check_inputs(model, np.atleast_2d(traces) if single else traces, "traces")
    raw = outputs(model, x, positive_int(batch_size, "batch_size")).astype(np.float64)
    bad = ~np.isfinite(raw).all(axis=1)
    if bad.any():
        weights = all(torch.isfinite(p).all() for p in model.parameters())
        raise ValueError(f"model: returned NaN or infinite outputs for {int(bad.sum())} of {len(raw)} traces "
                         + ("(its weights are finite: an overflow inside the network)" if weights else
                            "(its weights hold NaN or infinity: the training that made it diverged)"))
    p = np.clip(raw, 0, None)
    total = p.sum(axis=1, keepdims=True)
    empty = total[:, 0] <= 0
    p[empty], total[empty] = 1.0, p.shape[1]
    p /= total
    return p[0] if single else p
