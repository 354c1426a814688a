"""Adversarial signals for the descramblers: extreme scales (1e200, 1e-300) and rank-deficient
signals whose optimum is zero, where objective / optimum is undefined."""

import numpy as np
import pytest

from descrambler.groups import descramble, permutation_descramble, smoothness_objective
from descrambler.groups.solve import zero_level


def _signals(n=10, m=40, seed=0):
    return np.random.default_rng(seed).standard_normal((n, m))


# ---------------------------------------------------------------- scale

@pytest.mark.parametrize("scale", [1e200, 1e300, 1e-300, 1e-200, 1e150, 1e-150, 2.0**-1000])
@pytest.mark.parametrize("method", ["exact", "cayley"])
def test_descramble_does_not_depend_on_the_scale_of_the_signals(scale, method):
    S = _signals()
    plain, scaled = descramble(S, method), descramble(S * scale, method)
    assert scaled.bound == pytest.approx(plain.bound, rel=1e-12)
    assert scaled.objective == pytest.approx(plain.objective, rel=1e-9)
    if method == "exact":  # cayley may stop anywhere on the continuum of optima (cos/sin pairs of L)
        np.testing.assert_allclose(scaled.P, plain.P, atol=1e-6)


@pytest.mark.parametrize("exponent", [-1000, -3, 5, 900])
def test_a_power_of_two_scale_changes_nothing_at_all(exponent):
    S = _signals(seed=1)
    plain, scaled = descramble(S, "exact"), descramble(np.ldexp(S, exponent), "exact")
    np.testing.assert_array_equal(scaled.P, plain.P)
    assert scaled.objective == plain.objective and scaled.bound == plain.bound


@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_gram_matrix_input_of_extreme_scale(scale):
    S = _signals(seed=2)
    gram = S @ S.T
    assert descramble(gram * scale, "exact", gram=True).bound == pytest.approx(
        descramble(gram, "exact", gram=True).bound, rel=1e-12)


@pytest.mark.parametrize("scale", [1e200, 1e-300])
def test_objective_and_signed_permutations_at_extreme_scales(scale):
    S = _signals(n=8, seed=3)
    P = descramble(S, "exact").P
    assert smoothness_objective(P, S * scale) == pytest.approx(smoothness_objective(P, S), rel=1e-12)
    assert permutation_descramble(S * scale).objective == pytest.approx(permutation_descramble(S).objective,
                                                                        rel=1e-9)


def test_truly_zero_signals_are_still_refused():
    with pytest.raises(ValueError, match="^S: the signals are all zero"):
        descramble(np.zeros((4, 10)))


# ---------------------------------------------------------------- rank-deficient signals: ratio undefined

@pytest.mark.parametrize("n, rank, derivative", [(8, 1, "fourier"), (24, 1, "fourier"), (80, 1, "fourier"),
                                                 (8, 1, "finite"), (24, 2, "finite"), (80, 2, "finite")])
@pytest.mark.parametrize("method", ["exact", "cayley"])
def test_ratio_is_undefined_when_the_optimum_is_zero(n, rank, derivative, method):
    rng = np.random.default_rng(n + rank)
    S = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, 50))
    result = descramble(S, method, derivative=derivative)
    assert np.isnan(result.ratio)
    assert result.ratio_note.startswith("objective/optimum undefined: the optimum")
    assert f"rank {rank}" in result.ratio_note
    assert abs(result.objective) <= zero_level(n) and abs(result.bound) <= zero_level(n)


def test_permutation_ratio_is_undefined_for_rank_one_signals():
    rng = np.random.default_rng(5)
    result = permutation_descramble(rng.standard_normal((12, 1)) @ rng.standard_normal((1, 30)))
    assert np.isnan(result.ratio) and result.ratio_note


@pytest.mark.parametrize("n, rank, derivative", [(8, 2, "fourier"), (80, 2, "fourier"), (24, 3, "finite"),
                                                 (24, 5, "fourier")])
def test_ratio_is_defined_as_soon_as_the_optimum_is_not_zero(n, rank, derivative):
    rng = np.random.default_rng(n * rank)
    S = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, 50))
    result = descramble(S, "exact", derivative=derivative)
    assert result.ratio_note == "" and result.ratio == pytest.approx(1.0, abs=1e-6)


def test_zero_level_grows_as_n_squared():
    assert zero_level(20) / zero_level(10) == pytest.approx(4.0)
    assert zero_level(256) < 1e-9
