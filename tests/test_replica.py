"""The rational replica (descrambler.study.replica): filters, boundaries, Eq. 13, the L-curve, the replica,
the swap test and the benchmark."""

import argparse
import re

import numpy as np
import pytest
from scipy import ndimage

from descrambler.study import replica as R
from descrambler.deer import make_library
from descrambler.nets.architectures import two_layer


@pytest.fixture(scope="module")
def libraries():
    return make_library(3000, seed=11), make_library(400, seed=12), make_library(500, seed=13)


def _band(h, low, high):
    frequency, magnitude = R.frequency_response(h, 1 << 15)
    inside = (frequency >= low) & (frequency <= high)
    return magnitude[inside].min(), magnitude[inside].max()


# --- filters -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", R.METHODS)
def test_notch_meets_its_band_edges(method):
    h = R.notch_filter(method=method)
    assert h.size == 257
    stop_low, stop_high = _band(h, 0, 0.001)
    pass_low, pass_high = _band(h, 0.008, 1)
    assert stop_high <= -20  # measured: -22 dB (firls), -22.5 dB (remez)
    assert -2.5 <= pass_low and pass_high <= 1.0  # measured: -2.0..0.6 dB (firls), -0.7..0.6 dB (remez)
    flat = _band(h, 0.016, 1)  # beyond twice the edge: measured within 0.36 dB (firls), 0.69 dB (remez)
    assert -0.75 <= flat[0] and flat[1] <= 0.75


@pytest.mark.parametrize("method", R.METHODS)
def test_lowpass_meets_its_band_edges(method):
    h = R.lowpass_filter(method=method)
    assert h.size == 33
    pass_low, pass_high = _band(h, 0, 0.01)
    assert -0.01 <= pass_low and pass_high <= 0.01  # measured: |ripple| < 1e-3 dB
    assert _band(h, 0.3, 1)[1] <= -80  # measured: -86 dB (firls), -99 dB (remez)


def test_moved_band_edges_move_the_response():
    wide = R.notch_filter(stop=0.01, passband=0.05)
    assert _band(wide, 0, 0.01)[1] <= -20 and _band(wide, 0.05, 1)[0] >= -1
    low = R.lowpass_filter(passband=0.05, stop=0.2)
    assert _band(low, 0, 0.05)[0] >= -0.1 and _band(low, 0.2, 1)[1] <= -40


def test_frequency_response_of_a_two_point_average():
    frequency, magnitude = R.frequency_response([0.5, 0.5], 101)
    assert frequency[0] == 0 and frequency[-1] == 1
    with np.errstate(divide="ignore"):
        expected = 20 * np.log10(np.cos(np.pi * frequency / 2))
    np.testing.assert_allclose(magnitude[:-1], expected[:-1], atol=1e-9)
    assert magnitude[-1] < -200  # a zero at the Nyquist frequency


# --- boundary handling -------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [257, 301, 33, 5])
def test_apply_matches_a_direct_convolution(length):
    rng = np.random.default_rng(length)
    x, h = rng.normal(size=256), rng.normal(size=length)
    c = (length - 1) // 2
    np.testing.assert_allclose(R.apply(h, x, "zero"), np.convolve(x, h, "full")[c:c + 256], atol=1e-12)
    np.testing.assert_allclose(R.apply(h, x, "edge"), np.convolve(np.pad(x, (c, length - 1 - c), "edge"), h, "valid"),
                               atol=1e-12)
    for boundary, mode in (("edge", "nearest"), ("zero", "constant"), ("reflect", "reflect")):
        np.testing.assert_allclose(R.apply(h, x, boundary), ndimage.convolve1d(x, h, mode=mode), atol=1e-11)


def test_apply_works_row_by_row_and_with_even_filters():
    rng = np.random.default_rng(1)
    traces, h = rng.normal(size=(4, 256)), rng.normal(size=8)
    out = R.apply(h, traces, "zero")
    assert out.shape == traces.shape
    for row, trace in zip(out, traces):
        np.testing.assert_allclose(row, np.convolve(trace, h, "full")[3:3 + 256], atol=1e-12)


def test_edge_boundary_keeps_a_constant_trace_constant():
    h = R.notch_filter()
    out = R.apply(h, np.full(256, 0.7), "edge")
    np.testing.assert_allclose(out, 0.7 * h.sum(), atol=1e-12)
    assert abs(h.sum()) < 0.1  # the notch: gain at zero frequency -22 dB


