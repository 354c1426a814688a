"""Reading a trained two-layer DEERNet: wiretap, descramble both layers, take our own readings.

`layer_grams` streams one library through several networks at once and keeps only Gram matrices;
`read_network` descrambles a network's layers with the exact solver (the global optimum of the
paper's objective) and takes the readings of our own that chapters 4 and 5 show beside the paper's
(the paper's readings, which decide the findings table, are in `descrambler.study.findings.reproduction`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from ..._validate import positive_int
from ...deer.simulate import LibraryConfig, dipolar_kernel, iter_library
from ...groups import DescrambleResult, descramble, second_layer_gram
from ...progress import progress_bar
from .first_layer import Bandpass, FrequencyRidge, Multiplexing, Notch, bandpass, frequency_ridge, multiplexing, notch
from .regularisation import TikhonovFit, filter_factors, fit_tikhonov, jacobians
from .second_layer import (
    ChebyshevMap,
    GroupEmbedding,
    HarmonicVectors,
    chebyshev_map,
    group_embedding,
    harmonic_vectors,
)

#: Right singular vectors the reference names as sinusoids (1-based 9..13), 0-based.
REFERENCE_HARMONIC = range(8, 13)
#: Left singular vectors the reference fits by Chebyshev polynomials T0..T4.
REFERENCE_CHEBYSHEV = 5


@dataclasses.dataclass
class LayerGrams:
    """Gram matrices of a two-layer net's inner signals over a library (float64).

    `first`: S1 S1^T with S1 = W1 X (before the activation, no bias); `post`: of tanh(W1 X + b1);
    `post_without_bias`: of tanh(W1 X), which sets the paper's scale m of the second-layer signals;
    `post_sum`: the sum of tanh(W1 X + b1) over the traces (n_hidden,); `inputs`: X X^T of the traces
    themselves (n_in, n_in), the same for every network, from which W X X^T W^T gives the first-layer
    Gram matrix of any weight matrix W (a null control's).
    """

    first: np.ndarray
    post: np.ndarray
    post_without_bias: np.ndarray
    post_sum: np.ndarray
    inputs: np.ndarray
    n_traces: int

    @property
    def post_covariance(self) -> np.ndarray:
        """Covariance of tanh(W1 X + b1) over the traces (n_hidden, n_hidden)."""
        mean = self.post_sum / self.n_traces
        return self.post / self.n_traces - np.outer(mean, mean)


def layer_grams(models: Sequence[torch.nn.Module], n_traces: int, config: LibraryConfig | None = None,
                seed: int = 2021, progress: bool | None = None) -> list[LayerGrams]:
    """Stream `n_traces` library traces once through every model; return their `LayerGrams`.

    Each chunk of the library is generated once; each model computes W1 X once per chunk (float32, like
    the net) and accumulates every Gram matrix from it in float64.
    """
    n_traces = positive_int(n_traces, "n_traces")
    if not models:
        raise ValueError("models: need at least one network")
    for model in models:
        weights(model)  # a two-layer tanh net
    names = ("first", "post", "post_without_bias", "post_sum")
    sums = [dict.fromkeys(names, 0.0) for _ in models]
    layers = [[torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)) for w in weights(model)[:2]]
              for model in models]
    inputs = 0.0
    for library in progress_bar(iter_library(n_traces, config, seed), desc="wiretapping", enabled=progress):
        x = torch.from_numpy(library.traces)
        inputs = inputs + (x.double().T @ x.double()).numpy()
        for (W1, b1), total in zip(layers, sums):
            pre = x @ W1.T  # one product per model and chunk; float32 like the net, sums in float64
            signals = (("first", pre), ("post", torch.tanh(pre + b1)), ("post_without_bias", torch.tanh(pre)))
            for name, signal in signals:
                s = signal.double()
                total[name] = total[name] + (s.T @ s).numpy()
                if name == "post":
                    total["post_sum"] = total["post_sum"] + s.sum(dim=0).numpy()
    return [LayerGrams(**total, inputs=inputs, n_traces=n_traces) for total in sums]


def weights(model: torch.nn.Module) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W1, b1, W2) of a two-layer net as float64 arrays."""
    modules = list(model) if isinstance(model, torch.nn.Sequential) else []
    linear = [m for m in modules if isinstance(m, torch.nn.Linear)]
    if len(linear) != 2 or not any(isinstance(m, torch.nn.Tanh) for m in modules):
        raise ValueError("model: expected a two-layer net: Linear, Tanh, Linear (and an output activation)")
    first, second = linear
    return tuple(p.detach().cpu().double().numpy() for p in (first.weight, first.bias, second.weight))


@dataclasses.dataclass
class SpectralFiltering:
    """Filter factors of the net's Jacobians in the DEER kernel's singular bases, one Tikhonov fit each."""

    sigma: np.ndarray
    factors: np.ndarray
    fits: list[TikhonovFit]

    @property
    def median_r_squared(self) -> float:
        return float(np.median([f.r_squared for f in self.fits]))

    @property
    def median_alpha(self) -> float:
        """Median Tikhonov alpha, in the units of the kernel's singular values (unweighted kernel)."""
        return float(np.median([f.alpha for f in self.fits]))

    @property
    def relative_alpha(self) -> float:
        """Median alpha over the kernel's largest singular value (dimensionless)."""
        return self.median_alpha / float(self.sigma[0])


def spectral_filtering(model: torch.nn.Module, traces: np.ndarray, config: LibraryConfig | None = None
                       ) -> SpectralFiltering:
    """Fit Tikhonov filter factors to the net's Jacobian at each of `traces` (n, n_time)."""
    config = LibraryConfig() if config is None else config
    kernel = dipolar_kernel(config.t, config.r)
    sigma, factors = filter_factors(jacobians(model, traces), kernel)
    return SpectralFiltering(sigma, factors, [fit_tikhonov(sigma, phi) for phi in factors])


@dataclasses.dataclass
class FirstLayerReading:
    """The first-layer measurements of one descrambled weight matrix P1 W1."""

    notch: Notch
    notch_all_links: Notch
    bandpass: Bandpass
    ridge: FrequencyRidge
    multiplexing: Multiplexing


def read_first_layer(A: np.ndarray, config: LibraryConfig | None = None) -> FirstLayerReading:
    """Measure notch (over link frequencies >= 1, and over all), bandpass, ridge and multiplexing of A."""
    config = LibraryConfig() if config is None else config
    return FirstLayerReading(notch(A, min_link_frequency=1), notch(A, min_link_frequency=0),
                             bandpass(A, config.dt, config.distance_limits), frequency_ridge(A, config.dt),
                             multiplexing(A, config.dt))


@dataclasses.dataclass
class NetworkReading:
    """A two-layer net descrambled (exact solver) and measured.

    `first`, `second`: the descramblers P1 (read P1 W1) and P2 (read W2 P2^T). `descrambled_first`
    = P1 W1 (n_hidden, n_in); `descrambled_second` = W2 P2^T (n_out, n_hidden), with its singular
    value decomposition `U`, `s`, `Vt`.
    """

    first: DescrambleResult
    second: DescrambleResult
    descrambled_first: np.ndarray
    descrambled_second: np.ndarray
    U: np.ndarray
    s: np.ndarray
    Vt: np.ndarray
    first_layer: FirstLayerReading
    harmonic: HarmonicVectors
    chebyshev: ChebyshevMap
    embedding: GroupEmbedding
    filtering: SpectralFiltering


def read_network(model: torch.nn.Module, grams: LayerGrams, jacobian_traces: np.ndarray,
                 config: LibraryConfig | None = None) -> NetworkReading:
    """Descramble both layers of `model` exactly and measure every claim."""
    config = LibraryConfig() if config is None else config
    W1, _, W2 = weights(model)
    first = descramble(grams.first, "exact", gram=True)
    second = descramble(second_layer_gram(W2, grams.post, grams.post_without_bias), "exact", gram=True)
    A = first.P @ W1
    B = W2 @ second.P.T
    U, s, Vt = np.linalg.svd(B, full_matrices=False)
    return NetworkReading(
        first=first, second=second, descrambled_first=A, descrambled_second=B, U=U, s=s, Vt=Vt,
        first_layer=read_first_layer(A, config), harmonic=harmonic_vectors(Vt.T, range(20)),
        chebyshev=chebyshev_map(U, REFERENCE_CHEBYSHEV), embedding=group_embedding(s, Vt.T, 20),
        filtering=spectral_filtering(model, jacobian_traces, config))
