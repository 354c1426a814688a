"""The network reading pipeline on a small untrained two-layer net."""

import numpy as np
import pytest
import torch

from descrambler.deer import LibraryConfig, make_library
from descrambler.study.findings.analysis import layer_grams, read_network, spectral_filtering, weights
from descrambler.nets import two_layer

CONFIG = LibraryConfig()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(3)
    return two_layer(n_hidden=24).eval()


def test_layer_grams_equal_direct_products(model):
    (grams,) = layer_grams([model], 3000, CONFIG, seed=5)
    X = make_library(3000, CONFIG, seed=5).traces.astype(np.float64)
    W1, b1, _ = weights(model)
    pre = W1 @ X.T
    post = np.tanh(pre + b1[:, None])
    for streamed, direct in [(grams.first, pre @ pre.T), (grams.post, post @ post.T),
                             (grams.post_without_bias, np.tanh(pre) @ np.tanh(pre).T)]:
        # the net computes in float32: agreement to float32 rounding of the largest entries
        np.testing.assert_allclose(streamed, direct, rtol=1e-5, atol=1e-6 * np.abs(direct).max())
    assert grams.n_traces == 3000
    np.testing.assert_allclose(grams.post_sum, post.sum(axis=1), rtol=1e-5, atol=1e-6 * np.abs(post).sum())
    np.testing.assert_allclose(grams.inputs, X.T @ X, rtol=1e-10)
    np.testing.assert_allclose(grams.post_covariance, np.cov(post, bias=True), atol=1e-5)


def test_one_pass_serves_several_models(model):
    torch.manual_seed(4)
    other = two_layer(n_hidden=24).eval()
    together = layer_grams([model, other], 2000, CONFIG, seed=1)
    alone = layer_grams([other], 2000, CONFIG, seed=1)[0]
    np.testing.assert_allclose(together[1].post, alone.post)


def test_read_network_descrambles_both_layers_and_reads_them(model):
    (grams,) = layer_grams([model], 2000, CONFIG, seed=5)
    reading = read_network(model, grams, make_library(4, CONFIG, seed=6).traces, CONFIG)
    P = reading.first.P
    np.testing.assert_allclose(P @ P.T, np.eye(24), atol=1e-10)
    np.testing.assert_allclose(reading.descrambled_first, P @ weights(model)[0])
    assert reading.first.ratio == pytest.approx(1, abs=1e-8) and reading.second.ratio == pytest.approx(1, abs=1e-8)
    assert np.isfinite(reading.first_layer.notch.depth_db) and reading.harmonic.r_squared.size == 20
    assert 0 <= reading.chebyshev.subspace_share <= 1 and reading.filtering.fits


def test_spectral_filtering_of_a_network(model):
    result = spectral_filtering(model, make_library(3, CONFIG, seed=2).traces, CONFIG)
    assert result.factors.shape == (3, CONFIG.n_dist) and len(result.fits) == 3
    assert result.sigma[0] >= result.sigma[-1]


def test_bad_input():
    with pytest.raises(ValueError, match="^models"):
        layer_grams([], 10)
    with pytest.raises(ValueError, match="^n_traces"):
        layer_grams([two_layer()], 0)
    with pytest.raises(ValueError, match="^model"):
        weights(torch.nn.Sequential(torch.nn.Linear(4, 4)))
    with pytest.raises(ValueError, match="^model"):
        weights(torch.nn.Linear(4, 4))


def test_jacobians_leave_the_model_unchanged(model):
    from descrambler.study.findings.regularisation import jacobians

    model.train()
    jacobians(model, make_library(2, CONFIG, seed=1).traces)
    assert next(model.parameters()).dtype == torch.float32 and model.training
    model.eval()
    with pytest.raises(ValueError, match="^traces: expected 256 points"):
        jacobians(model, np.ones((2, 100)))


def test_spectral_filtering_recovers_the_alpha_of_a_tikhonov_inverse():
    from descrambler.deer import dipolar_kernel
    from descrambler.study.findings.regularisation import tikhonov_factors

    U, sigma, Vt = np.linalg.svd(dipolar_kernel(CONFIG.t, CONFIG.r))
    alpha = 0.05 * sigma[0]
    inverse = Vt.T @ np.diag(2.0 * tikhonov_factors(sigma, alpha) / sigma) @ U.T
    linear = torch.nn.Linear(CONFIG.n_time, CONFIG.n_dist, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(inverse))
    result = spectral_filtering(torch.nn.Sequential(linear), make_library(2, CONFIG, seed=3).traces, CONFIG)
    assert result.relative_alpha == pytest.approx(0.05, rel=1e-2)
    assert result.median_r_squared == pytest.approx(1, abs=1e-4)
