"""Chapter 12's reading of a net trained on multi-exponential decays (`descrambler.signals.laplace`): its first
layer is a low-pass filter (`LOW_PASS_CLAIM`, metric `low_pass_edge`), fixed before its confirmation networks
were trained, measured with its null controls by `read_low_pass`. `TARGET_RUNS` records the development
runs that chose the target.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from ..._validate import non_negative_int
from ...layers import descramble_layer
from ...signals.laplace import LaplaceConfig
from .readings import band_edges, random_like
from .table import Claim

#: Development runs that chose the target (development seed 0, default database, 256 -> 80 tanh -> 256,
#: Adam, cosine schedule, batch 128; median relative error on 2000 validation decays; one-off runs on the
#: shared 2-core machine, not reproduced by a script). The logsig output on targets scaled to a maximum of
#: 0.75 (DEERNet's choice) won at full size, so the chapter trains DEERNet's own TrainConfig on decays.
TARGET_RUNS = (
    {"output": "logsig", "target": "max_0.75", "learning_rate": 1e-2, "epochs": 5, "n_train": 50_000, "error": 0.3614},
    {"output": "softplus", "target": "distribution", "learning_rate": 1e-2, "epochs": 5, "n_train": 50_000,
     "error": 0.3399},
    {"output": "softplus", "target": "distribution", "learning_rate": 3e-3, "epochs": 5, "n_train": 50_000,
     "error": 0.3804},
    {"output": "logsig", "target": "max_0.75", "learning_rate": 1e-2, "epochs": 15, "n_train": 200_000,
     "error": 0.2649},
    {"output": "softplus", "target": "distribution", "learning_rate": 1e-2, "epochs": 15, "n_train": 200_000,
     "error": 0.3009},
    {"output": "softplus", "target": "distribution", "learning_rate": 3e-3, "epochs": 15, "n_train": 200_000,
     "error": 0.3064},
)


def decay_corner(config: LaplaceConfig) -> float:
    """Half-power corner 1 / (2 pi tau_min) of the fastest decay of `config`, in units of the Nyquist frequency
    1 / (2 dt): exp(-t / tau) has the power spectrum 1 / (1 + (2 pi f tau)^2) (continuous time)."""
    return config.dt / (np.pi * config.tau_min)


def low_pass_edge(A: ArrayLike, dt: float) -> float:
    """The reading's metric: the upper -10 dB edge of the input-frequency response of a first layer A
    (n_link, n_in), inputs every `dt`, in units of the Nyquist frequency (1: it never falls 10 dB below its
    peak), from `descrambler.study.findings.readings.band_edges`. The response sums over the link channels, so it
    is the same for W1 and P W1: no descrambler can make or unmake it."""
    return band_edges(A, dt).high_nyquist


def low_pass_claim(config: LaplaceConfig) -> Claim:
    """The chapter's claim with thresholds from the fastest decay of `config` (see `LOW_PASS_CLAIM`)."""
    corner = decay_corner(config)
    return Claim(
        "low_pass", "the first layer is a low-pass filter",
        "the response of the descrambled first layer to input frequencies, summed over its link channels, falls "
        "10 dB below its peak well inside the band of the fastest decay: it passes the smooth decays and stops "
        "the white noise above them",
        "upper -10 dB edge of the first layer's input-frequency response, in units of the Nyquist frequency",
        "this chapter", corner, 3 * corner, True,
        f"the fastest decay of the database (tau_min = {config.tau_min:g}) has its half-power corner at "
        f"{corner:.3g} Nyquist and falls 10 dB at three times that ({3 * corner:.3g}): an edge below the corner "
        "is a low-pass filter narrower than every decay's band (holds), below the -10 dB point one as wide as the "
        "fastest decay (partly); a layer that passes everything, as an untrained one, has its edge at 1",
        "the DEER net's corresponding claim (chapter 7, 'bandpass') uses the same metric with thresholds 0.6 "
        "and 0.9 set by the dipolar frequencies")


#: The claim for the default database, fixed before the confirmation networks were trained.
LOW_PASS_CLAIM = low_pass_claim(LaplaceConfig())


def _first_linear(model: nn.Module) -> tuple[str, nn.Linear]:
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            return name, module
    raise ValueError("model: has no nn.Linear layer")


def null_controls(model: nn.Module, seed: int) -> tuple[nn.Module, nn.Module]:
    """(untrained, random) twins of `model`: a copy at a random start drawn from torch seed `seed` (every module
    reset), and a copy whose first Linear weight is a Gaussian matrix of the same shape and Frobenius norm
    (`descrambler.study.findings.readings.random_like`, numpy seed `seed`). Both in evaluation mode."""
    seed = non_negative_int(seed, "seed")
    name, _ = _first_linear(model)
    untrained = copy.deepcopy(model).eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in untrained.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    random = copy.deepcopy(model).eval()
    layer = dict(random.named_modules())[name]
    weight = random_like(layer.weight.detach().double().cpu().numpy(), np.random.default_rng(seed))
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
    return untrained, random


def read_low_pass(model: nn.Module, batches: Iterable, dt: float, seed: int) -> dict[str, float]:
    """`low_pass_edge` of the first layer of `model` and of its `null_controls(model, seed)`, each descrambled
    the same way (`descramble_layer` at the first Linear's output over `batches`, a re-iterable such as a
    list): {"trained", "untrained", "random"}."""
    name, _ = _first_linear(model)
    batches = list(batches)
    untrained, random = null_controls(model, seed)
    return {label: low_pass_edge(descramble_layer(net, name, batches).descrambled, dt)
            for label, net in (("trained", model), ("untrained", untrained), ("random", random))}
