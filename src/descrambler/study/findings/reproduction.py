"""Reading a two-layer DEERNet the paper's way, with its null controls.

`read_paper_way` descrambles both layers with the exact solver (the global optimum of the paper's
objective) and takes the paper's readings (`descrambler.study.findings.readings`); `PaperReading.claims`
gives the metric of each claim of `descrambler.study.findings.table.CLAIMS`. `measure_networks` does this for
several networks from one streamed library, together with two null controls per network: the same
architecture untrained (its own random start), and random weight matrices of the same norms as the
trained ones (W1 and W2 replaced, the trained layer's inner signals kept for the second layer), each
descrambled exactly like the trained net, since the descrambler itself can manufacture smooth patterns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ...deer.simulate import LibraryConfig
from ...groups import descramble, second_layer_gram
from ...nets.architectures import architecture_of, build
from .analysis import LayerGrams, layer_grams, weights
from .readings import (
    BandEdges,
    FastSlowReading,
    GramReading,
    MultiplexingReading,
    NotchReading,
    PolynomialReading,
    RowRidge,
    SpectralFilteringReading,
    band_edges,
    fast_slow_reading,
    folded_magnitude,
    gram_reading,
    multiplexing_reading,
    notch_reading,
    polynomial_reading,
    random_like,
    row_ridge,
    smoothness_rank_reading,
)

#: The cube root the paper reads in its Fig. 2 zoom: link frequency ~ input frequency ** (1/3).
CUBE_ROOT = 1 / 3
#: Random second-layer matrices descrambled as the multiplexing control of each network.
N_CONTROLS = 3
#: Seed offset of the null controls' random numbers (per network: offset + training seed).
CONTROL_SEED = 77_000


def rescaling_metric(ridge: RowRidge) -> float:
    """Largest distance of the ridge exponent's 90 % confidence interval from 1/3 (NaN: no ridge)."""
    return float(max(abs(ridge.ci_low - CUBE_ROOT), abs(ridge.ci_high - CUBE_ROOT)))


def band_bins(band: BandEdges, n_in: int) -> int:
    """The upper -10 dB edge in input-frequency bins (1 / (n_in dt) each), at least 3 (a fit needs 3 rows)."""
    return max(3, int(np.floor(band.high_nyquist * n_in / 2)))


@dataclasses.dataclass
class PaperReading:
    """One network (or control) read the paper's way: `A` = P1 W1 and `B` = W2 P2^T are the descrambled
    layers; the fields are the readings of `descrambler.study.findings.readings`."""

    A: np.ndarray
    B: np.ndarray
    notch: NotchReading
    band: BandEdges
    ridge: RowRidge
    multiplexing: MultiplexingReading
    polynomials: PolynomialReading
    filtering: SpectralFilteringReading
    fast_slow: FastSlowReading
    gram: GramReading

    def claims(self) -> dict[str, float]:
        """The metric of each claim (keys of `descrambler.study.findings.table.CLAIMS`)."""
        return {"bandpass": self.band.high_nyquist, "notch": self.notch.depth_db,
                "rescaling": rescaling_metric(self.ridge), "multiplexing": self.multiplexing.excess,
                "chebyshev": self.polynomials.chebyshev_median,
                "spectral_filtering": self.filtering.polynomial_degree / self.filtering.n_grid,
                "fast_slow": self.fast_slow.spearman, "orthogonality": self.gram.link_off_diagonal_share}

    def extra(self) -> dict[str, float | list]:
        """Numbers reported beside the metrics (JSON-ready)."""
        return {"notch_constant_share_over_white": self.notch.constant_share_over_white,
                "band_low_nyquist": self.band.low_nyquist, "band_peak_nyquist": self.band.peak_nyquist,
                "ridge_exponent": self.ridge.exponent, "ridge_ci": [self.ridge.ci_low, self.ridge.ci_high],
                "ridge_rows": int(self.ridge.used.sum()),
                "sinusoid_r2_9_13": self.multiplexing.median,
                "control_sinusoid_r2_9_13": self.multiplexing.control_median,
                "sinusoid_r2_all": self.multiplexing.all_median,
                "control_sinusoid_r2_all": self.multiplexing.control_all_median,
                "chebyshev_r2": self.polynomials.chebyshev_r_squared.tolist(),
                "legendre_r2": self.polynomials.legendre_r_squared.tolist(),
                "cosine_r2": self.polynomials.cosine_r_squared.tolist(),
                "best_family": list(self.polynomials.best_family),
                "rank_first_90_99": list(self.filtering.rank_first),
                "rank_second_90_99": list(self.filtering.rank_second),
                "polynomial_degree_90": self.filtering.polynomial_degree,
                "fast_slow_pearson": self.fast_slow.pearson,
                "output_off_diagonal_share": self.gram.output_off_diagonal_share}


