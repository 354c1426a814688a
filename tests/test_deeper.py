"""Tests of descrambler.study.deeper: the specs of the deeper DEERNets, the width rule, cached mixed training and
the first-layer reading of a batch-normalised net."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from descrambler.study import deeper
from descrambler.deer import DEFAULT_TRAIN_CONFIG, LibraryConfig
from descrambler.study.deeper import (N_CONFIRMATION, PRODUCTION_TRAIN, THREE_LAYER_EPOCHS, WIDTH, choose_width,
                                first_layer_scale, production_shortfall, production_spec, read_first_layers,
                                three_layer_architecture, three_layer_spec)
from descrambler.nets import train_or_load_jobs
from descrambler.study.findings.table import CLAIMS
from descrambler.nets import TrainConfig, two_layer
from descrambler.nets.architectures import build
from descrambler.study.spec import CONFIRMATION_SEEDS, DEVELOPMENT_SEEDS, SMOKE_SIZES, book_spec

CLAIM = {c.key: c for c in CLAIMS}


def test_the_three_layer_net_is_256_w_w_256_tanh_logsig():
    model = build(three_layer_architecture(WIDTH))
    linear = [m for m in model if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(256, WIDTH), (WIDTH, WIDTH), (WIDTH, 256)]
    assert all(m.bias is not None for m in linear)
    assert [type(m) for m in model if not isinstance(m, nn.Linear)] == [nn.Tanh, nn.Tanh, nn.Sigmoid]


@pytest.mark.parametrize("profile", ["full", "smoke"])
def test_three_layer_spec_trains_like_the_book_net(profile):
    spec, base = three_layer_spec(profile), book_spec(profile)
    expected = dataclasses.replace(base.train, epochs=THREE_LAYER_EPOCHS) if profile == "full" else base.train
    assert spec.train == expected and spec.train.target == "max_0.75" and spec.train.optimiser == "adam"
    assert spec.development_seeds == base.development_seeds
    assert spec.confirmation_seeds == CONFIRMATION_SEEDS[:N_CONFIRMATION[profile]]
    assert not set(spec.confirmation_seeds) & set(DEVELOPMENT_SEEDS)
    assert spec.architecture == three_layer_architecture(WIDTH)


def test_smoke_specs_use_the_smoke_sizes():
    for spec in (three_layer_spec("smoke"), production_spec("smoke")):
        assert {k: getattr(spec.train, k) for k in SMOKE_SIZES} == SMOKE_SIZES
        assert len(spec.confirmation_seeds) <= 2 and spec.n_traces == deeper.N_TRACES["smoke"]


def test_production_spec_is_dist_net_with_the_reference_optimiser():
    spec = production_spec("full")
    assert spec.architecture == {"name": "deep", "arguments": {}}
    model = build(spec.architecture)
    assert sum(isinstance(m, nn.Linear) for m in model) == 6 and model[0].bias is None
    train = spec.train
    assert (train.optimiser, train.learning_rate, train.schedule, train.weight_decay) == ("adam", 0.01, "halving", 1e-6)
    assert train.target == "distribution" and train.fresh_data and train.batch_size == 1000
    assert spec.development_seeds == (0,) and spec.confirmation_seeds == ()


def test_production_shortfall_counts_epochs_traces_and_steps():
    result = production_shortfall(PRODUCTION_TRAIN)
    assert result["ours"] == {"epochs": 4, "traces": 400_000, "steps": 400}
    assert result["reference"] == {"epochs": 50, "traces": 12_500_000, "steps": 12_500}
    assert result["ratio"]["traces"] == pytest.approx(31.25)


def test_choose_width_takes_the_narrowest_within_the_tolerance():
    rows = [{"width": 80, "median_rel_error": 0.272}, {"width": 128, "median_rel_error": 0.259},
            {"width": 256, "median_rel_error": 0.264}]
    assert choose_width(rows) == 128
    assert choose_width(rows, tolerance=0.02) == 80


@pytest.mark.parametrize("call, message", [
    (lambda: three_layer_spec("large"), "profile: unknown value"),
    (lambda: production_spec("large"), "profile: unknown value"),
    (lambda: three_layer_architecture(0), "width: must be a positive integer"),
    (lambda: production_shortfall({"epochs": 4}), "train: expected a TrainConfig"),
    (lambda: choose_width([]), "rows: need at least one"),
    (lambda: train_or_load_jobs([]), "jobs: need at least one"),
    (lambda: train_or_load_jobs([(three_layer_architecture(4), DEFAULT_TRAIN_CONFIG, -1)]),
     "seed: expected a non-negative"),
    (lambda: train_or_load_jobs([(three_layer_architecture(4), DEFAULT_TRAIN_CONFIG, 0)], workers=0),
     "workers: must be"),
])
def test_bad_input_raises_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("workers", [1, 2])
def test_train_or_load_jobs_trains_mixed_architectures_once_then_loads(monkeypatch, tmp_path, workers):
    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path))
    config = TrainConfig(data=LibraryConfig(), epochs=1, n_train=500, batch_size=100, n_validation=100)
    jobs = [(three_layer_architecture(4), config, 0), ({"name": "two_layer", "arguments": {"n_hidden": 4}}, config, 0)]
    first = train_or_load_jobs(jobs, workers=workers)  # with 2 workers: in two spawned processes
    second = train_or_load_jobs(jobs, workers=1)
    assert [info["from_cache"] for _, info in first] == [False, False]
    assert [info["from_cache"] for _, info in second] == [True, True]
    for (a, _), (b, _) in zip(first, second):
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_first_layer_scale_folds_the_batch_normalisation():
    model = build({"name": "deep", "arguments": {"hidden": [6], "n_out": 5}})
    with torch.no_grad():
        model[1].weight.copy_(torch.arange(1.0, 7.0))
        model[1].running_var.fill_(4.0)
    np.testing.assert_allclose(first_layer_scale(model), np.arange(1.0, 7.0) / np.sqrt(4.0 + model[1].eps))
    assert np.array_equal(first_layer_scale(two_layer(n_hidden=7)), np.ones(7))


def test_a_low_pass_first_layer_passes_the_bandpass_reading_and_a_white_one_does_not():
    # rows of W1 are the cosines of the lowest 12 input frequencies: a low-pass filter by construction
    t = np.arange(256)
    model = two_layer(n_hidden=24)
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(np.vstack([np.cos(2 * np.pi * k * t / 256 + k) for k in range(1, 25)])
                                               * (np.arange(1, 25) <= 12)[:, None]))
    white = two_layer(n_hidden=24)
    low, flat = read_first_layers([model, white], LibraryConfig(), 2000, seed=1)
    assert low.A.shape == (24, 256)
    assert low.band.high_nyquist < 0.15 and CLAIM["bandpass"].verdict(low.band.high_nyquist) == "holds"
    assert CLAIM["bandpass"].verdict(flat.band.high_nyquist) != "holds"