def test_filter_matrix_is_the_operator_of_apply():
    h = R.lowpass_filter()
    x = np.random.default_rng(2).normal(size=64)
    for boundary in R.BOUNDARIES:
        np.testing.assert_allclose(R.filter_matrix(h, 64, boundary) @ x, R.apply(h, x, boundary), atol=1e-12)
    chain = R.chain_matrix(R.paper_filters(), 64)
    np.testing.assert_allclose(chain @ x, R.apply(R.paper_filters()[1], R.apply(R.paper_filters()[0], x)), atol=1e-12)


# --- Eq. 13 and the L-curve --------------------------------------------------------------------------


def test_transform_recovers_a_known_linear_map():
    rng = np.random.default_rng(3)
    T0 = rng.normal(size=(20, 30))
    F = rng.normal(size=(30, 400))
    T = R.time_distance_transform(F, T0 @ F, 1e-10)
    np.testing.assert_allclose(T, T0, rtol=1e-7, atol=1e-8)


def test_transform_is_ridge_regression():
    rng = np.random.default_rng(4)
    F, P, lam = rng.normal(size=(10, 50)), rng.normal(size=(3, 50)), 2.5
    stacked = np.vstack([F.T, np.sqrt(lam) * np.eye(10)])  # ||[F^T; sqrt(lam) 1] t - [p; 0]||^2
    expected = np.linalg.lstsq(stacked, np.vstack([P.T, np.zeros((10, 3))]), rcond=None)[0].T
    np.testing.assert_allclose(R.time_distance_transform(F, P, lam), expected, atol=1e-10)


def _blur_problem(n=64, noise=1e-3, seed=5):
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    A = np.exp(-((i[:, None] - i[None, :]) ** 2) / (2 * 2.5**2))
    A /= A.sum(axis=1, keepdims=True)
    x = np.exp(-((i - 20) ** 2) / 30) + 0.6 * np.exp(-((i - 42) ** 2) / 12)
    b = A @ x
    return A, x, b + noise * np.linalg.norm(b) / np.sqrt(n) * rng.normal(size=n)


def _analytic_curvature(A, b, lams):
    """Curvature of (log ||Ax - b||, log ||x||) against log lam from the SVD, derivatives in closed form."""
    U, s, _ = np.linalg.svd(A)
    beta = U.T @ b
    outside = max(b @ b - beta[: s.size] @ beta[: s.size], 0.0)
    beta = beta[: s.size]
    kappa = []
    for lam in lams:
        d = s**2 + lam
        eta = np.sum(s**2 * beta**2 / d**2)
        eta1 = np.sum(-2 * s**2 * beta**2 / d**3)
        eta2 = np.sum(6 * s**2 * beta**2 / d**4)
        rho = np.sum((lam * beta / d) ** 2) + outside
        rho1 = -lam * eta1
        rho2 = -eta1 - lam * eta2
        x1, y1 = lam * rho1 / (2 * rho), lam * eta1 / (2 * eta)
        x2 = lam / 2 * (rho1 / rho + lam * rho2 / rho - lam * rho1**2 / rho**2)
        y2 = lam / 2 * (eta1 / eta + lam * eta2 / eta - lam * eta1**2 / eta**2)
        kappa.append((x1 * y2 - x2 * y1) / (x1**2 + y1**2) ** 1.5)
    return np.array(kappa)


def test_l_curve_corner_of_a_gaussian_blur_lies_at_the_curvature_peak():
    A, x_true, b = _blur_problem()
    lams = 10.0 ** np.arange(-10, 0.01, 0.05)
    curve = R.l_curve(A.T, b[None, :], lams)  # T F = P with T = x^T, F = A^T, P = b^T
    # the norms against explicit solutions
    for k in (0, 60, 150):
        x = R.time_distance_transform(A.T, b[None, :], lams[k])[0]
        assert curve.residual_norms[k] == pytest.approx(np.linalg.norm(A @ x - b), rel=1e-3 if k == 0 else 1e-6)
        assert curve.solution_norms[k] == pytest.approx(np.linalg.norm(x), rel=1e-5 if k == 0 else 1e-8)
    kappa = _analytic_curvature(A, b, lams)
    assert abs(curve.corner - int(np.argmax(kappa))) <= 1
    assert curve.interior and curve.lam == lams[curve.corner]
    errors = [np.linalg.norm(R.time_distance_transform(A.T, b[None, :], lam)[0] - x_true) for lam in lams]
    # far better than too little or too much regularisation (not the optimum: on this smooth solution
    # the corner under-regularises, a known limit of the L-curve)
    assert errors[curve.corner] < 0.05 * errors[0] and errors[curve.corner] < 0.5 * errors[-1]