@dataclasses.dataclass
class FirstLayerPaperReading:
    """The first layer A = P1 W1 read the paper's way (Fig. 2): notch, band, row-wise ridge."""

    A: np.ndarray
    notch: NotchReading
    band: BandEdges
    ridge: RowRidge


def read_first_layer_paper_way(A: np.ndarray, config: LibraryConfig) -> FirstLayerPaperReading:
    """Notch over all link channels, -10 dB band edges, and the ridge k*(f) within the band, of A = P1 W1."""
    band = band_edges(A, config.dt)
    magnitude, input_offsets, link_offsets = folded_magnitude(A)
    ridge = row_ridge(magnitude, input_offsets, link_offsets, 1, band_bins(band, A.shape[1]), 1)
    return FirstLayerPaperReading(A, notch_reading(A), band, ridge)


def read_paper_way(W1: np.ndarray, W2: np.ndarray, grams: LayerGrams, config: LibraryConfig,
                   rng: np.random.Generator, first_gram: np.ndarray | None = None) -> PaperReading:
    """Descramble W1 (n_hidden, n_in) and W2 (n_out, n_hidden) exactly and take every reading.

    The first layer's Gram matrix is `grams.first` unless `first_gram` is given (a control's W X X^T W^T);
    the second layer's signals are those of `grams` (the paper's S2 = [m W2^T, tanh(W1 X + b1)]).
    """
    A = descramble(grams.first if first_gram is None else first_gram, "exact", gram=True).P @ W1

    def second(W: np.ndarray) -> np.ndarray:
        return W @ descramble(second_layer_gram(W, grams.post, grams.post_without_bias), "exact", gram=True).P.T

    B = second(W2)
    controls = [second(random_like(W2, rng)) for _ in range(N_CONTROLS)]
    first = read_first_layer_paper_way(A, config)
    output_gram = W2 @ grams.post_covariance @ W2.T
    return PaperReading(A, B, first.notch, first.band, first.ridge, multiplexing_reading(B, controls),
                        polynomial_reading(B), smoothness_rank_reading(W1, W2, output_gram),
                        fast_slow_reading(B, config.r), gram_reading(B))


def untrained_like(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """A network of `model`'s architecture at a random start drawn from `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(architecture_of(model)).eval()


def measure_networks(models: Sequence[torch.nn.Module], config: LibraryConfig, n_traces: int, seed: int,
                     control_seeds: Sequence[int] | None = None, progress: bool | None = None) -> list[dict]:
    """Read each of `models` the paper's way over one streamed library (`n_traces` of `config`, `seed`),
    with its null controls. Returns per network {"claims", "extra", "controls": {"untrained", "random"}},
    each control a claims dict. `control_seeds` (default 0, 1, ...) seed the untrained starts and the
    random matrices."""
    control_seeds = list(range(len(models))) if control_seeds is None else list(control_seeds)
    if len(control_seeds) != len(models):
        raise ValueError(f"control_seeds: need one per network ({len(models)}), got {len(control_seeds)}")
    untrained = [untrained_like(model, CONTROL_SEED + s) for model, s in zip(models, control_seeds)]
    grams = layer_grams([*models, *untrained], n_traces, config, seed, progress)
    results = []
    with threadpool_limits(1, user_api="blas"):  # many small SVDs: threads only contend on a shared machine
        for i, (model, control_seed) in enumerate(zip(models, control_seeds)):
            results.append(_read_with_controls(model, untrained[i], grams[i], grams[len(models) + i], config,
                                               np.random.default_rng([CONTROL_SEED, control_seed])))
    return results


def _read_with_controls(model: torch.nn.Module, untrained: torch.nn.Module, grams: LayerGrams,
                        untrained_grams: LayerGrams, config: LibraryConfig, rng: np.random.Generator) -> dict:
    """One network's paper readings and those of its untrained twin and of random matrices (see above)."""
    W1, _, W2 = weights(model)
    trained = read_paper_way(W1, W2, grams, config, rng)
    U1, _, U2 = weights(untrained)
    blank = read_paper_way(U1, U2, untrained_grams, config, rng)
    R1, R2 = random_like(W1, rng), random_like(W2, rng)
    random = read_paper_way(R1, R2, grams, config, rng, first_gram=R1 @ grams.inputs @ R1.T)
    return {"claims": trained.claims(), "extra": trained.extra(),
            "controls": {"untrained": blank.claims(), "random": random.claims()}}
