"""Spectral filtering: does the trained net act on a trace like a Tikhonov-regularised inverse of the
DEER kernel?

With the kernel's singular value decomposition K = U_K diag(sigma) V_K^T, any linear inverse R maps
u_i to V_K diag(phi_i / sigma_i): its filter factors are phi_i = sigma_i (V_K^T R U_K)_ii. A Tikhonov
inverse has phi_i = sigma_i^2 / (sigma_i^2 + alpha^2). The net is not linear; its Jacobian at an input
is the linear map it applies to small changes of that input, and the net's output scale depends on the
trace's boxing, so each Jacobian's filter factors are fitted with a free scale:
phi_i ~ scale * sigma_i^2 / (sigma_i^2 + alpha^2).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import curve_fit

from ..._validate import as_array

if TYPE_CHECKING:
    import torch


def jacobians(model: torch.nn.Module, traces: ArrayLike) -> np.ndarray:
    """Jacobians d output / d input of a torch model at each trace: (n_traces, n_out, n_in), float64.

    Works on a float64 copy of `model` in evaluation mode; the model itself is left as it was.
    """
    import copy

    import torch

    traces = as_array(traces, "traces", ndim=2)
    widths = [m.in_features for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if not widths:
        raise ValueError("model: has no torch.nn.Linear layer")
    if traces.shape[1] != widths[0]:
        raise ValueError(f"traces: expected {widths[0]} points per trace (the model's input width), "
                         f"got {traces.shape[1]}")
    model = copy.deepcopy(model).cpu().double().eval()
    with torch.enable_grad():
        return np.stack([torch.autograd.functional.jacobian(model, torch.from_numpy(x), vectorize=True).numpy()
                         for x in traces])


def filter_factors(jacobian: ArrayLike, kernel: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(sigma, phi): singular values of `kernel` (n_time x n_dist) and the filter factors of the linear
    map `jacobian` (n_dist x n_time), or of each of a stack of them (n, n_dist, n_time): phi (n, n_dist)."""
    J = as_array(jacobian, "jacobian")
    K = as_array(kernel, "kernel", ndim=2)
    if J.ndim not in (2, 3) or J.shape[-2:] != K.T.shape:
        raise ValueError(f"jacobian: expected shape {K.T.shape} (the kernel transposed), or a stack of them, "
                         f"got {J.shape}")
    U, sigma, Vt = np.linalg.svd(K, full_matrices=False)
    return sigma, sigma * np.sum((Vt @ J) * U.T, axis=-1)


def tikhonov_factors(sigma: ArrayLike, alpha: float) -> np.ndarray:
    """Tikhonov filter factors sigma^2 / (sigma^2 + alpha^2)."""
    sigma = np.asarray(sigma, dtype=float)
    return sigma**2 / (sigma**2 + alpha**2)


@dataclasses.dataclass
class TikhonovFit:
    """Best fit phi ~ scale * sigma^2 / (sigma^2 + alpha^2); `r_squared` of the fit."""

    alpha: float
    scale: float
    r_squared: float


def fit_tikhonov(sigma: ArrayLike, phi: ArrayLike) -> TikhonovFit:
    """Least-squares fit of filter factors `phi` at singular values `sigma` by a scaled Tikhonov filter."""
    sigma = as_array(sigma, "sigma", ndim=1)
    phi = as_array(phi, "phi", ndim=1)
    if sigma.shape != phi.shape or sigma.size < 3:
        raise ValueError(f"phi: need as many values as sigma (at least 3), got {phi.size} and {sigma.size}")
    if np.any(sigma < 0):
        raise ValueError("sigma: singular values must be >= 0")

    def model(s, scale, log_alpha):
        return scale * tikhonov_factors(s, np.exp(log_alpha))

    top = float(np.max(np.abs(phi))) or 1.0
    starts = np.log(np.quantile(sigma[sigma > 0], [0.2, 0.5, 0.8]))
    best = None
    for start in starts:
        try:
            (scale, log_alpha), _ = curve_fit(model, sigma, phi, p0=[top, start], maxfev=5000)
        except RuntimeError:
            continue
        residual = float(np.sum((phi - model(sigma, scale, log_alpha)) ** 2))
        if best is None or residual < best[0]:
            best = (residual, scale, log_alpha)
    if best is None:
        return TikhonovFit(float("nan"), float("nan"), float("nan"))
    residual, scale, log_alpha = best
    total = float(np.sum((phi - phi.mean()) ** 2))
    return TikhonovFit(float(np.exp(log_alpha)), float(scale), 1 - residual / total if total > 0 else float("nan"))