def test_l_curve_default_grid_scales_with_the_data():
    A, _, b = _blur_problem()
    curve = R.l_curve(A.T, b[None, :])
    scale = np.linalg.eigvalsh(A.T @ A).max()
    np.testing.assert_allclose(curve.lams, scale * R.RELATIVE_LAMS)
    assert 0 < curve.corner < curve.lams.size - 1


# --- the replica -------------------------------------------------------------------------------------


def test_replica_predicts_unit_sum_non_negative_distributions(libraries):
    train, holdout, validation = libraries
    replica = R.fit_replica(train)
    p = replica.predict(validation.traces)
    assert p.shape == validation.distributions.shape
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-12)
    one = replica.predict(validation.traces[0])
    assert one.shape == (256,)
    np.testing.assert_allclose(one, p[0])
    assert replica.lam == replica.lcurve.lam and np.array_equal(replica.r, train.r)


def test_replica_transform_is_eq_13_on_its_features(libraries):
    train, holdout, _ = libraries
    replica = R.fit_replica(train, lam="holdout", holdout=holdout)
    expected = R.time_distance_transform(replica.features(train.traces).T, R.unit_targets(train).T, replica.lam)
    np.testing.assert_allclose(replica.T, expected, rtol=1e-6, atol=1e-8 * np.abs(expected).max())
    other = replica.with_lambda(replica.lam * 10)
    assert other.lam == replica.lam * 10 and not np.allclose(other.T, replica.T)
    lam, lams, medians = R.holdout_lambda(replica, holdout)
    assert lam == replica.lam and medians.min() == medians[np.searchsorted(lams, lam)]


def test_replica_variants_fit(libraries):
    train, holdout, validation = libraries
    features = R.fit_replica(train, normalise=True).features(validation.traces)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1)
    intercept = R.fit_replica(train, intercept=True)
    assert intercept.T.shape == (256, 257) and intercept.n_time == 256
    assert R.fit_replica(train, source="form_factors").predict(validation.traces).shape == (500, 256)
    ridge = R.fit_replica(train, (), normalise=False)
    np.testing.assert_allclose(ridge.matrix, np.eye(256))
    replica = R.fit_replica(train)
    stages = replica.stages(validation.traces[:3])
    assert len(stages) == 2 and stages[1].shape == (3, 256)
    np.testing.assert_allclose(stages[1], validation.traces[:3] @ replica.matrix.T, atol=1e-12)
    np.testing.assert_allclose(stages[0], R.apply(R.paper_filters()[0], validation.traces[:3]), atol=1e-12)
    form = R.form_factors(train)
    assert form.shape == train.traces.shape and np.all(form[:, 0] == 1)


def test_study_variants_rows(libraries):
    train, holdout, validation = libraries
    rows = R.study_variants(train, holdout, validation, names=["replica", "plain ridge"])
    assert [r["name"] for r in rows] == ["replica", "plain ridge"]
    for row in rows:
        assert row["errors_corner"].shape == (500,) and row["errors_holdout"].shape == (500,)
        assert row["lam_corner"] > 0 and row["lam_holdout"] > 0
        assert row["holdout_median_holdout"] <= row["holdout_median_corner"]
    assert set(R.variants()) >= {"paper recipe", "replica", "plain ridge", "no low-pass"}


def test_swap_test_arms(libraries):
    train, holdout, validation = libraries
    model = two_layer()
    swap = R.swap_test(model, train, validation, lam="holdout", holdout=holdout, output="logsig", epochs=1)
    assert set(swap.errors) == {"net", "net layer 1 + linear map", "net layer 1 without tanh + linear map",
                                "replica", "plain ridge", "net layer 1 + trained output layer",
                                "replica + trained output layer"}
    assert all(e.shape == (500,) for e in swap.errors.values())
    assert swap.kept("net") == pytest.approx(1) and swap.kept("plain ridge") == pytest.approx(0)


# --- bad input -----------------------------------------------------------------------------------------


