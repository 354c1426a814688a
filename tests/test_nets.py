"""Tests of descrambler.nets: architectures, predictions and metrics."""

import numpy as np
import pytest
import torch
from torch import nn

from descrambler.deer import LibraryConfig
from descrambler.nets import (deep, denoiser, peak_error, predict, relative_error, summary, two_layer,
                              unit_sum)
from descrambler.deer import validation_library
from descrambler.nets.architectures import MeanNormalise, build, linear_layers


def n_parameters(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("output, last", [("logsig", nn.Sigmoid), ("softplus", nn.Softplus), ("linear", nn.Linear)])
def test_two_layer_shapes_and_parameter_count(output, last):
    model = two_layer(output=output)
    assert isinstance(model, nn.Sequential) and isinstance(model[-1], last)
    assert [type(m) for m in model[:3]] == [nn.Linear, nn.Tanh, nn.Linear]
    assert n_parameters(model) == 256 * 80 + 80 + 80 * 256 + 256  # 41 296
    assert model(torch.zeros(5, 256)).shape == (5, 256)


def test_two_layer_custom_sizes():
    model = two_layer(n_in=64, n_hidden=10, n_out=32)
    assert n_parameters(model) == 64 * 10 + 10 + 10 * 32 + 32
    assert model(torch.zeros(3, 64)).shape == (3, 32)


def test_production_deernet():
    model = deep()
    layers = [model[i] for i in linear_layers(model)]
    assert len(layers) == 6 and all(m.bias is None and m.weight.shape == (256, 256) for m in layers)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model) == 6
    assert sum(isinstance(m, nn.Softplus) for m in model) == 6
    assert isinstance(model[-1], MeanNormalise)
    assert n_parameters(model) == 6 * 256 * 256 + 6 * 2 * 256  # weights + batch-norm scale and shift
    model.eval()
    out = model(torch.rand(7, 256))
    assert out.shape == (7, 256)
    torch.testing.assert_close(out.mean(dim=1), torch.ones(7))  # divided by the output mean


def test_three_layer_deernet():
    model = deep(hidden=(80, 80), activation="tanh", bias=True, batch_norm=False, mean_normalise=False)
    assert [type(m) for m in model] == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear, nn.Softplus]
    assert n_parameters(model) == (256 * 80 + 80) + (80 * 80 + 80) + (80 * 256 + 256)
    assert model(torch.zeros(2, 256)).shape == (2, 256)


def test_denoiser_maps_traces_to_traces():
    model = denoiser()
    assert [type(m) for m in model] == [nn.Linear, nn.Tanh, nn.Linear]
    assert n_parameters(model) == 2 * (256 * 256) + 256 + 256
    assert model(torch.zeros(4, 256)).shape == (4, 256)


@pytest.mark.parametrize("model", [two_layer(output="linear"), deep(hidden=(16, 8)), denoiser(hidden=(32,))])
def test_build_rebuilds_the_recorded_architecture(model):
    rebuilt = build(model.architecture)
    assert rebuilt.architecture == model.architecture
    assert [type(m) for m in rebuilt] == [type(m) for m in model]
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]


@pytest.mark.parametrize("call, message", [
    (lambda: two_layer(n_hidden=0), "n_hidden: must be a positive integer"),
    (lambda: two_layer(n_in=-3), "n_in: must be a positive integer"),
    (lambda: two_layer(n_out=2.5), "n_out: expected a positive integer"),
    (lambda: two_layer(output="relu6"), "output: unknown value 'relu6'"),
    (lambda: deep(hidden=()), "hidden: expected a non-empty sequence"),
    (lambda: deep(hidden=(256, 0)), "hidden: must be a positive integer"),
    (lambda: deep(activation="gelu"), "activation: unknown value"),
    (lambda: deep(bias=1), "bias: expected True or False"),
    (lambda: denoiser(hidden=80), "hidden: expected a non-empty sequence"),
    (lambda: build({"name": "resnet", "arguments": {}}), "architecture: unknown value 'resnet'"),
    (lambda: build({"name": "two_layer", "arguments": {"depth": 3}}), "architecture: arguments do not fit"),
])
def test_bad_architecture_arguments_raise(call, message):
    with pytest.raises(ValueError, match="^" + message):
        call()


