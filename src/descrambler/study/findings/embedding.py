"""Group embedding (chapter 10): the middle weight matrix of a three-layer DEERNet, descrambled on both sides.

The paper: "a deeper DEERNet (SI Appendix, Section S4) also invented group embedding"; one author
"descrambled the middle weight matrix of the DEERNet with three fully connected layers". The SI Appendix is
not in the authors' repositories and we did not find its text (chapter 10 says where we looked), so the
reading below is ours, fixed in code before the confirmation networks were trained.

**Reading.** Descramble the middle matrix W2 (n x n) on both sides with the exact descrambler: its input side
with the signals after the first activation, S_in = tanh(W1 X + b1) (P_in; read W2 P_in^T), its output side
with the signals before the second activation, W2 S_in without the bias (P_out; read P_out W2). Write
B = P_out W2 P_in^T in the Fourier modes the descrambler orders the link axes by (the eigenvectors T of its
periodic smoothness operator: the constant, cos/sin pairs of equal frequency, the Nyquist mode), F = T^T B T.
Group embedding reads: F is close to a direct sum of scaled 2 x 2 orthogonal matrices, one on each cos/sin
pair -- a representation of the rotation group SO(2) on every pair of Fourier modes (a rotation within a pair
is a phase shift of that frequency along the link axis) -- with a scalar on the constant and Nyquist modes.
Reflections count as rotations: the descrambler fixes the sign of each mode arbitrarily, and a sign flip
turns one into the other. **Metric** (`embedding_share`): the share of ||B||_F^2 that this direct sum
explains (for a 2 x 2 block with singular values s1, s2 the best scaled orthogonal fit explains
(s1 + s2)^2 / 2 of its s1^2 + s2^2).

**Null controls** (`measure_group_embedding`): the same architecture untrained, and a Gaussian matrix of
W2's shape and norm descrambled the same way (input side from the trained net's own S_in, output side from
R S_in): the descrambler alone pushes a random matrix's share from about 2/n up to 0.2-0.4 when the input
signals' variance falls steeply over their principal components (tests), because the output principal
components of R S_in are then close to R applied to the input ones.

Two variants read B in link coordinates instead (`link_block_share`: the 2 x 2 blocks along its diagonal;
`band_share`: a band around it); chapter 10 reports them on the development networks beside the metric.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike
from threadpoolctl import threadpool_limits

from ..._validate import as_array, non_negative_int, positive, positive_int
from ...deer.simulate import LibraryConfig, iter_library
from ...groups import descramble
from ...groups.objective import smoothness_eigen
from ...nets.architectures import linear_layers
from ...nets.wiretap import wiretap
from ...progress import progress_bar
from ..spec import BookSpec
from .readings import random_like
from .reproduction import CONTROL_SEED, untrained_like
from .spectra import display_spectrum
from .table import Claim, FindingRow, findings_table, markdown

GROUP_EMBEDDING = Claim(
    "group_embedding", "group embedding (three-layer DEERNet)",
    "the middle weight matrix of a three-layer DEERNet, descrambled on both sides, is a direct sum of scaled "
    "2 x 2 rotations on the cos/sin pairs of the descrambler's Fourier modes: a representation of the rotation "
    "group on each pair (our reading; the SI Appendix that shows it was not available)",
    "share of ||P_out W2 P_in^T||_F^2 explained by one scaled 2 x 2 orthogonal matrix per cos/sin pair of "
    "Fourier modes (a scalar on the constant and Nyquist modes)",
    "SI Appendix, section S4 (not seen)", 0.6, 0.45, False,
    "1 is an exact representation; a random n x n matrix in random coordinates gives about 2/n (0.016 for n = "
    "128), but the descrambler alone lifts it to 0.42 at most in our tests (n = 80, input variance falling "
    "e-fold every two principal components): 0.45 is above anything a random matrix reached there, 0.6 is "
    "more than half of the way from there to an exact representation",
    "the architecture of the paper's three-layer net (widths, activations, training) is not documented; ours "
    "is 256-W-W-256 with tanh, a logsig output and the book's training at a third of its length")


def fourier_pairs(n: int) -> np.ndarray:
    """Index pairs (m, 2) of the cos/sin modes of equal frequency among the columns of
    `smoothness_eigen(n)` (1-2, 3-4, ...); the constant (0) and, for even n, the Nyquist mode (n - 1) are
    single."""
    n = positive_int(n, "n")
    if n < 3:
        raise ValueError(f"n: need at least 3 link neurons for a cos/sin pair, got {n}")
    first = np.arange(1, n - 1 if n % 2 == 0 else n, 2)
    return np.column_stack([first, first + 1])


@dataclasses.dataclass(frozen=True)
class EmbeddingShare:
    """`share`: the metric, share of ||B||_F^2 explained by the best direct sum of scaled 2 x 2 orthogonal
    matrices on the Fourier pairs (scalars on single modes); `block_share`: share of ||B||_F^2 inside those
    diagonal blocks at all; `orthogonal_share` = share / block_share, how rotation-like the blocks are
    (1: scaled rotations or reflections; 0.75 on average for Gaussian 2 x 2 blocks)."""

    share: float
    block_share: float
    orthogonal_share: float


def fourier_coordinates(B: ArrayLike) -> np.ndarray:
    """F = T^T B T: the square matrix B (n, n) in the Fourier modes T of `smoothness_eigen(n)`."""
    B = as_array(B, "B", ndim=2)
    if B.shape[0] != B.shape[1]:
        raise ValueError(f"B: expected a square matrix, got shape {B.shape}")
    fourier_pairs(B.shape[0])
    T = smoothness_eigen(B.shape[0])[1]
    return T.T @ B @ T


def embedding_share(B: ArrayLike) -> EmbeddingShare:
    """The group-embedding metric of a descrambled square matrix B (see the module docstring)."""
    F = fourier_coordinates(B)
    total = float(np.sum(F**2))
    if total == 0:
        raise ValueError("B: has zero norm")
    pairs = fourier_pairs(F.shape[0])
    blocks = F[pairs[:, :, None], pairs[:, None, :]]  # (m, 2, 2)
    singles = np.setdiff1d(np.arange(F.shape[0]), pairs)
    single_energy = float(np.sum(F[singles, singles] ** 2))
    s = np.linalg.svd(blocks, compute_uv=False)
    fitted = float(np.sum(s.sum(axis=1) ** 2) / 2) + single_energy
    inside = float(np.sum(blocks**2)) + single_energy
    return EmbeddingShare(fitted / total, inside / total, fitted / inside if inside > 0 else float("nan"))


def known_representation(n: int, rng: np.random.Generator, reflections: bool = False) -> np.ndarray:
    """A known answer: in link coordinates, a direct sum (in the Fourier modes of `smoothness_eigen(n)`) of
    2 x 2 rotations by random angles (`reflections`: rotations times diag(1, -1)) scaled exp(-k / n) on pair k,
    1 on the constant mode and 0.05 on the Nyquist mode. Its `embedding_share` is 1."""
    n = positive_int(n, "n")
    pairs = fourier_pairs(n)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy Generator, got {type(rng).__name__}")
    F = np.zeros((n, n))
    F[0, 0] = 1.0
    if n % 2 == 0:
        F[-1, -1] = 0.05
    theta = rng.uniform(0, 2 * np.pi, len(pairs))
    c, s = np.cos(theta), np.sin(theta)
    rotations = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], 1)  # (m, 2, 2)
    blocks = np.exp(-np.arange(len(pairs)) / n)[:, None, None] * rotations
    if reflections:
        blocks = blocks * np.array([1.0, -1.0])
    F[pairs[:, :, None], pairs[:, None, :]] = blocks
    T = smoothness_eigen(n)[1]
    return T @ F @ T.T


def fourier_gram(n: int, efold: float, rng: np.random.Generator) -> np.ndarray:
    """A known input: the Gram matrix (n, n) of signals in the Fourier modes of `smoothness_eigen(n)` whose
    variance falls e-fold every `efold` frequencies (the two modes of a frequency at most 2 % apart, so that no
    mode changes places with another frequency's)."""
    n = positive_int(n, "n")
    fourier_pairs(n)  # at least 3 modes
    efold = positive(efold, "efold")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy Generator, got {type(rng).__name__}")
    T = smoothness_eigen(n)[1]
    frequency = (np.arange(n) + 1) // 2
    return T @ np.diag(np.exp(-frequency / efold) * rng.uniform(0.99, 1.01, n)) @ T.T


def middle_weights(model: torch.nn.Module) -> np.ndarray:
    """The square middle weight matrix W2 (float64) of a net with three Linear layers."""
    layers = linear_layers(model)
    if len(layers) != 3:
        raise ValueError(f"model: expected three Linear layers (a three-layer net), got {len(layers)}")
    W2 = model[layers[1]].weight.detach().cpu().double().numpy()
    if W2.shape[0] != W2.shape[1]:
        raise ValueError(f"model: the middle weight matrix must be square, got shape {W2.shape}")
    return W2


def input_grams(models: Sequence[torch.nn.Module], n_traces: int, config: LibraryConfig, seed: int,
                layer: int = 1, where: str = "post", bias: bool = True, progress: bool | None = None
                ) -> list[np.ndarray]:
    """S S^T (float64) of hidden layer `layer` of each of `models` (`descrambler.nets.wiretap`; default:
    after the first activation, with its bias), over one streamed library of `n_traces` (`config`, `seed`),
    each chunk generated once for all models."""
    n_traces = positive_int(n_traces, "n_traces")
    if not models:
        raise ValueError("models: need at least one network")
    totals = [0.0] * len(models)
    for library in progress_bar(iter_library(n_traces, config, seed), desc="wiretapping", enabled=progress):
        for i, model in enumerate(models):
            s = wiretap(model, library.traces, layer, where, bias)
            totals[i] = totals[i] + s @ s.T
    return totals


@dataclasses.dataclass
class MiddleReading:
    """One descrambled middle matrix: `B` = P_out W2 P_in^T, `F` = B in Fourier modes (`fourier_coordinates`),
    the descramblers `P_in`, `P_out`, the metric `share`, `spectrum` (the folded |2-D FFT| of B, as the
    reference's figures draw it), the singular values `s` of W2 (no descrambler changes them) and the Gram
    matrices `gram_in` = B^T B and `gram_out` = B B^T."""

    B: np.ndarray
    F: np.ndarray
    P_in: np.ndarray
    P_out: np.ndarray
    share: EmbeddingShare
    spectrum: np.ndarray
    s: np.ndarray
    gram_in: np.ndarray
    gram_out: np.ndarray


def read_middle(W2: ArrayLike, gram_in: ArrayLike) -> MiddleReading:
    """Descramble W2 (n, n) on both sides (exact solver) from the Gram matrix `gram_in` (n, n) of its input
    signals; the output side's Gram matrix is W2 gram_in W2^T (signals before the activation, no bias)."""
    W2 = as_array(W2, "W2", ndim=2)
    gram_in = as_array(gram_in, "gram_in", ndim=2)
    if W2.shape[0] != W2.shape[1] or gram_in.shape != W2.shape:
        raise ValueError(f"gram_in: expected shape {W2.shape} to match a square W2, got {gram_in.shape} "
                         f"and W2 {W2.shape}")
    P_in = descramble(gram_in, "exact", gram=True).P
    P_out = descramble(W2 @ gram_in @ W2.T, "exact", gram=True).P
    B = P_out @ W2 @ P_in.T
    return MiddleReading(B, fourier_coordinates(B), P_in, P_out, embedding_share(B), display_spectrum(B),
                         np.linalg.svd(W2, compute_uv=False), B.T @ B, B @ B.T)


def measure_group_embedding(spec: BookSpec, seeds: Sequence[int], workers: int | None = None,
                            progress: bool | None = None) -> dict:
    """The group-embedding metric of `spec`'s trained networks of `seeds` (trained or loaded from the cache)
    and of two null controls per network: the architecture untrained (seed CONTROL_SEED + seed) and a random
    matrix of W2's shape and norm descrambled the same way. One library of `spec.n_traces` traces
    (`spec.library`, `spec.descramble_seed`). Returns {"seeds", "trained", "untrained", "random"}: lists of
    floats, one per seed, and "readings": {"trained", "untrained", "random"}, the `MiddleReading`s."""
    seeds = list(seeds)
    models = [model for model, _ in spec.networks(seeds, workers=workers, progress=progress)]
    untrained = [untrained_like(model, CONTROL_SEED + seed) for model, seed in zip(models, seeds)]
    grams = input_grams([*models, *untrained], spec.n_traces, spec.library, spec.descramble_seed, progress=progress)
    names = ("trained", "untrained", "random")
    readings = {name: [] for name in names}
    with threadpool_limits(1, user_api="blas"):  # small eigenproblems: threads only contend on a shared machine
        for i, (model, seed) in enumerate(zip(models, seeds)):
            W2 = middle_weights(model)
            readings["trained"].append(read_middle(W2, grams[i]))
            readings["untrained"].append(read_middle(middle_weights(untrained[i]), grams[len(models) + i]))
            R = random_like(W2, np.random.default_rng([CONTROL_SEED, seed]))
            readings["random"].append(read_middle(R, grams[i]))
    return {"seeds": seeds, **{name: [r.share.share for r in readings[name]] for name in names},
            "readings": readings}


def link_block_share(B: ArrayLike, size: int = 2) -> float:
    """A variant read in link coordinates: share of ||B||_F^2 in the `size` x `size` blocks along the
    diagonal of the square matrix B itself (neurons 1-2, 3-4, ... for size 2)."""
    B = as_array(B, "B", ndim=2)
    size = positive_int(size, "size")
    if B.shape[0] != B.shape[1] or B.shape[0] < size:
        raise ValueError(f"B: expected a square matrix of at least {size} rows, got shape {B.shape}")
    block = np.arange(B.shape[0]) // size
    return float(np.sum(B[block[:, None] == block[None, :]] ** 2) / np.sum(B**2))


def band_share(B: ArrayLike, half_width: int = 3) -> float:
    """A variant read in link coordinates: share of ||B||_F^2 within `half_width` of the diagonal of the
    square matrix B, the link axes taken as periodic (as the descrambler's smoothness operator takes them)."""
    B = as_array(B, "B", ndim=2)
    if B.shape[0] != B.shape[1]:
        raise ValueError(f"B: expected a square matrix, got shape {B.shape}")
    half_width = non_negative_int(half_width, "half_width")
    n = B.shape[0]
    offset = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    return float(np.sum(B[np.minimum(offset, n - offset) <= half_width] ** 2) / np.sum(B**2))


def embedding_rows(values: dict) -> tuple[list[FindingRow], dict[str, list[FindingRow]]]:
    """The findings-table rows of `measure_group_embedding`'s values: (trained, {"untrained", "random"})."""
    missing = {"trained", "untrained", "random"} - set(values)
    if missing:
        raise ValueError(f"values: missing {sorted(missing)}")
    rows = {name: findings_table({GROUP_EMBEDDING.key: values[name]}, claims=(GROUP_EMBEDDING,))
            for name in ("trained", "untrained", "random")}
    return rows["trained"], {"untrained": rows["untrained"], "random W2": rows["random"]}


def embedding_markdown(values: dict) -> str:
    """The group-embedding row of the findings table, with both controls
    (`descrambler.study.findings.table.markdown`)."""
    rows, controls = embedding_rows(values)
    return markdown(rows, controls)