def _bad_cases(libraries):
    train, _, _ = libraries
    h = R.lowpass_filter()
    F, P = np.ones((4, 10)), np.ones((2, 10))
    replica = R.fit_replica(train)
    return [
        ("order", lambda: R.notch_filter(order=0)),
        ("order", lambda: R.notch_filter(order=255)),
        ("order", lambda: R.lowpass_filter(order=-3)),
        ("order", lambda: R.lowpass_filter(order=2.5)),
        ("stop", lambda: R.notch_filter(stop=0)),
        ("stop", lambda: R.notch_filter(stop=0.01, passband=0.008)),
        ("passband", lambda: R.notch_filter(passband=1.0)),
        ("passband", lambda: R.lowpass_filter(passband=0.5, stop=0.3)),
        ("passband", lambda: R.lowpass_filter(passband=float("nan"))),
        ("stop", lambda: R.lowpass_filter(stop=1.2)),
        ("method", lambda: R.lowpass_filter(method="butter")),
        ("h", lambda: R.apply([], np.ones(256))),
        ("h", lambda: R.frequency_response([np.inf, 1])),
        ("n", lambda: R.frequency_response(h, 1)),
        ("traces", lambda: R.apply(h, np.full((2, 256), np.nan))),
        ("traces", lambda: R.apply(h, np.ones((2, 2, 256)))),
        ("traces", lambda: R.apply(h, np.ones((0, 256)))),
        ("boundary", lambda: R.apply(h, np.ones(256), "periodic")),
        ("lam", lambda: R.time_distance_transform(F, P, 0)),
        ("lam", lambda: R.time_distance_transform(F, P, -1.0)),
        ("lam", lambda: R.time_distance_transform(F, P, float("nan"))),
        ("F", lambda: R.time_distance_transform(np.full((4, 10), np.inf), P, 1.0)),
        ("F", lambda: R.time_distance_transform(np.ones(10), P, 1.0)),
        ("P", lambda: R.time_distance_transform(F, np.ones((2, 9)), 1.0)),
        ("lams", lambda: R.l_curve(F, P, [1, 2, 3])),
        ("lams", lambda: R.l_curve(F, P, [5, 4, 3, 2, 1])),
        ("lams", lambda: R.l_curve(F, P, [0, 1, 2, 3, 4])),
        ("traces", lambda: replica.predict(np.ones((3, 100)))),
        ("traces", lambda: replica.predict(np.full(256, np.nan))),
        ("library", lambda: R.fit_replica("traces")),
        ("lam", lambda: R.fit_replica(train, lam="best")),
        ("lam", lambda: R.fit_replica(train, lam=0.0)),
        ("holdout", lambda: R.fit_replica(train, lam="holdout")),
        ("source", lambda: R.fit_replica(train, source="spectra")),
        ("targets", lambda: R.fit_replica(train, targets="peak")),
        ("normalise", lambda: R.fit_replica(train, normalise="yes")),
        ("boundary", lambda: R.fit_replica(train, boundary="wrap")),
        ("filters[0]", lambda: R.fit_replica(train, [[np.nan, 1.0]])),
        ("lam", lambda: replica.with_lambda(-1)),
        ("names", lambda: R.study_variants(train, train, train, names=["best"])),
    ]


def test_bad_input_raises_value_error_naming_the_argument(libraries):
    for name, call in _bad_cases(libraries):
        with pytest.raises(ValueError, match="^" + re.escape(name) + ":"):
            call()


# --- the benchmark ---------------------------------------------------------------------------------------


def test_replica_benchmark_record(tmp_path, monkeypatch):
    from descrambler.bookkit.benchmarks import replica as bench

    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path))
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    (record,) = bench.run(parser.parse_args(["--profile", "smoke", "--n-train", "2000", "--n-validation", "300"]))
    assert record["name"] == "replica_median_rel_error" and record["profile"] == "smoke"
    assert record["fit_seconds"] > 0 and record["seconds"] == record["fit_seconds"] and record["lam"] > 0
    assert isinstance(record["meets_goal"], bool) and record["goal"] == {"ratio_to_net": 1.3}
    assert 0 < record["replica_median_rel_error"] < 1.5 and 0 < record["net_median_rel_error"] < 1.5
    assert record["value"] == record["replica_median_rel_error"]
    assert record["n_train"] == 2000 and record["n_validation"] == 300
    assert record["ratio"] == pytest.approx(record["replica_median_rel_error"] / record["net_median_rel_error"])