def test_predict_returns_unit_sum_nonnegative_distributions():
    torch.manual_seed(0)
    model = two_layer(output="linear")  # a linear output has negative values to clip
    x = np.random.default_rng(0).random((300, 256), dtype=np.float32)
    raw = model(torch.from_numpy(x)).detach().numpy()
    assert (raw < 0).any()
    p = predict(model, x, batch_size=64)
    assert p.shape == (300, 256) and p.dtype == np.float64
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    expected = np.clip(raw, 0, None).astype(np.float64)
    # each output is a float32 sum of O(|raw|) terms: near zero it keeps the absolute rounding of those
    # terms (which differs between BLAS kernels), divided by the row's sum
    scale = 64 * float(np.finfo(np.float32).eps) * np.abs(raw).max() / expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, expected / expected.sum(axis=1, keepdims=True), rtol=1e-5, atol=scale.max())
    assert predict(model, x[0]).shape == (256,)  # a single trace
    np.testing.assert_allclose(predict(model, x[0]), p[0], rtol=1e-4, atol=1e-9)  # float32 batch effects


def test_predict_without_positive_output_is_uniform():
    model = two_layer(output="linear")
    with torch.no_grad():
        model[2].weight.zero_()
        model[2].bias.fill_(-1.0)
    np.testing.assert_allclose(predict(model, np.zeros((2, 256), np.float32)), 1 / 256)


def test_predict_restores_training_mode():
    model = deep(hidden=(8,))
    model.train()
    predict(model, np.random.default_rng(1).random((4, 256), dtype=np.float32))
    assert model.training


@pytest.mark.parametrize("traces, message", [
    (np.zeros((3, 255), np.float32), r"traces: expected shape \(N, 256\)"),
    (np.full((2, 256), np.nan, np.float32), "traces: contains NaN"),
    (np.full((2, 256), np.inf, np.float32), "traces: contains NaN or infinite"),
    (np.zeros((0, 256), np.float32), "traces: holds no traces"),
])
def test_predict_rejects_bad_traces(traces, message):
    with pytest.raises(ValueError, match="^" + message):
        predict(two_layer(), traces)


def test_relative_error_is_scale_free_and_matches_definition():
    rng = np.random.default_rng(3)
    p, q = rng.random((5, 256)), rng.random((5, 256))
    a, b = p / p.sum(1, keepdims=True), q / q.sum(1, keepdims=True)
    expected = np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(relative_error(p, q), expected)
    np.testing.assert_allclose(relative_error(7 * p, 0.75 * q), expected)
    np.testing.assert_allclose(relative_error(q, q), 0, atol=1e-15)
    np.testing.assert_allclose(unit_sum(p).sum(axis=1), 1)


def test_peak_error_in_nm():
    r = np.linspace(1.0, 6.0, 11)  # 0.5 nm steps
    true = np.zeros((2, 11))
    true[0, 2] = true[1, 8] = 1
    predicted = np.zeros((2, 11))
    predicted[0, 5] = predicted[1, 8] = 1
    np.testing.assert_allclose(peak_error(predicted, true, r), [1.5, 0.0])
    s = summary(predicted, true, r)
    assert s["n"] == 2 and s["median_peak_error_nm"] == pytest.approx(0.75) == s["mean_peak_error_nm"]


@pytest.mark.parametrize("call, message", [
    (lambda: relative_error(np.ones((2, 4)), np.ones((2, 5))), "predicted: shape"),
    (lambda: relative_error(np.ones(4), [1, 2, np.nan, 3]), "true: contains NaN"),
    (lambda: peak_error(np.ones((2, 4)), np.ones((2, 4)), np.ones(5)), "r: 5 distances"),
])
def test_metric_inputs_checked(call, message):
    with pytest.raises(ValueError, match="^" + message):
        call()


def test_validation_library_is_fixed_and_cached():
    config = LibraryConfig(n_time=32, n_dist=32)
    first = validation_library(config, 50)
    assert first is validation_library(config, 50)
    assert len(first) == 50 and first.traces.shape == (50, 32)


def test_predict_refuses_to_return_nan_rows():
    model = two_layer()
    with torch.no_grad():
        model[2].bias[5] = float("nan")
    with pytest.raises(ValueError,
                       match=r"^model: returned NaN or infinite outputs for 3 of 3 traces \(its weights hold NaN"):
        predict(model, np.full((3, 256), 0.5))


def test_built_networks_are_networks_that_know_their_architecture():
    from descrambler.nets import Network
    from descrambler.nets.architectures import architecture_of

    model = deep(hidden=(8, 8))
    assert isinstance(model, Network) and isinstance(model, nn.Sequential) and model.metadata == {}
    assert architecture_of(model) == model.architecture and build(model.architecture).architecture == model.architecture
    assert model[:2].architecture is None  # a slice is not a built network
    with pytest.raises(ValueError, match="^model: not built by descrambler.nets"):
        architecture_of(nn.Sequential(nn.Linear(2, 2)))
