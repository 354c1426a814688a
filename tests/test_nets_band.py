"""Tests of descrambler.nets.band: an ensemble's mean distribution, its band and the band's coverage."""

import numpy as np
import pytest
import torch
from scipy.special import logit

from descrambler.nets import band_coverage, predict_band, two_layer

N_IN, N_OUT = 6, 5


def constant_net(distribution: np.ndarray) -> torch.nn.Module:
    """A logsig two-layer net whose output is `distribution` (entries in (0, 1)) whatever the input."""
    model = two_layer(N_IN, 3, N_OUT)
    with torch.no_grad():
        model[2].weight.zero_()
        model[2].bias.copy_(torch.from_numpy(logit(distribution)))
    return model


OUTPUTS = np.array([[0.1, 0.2, 0.3, 0.2, 0.2], [0.2, 0.2, 0.2, 0.2, 0.2], [0.3, 0.1, 0.1, 0.3, 0.2]])
MODELS = [constant_net(p) for p in OUTPUTS]
TRACES = np.random.default_rng(0).random((4, N_IN))
R = np.linspace(2.0, 4.0, N_OUT)


def test_sd_band_is_the_mean_plus_minus_1_96_sd_and_low_is_clipped():
    prediction = predict_band(MODELS, TRACES, per_net=True)
    expected_sd = OUTPUTS.std(axis=0, ddof=1)
    np.testing.assert_allclose(prediction.mean, np.tile(OUTPUTS.mean(axis=0), (4, 1)), atol=1e-6)
    np.testing.assert_allclose(prediction.high - prediction.mean, np.tile(1.959964 * expected_sd, (4, 1)), atol=1e-5)
    np.testing.assert_allclose(prediction.low, np.clip(prediction.mean - 1.959964 * expected_sd, 0, None), atol=1e-5)
    assert prediction.low.min() >= 0 and prediction.per_net.shape == (3, 4, N_OUT) and prediction.n_nets == 3


def test_quantile_band_and_single_trace():
    prediction = predict_band(MODELS, TRACES[0], level=0.5, method="quantile")
    low, high = np.quantile(OUTPUTS, [0.25, 0.75], axis=0)
    np.testing.assert_allclose(prediction.low, low, atol=1e-6)
    np.testing.assert_allclose(prediction.high, high, atol=1e-6)
    assert prediction.mean.shape == (N_OUT,) and prediction.per_net is None


def test_coverage_known_answers():
    mean = OUTPUTS.mean(axis=0)
    inside = band_coverage(MODELS, TRACES, np.tile(mean, (4, 1)), R)
    assert inside.pointwise == 1.0 and inside.whole_trace == 1.0 and inside.mean_distance == 1.0
    far = np.tile([1.0, 0.0, 0.0, 0.0, 0.0], (4, 1))  # all weight at 2 nm, far outside every band
    outside = band_coverage(MODELS, TRACES, far, R)
    assert outside.pointwise == 0.0 and outside.whole_trace == 0.0 and outside.mean_distance == 0.0
    means = OUTPUTS @ R
    assert outside.median_band_width_nm == pytest.approx(2 * 1.959964 * means.std(ddof=1), rel=1e-4)
    assert (outside.n_nets, outside.n_traces, outside.level, outside.method) == (3, 4, 0.95, "sd")


@pytest.mark.parametrize("kwargs, message", [
    ({"models": MODELS[:1]}, "^models: an ensemble needs at least 2"),
    ({"models": MODELS[0]}, "^models: expected a list"),
    ({"level": 1.0}, "^level:"),
    ({"level": 0}, "^level:"),
    ({"level": True}, "^level:"),
    ({"level": "0.95"}, "^level:"),
    ({"method": "bootstrap"}, "^method:"),
    ({"traces": np.ones((2, N_IN + 1))}, "^traces:"),
    ({"traces": np.full((2, N_IN), np.nan)}, "^traces:"),
])
def test_predict_band_refuses_bad_input(kwargs, message):
    arguments = {"models": MODELS, "traces": TRACES, **kwargs}
    with pytest.raises(ValueError, match="^" + message):
        predict_band(**arguments)


@pytest.mark.parametrize("distributions, r, message", [
    (np.ones((3, N_OUT)), R, "^distributions: expected shape"),
    (np.ones(N_OUT), R, "^distributions:"),
    (np.ones((4, N_OUT)), R[:-1], "^r: expected 5 distances"),
    (np.ones((4, N_OUT)), np.full(N_OUT, np.inf), "^r:"),
])
def test_band_coverage_refuses_bad_input(distributions, r, message):
    with pytest.raises(ValueError, match="^" + message):
        band_coverage(MODELS, TRACES, distributions, r)
