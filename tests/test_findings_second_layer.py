"""Second-layer and spectral-filtering measurements on synthetic cases with known answers."""

import numpy as np
import pytest
import torch
from numpy.polynomial import chebyshev
from scipy.optimize import minimize_scalar

from descrambler.deer import dipolar_kernel
from descrambler.study.findings.regularisation import (filter_factors, fit_tikhonov, jacobians,
                                                 tikhonov_factors)
from descrambler.study.findings.second_layer import (chebyshev_curve, chebyshev_fit, chebyshev_map, group_embedding,
                                               harmonic_vectors, polynomial_share, sinusoid_fit)

RNG = np.random.default_rng(0)
GRID = np.linspace(-1, 1, 256)


def _chebyshev(degree: int) -> np.ndarray:
    t = chebyshev.chebval(GRID, np.eye(degree + 1)[degree])
    return t / np.linalg.norm(t)


def test_sinusoid_fit_recovers_an_exact_sinusoid_and_rejects_a_scrambled_one():
    j = np.arange(80)
    v = 0.3 * np.cos(2 * np.pi * 3.3 * j / 80 + 0.7) + 0.05
    fit = sinusoid_fit(v)
    assert fit.r_squared == pytest.approx(1, abs=1e-9)
    assert fit.frequency == pytest.approx(3.3, abs=1e-4)
    assert fit.amplitude == pytest.approx(0.3, rel=1e-4)
    assert sinusoid_fit(RNG.permutation(v)).r_squared < 0.3


def _slow_sinusoid_residual(v: np.ndarray, frequency: float) -> tuple[float, np.ndarray, np.ndarray]:
    j = np.arange(v.size)
    design = np.column_stack([np.cos(2 * np.pi * frequency * j / v.size),
                              np.sin(2 * np.pi * frequency * j / v.size), np.ones(v.size)])
    coefficients, *_ = np.linalg.lstsq(design, v, rcond=None)
    fitted = design @ coefficients
    return float(((v - fitted) ** 2).sum()), coefficients, fitted


def _slow_sinusoid_fit(v: np.ndarray) -> tuple[float, float, float, float]:
    """The original sinusoid_fit (one lstsq per grid frequency), kept as the reference for the vectorised one:
    (frequency, phase, amplitude, r_squared)."""
    grid = np.arange(0.25, v.size / 2 + 1e-9, 0.25)
    best = grid[np.argmin([_slow_sinusoid_residual(v, f)[0] for f in grid])]
    refined = minimize_scalar(lambda f: _slow_sinusoid_residual(v, f)[0], bounds=(max(best - 0.25, 1e-3), best + 0.25),
                              method="bounded", options={"xatol": 1e-6})
    _, (a, b, _), fitted = _slow_sinusoid_residual(v, float(refined.x))
    r_squared = 1 - ((v - fitted) ** 2).sum() / ((v - v.mean()) ** 2).sum()
    return float(refined.x), float(np.arctan2(-b, a)), float(np.hypot(a, b)), float(r_squared)


def _test_vectors() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    j = np.arange(80)
    exact = [0.3 * np.cos(2 * np.pi * f * j / 80 + p) + 0.05 for f, p in [(3, 0.7), (3.3, -2.0), (12.7, 1.0), (40, 0)]]
    noisy = [np.cos(2 * np.pi * f * j / 80 + 0.4) + 0.3 * rng.standard_normal(80) for f in (1.2, 9.5, 39.9)]
    random = [rng.standard_normal(n) for n in (4, 7, 79, 80, 256)]
    _, _, Vt = np.linalg.svd(rng.standard_normal((256, 80)), full_matrices=False)
    return exact + noisy + random + list(Vt)


def test_sinusoid_fit_matches_the_slow_reference():
    vectors = _test_vectors()
    fits = [sinusoid_fit(v) for v in vectors]
    expected = np.array([_slow_sinusoid_fit(v) for v in vectors])
    got = np.array([(f.frequency, f.phase, f.amplitude, f.r_squared) for f in fits])
    got[:, 1] = expected[:, 1] + (got[:, 1] - expected[:, 1] + np.pi) % (2 * np.pi) - np.pi  # phase modulo 2 pi
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-8)  # rtol: amplitudes near f = 0 are large


def test_harmonic_vectors_collects_fits():
    j = np.arange(80)[:, None]
    V = np.cos(2 * np.pi * np.array([[1.0, 2.0, 5.0]]) * j / 80)
    result = harmonic_vectors(V, [0, 2])
    np.testing.assert_allclose(result.r_squared, 1, atol=1e-9)
    np.testing.assert_allclose(result.frequency, [1, 5], atol=1e-4)


