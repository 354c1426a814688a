"""The paper's readings of its Figs. 2-4 on synthetic cases with known answers."""

import numpy as np
import pytest
from numpy.polynomial import chebyshev, legendre

from descrambler.study.findings.readings import (band_edges, equivalent, fast_slow_reading, folded_magnitude,
                                           gram_reading, input_response, multiplexing_reading, notch_reading,
                                           polynomial_reading, random_like, row_ridge,
                                           smoothness_rank_reading)
from descrambler.groups.haar import random_rotation

INPUT = np.arange(-128, 128)
LINK = np.arange(-40, 40)
GRID = np.linspace(-1, 1, 256)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- input response, notch, band ---------------------------------------------------------------


def test_input_response_is_the_row_power_spectrum_and_descrambler_invariant():
    A = _rng().standard_normal((80, 256))
    index, response = input_response(A)
    np.testing.assert_array_equal(index, np.arange(129))
    np.testing.assert_allclose(response, 80 * np.sum(np.abs(np.fft.rfft(A, axis=1)) ** 2, axis=0))
    np.testing.assert_allclose(input_response(random_rotation(80, _rng(1)) @ A)[1], response)


def test_notch_reading_known_answer():
    n, alpha = 64, 0.1
    j = np.arange(n)
    A = alpha + np.cos(2 * np.pi * (np.arange(4)[:, None] % 3 + 1) * j / n)
    reading = notch_reading(A, neighbours=3)
    assert reading.depth_db == pytest.approx(10 * np.log10(12 * alpha**2))
    assert reading.constant_share == pytest.approx(alpha**2 / (alpha**2 + 0.5))
    assert reading.constant_share_over_white == pytest.approx(n * alpha**2 / (alpha**2 + 0.5))


def test_notch_reading_of_white_and_mean_free_layers():
    A = _rng().standard_normal((400, 256))
    assert notch_reading(A).constant_share_over_white == pytest.approx(1, abs=0.2)
    centred = notch_reading(A - A.mean(axis=1, keepdims=True))
    assert centred.constant_share == pytest.approx(0, abs=1e-25)
    assert centred.depth_db < -200


def _layer_with_response_db(level_db: np.ndarray) -> np.ndarray:
    """Two rows (one empty) whose input response is 2 * 10^(level_db/10) on bins 0..n/2."""
    row = np.fft.irfft(np.sqrt(10 ** (level_db / 10)), n=2 * (level_db.size - 1))
    return np.vstack([row, np.zeros_like(row)])


def test_band_edges_interpolate_the_crossings_in_db():
    dt = 0.01  # us: Nyquist 50 MHz, bin f at f / 1.28 MHz
    level = -np.abs(np.arange(65) - 20.0)
    A = _layer_with_response_db(level)
    edges = band_edges(A, dt, level_db=-10.5)
    assert edges.peak_mhz == pytest.approx(20 / 1.28)
    assert edges.low_mhz == pytest.approx(9.5 / 1.28)
    assert edges.high_mhz == pytest.approx(30.5 / 1.28)
    assert (edges.low_nyquist, edges.peak_nyquist, edges.high_nyquist) == pytest.approx((9.5 / 64, 20 / 64, 30.5 / 64))
    rotated = band_edges(random_rotation(2, _rng()) @ A, dt, level_db=-10.5)
    assert rotated.high_mhz == pytest.approx(edges.high_mhz)


def test_band_edges_that_never_fall_reach_zero_and_nyquist():
    level = -0.05 * np.abs(np.arange(65) - 30.0)
    edges = band_edges(_layer_with_response_db(level), 2 / 255)
    assert edges.low_mhz == 0 and edges.low_nyquist == 0
    assert edges.high_mhz == pytest.approx(255 / 4) and edges.high_nyquist == pytest.approx(1)


# --- rescaling ridge ---------------------------------------------------------------------------


def _ridge_magnitude(ridge, input_offsets=INPUT, link_offsets=LINK, noise=0.1, seed=0) -> np.ndarray:
    """Magnitude of about 1 at |link offset| = ridge(|input offset|), uniform noise below 0.1 elsewhere."""
    rng = _rng(seed)
    magnitude = noise * rng.random((input_offsets.size, link_offsets.size))
    k = np.array([ridge(abs(f)) if f else -1 for f in input_offsets])
    on = np.abs(link_offsets)[None, :] == k[:, None]
    magnitude[on] = 1 + 0.1 * rng.random(on.sum())
    return magnitude


