"""Tests of descrambler.signals.laplace: the kernel on known answers and quadrature, the configuration's checks,
the generator, and the chapter's reading (its metric on a known answer, its claim and its controls)."""

import dataclasses

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from descrambler.nets import two_layer
from descrambler.nets.training import _reinitialise
from descrambler.signals.laplace import BLOCK_SIZE, LaplaceConfig, laplace_kernel, make_laplace
from descrambler.study.findings.laplace import (
    LOW_PASS_CLAIM,
    decay_corner,
    low_pass_claim,
    low_pass_edge,
    null_controls,
    read_low_pass,
)

SMALL = LaplaceConfig(n_time=64, n_tau=48, max_peaks=2, min_width=0.1)


# ---------------------------------------------------------------- kernel

def test_kernel_known_values():
    t, tau = np.array([0.0, 0.5, 2.0]), np.array([0.5, 2.0])
    K = laplace_kernel(t, tau)
    assert K.shape == (3, 2)
    np.testing.assert_array_equal(K[0], 1.0)  # every decay starts at 1
    assert K[1, 0] == pytest.approx(np.exp(-1)) and K[2, 1] == pytest.approx(np.exp(-1))  # t = tau
    assert K[2, 0] == pytest.approx(np.exp(-4))


def test_kernel_gives_the_laplace_transform_of_a_gamma_distribution_of_rates():
    """Rates k = 1 / tau ~ Gamma(alpha, theta) decay as E[exp(-k t)] = (1 + theta t)^-alpha exactly."""
    alpha, theta = 3.0, 10.0
    x = np.linspace(-4, 2, 4000)  # log10 tau, far beyond the distribution's tails
    k = 10.0 ** -x
    weights = stats.gamma.pdf(k, alpha, scale=theta) * k * np.log(10) * (x[1] - x[0])  # density in log10 tau
    t = np.linspace(0, 1, 50)
    np.testing.assert_allclose(laplace_kernel(t, 10.0 ** x) @ weights, (1 + theta * t) ** -alpha, atol=1e-9)


def test_kernel_matches_quadrature_of_a_log_normal_distribution():
    mean, sd = -1.0, 0.3  # log10 tau
    x = np.linspace(mean - 10 * sd, mean + 10 * sd, 3000)
    weights = stats.norm.pdf(x, mean, sd) * (x[1] - x[0])
    t = np.array([0.0, 0.01, 0.05, 0.2, 0.7])
    exact = [integrate.quad(lambda u, ti=ti: stats.norm.pdf(u, mean, sd) * np.exp(-ti * 10.0 ** -u),
                            mean - 10 * sd, mean + 10 * sd, epsabs=1e-13)[0] for ti in t]
    np.testing.assert_allclose(laplace_kernel(t, 10.0 ** x) @ weights, exact, atol=1e-10)


