"""Tests of descrambler.study.denoising: baselines, readings and descramblers on known answers, the spec, bad input."""

import numpy as np
import pytest

from descrambler.groups import random_rotation
from descrambler.nets import denoiser, two_layer
from descrambler.signals.speech import SpeechConfig
from descrambler.study import denoising as d
from descrambler.study.spec import CONFIRMATION_SEEDS, DEVELOPMENT_SEEDS

N = 16


def circulant(gain: np.ndarray) -> np.ndarray:
    """The (n, n) matrix of the circular filter with `gain` per real-FFT bin."""
    n = 2 * (gain.size - 1)
    return d.wiener_filter(np.eye(n), gain).T


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(11)


def test_wiener_is_identity_without_noise(rng):
    clean = rng.standard_normal((50, N))
    gain = d.wiener_gain(clean, clean)
    np.testing.assert_array_equal(gain, 1.0)
    np.testing.assert_allclose(d.wiener_filter(clean, gain), clean, atol=1e-12)


def test_wiener_halves_white_signal_in_equal_white_noise(rng):
    clean = rng.standard_normal((20_000, N))
    gain = d.wiener_gain(clean, clean + rng.standard_normal(clean.shape))
    np.testing.assert_allclose(gain, 0.5, atol=0.02)


def test_least_squares_recovers_a_linear_map(rng):
    A = rng.standard_normal((N, N))
    noisy = rng.standard_normal((200, N))
    np.testing.assert_allclose(d.least_squares_denoiser(noisy @ A.T, noisy), A, atol=1e-9)


def test_snr_gain_known_answer(rng):
    clean = rng.standard_normal((10, N))
    noisy = clean + rng.standard_normal((10, N))
    gains = d.snr_gain(clean, noisy, clean + 0.5 * (noisy - clean))
    np.testing.assert_allclose(gains, 20 * np.log10(2))
    summary = d.gain_summary(gains)
    assert summary["n"] == 10 and summary["q25"] <= summary["median"] <= summary["q75"]


