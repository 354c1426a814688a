"""Property tests (Hypothesis): the dipolar kernel, the training library, `load_trace` round trips and
the descramblers' invariants. Short runs: few examples, no deadline."""

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from descrambler.deer.bruker import read_bes3t
from descrambler.deer import LibraryConfig, dipolar_kernel, make_library
from descrambler.groups import descramble, random_rotation, signed_permutation_matrix, smoothness_objective
from descrambler.groups.solve import zero_level
from descrambler.deer.traces import TIME_UNITS, load_trace

SHORT = settings(max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)
distances = st.floats(0.5, 20.0)
times = st.one_of(st.just(0.0), st.floats(1e-100, 50.0))


# ---------------------------------------------------------------- kernel

@SHORT
@given(r=st.lists(distances, min_size=1, max_size=6), exchange=st.floats(-10, 10))
def test_kernel_is_one_at_time_zero(r, exchange):
    np.testing.assert_array_equal(dipolar_kernel([0.0], r, exchange), 1.0)


@SHORT
@given(t=st.lists(times, min_size=1, max_size=20), r=st.lists(distances, min_size=1, max_size=6),
       exchange=st.floats(-10, 10))
def test_kernel_is_bounded_by_one(t, r, exchange):
    assert np.all(np.abs(dipolar_kernel(t, r, exchange)) <= 1 + 1e-12)


@SHORT
@given(t=st.lists(st.one_of(st.just(0.0), st.floats(1e-90, 5.0)), min_size=1, max_size=20),
       r=st.lists(distances, min_size=1, max_size=6),
       c=st.floats(0.3, 3.0))
def test_kernel_scaling_r_to_c_r_and_t_to_c_cubed_t(t, r, c):
    t, r = np.asarray(t), np.asarray(r)
    np.testing.assert_allclose(dipolar_kernel(c**3 * t, c * r), dipolar_kernel(t, r), atol=1e-9)


# ---------------------------------------------------------------- library

configs = st.fixed_dictionaries(dict(
    n_time=st.integers(8, 64), n_dist=st.integers(2, 128), tmax=st.floats(0.5, 8.0), max_peaks=st.integers(1, 5),
    normalisation=st.sampled_from(["box", "first_last"]), max_skew=st.sampled_from([0.0, 2.0, 50.0]),
    max_exchange_mhz=st.sampled_from([0.0, 3.0]), min_fwhm_fraction=st.floats(0.005, 0.1)))


@SHORT
@given(fields=configs, n=st.integers(1, 40), seed=st.integers(0, 2**31))
def test_library_distributions_traces_and_seeds(fields, n, seed):
    try:
        config = LibraryConfig(**fields)
    except ValueError:  # refused (e.g. peaks narrower than the distance grid): nothing to generate
        assume(False)
    library = make_library(n, config, seed)
    np.testing.assert_allclose(library.distributions.mean(axis=1), 1.0, rtol=1e-4)
    assert np.all(library.distributions >= 0) and np.all(np.isfinite(library.traces))
    if config.normalisation == "box":  # boxed: min 0 and max 1
        np.testing.assert_allclose(library.traces.min(axis=1), 0.0, atol=1e-6)
        np.testing.assert_allclose(library.traces.max(axis=1), 1.0, atol=1e-6)
    else:
        flat = library.traces[:, 0] == library.traces[:, -1]  # falls back to box
        np.testing.assert_allclose(library.traces[~flat, 0], 1.0, atol=1e-5)
        np.testing.assert_allclose(library.traces[~flat, -1], 0.0, atol=1e-5)
    assert np.all((library.n_peaks >= config.min_peaks) & (library.n_peaks <= config.max_peaks))
    again = make_library(n, config, seed)
    np.testing.assert_array_equal(again.traces, library.traces)
    np.testing.assert_array_equal(again.distributions, library.distributions)


# ---------------------------------------------------------------- load_trace round trips

def _signal(t, distance, depth):
    return 1e4 * (1 - depth + depth * dipolar_kernel(t, [distance])[:, 0]) * np.exp(-0.1 * t)


@SHORT
@given(points=st.integers(40, 400), length=st.floats(0.5, 10.0), unit=st.sampled_from(list(TIME_UNITS)),
       sep=st.sampled_from([" ", "\t", ",", ", ", ";"]), comma=st.booleans(), header=st.booleans(),
       distance=st.floats(2.0, 5.0), depth=st.floats(0.1, 0.9))