def test_row_ridge_recovers_a_cube_root_ridge():
    result = row_ridge(_ridge_magnitude(lambda f: round(7 * f ** (1 / 3))), INPUT, LINK)
    assert result.exponent == pytest.approx(1 / 3, abs=0.01)
    assert result.ci_low <= 1 / 3 <= result.ci_high
    assert result.used.all() and result.r_squared > 0.99
    np.testing.assert_array_equal(result.input_offset, np.arange(1, 129))
    assert equivalent(result.ci_low, result.ci_high, 1 / 3, 0.05)
    assert not equivalent(result.ci_low, result.ci_high, 1.0, 0.05)


def test_row_ridge_recovers_the_reference_cubic_overlay():
    result = row_ridge(_ridge_magnitude(lambda f: round((f / 0.05) ** (1 / 3))), INPUT, LINK)
    assert result.exponent == pytest.approx(1 / 3, abs=0.01)
    assert result.ci_low <= 1 / 3 <= result.ci_high


def test_row_ridge_recovers_a_linear_ridge_on_even_rows_only():
    even = np.arange(-78, 79, 2)  # absent odd rows are skipped
    result = row_ridge(_ridge_magnitude(lambda f: f // 2, input_offsets=even), even, LINK)
    assert result.exponent == pytest.approx(1, abs=1e-9)
    assert result.prefactor == pytest.approx(0.5)
    np.testing.assert_array_equal(result.link_offset_of_max[1::2], np.arange(1, 40))
    np.testing.assert_array_equal(result.used, result.input_offset % 2 == 0)


def test_row_ridge_uses_order_only():
    magnitude = _ridge_magnitude(lambda f: round(7 * f ** (1 / 3)), noise=0.9)
    reference = row_ridge(magnitude, INPUT, LINK, min_input_offset=2, max_input_offset=100)
    for transform in (np.sqrt, np.log1p, lambda m: -1 / m):
        other = row_ridge(transform(magnitude), INPUT, LINK, min_input_offset=2, max_input_offset=100)
        np.testing.assert_array_equal(other.link_offset_of_max, reference.link_offset_of_max)
        assert other.exponent == reference.exponent


def test_row_ridge_combines_cells_by_maximum_not_sum():
    magnitude = np.zeros((5, 5))
    offsets = np.arange(-2, 3)
    magnitude[3, [0, 4]] = 0.6   # f = +1: k = -2 and +2 sum to 1.2
    magnitude[1, 3] = 1.0        # f = -1: k = +1 holds the single largest cell
    assert row_ridge(magnitude, offsets, offsets, max_input_offset=1).link_offset_of_max[0] == 1


def test_row_ridge_returns_nan_with_fewer_than_three_rows():
    result = row_ridge(_ridge_magnitude(lambda f: f), INPUT, LINK, max_input_offset=2)
    assert np.isnan([result.exponent, result.ci_low, result.ci_high, result.prefactor]).all()
    assert not equivalent(result.ci_low, result.ci_high, 1 / 3, 0.1)


def test_folded_magnitude_of_a_real_matrix_with_a_cube_root_ridge():
    link = np.fft.fftfreq(80, 1 / 80).round().astype(int)
    inp = np.fft.fftfreq(256, 1 / 256).round().astype(int)
    ridge = np.round(7 * np.abs(inp) ** (1 / 3)).astype(int)
    spectrum = (np.abs(link)[:, None] == ridge[None, :]) & (inp[None, :] != 0)
    spectrum = spectrum + 0.05 * _rng().random((80, 256))
    spectrum = spectrum + spectrum[-np.arange(80)][:, -np.arange(256)]  # Hermitian: real A
    A = np.fft.ifft2(spectrum).real
    magnitude, input_offsets, link_offsets = folded_magnitude(A)
    np.testing.assert_array_equal(input_offsets, INPUT)
    np.testing.assert_array_equal(link_offsets, LINK)
    np.testing.assert_allclose(magnitude, np.fft.fftshift(spectrum).T, atol=1e-12)
    from_matrix = row_ridge(magnitude, input_offsets, link_offsets)
    direct = row_ridge(_ridge_magnitude(lambda f: round(7 * f ** (1 / 3))), INPUT, LINK)
    np.testing.assert_array_equal(from_matrix.link_offset_of_max, direct.link_offset_of_max)
    assert from_matrix.ci_low <= 1 / 3 <= from_matrix.ci_high


def test_equivalent():
    assert equivalent(0.30, 0.36, 1 / 3, 0.05)
    assert not equivalent(0.20, 0.36, 1 / 3, 0.05)
    assert not equivalent(float("nan"), 0.36, 1 / 3, 0.05)


# --- second layer ------------------------------------------------------------------------------


def _fourier_basis(n: int) -> np.ndarray:
    """Orthonormal real Fourier basis (columns): cos/sin pairs of frequency 1..n/2-1, cos n/2, constant last."""
    j = np.arange(n)[:, None]
    k = np.arange(1, n // 2)[None, :]
    pairs = np.stack([np.cos(2 * np.pi * k * j / n), np.sin(2 * np.pi * k * j / n)], axis=2).reshape(n, -1)
    basis = np.hstack([pairs, np.cos(np.pi * j), np.ones((n, 1))])
    return basis / np.linalg.norm(basis, axis=0)


def _with_singular_vectors(U: np.ndarray, V: np.ndarray) -> np.ndarray:
    return U @ np.diag(np.linspace(10, 1, V.shape[1])) @ V.T


def test_multiplexing_reading_of_exact_and_scrambled_sinusoids():
    n_out, n_link = 64, 40
    U = np.linalg.qr(_rng(1).standard_normal((n_out, n_link)))[0]
    V = _fourier_basis(n_link)
    B = _with_singular_vectors(U, V)
    controls = [random_like(B, _rng(seed)) for seed in (2, 3)]
    reading = multiplexing_reading(B, controls)
    np.testing.assert_allclose(reading.r_squared, 1, atol=1e-8)
    assert reading.control_r_squared.shape == (2, 5)
    assert reading.median == pytest.approx(1) and reading.all_median == pytest.approx(1)
    assert reading.excess > 0.3 and reading.control_all_median < 0.7
    scrambled = multiplexing_reading(_with_singular_vectors(U, random_rotation(n_link, _rng(4)) @ V), controls)
    assert scrambled.median < 0.6 and scrambled.excess < 0.2


def _embed(vector: np.ndarray, position: int, n_link: int = 20, seed: int = 0) -> np.ndarray:
    """A matrix (n, n_link) whose left singular vector number `position` (0-based) is `vector`."""
    rng = _rng(seed)
    Q = np.linalg.qr(np.column_stack([vector, rng.standard_normal((vector.size, n_link - 1))]))[0]
    order = list(range(1, n_link))
    order.insert(position, 0)
    return _with_singular_vectors(Q[:, order], np.linalg.qr(rng.standard_normal((n_link, n_link)))[0])


@pytest.mark.parametrize("degree", [1, 2, 3, 4])
def test_polynomial_reading_of_exact_chebyshev_vectors(degree):
    t = chebyshev.chebval(GRID, np.eye(degree + 1)[degree])
    reading = polynomial_reading(_embed(-3 * t, degree))
    centred = t - t.mean()
    expected = (centred @ t) ** 2 / (centred @ centred) / (t @ t)  # the reference's fit: T not mean-removed
    assert reading.chebyshev_r_squared[degree] == pytest.approx(expected, abs=1e-9)
    if degree % 2:
        assert reading.chebyshev_r_squared[degree] == pytest.approx(1, abs=1e-9)
    if degree >= 2:
        assert reading.legendre_r_squared[degree] < 1 - 1e-5
    if degree == 3:
        assert reading.legendre_r_squared[3] < reading.chebyshev_r_squared[3]
        assert reading.best_family[3] == "chebyshev"
    if degree == 2:  # T_2 minus its mean is 2 P_2 (up to the grid): the reference's fit prefers Legendre
        assert reading.legendre_r_squared[2] > 0.9999 > reading.chebyshev_r_squared[2]


def test_polynomial_reading_of_exact_legendre_and_cosine_vectors():
    p3 = legendre.legval(GRID, np.eye(4)[3])
    reading = polynomial_reading(_embed(p3, 3))
    assert reading.legendre_r_squared[3] == pytest.approx(1, abs=1e-9)
    assert reading.best_family[3] == "legendre"
    for order in (2, 3, 4):
        reading = polynomial_reading(_embed(np.cos(order * np.pi * (GRID + 1) / 2), order))
        assert reading.cosine_r_squared[order] == pytest.approx(1, abs=1e-3)
        assert reading.best_family[order] == "cosine"


def test_polynomial_reading_of_random_vectors_is_low():
    reading = polynomial_reading(_rng().standard_normal((256, 80)))
    assert len(reading.best_family) == 5
    for values in (reading.chebyshev_r_squared, reading.legendre_r_squared, reading.cosine_r_squared):
        assert np.all((values >= -1e-12) & (values < 0.1))
    assert reading.chebyshev_median < 0.1


def test_smoothness_rank_reading_known_ranks_and_polynomial_outputs():
    rng = _rng()
    W1 = np.linalg.qr(rng.standard_normal((80, 80)))[0][:, :3] @ np.diag([3.0, 2.0, 1.0]) @ \
        np.linalg.qr(rng.standard_normal((256, 256)))[0][:3]
    W2 = rng.standard_normal((256, 5)) @ rng.standard_normal((5, 80))
    Z = chebyshev.chebvander(GRID, 4) @ rng.standard_normal((5, 1000))
    Z = Z - Z.mean(axis=1, keepdims=True)
    reading = smoothness_rank_reading(W1, W2, Z @ Z.T)
    assert reading.rank_first == (2, 3)  # s^2 = 9, 4, 1: 13/14 >= 0.9, 14/14 >= 0.99
    assert all(r <= 5 for r in reading.rank_second)
    assert reading.polynomial_degree <= 4 and reading.n_grid == 256
    assert reading.polynomial_share_by_degree[4] == pytest.approx(1, abs=1e-9)
    assert reading.polynomial_share_by_degree[-1] == pytest.approx(1)


def test_smoothness_rank_reading_of_white_noise_outputs():
    rng = _rng()
    W1, W2 = rng.standard_normal((80, 256)), rng.standard_normal((256, 80))
    Z = rng.standard_normal((256, 4000))
    Z = Z - Z.mean(axis=1, keepdims=True)
    reading = smoothness_rank_reading(W1, W2, Z @ Z.T, energy=(0.9,))
    assert abs(reading.polynomial_degree - 0.9 * 256) < 10
    assert np.all(np.diff(reading.polynomial_share_by_degree) > 0)
    assert len(reading.rank_first) == 1 and reading.rank_first[0] > 40


def test_fast_slow_reading():
    n = np.arange(80)
    r = np.linspace(1.5, 6, 256)
    k = np.round(np.linspace(30, 1, 256))
    reading = fast_slow_reading(np.sin(2 * np.pi * k[:, None] * n / 80) + 0.2, r)
    np.testing.assert_allclose(reading.centroid, k, atol=1e-9)
    assert reading.spearman < -0.99 and reading.pearson < -0.99
    assert abs(fast_slow_reading(_rng().standard_normal((256, 80)), r).spearman) < 0.2


def test_gram_reading():
    Q = np.linalg.qr(_rng().standard_normal((256, 80)))[0] * np.linspace(1, 2, 80)
    assert gram_reading(Q).link_off_diagonal_share == pytest.approx(0, abs=1e-20)
    assert gram_reading(Q.T).output_off_diagonal_share == pytest.approx(0, abs=1e-20)
    ones = gram_reading(np.ones((256, 80)))
    assert ones.link_off_diagonal_share == pytest.approx(79 / 80)
    assert ones.output_off_diagonal_share == pytest.approx(255 / 256)


def test_random_like_keeps_shape_and_norm():
    W = _rng().standard_normal((80, 256)) * 3
    control = random_like(W, _rng(1))
    assert control.shape == W.shape
    assert np.linalg.norm(control) == pytest.approx(np.linalg.norm(W))
    np.testing.assert_array_equal(control, random_like(W, _rng(1)))


# --- bad inputs --------------------------------------------------------------------------------

A = np.ones((8, 32))
M = np.ones((5, 4))
OFFSETS_5, OFFSETS_4 = np.arange(-2, 3), np.arange(-2, 2)
NAN = np.full((8, 32), np.nan)


@pytest.mark.parametrize("call, name", [
    (lambda: input_response(np.ones(32)), "A"),
    (lambda: input_response(NAN), "A"),
    (lambda: notch_reading(A, neighbours=0), "neighbours"),
    (lambda: notch_reading(A, neighbours=17), "neighbours"),
    (lambda: band_edges(A, 0.1, level_db=3.0), "level_db"),
    (lambda: band_edges(A, 0.1, level_db=0.0), "level_db"),
    (lambda: band_edges(A, 0.1, level_db=float("nan")), "level_db"),
    (lambda: band_edges(A, -0.1), "dt"),
    (lambda: folded_magnitude(np.ones((1, 32))), "A"),
    (lambda: row_ridge(np.ones(5), OFFSETS_5, OFFSETS_4), "magnitude"),
    (lambda: row_ridge(np.full((5, 4), np.nan), OFFSETS_5, OFFSETS_4), "magnitude"),
    (lambda: row_ridge(M, OFFSETS_4, OFFSETS_4), "input_offsets"),
    (lambda: row_ridge(M, OFFSETS_5 + 0.5, OFFSETS_4), "input_offsets"),
    (lambda: row_ridge(M, OFFSETS_5, OFFSETS_5), "link_offsets"),
    (lambda: row_ridge(M, OFFSETS_5, OFFSETS_4, min_input_offset=0), "min_input_offset"),
    (lambda: row_ridge(M, OFFSETS_5, OFFSETS_4, min_input_offset=3), "min_input_offset"),
    (lambda: row_ridge(M, OFFSETS_5, OFFSETS_4, min_input_offset=2, max_input_offset=1), "max_input_offset"),
    (lambda: row_ridge(M, OFFSETS_5, OFFSETS_4, min_link_offset=3), "min_link_offset"),
    (lambda: row_ridge(M, OFFSETS_5, OFFSETS_4, min_link_offset=-1), "min_link_offset"),
    (lambda: equivalent(0.1, 0.2, float("nan"), 0.1), "target"),
    (lambda: equivalent(0.1, 0.2, 0.3, 0.0), "margin"),
    (lambda: multiplexing_reading(np.ones((16, 8)), []), "B_controls"),
    (lambda: multiplexing_reading(np.ones((16, 8)), [np.ones((16, 7))]), "B_controls"),
    (lambda: multiplexing_reading(np.ones((16, 8)), [np.ones((16, 8))], indices=[8]), "indices"),
    (lambda: multiplexing_reading(np.ones((16, 8)), [np.ones((16, 8))], indices=[]), "indices"),
    (lambda: multiplexing_reading(np.ones((16, 3)), [np.ones((16, 3))], indices=[0]), "B"),
    (lambda: polynomial_reading(np.ones((16, 8)), count=9), "count"),
    (lambda: polynomial_reading(np.ones((16, 8)), count=0), "count"),
    (lambda: polynomial_reading(np.ones(16)), "B"),
    (lambda: smoothness_rank_reading(A, np.ones((16, 7)), np.eye(16)), "W2"),
    (lambda: smoothness_rank_reading(A, np.ones((16, 8)), np.eye(15)), "output_gram"),
    (lambda: smoothness_rank_reading(A, np.ones((16, 8)), np.triu(np.ones((16, 16)))), "output_gram"),
    (lambda: smoothness_rank_reading(A, np.ones((16, 8)), np.zeros((16, 16))), "output_gram"),
    (lambda: smoothness_rank_reading(A, np.ones((16, 8)), np.eye(16), energy=(1.5,)), "energy"),
    (lambda: smoothness_rank_reading(A, np.ones((16, 8)), np.eye(16), energy=()), "energy"),
    (lambda: fast_slow_reading(np.ones((16, 8)), np.ones(15)), "r"),
    (lambda: fast_slow_reading(np.ones((16, 8)), np.full(16, np.nan)), "r"),
    (lambda: gram_reading(np.ones((3, 3, 3))), "B"),
    (lambda: random_like(A, 0), "rng"),
    (lambda: random_like(np.zeros((4, 4)), _rng()), "W"),
])
def test_bad_arguments_raise_value_errors_naming_them(call, name):
    with pytest.raises(ValueError, match=rf"^([\w.]+, )*{name}(, [\w.]+)*:"):
        call()