def test_estimates_hold_baselines_and_models(rng):
    noisy = rng.standard_normal((5, N))
    out = d.estimates(noisy, np.ones(N // 2 + 1), 2 * np.eye(N), {"net": denoiser(n_in=N, hidden=(4,))})
    assert set(out) == {"Wiener", "least squares", "net"} and out["net"].shape == (5, N)
    np.testing.assert_allclose(out["least squares"], 2 * noisy)


def test_fourier_basis_is_orthonormal_and_diagonalises_a_circular_filter(rng):
    F = d.fourier_basis(N)
    np.testing.assert_allclose(F @ F.T, np.eye(N), atol=1e-12)
    gain = rng.uniform(0.1, 1, N // 2 + 1)
    np.testing.assert_allclose(F @ circulant(gain) @ F.T, np.diag(gain[d.fourier_bins(N)]), atol=1e-12)


def test_diagonal_share_known_answers():
    assert d.diagonal_share(np.diag([1.0, -2.0, 3.0])) == 1.0
    assert d.diagonal_share(np.ones((4, 4))) == pytest.approx(0.25)


def test_singular_spread_known_answers(rng):
    assert d.singular_spread(3 * random_rotation(N, rng)) == pytest.approx(0, abs=1e-12)
    assert d.singular_spread(np.diag([1.0, 3.0])) == pytest.approx(0.5)


def test_diagonal_response_of_a_filter_is_its_gain(rng):
    gain = rng.uniform(0.1, 1, N // 2 + 1)
    F = d.fourier_basis(N)
    A = F @ circulant(gain) @ F.T
    np.testing.assert_allclose(d.diagonal_response(A), gain, atol=1e-12)
    assert d.response_correlation(A, gain) == pytest.approx(1.0)
    assert np.isnan(d.response_correlation(np.eye(N), gain))  # a flat response has no shape


def test_max_diagonal_descramblers_undo_a_rotation(rng):
    generator = 0.2 * rng.standard_normal((6, 6))
    generator -= generator.T
    Q = np.linalg.solve(np.eye(6) - generator, np.eye(6) + generator)  # a rotation (Cayley), det +1
    D = np.diag(rng.uniform(1, 2, 6))
    W = Q @ D
    np.testing.assert_allclose(d.descrambler_rotation(W, "sum") @ W, D, atol=1e-10)
    A = d.descrambler_rotation(W, "normsq") @ W  # the diagonal's signs are free for the norm square
    np.testing.assert_allclose(np.abs(A), D, atol=1e-6)


def test_smoothness_descrambler_needs_the_signals(rng):
    W = rng.standard_normal((N, N))
    with pytest.raises(ValueError, match="^signal_gram: the smoothness descrambler needs"):
        d.descrambler_rotation(W, "smoothness")
    P = d.descrambler_rotation(W, "smoothness", W @ W.T)
    np.testing.assert_allclose(P @ P.T, np.eye(N), atol=1e-10)


def test_read_network_finds_a_rotated_wiener_filter(rng):
    """W1 = Q C (a filter C behind a rotation Q) and W2 = C Q^T: the diagonal descramblers find C's gain."""
    gain = np.linspace(1.0, 0.2, N // 2 + 1)
    C = circulant(gain)
    Q = random_rotation(N, rng)
    reading = d.read_network(Q @ C, C @ Q.T, np.eye(N), gain, descramblers=("sum",))
    values = reading.values
    assert values["sum/diagonal_frequency"] == pytest.approx(1.0)
    assert values["sum/wiener"] == pytest.approx(1.0)
    assert values["sum/second_diagonal"] == pytest.approx(1.0)
    assert values["sum/second_wiener"] == pytest.approx(1.0)
    np.testing.assert_allclose(reading.first["sum", "time"], C, atol=1e-10)  # polar factor: the filter itself
    assert set(reading.seconds) == {"sum"}


def test_measure_denoisers_reads_controls(rng):
    model = denoiser(n_in=N, hidden=(N,))
    X = rng.standard_normal((N, 100))
    (result,) = d.measure_denoisers([model], [3], X @ X.T, np.linspace(1, 0.5, N // 2 + 1))
    keys = {claim.key for claim in d.CLAIMS}
    for name in ("trained", "untrained", "random"):
        assert set(result[name]) == keys
    assert set(result["seconds"]) == set(d.DESCRAMBLERS)
    assert result["random"] != result["trained"]


def test_spec_profiles_and_seeds():
    full, smoke = d.denoiser_spec("full"), d.denoiser_spec("smoke")
    assert full.architecture == d.ARCHITECTURE and full.train.target == "clean"
    assert isinstance(full.train.data, SpeechConfig)
    assert smoke.train.n_train < full.train.n_train
    for spec in (full, smoke):
        assert set(spec.development_seeds) <= set(DEVELOPMENT_SEEDS)
        assert set(spec.confirmation_seeds) <= set(CONFIRMATION_SEEDS)


def test_fit_frames_are_the_training_frames():
    spec = d.denoiser_spec("smoke")
    clean, noisy = d.fit_frames(spec.train, 0)
    assert clean.shape == noisy.shape == (spec.train.n_train, 256)


def test_claims_have_unique_keys():
    keys = [claim.key for claim in d.CLAIMS]
    assert len(keys) == len(set(keys)) == len(d.DESCRAMBLERS) * len(d.READINGS)
    assert d.PERFORMANCE.verdict(0.1) == "holds" and d.PERFORMANCE.verdict(-1.0) == "does not hold"


@pytest.mark.parametrize("call, message", [
    (lambda: d.denoiser_spec("huge"), "profile: unknown value"),
    (lambda: d.wiener_gain(np.ones((3, 4)), np.ones((3, 5))), "noisy: shape"),
    (lambda: d.wiener_filter(np.ones((3, 8)), np.ones(4)), "gain: expected 5 values"),
    (lambda: d.least_squares_denoiser(np.ones((3, 8)), np.ones((3, 8))), "noisy: need at least 8 frames"),
    (lambda: d.snr_gain(np.ones((3, 8)), np.ones((3, 8)), np.ones((2, 8))), "estimate: shape"),
    (lambda: d.fourier_basis(7), "n: expected an even size"),
    (lambda: d.diagonal_share(np.ones((3, 4))), "A: expected a square matrix"),
    (lambda: d.diagonal_share(np.zeros((3, 3))), "A: has zero norm"),
    (lambda: d.singular_spread(np.zeros((3, 3))), "W: has zero norm"),
    (lambda: d.response_correlation(np.eye(4), np.ones(4)), "gain: expected 3 values"),
    (lambda: d.descrambler_rotation(np.eye(4), "trace"), "descrambler: unknown value"),
    (lambda: d.claim_for(d.READINGS[0], "trace"), "descrambler: unknown value"),
    (lambda: d.read_network(np.ones((4, 3)), np.eye(4), np.eye(4), np.ones(3)), "W1: expected a square layer"),
    (lambda: d.read_network(np.eye(4), np.eye(3), np.eye(4), np.ones(3)), "W2: expected shape"),
    (lambda: d.read_network(np.eye(4), np.eye(4), np.eye(3), np.ones(3)), "input_gram: expected shape"),
    (lambda: d.layers(denoiser(n_in=4, hidden=(4, 4))), "model: expected one hidden layer"),
    (lambda: d.measure_denoisers([two_layer()], [0, 1], np.eye(4), np.ones(3)), "seeds: need one per network"),
])
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match="^" + message):
        call()