def test_load_trace_round_trip_in_any_unit_and_format(points, length, unit, sep, comma, header, distance, depth):
    t = np.linspace(0.0, length, points)
    v = _signal(t, distance, depth)
    if comma and sep in (",", ", "):
        sep = ";"  # a comma separator cannot go with decimal commas
    rows = [sep.join(repr(float(x)) for x in row) for row in zip(t / TIME_UNITS[unit], v)]
    text = "\n".join(rows)
    if comma:
        text = text.replace(".", ",")
    with tempfile.TemporaryDirectory() as folder:
        path, plain = Path(folder) / "trace.txt", Path(folder) / "plain.txt"
        path.write_text(("time signal\n" if header else "") + text + "\n")
        plain.write_text("\n".join(f"{a!r} {b!r}" for a, b in zip(t.tolist(), v.tolist())))
        trace, reference = load_trace(path, time_unit=unit), load_trace(plain)
    np.testing.assert_allclose(trace.raw_t, t, rtol=1e-12, atol=1e-12 * length)
    np.testing.assert_array_equal(trace.raw_signal, v)
    assert trace.t[-1] == pytest.approx(length) and trace.zero_time == reference.zero_time
    np.testing.assert_allclose(trace.trace, reference.trace, atol=1e-6)


@SHORT
@given(points=st.integers(16, 300), xmin=st.floats(-200.0, 200.0), step=st.floats(1.0, 20.0),
       order=st.sampled_from([">", "<"]), code=st.sampled_from(["f8", "f4"]), complex_=st.booleans(),
       seed=seeds)
def test_bes3t_round_trip(points, xmin, step, order, code, complex_, seed):
    rng = np.random.default_rng(seed)
    real = rng.standard_normal(points).astype(code).astype(float)
    imaginary = rng.standard_normal(points).astype(code).astype(float) if complex_ else None
    descriptor = (f"#DESC\t1.2 *\nBSEQ\t{'BIG' if order == '>' else 'LIT'}\nIKKF\t{'CPLX' if complex_ else 'REAL'}\n"
                  f"XTYP\tIDX\nIRFMT\t{'D' if code == 'f8' else 'F'}\nXPTS\t{points}\nXMIN\t{xmin!r}\n"
                  f"XWID\t{step * (points - 1)!r}\nXUNI\t'ns'\n")
    values = real if imaginary is None else np.column_stack([real, imaginary]).ravel()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "d.DSC").write_text(descriptor)
        (Path(folder) / "d.DTA").write_bytes(values.astype(order + code).tobytes())
        dataset = read_bes3t(Path(folder) / "d.DTA")
    np.testing.assert_array_equal(dataset.real, real)
    if complex_:
        np.testing.assert_array_equal(dataset.imaginary, imaginary)
    else:
        assert dataset.imaginary is None
    np.testing.assert_allclose(dataset.x, xmin + step * np.arange(points), atol=1e-9 * (abs(xmin) + step * points))


# ---------------------------------------------------------------- descramblers

signal_sets = st.tuples(st.integers(2, 12), st.integers(1, 30), seeds, st.sampled_from(["fourier", "finite"]))


def _draw(n, m, seed, derivative):
    n = max(n, 3) if derivative == "finite" else n
    return np.random.default_rng(seed).standard_normal((n, m)), derivative


@SHORT
@given(case=signal_sets, method=st.sampled_from(["exact", "cayley"]))
def test_descrambled_P_is_a_rotation_at_or_above_the_bound(case, method):
    S, derivative = _draw(*case)
    result = descramble(S, method, derivative=derivative)
    n = S.shape[0]
    np.testing.assert_allclose(result.P.T @ result.P, np.eye(n), atol=1e-9)
    assert np.linalg.det(result.P) == pytest.approx(1.0, abs=1e-9)
    assert result.objective >= result.bound - zero_level(n)
    assert np.isnan(result.ratio) == bool(result.ratio_note)


@SHORT
@given(case=signal_sets, seed=seeds)
def test_no_rotation_goes_below_the_bound(case, seed):
    S, derivative = _draw(*case)
    n = S.shape[0]
    P = random_rotation(n, np.random.default_rng(seed))
    bound = descramble(S, "exact", derivative=derivative).bound
    assert smoothness_objective(P, S, derivative=derivative) >= bound - zero_level(n)


@SHORT
@given(case=signal_sets, seed=seeds, scale=st.floats(1e-250, 1e250))
def test_signed_permutations_and_scale_of_the_signals_change_nothing(case, seed, scale):
    S, derivative = _draw(*case)
    n = S.shape[0]
    rng = np.random.default_rng(seed)
    Q = signed_permutation_matrix(rng.permutation(n), rng.choice([-1.0, 1.0], n))
    plain = descramble(S, "exact", derivative=derivative)
    moved = descramble(scale * Q @ S, "exact", derivative=derivative)
    level = zero_level(n)
    assert moved.bound == pytest.approx(plain.bound, rel=1e-9, abs=level)
    assert moved.objective == pytest.approx(plain.objective, rel=1e-9, abs=level)
    # P Q^T descrambles Q S exactly as P descrambles S
    assert smoothness_objective(plain.P @ Q.T, scale * Q @ S, derivative=derivative) == pytest.approx(
        plain.objective, rel=1e-9, abs=level)
