"""Tests of descrambler.nets.wiretap: inner signals against hand computation, streamed Gram matrices."""

import numpy as np
import pytest
import torch

from descrambler.nets import deep, gram, two_layer, wiretap


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(1)
    return two_layer(n_in=256, n_hidden=12, n_out=256, output="softplus")


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(2).random((40, 256), dtype=np.float32)


def weights(net):
    return [t.detach().double().numpy() for t in (net[0].weight, net[0].bias, net[2].weight, net[2].bias)]


def softplus(z):
    return np.log1p(np.exp(z))


def test_first_layer_against_hand_computation(net, x):
    w1, b1, _, _ = weights(net)
    X = x.T.astype(np.float64)  # examples in columns
    S = wiretap(net, x, 1)
    assert S.shape == (12, 40) and S.dtype == np.float64
    np.testing.assert_allclose(S, w1 @ X, atol=1e-5)
    np.testing.assert_allclose(wiretap(net, x, 1, bias=True), w1 @ X + b1[:, None], atol=1e-5)
    np.testing.assert_allclose(wiretap(net, x, 1, where="post", bias=True), np.tanh(w1 @ X + b1[:, None]), atol=1e-5)
    np.testing.assert_allclose(wiretap(net, x, 1, where="post"), np.tanh(w1 @ X), atol=1e-5)


def test_second_layer_against_hand_computation(net, x):
    w1, b1, w2, b2 = weights(net)
    H = np.tanh(w1 @ x.T.astype(np.float64) + b1[:, None])  # the first layer runs as trained
    np.testing.assert_allclose(wiretap(net, x, 2), w2 @ H, atol=1e-5)
    np.testing.assert_allclose(wiretap(net, x, 2, bias=True), w2 @ H + b2[:, None], atol=1e-5)
    post = wiretap(net, x, 2, where="post", bias=True)
    np.testing.assert_allclose(post, softplus(w2 @ H + b2[:, None]), atol=1e-5)
    np.testing.assert_allclose(post, net(torch.from_numpy(x)).detach().numpy().T, atol=1e-6)  # = the output


def test_post_includes_batch_norm_in_evaluation_mode():
    torch.manual_seed(3)
    model = deep(n_in=256, hidden=(6,), n_out=5)
    with torch.no_grad():
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
        model[1].weight.uniform_(0.5, 1.5)
        model[1].bias.uniform_(-0.5, 0.5)
    model.train()
    x = np.random.default_rng(4).random((9, 256), dtype=np.float32)
    bn = model[1]
    z = model[0].weight.detach().double().numpy() @ x.T
    mean, var = bn.running_mean.double().numpy()[:, None], bn.running_var.double().numpy()[:, None]
    normed = (z - mean) / np.sqrt(var + bn.eps)
    scale, shift = bn.weight.detach().double().numpy()[:, None], bn.bias.detach().double().numpy()[:, None]
    expected = softplus(normed * scale + shift)
    np.testing.assert_allclose(wiretap(model, x, 1, where="post"), expected, atol=1e-5)
    assert model.training  # the mode is restored


def test_streamed_gram_equals_direct_product(net, x):
    for layer, where, bias in [(1, "pre", False), (1, "post", True), (2, "post", True)]:
        S = wiretap(net, x, layer, where=where, bias=bias)
        direct = S @ S.T
        streamed = gram(net, x, layer, where=where, bias=bias, chunk_size=7)
        assert streamed.dtype == np.float64 and streamed.shape == direct.shape
        tolerance = {"rtol": 1e-5, "atol": 1e-5 * np.abs(direct).max()}  # float32 signals, per-chunk rounding
        np.testing.assert_allclose(streamed, direct, **tolerance)
        chunks = (x[i:i + 11] for i in range(0, len(x), 11))  # any iterable of chunks
        np.testing.assert_allclose(gram(net, chunks, layer, where=where, bias=bias), direct, **tolerance)


def test_gram_streams_a_library():
    from descrambler.deer import LibraryConfig, iter_library, make_library

    model = two_layer(n_hidden=5)
    config = LibraryConfig()
    streamed = gram(model, (lib.traces for lib in iter_library(9000, config, seed=3, chunk_size=4096)), 1)
    S = wiretap(model, make_library(9000, config, seed=3).traces, 1)
    np.testing.assert_allclose(streamed, S @ S.T, rtol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"x": np.zeros((3, 200), np.float32)}, r"x: expected shape \(N, 256\)"),
    ({"x": np.zeros(256, np.float32)}, r"x: expected shape \(N, 256\)"),
    ({"x": np.full((3, 256), np.nan, np.float32)}, "x: contains NaN"),
    ({"x": np.full((3, 256), -np.inf, np.float32)}, "x: contains NaN or infinite"),
    ({"layer": 0}, "layer: the model has 2 Linear layer"),
    ({"layer": 3}, "layer: the model has 2 Linear layer"),
    ({"layer": "1"}, "layer: expected an integer"),
    ({"layer": True}, "layer: expected an integer"),
    ({"where": "mid"}, "where: unknown value 'mid'"),
    ({"bias": "yes"}, "bias: expected True or False"),
])
def test_bad_wiretap_input(net, x, kwargs, message):
    arguments = {"x": x, "layer": 1, **kwargs}
    with pytest.raises(ValueError, match="^" + message):
        wiretap(net, **arguments)
    with pytest.raises(ValueError, match="^" + message):
        gram(net, **arguments)


@pytest.mark.parametrize("x, kwargs, message", [
    (iter([]), {}, "x: holds no traces"),
    ([np.zeros((2, 256), np.float32), np.zeros((2, 100), np.float32)], {}, r"x \(chunk 1\): expected shape"),
    ([np.zeros((2, 256), np.float32), np.full((2, 256), np.nan, np.float32)], {}, r"x \(chunk 1\): contains NaN"),
    (5, {}, "x: expected an array"),
    (np.zeros((2, 256), np.float32), {"chunk_size": 0}, "chunk_size: must be a positive integer"),
])
def test_bad_gram_input(net, x, kwargs, message):
    with pytest.raises(ValueError, match="^" + message):
        gram(net, x, 1, **kwargs)
