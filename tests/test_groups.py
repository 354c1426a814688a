"""Tests of descrambler.groups: objective, Cayley optimisers, exact and permutation solvers, network side."""

from __future__ import annotations

import numpy as np
import pytest

from descrambler.groups import (descramble, diagonal_descramble, permutation_descramble, random_rotation,
                                second_layer_gram, second_layer_signals, signed_permutation_matrix,
                                smoothness_objective, symmetry_between)
from descrambler.groups.cayley import (cayley, chart_gradient, generator, lower_triangle,
                                       smoothness_problem)
from descrambler.groups.diagonal import diagonal_criterion, diagonal_problem
from descrambler.groups.exact import degeneracy
from descrambler.groups.objective import derivative_matrix
from descrambler.groups.permutation import move_deltas
from descrambler.groups.solve import prepare
from descrambler.signals.toys import smooth_signals


def smooth_toys(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Columns: periodic Gaussian peaks and low-order sinusoids on n points (signals along rows)."""
    return smooth_signals(n, count // 2, count - count // 2, rng, periodic=True)


def assert_rotation(P: np.ndarray) -> None:
    n = P.shape[0]
    assert np.max(np.abs(P.T @ P - np.eye(n))) < 1e-10
    assert np.linalg.det(P) == pytest.approx(1.0, abs=1e-10)


def matches_up_to_symmetry(A: np.ndarray, B: np.ndarray, periodic: bool) -> bool:
    """A equals B up to reversal of rows, cyclic shift (periodic) and a global sign."""
    shifts = range(A.shape[0]) if periodic else [0]
    return any(np.allclose(A, sign * np.roll(B[::step], shift, axis=0), atol=1e-10)
               for step in (1, -1) for shift in shifts for sign in (1, -1))


# --- objective ------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [2, 7, 8, 33])
def test_fourier_second_derivative_has_eigenvalues_minus_k_squared(n):
    values = np.sort(np.linalg.eigvalsh(derivative_matrix(n)))
    k = np.arange(1, (n + 1) // 2)
    expected = np.concatenate([[0.0], -(k.astype(float) ** 2).repeat(2)] + ([[-(n / 2) ** 2]] if n % 2 == 0 else []))
    np.testing.assert_allclose(values, np.sort(expected), atol=1e-10)


def test_objective_is_normalised_tikhonov_norm_and_accepts_gram():
    rng = np.random.default_rng(0)
    n = 9
    S, P = rng.standard_normal((n, 40)), random_rotation(n, rng)
    for derivative in ("fourier", "finite"):
        D = derivative_matrix(n, derivative)
        C = S @ S.T
        direct = np.trace(n * D.T @ D / np.linalg.norm(D.T @ D, 2) @ P @ (n * C / np.linalg.norm(C, 2)) @ P.T)
        value = smoothness_objective(P, S, derivative=derivative)
        assert value == pytest.approx(direct, rel=1e-12)
        assert smoothness_objective(P, C, gram=True, derivative=derivative) == pytest.approx(value, rel=1e-12)
        # invariant under scaling of the signals
        assert smoothness_objective(P, 7.5 * S, derivative=derivative) == pytest.approx(value, rel=1e-12)


# --- exact ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, N, derivative", [(16, 200, "fourier"), (15, 100, "fourier"),
                                              (20, 300, "finite"), (64, 20, "fourier")])
def test_exact_reaches_the_eigenvalue_bound(n, N, derivative):
    rng = np.random.default_rng(n)
    S = rng.standard_normal((n, N))
    result = descramble(S, "exact", derivative=derivative)
    assert_rotation(result.P)
    assert result.objective == pytest.approx(result.bound, rel=1e-10)
    assert smoothness_objective(result.P, S, derivative=derivative) == pytest.approx(result.bound, rel=1e-10)
    # the bound is a lower bound: random rotations never go below it
    for _ in range(5):
        assert smoothness_objective(random_rotation(n, rng), S, derivative=derivative) >= result.bound


@pytest.mark.parametrize("N", [200, 20, 21])
def test_exact_tie_break_returns_the_optimum_closest_to_the_guess(N):
    """Any optimum (random rotations inside every tie group) is found again when passed as guess."""
    rng = np.random.default_rng(N)
    n = 32
    S = rng.standard_normal((n, N))
    problem = prepare(S, False, "fourier")
    info = degeneracy(problem.lam, problem.mu)

    def block_rotation(groups):
        O = np.zeros((n, n))
        for g in groups:
            O[np.ix_(g, g)] = random_rotation(g.size, rng) if g.size > 1 else 1.0
        return O

    B = block_rotation(info.operator_groups) @ block_rotation(info.gram_groups)
    target = problem.T @ B @ problem.U.T
    if np.linalg.det(target) < 0:
        target = problem.T @ np.diag(np.r_[-1.0, np.ones(n - 1)]) @ B @ problem.U.T
    assert smoothness_objective(target, S) == pytest.approx(problem.bound, rel=1e-10)
    found = descramble(S, "exact", guess=target)
    np.testing.assert_allclose(found.P, target, atol=1e-9)
    # deterministic, and closer to the identity than the plain eigenvector answer T U^T
    default = descramble(S, "exact")
    np.testing.assert_array_equal(default.P, descramble(S, "exact").P)
    assert np.linalg.norm(default.P - np.eye(n)) <= np.linalg.norm(problem.T @ problem.U.T - np.eye(n)) + 1e-9


def test_rank_deficient_signals_work_and_say_the_answer_is_not_unique():
    rng = np.random.default_rng(3)
    n = 24
    S = rng.standard_normal((n, 5)) @ rng.standard_normal((5, 50))
    for method in ("exact", "cayley"):
        result = descramble(S, method)
        assert_rotation(result.P)
        assert result.rank == 5
        assert not result.unique
        assert "null space" in result.degeneracy and "rank 5" in result.degeneracy
        assert result.objective == pytest.approx(result.bound, rel=1e-6)


def test_uniqueness_flag():
    rng = np.random.default_rng(4)
    two = descramble(rng.standard_normal((2, 30)), "exact")
    assert two.unique and two.degeneracy.startswith("unique up to signs")
    many = descramble(rng.standard_normal((8, 30)), "exact")
    assert not many.unique and "degenerate eigenvalue pairs" in many.degeneracy


# --- Cayley chart: derivatives against finite differences -----------------------------------------

def test_chart_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    n = 7
    S = rng.standard_normal((n, 30))
    problem = prepare(S, False, "fourier")
    chart = smoothness_problem(problem.L, problem.C)
    P0, q = random_rotation(n, rng), 0.3 * rng.standard_normal(n * (n - 1) // 2)
    _, G = chart_gradient(chart, P0, generator(q, n))
    h = 1e-6
    numeric = np.array([(chart.value(cayley(generator(q + h * e, n)) @ P0)
                         - chart.value(cayley(generator(q - h * e, n)) @ P0)) / (2 * h)
                        for e in np.eye(q.size)])
    np.testing.assert_allclose(lower_triangle(G), numeric, rtol=0, atol=1e-6 * np.abs(numeric).max())


@pytest.mark.parametrize("which", ["smooth-full", "smooth-diagonal", "sum", "normsq"])
def test_chart_hessian_vector_products_match_finite_differences(which):
    rng = np.random.default_rng(6)
    n = 7
    if which.startswith("smooth"):
        problem = prepare(rng.standard_normal((n, 30)), False, "fourier")
        chart = smoothness_problem(problem.lam if which.endswith("diagonal") else problem.L, problem.C)
    else:
        chart = diagonal_problem(rng.standard_normal((n, n)), which)
    P0, v = random_rotation(n, rng), rng.standard_normal(n * (n - 1) // 2)
    _, _, hv, hdiag = chart.local(P0)
    Hv = lower_triangle(hv(generator(v, n)))
    h = 1e-5
    numeric = (lower_triangle(chart_gradient(chart, P0, generator(h * v, n))[1])
               - lower_triangle(chart_gradient(chart, P0, generator(-h * v, n))[1])) / (2 * h)
    np.testing.assert_allclose(Hv, numeric, rtol=0, atol=1e-6 * np.abs(numeric).max())
    # the preconditioner is the exact diagonal of the chart Hessian
    basis = np.eye(v.size)
    diagonal = [lower_triangle(hv(generator(e, n)))[i] for i, e in enumerate(basis)]
    np.testing.assert_allclose(lower_triangle(hdiag), diagonal, atol=1e-10 * np.abs(diagonal).max())


# --- iterative descrambling ----------------------------------------------------------------------

@pytest.mark.parametrize("n, seed", [(10, 0), (24, 1), (31, 2)])
def test_cayley_reaches_the_bound(n, seed):
    rng = np.random.default_rng(seed)
    S = rng.standard_normal((n, 5 * n))
    result = descramble(S, "cayley")
    assert_rotation(result.P)
    assert result.converged
    assert abs(result.ratio - 1) < 1e-3
    assert result.history[0] >= result.history[-1]
    assert result.iterations == len(result.history) - 1


def test_cayley_from_a_guess_and_from_a_gram_matrix():
    rng = np.random.default_rng(7)
    n = 12
    S = rng.standard_normal((n, 60))
    guess = random_rotation(n, rng)
    result = descramble(S @ S.T, gram=True, guess=guess)
    assert result.history[0] == pytest.approx(smoothness_objective(guess, S), rel=1e-12)
    assert abs(result.ratio - 1) < 1e-3


def test_reference_settings_run_lbfgs_on_one_chart():
    rng = np.random.default_rng(8)
    S = smooth_toys(16, 30, rng)
    S = random_rotation(16, rng) @ S
    result = descramble(S, reference_settings=True, max_iter=50)
    assert_rotation(result.P)
    assert result.iterations <= 50 and len(result.history) == result.iterations + 1
    assert result.bound <= result.objective < result.history[0]
    assert result.history[0] == pytest.approx(smoothness_objective(np.eye(16), S), rel=1e-12)


@pytest.mark.parametrize("method", ["exact", "cayley"])
def test_scrambled_toys_come_back_as_smooth_as_the_originals(method):
    rng = np.random.default_rng(9)
    n = 32
    S = smooth_toys(n, 40, rng)
    scrambled = random_rotation(n, rng) @ S
    original = smoothness_objective(np.eye(n), S)
    assert smoothness_objective(np.eye(n), scrambled) > 10 * original
    result = descramble(scrambled, method)
    assert result.objective <= 1.01 * original


# --- signed permutations ----------------------------------------------------------------------------

def test_move_deltas_match_recomputed_objective():
    rng = np.random.default_rng(10)
    n = 9
    S = rng.standard_normal((n, 20))
    problem = prepare(S, False, "fourier")
    order, signs = rng.permutation(n), rng.choice([-1.0, 1.0], n)
    X = problem.C[np.ix_(order, order)] * np.outer(signs, signs)
    swap, flip = move_deltas(X, problem.L)
    base = np.sum(problem.L * X)
    for p in range(n):
        s = signs.copy()
        s[p] = -s[p]
        assert flip[p] == pytest.approx(np.sum(problem.L * problem.C[np.ix_(order, order)] * np.outer(s, s)) - base,
                                        abs=1e-10 * abs(base))
        for q in range(n):
            o, s = order.copy(), signs.copy()
            o[[p, q]], s[[p, q]] = o[[q, p]], s[[q, p]]
            changed = np.sum(problem.L * problem.C[np.ix_(o, o)] * np.outer(s, s)) - base
            assert swap[p, q] == pytest.approx(changed, abs=1e-10 * abs(base))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_signed_permutation_of_smooth_signals_is_recovered(seed):
    rng = np.random.default_rng(seed)
    n = 48
    S = smooth_toys(n, 40, rng)
    shuffle = signed_permutation_matrix(rng.permutation(n), rng.choice([-1.0, 1.0], n))
    result = permutation_descramble(shuffle @ S)
    P = result.P
    assert np.all(np.sum(np.abs(P), axis=0) == 1) and np.all(np.sum(np.abs(P), axis=1) == 1)
    assert np.linalg.det(P) == pytest.approx(1.0)
    assert matches_up_to_symmetry(P @ shuffle @ S, S, periodic=True)
    assert symmetry_between(P @ shuffle @ S, S) is not None
    assert symmetry_between(shuffle @ S, S) is None
    assert result.objective == pytest.approx(smoothness_objective(np.eye(n), S), rel=1e-9)
    assert result.objective >= result.bound


def test_signed_permutation_with_the_finite_operator():
    rng = np.random.default_rng(11)
    n = 30
    t = np.arange(n)[:, None]
    S = np.exp(-0.5 * ((t - rng.uniform(0, n, 25)) / (n / 6)) ** 2)
    shuffle = signed_permutation_matrix(rng.permutation(n), rng.choice([-1.0, 1.0], n))
    result = permutation_descramble(shuffle @ S @ S.T @ shuffle.T, gram=True, derivative="finite")
    assert matches_up_to_symmetry(result.P @ shuffle @ S, S, periodic=False)


# --- network side ----------------------------------------------------------------------------------

def test_second_layer_signals_and_gram():
    rng = np.random.default_rng(13)
    W1, b1, W2 = rng.standard_normal((6, 9)), rng.standard_normal(6), rng.standard_normal((4, 6))
    X = rng.uniform(0, 1, (9, 50))
    S2 = second_layer_signals(W1, b1, W2, X)
    assert S2.shape == (6, 4 + 50)
    np.testing.assert_allclose(S2[:, 4:], np.tanh(W1 @ X + b1[:, None]))
    m = np.linalg.norm(np.tanh(W1 @ X), 2) / np.linalg.norm(W2.T, 2)
    np.testing.assert_allclose(S2[:, :4], m * W2.T, rtol=1e-12)
    post, unbiased = np.tanh(W1 @ X + b1[:, None]), np.tanh(W1 @ X)
    np.testing.assert_allclose(second_layer_gram(W2, post @ post.T, unbiased @ unbiased.T), S2 @ S2.T,
                               rtol=1e-12)
    np.testing.assert_allclose(second_layer_signals(W1, b1, W2, X, include_bias=False)[:, 4:], unbiased)


# --- maximum diagonality ---------------------------------------------------------------------------

def test_diagonal_descramble():
    rng = np.random.default_rng(14)
    W = rng.standard_normal((8, 8))
    exact = diagonal_descramble(W, "sum")
    assert_rotation(exact.P)
    assert exact.objective == pytest.approx(exact.bound, rel=1e-12)
    iterative = diagonal_descramble(W, "sum", "cayley")
    assert iterative.objective == pytest.approx(exact.objective, rel=1e-8)
    normsq = diagonal_descramble(W, "normsq")
    assert_rotation(normsq.P)
    assert diagonal_criterion(np.eye(8), W, "normsq") <= normsq.objective <= normsq.bound
    assert normsq.objective == pytest.approx(diagonal_criterion(normsq.P, W, "normsq"))


# --- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, name", [
    (lambda: descramble(np.ones(5)), "S"),
    (lambda: descramble(np.array([[1.0, np.nan], [0.0, 1.0]])), "S"),
    (lambda: descramble(np.ones((1, 10))), "S"),
    (lambda: descramble(np.zeros((4, 10))), "S"),
    (lambda: descramble(np.ones((2, 10)), derivative="finite"), "S"),
    (lambda: descramble(np.ones((3, 4)), gram=True), "S"),
    (lambda: descramble(np.array([[1.0, 2.0], [0.0, 1.0]]), gram=True), "S"),
    (lambda: descramble(np.array([[1.0, 2.0], [2.0, 1.0]]), gram=True), "S"),
    (lambda: descramble(np.eye(3), method="newton"), "method"),
    (lambda: descramble(np.eye(3), derivative="spline"), "derivative"),
    (lambda: descramble(np.eye(3), "exact", reference_settings=True), "reference_settings"),
    (lambda: descramble(np.eye(3), guess=np.eye(4)), "guess"),
    (lambda: descramble(np.eye(3), guess=np.ones((3, 3))), "guess"),
    (lambda: descramble(np.eye(3), guess=np.diag([-1.0, 1.0, 1.0])), "guess"),
    (lambda: descramble(np.eye(3), max_iter=0), "max_iter"),
    (lambda: descramble(np.eye(3), tol=-1.0), "tol"),
    (lambda: smoothness_objective(np.ones((3, 2)), np.eye(3)), "P"),
    (lambda: smoothness_objective(2 * np.eye(3), np.eye(3)), "P"),
    (lambda: smoothness_objective(np.eye(3), np.full((3, 3), np.inf)), "S"),
    (lambda: diagonal_descramble(np.ones((3, 4))), "W"),
    (lambda: diagonal_descramble(np.eye(3), "trace"), "criterion"),
    (lambda: diagonal_descramble(np.eye(3), "sum", "simplex"), "method"),
    (lambda: diagonal_descramble(np.eye(3), "normsq", "polar"), "method"),
    (lambda: permutation_descramble(np.ones(4)), "S"),
    (lambda: permutation_descramble(np.eye(3), starts=0), "starts"),
    (lambda: second_layer_signals(np.ones((3, 4)), np.ones(2), np.ones((5, 3)), np.ones((4, 6))), "b1"),
    (lambda: second_layer_signals(np.ones((3, 4)), np.ones(3), np.ones((5, 2)), np.ones((4, 6))), "W2"),
    (lambda: second_layer_signals(np.ones((3, 4)), np.ones(3), np.ones((5, 3)), np.ones((6, 4))), "X"),
    (lambda: second_layer_gram(np.ones((5, 3)), np.eye(4), np.eye(3)), "gram_post"),
])
def test_bad_input_raises_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^([\w.]+, )*{name}(, [\w.]+)*:"):
        call()


def test_descramble_benchmark_records():
    import argparse

    from descrambler.bookkit.benchmarks import descramble as bench

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    records = bench.run(parser.parse_args(["--signals", "smooth", "--sizes", "12", "--repeats", "1",
                                           "--cayley-repeats", "1", "--gram-traces", "1000",
                                           "--gram-chunk", "300"]))
    assert [r["name"] for r in records] == ["descramble_exact_n12", "descramble_cayley_n12_seconds",
                                            "descramble_cayley_n12_ratio", "gram_streamed_seconds"]
    assert records[3]["traces"] == 1000 and records[3]["value"] > 0
    assert abs(records[2]["value"] - 1) < 1e-6 and records[0]["value"] > 0


def test_random_rotation_is_a_rotation_and_checks_its_arguments():
    from descrambler.groups import random_rotation

    R = random_rotation(7, np.random.default_rng(0))
    np.testing.assert_allclose(R @ R.T, np.eye(7), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1)
    with pytest.raises(ValueError, match="^n"):
        random_rotation(0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="^rng"):
        random_rotation(3, 5)


def test_importing_groups_does_not_load_torch():
    import subprocess
    import sys

    code = "import descrambler.groups, sys; assert 'torch' not in sys.modules, 'torch was imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_descrambler_returns_a_group_result_and_permutations_their_order_and_signs():
    from descrambler.groups import DescrambleResult, GroupResult, PermutationResult

    rng = np.random.default_rng(21)
    S = np.sin(np.linspace(0, np.pi, 7))[:, None] * rng.standard_normal((1, 40)) + 0.01 * rng.standard_normal((7, 40))
    shuffle = signed_permutation_matrix(rng.permutation(7), rng.choice([-1.0, 1.0], 7))
    permuted = permutation_descramble(shuffle @ S)
    assert isinstance(permuted, PermutationResult) and isinstance(permuted, DescrambleResult)
    np.testing.assert_array_equal(permuted.P, signed_permutation_matrix(permuted.order, permuted.signs))
    assert sorted(permuted.order) == list(range(7)) and set(np.abs(permuted.signs)) == {1}
    results = [descramble(S, "exact"), diagonal_descramble(rng.standard_normal((5, 5))), permuted]
    assert all(isinstance(r, GroupResult) for r in results)
    assert not isinstance(results[0], PermutationResult)