@pytest.mark.parametrize("t, tau, name", [
    ([-0.1, 0.2], [1.0], "t"), ([0.1], [0.0, 1.0], "tau"), ([0.1], [-1.0], "tau"), ([[0.1]], [1.0], "t"),
    ([0.1, np.nan], [1.0], "t"), ([], [1.0], "t, tau"), ([0.1], "a", "tau"),
])
def test_kernel_refuses_bad_input(t, tau, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        laplace_kernel(t, tau)


# ---------------------------------------------------------------- configuration

def test_config_grids():
    config = LaplaceConfig()
    assert config.t[0] == 0 and config.t[-1] == config.t_max and config.t.size == config.n_time
    assert config.dt == pytest.approx(config.t[1])
    np.testing.assert_allclose(config.tau[[0, -1]], [config.tau_min, config.tau_max])
    np.testing.assert_allclose(np.diff(config.log_tau), config.log_step)
    assert isinstance(LaplaceConfig(n_time=np.int64(32)).n_time, int)


@pytest.mark.parametrize("kwargs, name", [
    ({"n_time": 4}, "n_time"), ({"n_time": 256.0}, "n_time"), ({"n_tau": 1}, "n_tau"), ({"t_max": 0.0}, "t_max"),
    ({"t_max": float("inf")}, "t_max"), ({"tau_min": -1.0}, "tau_min"), ({"tau_min": 2.0}, "tau_min"),
    ({"tau_max": "1"}, "tau_max"), ({"min_peaks": 0}, "min_peaks"), ({"min_peaks": 4}, "min_peaks"),
    ({"max_peaks": 200}, "max_peaks"), ({"min_width": 0.0}, "min_width"), ({"min_width": 0.6}, "min_width"),
    ({"min_width": 0.001}, "min_width"), ({"max_width": True}, "max_width"), ({"min_noise": -0.1}, "min_noise"),
    ({"min_noise": 0.05}, "min_noise"), ({"max_noise": float("nan")}, "max_noise"), ({"max_noise": None}, "max_noise"),
])
def test_config_refuses_bad_fields(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        LaplaceConfig(**kwargs)


# ---------------------------------------------------------------- generator

@pytest.fixture(scope="module")
def decays():
    return make_laplace(2 * BLOCK_SIZE + 100, SMALL, seed=4)


def test_generator_shapes_and_types(decays):
    n = len(decays)
    assert decays.traces.shape == decays.clean.shape == (n, SMALL.n_time)
    assert decays.distributions.shape == (n, SMALL.n_tau)
    assert decays.peak_position.shape == decays.peak_width.shape == decays.peak_amplitude.shape == (n, 2)
    assert decays.traces.dtype == decays.distributions.dtype == np.float32 and decays.n_peaks.dtype == np.int8
    np.testing.assert_array_equal(decays.t, SMALL.t)
    np.testing.assert_array_equal(decays.log_tau, SMALL.log_tau)


def test_generator_follows_its_recipe(decays):
    np.testing.assert_allclose(decays.distributions.mean(axis=1), 1, rtol=1e-5)
    assert decays.distributions.min() >= 0
    np.testing.assert_allclose(decays.clean[:, 0], 1, rtol=1e-5)  # s(0) = total amplitude = 1
    expected = decays.distributions.astype(np.float64) @ laplace_kernel(SMALL.t, SMALL.tau).T / SMALL.n_tau
    np.testing.assert_allclose(decays.clean, expected, atol=1e-5)
    assert set(np.unique(decays.n_peaks)) == {1, 2}
    present = np.arange(2) < decays.n_peaks[:, None]
    assert np.array_equal(np.isfinite(decays.peak_position), present)
    positions = decays.peak_position[present]
    assert positions.min() >= SMALL.log_tau[0] and positions.max() <= SMALL.log_tau[-1]
    widths = decays.peak_width[present]
    assert widths.min() >= SMALL.min_width and widths.max() <= SMALL.max_width
    assert decays.peak_amplitude[present].min() > 0 and decays.peak_amplitude[present].max() <= 1
    # the noise: per-trace RMS as drawn, inside the configured range
    assert decays.noise_rms.min() >= SMALL.min_noise and decays.noise_rms.max() <= SMALL.max_noise
    rms = np.sqrt(np.mean((decays.traces.astype(np.float64) - decays.clean) ** 2, axis=1))
    noisy = decays.noise_rms > 0.005
    np.testing.assert_allclose(rms[noisy] / decays.noise_rms[noisy], 1, atol=0.5)
    assert abs(np.median(rms[noisy] / decays.noise_rms[noisy]) - 1) < 0.02


def test_single_peak_sits_where_drawn():
    config = dataclasses.replace(SMALL, max_peaks=1)
    decays = make_laplace(200, config, seed=1)
    peak = decays.log_tau[np.argmax(decays.distributions, axis=1)]
    inside = np.abs(decays.peak_position[:, 0] - SMALL.log_tau.mean()) < 0.6  # not cut by the grid's ends
    assert np.abs(peak - decays.peak_position[:, 0])[inside].max() <= SMALL.log_step


def test_generator_is_reproducible(decays):
    again = make_laplace(len(decays), SMALL, seed=4)
    for name in ("traces", "clean", "distributions", "peak_position", "noise_rms", "n_peaks"):
        np.testing.assert_array_equal(getattr(decays, name), getattr(again, name))
    first_blocks = make_laplace(2 * BLOCK_SIZE, SMALL, seed=4)  # whole blocks do not depend on n
    np.testing.assert_array_equal(first_blocks.traces, decays.traces[:2 * BLOCK_SIZE])
    other = make_laplace(10, SMALL, seed=5)
    assert not np.array_equal(other.traces, decays.traces[:10])


@pytest.mark.parametrize("kwargs, name", [
    ({"n": 0}, "n"), ({"n": 2.0}, "n"), ({"seed": -1}, "seed"), ({"config": {"n_time": 64}}, "config"),
])
def test_generator_refuses_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        make_laplace(**{"n": 5, **kwargs})


# ---------------------------------------------------------------- the reading

def exponential_bank(a: float, n_in: int = 256, n_link: int = 80, seed: int = 0) -> np.ndarray:
    """Rows c_i a^k (k = 0..n_in - 1) mixed by a random orthogonal matrix: every row a filter of one decay."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(n_link, 1)) * a ** np.arange(n_in)
    Q, _ = np.linalg.qr(rng.normal(size=(n_link, n_link)))
    return Q @ rows


def test_low_pass_edge_of_a_known_filter():
    """The DFT of a^k on N points is (1 - a^N) / (1 - a e^-iw) exactly at the bins: the power falls 10 dB below
    its peak (w = 0) where 1 - 2 a cos w + a^2 = 10 (1 - a)^2."""
    a = np.exp(-1 / 255 / 0.05)  # tau = 0.05 on the default grid (dt = 1/255)
    edge = np.arccos((1 + a**2 - 10 * (1 - a) ** 2) / (2 * a)) / np.pi
    assert low_pass_edge(exponential_bank(a), 1 / 255) == pytest.approx(edge, abs=1 / 128)  # within a bin
    assert low_pass_edge(np.eye(256), 1 / 255) == 1.0  # a flat response never falls: the edge is at Nyquist


def test_low_pass_edge_ignores_the_descrambler():
    A = exponential_bank(0.9) + 0.01 * np.random.default_rng(1).normal(size=(80, 256))
    Q, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(80, 80)))
    assert low_pass_edge(Q @ A, 0.1) == pytest.approx(low_pass_edge(A, 0.1), rel=1e-9)


def test_claim_thresholds_follow_the_fastest_decay():
    config = LaplaceConfig()
    corner = config.dt / (np.pi * config.tau_min)
    assert decay_corner(config) == pytest.approx(corner)
    assert (LOW_PASS_CLAIM.holds, LOW_PASS_CLAIM.partly) == pytest.approx((corner, 3 * corner))
    assert LOW_PASS_CLAIM.lower_is_better and LOW_PASS_CLAIM == low_pass_claim(config)
    assert [LOW_PASS_CLAIM.verdict(v) for v in (0.5 * corner, 2 * corner, 1.0)] == ["holds", "partly", "does not hold"]
    assert low_pass_claim(dataclasses.replace(config, tau_min=0.02)).holds == pytest.approx(corner / 2)


def test_null_controls():
    model = two_layer(64, 8, 48)
    untrained, random = null_controls(model, seed=3)
    again, _ = null_controls(model, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(untrained.parameters(), again.parameters()))
    assert not torch.equal(untrained[0].weight, model[0].weight)
    norm = torch.linalg.norm(model[0].weight).item()
    assert torch.linalg.norm(random[0].weight).item() == pytest.approx(norm, rel=1e-6)
    assert not torch.equal(random[0].weight, model[0].weight)
    assert torch.equal(random[0].bias, model[0].bias) and torch.equal(random[2].weight, model[2].weight)


def test_untrained_control_is_the_start_training_draws_from_the_same_seed():
    model = two_layer(64, 8, 48)
    untrained, _ = null_controls(model, seed=7)
    start = two_layer(64, 8, 48)
    _reinitialise(start, 7)  # what `train(start, config, seed=7)` starts from
    assert all(torch.equal(p, q) for p, q in zip(untrained.parameters(), start.parameters()))


def test_read_low_pass_on_a_known_first_layer():
    """A first layer made of decay filters reads as low-pass; its untrained and random twins do not."""
    model = two_layer(64, 8, 48)
    a = np.exp(-SMALL.dt / 0.2)
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(exponential_bank(a, 64, 8)))
    traces = make_laplace(3000, SMALL, seed=2).traces
    reading = read_low_pass(model, np.array_split(traces, 3), SMALL.dt, seed=0)
    assert reading["trained"] == pytest.approx(low_pass_edge(model[0].weight.detach().double().numpy(), SMALL.dt))
    assert reading["trained"] < 0.2 and reading["untrained"] > 0.8 and reading["random"] > 0.8