def test_chebyshev_fits_score_one_for_polynomials_and_low_when_scrambled():
    for degree in range(1, 5):
        t = _chebyshev(degree)
        assert chebyshev_fit(t, degree) == pytest.approx(1)
        assert polynomial_share(t, degree) == pytest.approx(1)
        assert chebyshev_fit(RNG.permutation(t), degree) < 0.1
        assert polynomial_share(RNG.permutation(t), degree) < 0.3  # the mean survives scrambling
    assert np.isnan(chebyshev_fit(_chebyshev(0), 0))
    t3 = _chebyshev(3)
    np.testing.assert_allclose(chebyshev_curve(2 * t3 + 1, 3), 2 * (t3 - t3.mean()))


def test_chebyshev_map_of_exact_polynomials():
    U = np.column_stack([_chebyshev(d) for d in range(5)])
    result = chebyshev_map(U, 5)
    np.testing.assert_allclose(result.reference_r_squared[1:], 1)
    np.testing.assert_array_equal(result.best_degree[1:], [1, 2, 3, 4])
    np.testing.assert_allclose(result.polynomial_share, 1)
    assert result.subspace_share == pytest.approx(1)
    scrambled = chebyshev_map(RNG.permutation(U), 5)
    assert scrambled.subspace_share < 0.3  # only the constant T_0 survives scrambling: 1 of 5


def test_group_embedding_finds_exact_pairs_and_none_in_a_smooth_decay():
    j = np.arange(80)[:, None]
    frequencies = np.repeat(np.arange(1, 11), 2)
    phases = np.tile([0, np.pi / 2], 10)
    V = np.cos(2 * np.pi * frequencies * j / 80 + phases)
    paired = group_embedding(np.repeat(np.linspace(10, 1, 10), 2) * (1 + 1e-9 * np.tile([1, 0], 10)), V, 20)
    assert paired.gap_ratio < 1e-6
    assert paired.pairs[0] == (0, 1) and paired.cos_sin_pairs == 10
    smooth = group_embedding(0.9 ** np.arange(20), count=20)
    assert smooth.gap_ratio == pytest.approx(1)


def test_tikhonov_fit_recovers_alpha_from_a_jacobian():
    t, r = np.linspace(0, 2, 64), np.linspace(1.5, 5, 64)
    K = dipolar_kernel(t, r)
    U, sigma, Vt = np.linalg.svd(K)
    alpha, scale = 0.7, 3.0
    J = Vt.T @ np.diag(scale * tikhonov_factors(sigma, alpha) / sigma) @ U.T
    s, phi = filter_factors(J, K)
    np.testing.assert_allclose(s, sigma)
    fit = fit_tikhonov(s, phi)
    assert fit.alpha == pytest.approx(alpha, rel=1e-4)
    assert fit.scale == pytest.approx(scale, rel=1e-4)
    assert fit.r_squared == pytest.approx(1)


def test_jacobian_of_a_linear_model_is_its_weight():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 4))
    J = jacobians(model, RNG.random((3, 6)))
    assert J.shape == (3, 4, 6)
    np.testing.assert_allclose(J[1], model[0].weight.detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("call, name", [
    (lambda: sinusoid_fit(np.ones((3, 3))), "v"),
    (lambda: sinusoid_fit([1.0, np.nan, 2.0, 3.0]), "v"),
    (lambda: chebyshev_fit(np.ones(10), -1), "degree"),
    (lambda: polynomial_share(np.ones(10), 10), "degree"),
    (lambda: chebyshev_map(np.ones((10, 3)), 5), "count"),
    (lambda: harmonic_vectors(np.ones((10, 3)), [5]), "indices"),
    (lambda: group_embedding([3.0, 2.0, 1.0], count=4), "count"),
    (lambda: group_embedding([1.0, 2.0, 3.0, 4.0], count=4), "singular_values"),
    (lambda: group_embedding([4.0, 3.0, 2.0, 1.0], np.ones((10, 3)), count=4), "V"),
    (lambda: filter_factors(np.ones((5, 4)), np.ones((5, 4))), "jacobian"),
    (lambda: fit_tikhonov([1.0, 2.0, 3.0], [1.0, 2.0]), "phi"),
    (lambda: jacobians(torch.nn.Linear(2, 2), np.ones(2)), "traces"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^([\w.]+, )*{name}(, [\w.]+)*:"):
        call()
