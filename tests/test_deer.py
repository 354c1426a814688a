"""Tests of descrambler.deer: kernel, distance range, training library, measured-trace reader."""

import numpy as np
import pytest

from descrambler.deer import (DIPOLAR_ANGULAR, DIPOLAR_MHZ, LibraryConfig, dipolar_frequency,
                              dipolar_kernel, dipolar_kernel_by_quadrature, distance_range,
                              iter_library, load_trace, make_library)

T = np.linspace(0, 2, 24)
R = np.linspace(1.1, 6.5, 16)


@pytest.fixture(scope="module")
def library():
    return make_library(20_000, seed=11)


# ---------------------------------------------------------------- kernel

def test_kernel_matches_numerical_orientation_integral():
    assert np.abs(dipolar_kernel(T, R) - dipolar_kernel_by_quadrature(T, R)).max() <= 1e-8


def test_kernel_shape_and_zero_time():
    kernel = dipolar_kernel(T, R)
    assert kernel.shape == (T.size, R.size)
    np.testing.assert_array_equal(kernel[0], 1.0)


def test_kernel_scaling_law():
    c = 1.37
    np.testing.assert_allclose(dipolar_kernel(T * c**3, R * c), dipolar_kernel(T, R), atol=1e-12)


def test_kernel_matches_deerlab():
    dl = pytest.importorskip("deerlab")
    from deerlab.constants import D as deerlab_dipolar_constant  # rad/s m^3

    # DeerLab uses CODATA 2018 constants (D larger by ~1.8e-7 relative): compare at equal D(r)
    ratio = deerlab_dipolar_constant * 1e27 * 1e-6 / DIPOLAR_ANGULAR
    config = LibraryConfig()
    ours = dipolar_kernel(config.t, config.r)
    theirs = dl.dipolarkernel(config.t, config.r * np.cbrt(ratio), integralop=False)
    assert np.abs(ours - theirs).max() <= 1e-6
    assert np.abs(ours - dl.dipolarkernel(config.t, config.r, integralop=False)).max() <= 1e-5


def test_dipolar_frequency_at_one_nanometre():
    assert dipolar_frequency(1.0) == pytest.approx(52.04, abs=0.01)
    assert DIPOLAR_MHZ == pytest.approx(52.04, abs=0.01)


# ---------------------------------------------------------------- distance range

def test_distance_range_for_256_points_over_2_us():
    rmin, rmax = distance_range(2 / 255, 2.0)
    assert round(rmin, 3) == 1.178
    assert round(rmax, 3) == 5.927


def test_ridme_range_relation():
    deer = np.array(distance_range(0.01, 3.0, "deer"))
    ridme = np.array(distance_range(0.01, 3.0, "ridme"))
    np.testing.assert_allclose(ridme / deer, [np.cbrt(2), 1 / np.cbrt(2)])


def test_half_period_fits_at_rmax():
    _, rmax = distance_range(0.01, 2.0)
    assert dipolar_frequency(rmax) * 2.0 == pytest.approx(0.5)


# ---------------------------------------------------------------- library

def test_library_shapes_and_types(library):
    config = library.config
    assert library.traces.shape == library.clean.shape == library.background.shape == (20_000, config.n_time)
    assert library.distributions.shape == (20_000, config.n_dist)
    for name in ("traces", "clean", "background", "distributions"):
        assert getattr(library, name).dtype == np.float32
    np.testing.assert_allclose(library.t, config.t)
    np.testing.assert_allclose(library.r, config.r)


def test_distributions_are_normalised(library):
    np.testing.assert_allclose(library.distributions.mean(axis=1), 1.0, rtol=1e-5)
    assert library.distributions.min() >= 0


def test_traces_are_boxed(library):
    np.testing.assert_allclose(library.traces.min(axis=1), 0.0, atol=1e-6)
    np.testing.assert_allclose(library.traces.max(axis=1), 1.0, atol=1e-6)
    assert np.all(np.isfinite(library.clean)) and np.all(np.isfinite(library.background))


def test_sampled_parameters_inside_configured_ranges(library):
    config = library.config
    rmin, rmax = config.distance_limits
    present = ~np.isnan(library.peak_position)
    np.testing.assert_array_equal(present.sum(axis=1), library.n_peaks)
    position = library.peak_position[present]
    fwhm = library.peak_fwhm[present]
    assert position.min() >= rmin - 1e-5 and position.max() <= rmax + 1e-5
    assert np.all(fwhm >= config.min_fwhm_fraction * position - 1e-5)
    assert np.all(fwhm <= config.max_fwhm_fraction * (rmax - rmin) + 1e-5)
    amplitude = library.peak_amplitude[present]
    assert amplitude.min() > 0 and amplitude.max() <= 1
    assert library.modulation_depth.min() >= config.min_depth
    assert library.modulation_depth.max() <= config.max_depth
    assert library.decay_rate.min() >= config.min_decay_rate
    assert library.decay_rate.max() <= config.max_decay_rate
    assert library.dimension.min() >= config.min_dimension
    assert library.dimension.max() <= config.max_dimension
    assert np.all(library.noise_rms >= 0)
    assert np.all(library.noise_rms <= config.max_noise_fraction * library.modulation_depth + 1e-7)


def test_peak_count_and_position_distributions(library):
    counts = np.bincount(library.n_peaks, minlength=5)[1:] / len(library)
    np.testing.assert_allclose(counts, 0.25, atol=0.015)  # 5 standard deviations at n = 20000
    rmin, rmax = library.config.distance_limits
    fraction = (library.peak_position[~np.isnan(library.peak_position)] - rmin) / (rmax - rmin)
    assert fraction.mean() == pytest.approx(1 / 3, abs=0.01)  # |u1 + u2 - 1| has mean 1/3
    assert library.modulation_depth.mean() == pytest.approx(0.505, abs=0.01)


def test_clean_trace_is_the_physical_model(library):
    """Undo the boxing and recover F = K p from the clean trace and the background."""
    i = np.arange(50)
    depth = library.modulation_depth[i, None].astype(np.float64)
    clean, background = library.clean[i].astype(np.float64), library.background[i].astype(np.float64)
    scale = (clean[:, :1] - background[:, :1]) / depth  # V(0) = B(0) = 1
    offset = clean[:, :1] - scale
    bare_background = (background - offset) / scale / (1 - depth)
    form_factor = ((clean - offset) / scale / bare_background - (1 - depth)) / depth
    kernel = dipolar_kernel(library.t, library.r)
    expected = library.distributions[i] / library.config.n_dist @ kernel.T
    expected[:, 0] = 1
    np.testing.assert_allclose(form_factor, expected, atol=2e-3)
    rate, dimension = library.decay_rate[i, None], library.dimension[i, None]
    np.testing.assert_allclose(bare_background, np.exp(-(rate * library.t) ** (dimension / 3)), atol=2e-3)


def test_noise_level_matches_sampled_rms(library):
    i = library.noise_rms > 0.02
    scale = (library.clean[i, :1] - library.background[i, :1]) / library.modulation_depth[i, None]
    residual = (library.traces[i] - library.clean[i]) / scale
    ratio = residual.std(axis=1) / library.noise_rms[i]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.02)


def test_same_seed_same_library_and_streaming_equal():
    a, b = make_library(5000, seed=3), make_library(5000, seed=3)
    for name in ("traces", "clean", "background", "distributions", "peak_position"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.traces, make_library(5000, seed=4).traces)
    chunks = list(iter_library(5000, seed=3, chunk_size=1000))
    assert sum(len(c) for c in chunks) == 5000
    np.testing.assert_array_equal(np.concatenate([c.traces for c in chunks]), a.traces)


def test_custom_config_is_used():
    config = LibraryConfig(n_time=64, n_dist=50, tmax=3.0, max_peaks=1)
    lib = make_library(100, config, seed=0)
    assert lib.traces.shape == (100, 64) and lib.distributions.shape == (100, 50)
    assert np.all(lib.n_peaks == 1)
    assert lib.r[-1] == pytest.approx(distance_range(3.0 / 63, 3.0)[1])


# ---------------------------------------------------------------- measured traces

def _write(tmp_path, text, name="trace.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_trace_resamples_boxes_and_rescales(tmp_path):
    t = np.linspace(0, 3.0, 301)
    signal = 0.7 + 0.3 * dipolar_kernel(t, [3.5])[:, 0]
    rows = "\n".join(f"{a:.6f}, {b:.8f}, 0.0" for a, b in zip(t, signal))
    trace = load_trace(_write(tmp_path, "# exported by the spectrometer\ntime/us, real, imag\n" + rows))
    config = LibraryConfig()
    assert trace.trace.shape == (config.n_time,) and trace.t.shape == (config.n_time,)
    assert trace.trace.min() == pytest.approx(0) and trace.trace.max() == pytest.approx(1)
    assert trace.t[-1] == pytest.approx(3.0)
    np.testing.assert_allclose(trace.r, config.r * np.cbrt(3.0 / 2.0))
    expected = 0.7 + 0.3 * dipolar_kernel(trace.t, [3.5])[:, 0]
    expected = (expected - expected.min()) / np.ptp(expected)
    np.testing.assert_allclose(trace.trace, expected, atol=1e-3)


def test_load_trace_whitespace_and_start_inside_first_step(tmp_path):
    t = np.linspace(0.004, 2.0, 100)
    text = "\n".join(f"{a} {np.exp(-a)}" for a in t)
    trace = load_trace(_write(tmp_path, text))
    assert trace.t[0] == 0 and np.all(np.isfinite(trace.trace))


@pytest.mark.parametrize("text, message", [
    ("\n".join(f"{i * 0.1}" for i in range(20)), "column"),
    ("\n".join(f"{i * 0.1} {i}" for i in range(10)) + "\nabc def\n", "not numeric"),
    ("\n".join(f"{i * 0.1} {'nan' if i == 5 else i}" for i in range(20)), "NaN"),
    ("\n".join(f"{(i % 10) * 0.1} {i}" for i in range(20)), "increasing"),
    ("\n".join(f"{i * 0.1} {i}" for i in range(5)), "at least 8"),
    ("\n".join(f"{i * 0.1 - 0.3} {i}" for i in range(20)), "negative"),
    ("\n".join(f"{i * 0.1} 1.0" for i in range(20)), "constant"),
    ("\n".join(f"{0.5 + i * 0.1} {i}" for i in range(20)), "zero time"),
    ("only a header\n", "no numeric"),
])
def test_load_trace_rejects_malformed_files(tmp_path, text, message):
    with pytest.raises(ValueError, match=f"path: .*{message}"):
        load_trace(_write(tmp_path, text))


def test_load_trace_rejects_a_bad_config(tmp_path):
    with pytest.raises(ValueError, match="config: expected a LibraryConfig"):
        load_trace(_write(tmp_path, "0 1\n1 2\n"), config="default")


def test_load_trace_missing_file(tmp_path):
    with pytest.raises(ValueError, match="path: no such file"):
        load_trace(tmp_path / "absent.txt")


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, name", [
    (lambda: dipolar_kernel(np.ones((2, 2)), R), "t"),
    (lambda: dipolar_kernel(T, [np.nan, 2.0]), "r"),
    (lambda: dipolar_kernel([-0.1, 0.5], R), "t"),
    (lambda: dipolar_kernel(T, [0.0, 2.0]), "r"),
    (lambda: dipolar_kernel([], R), "t"),
    (lambda: dipolar_kernel(T, ["a", "b"]), "r"),
    (lambda: dipolar_frequency(-1.0), "r"),
    (lambda: dipolar_kernel_by_quadrature(T, R, nodes=0), "nodes"),
    (lambda: distance_range(0.0, 2.0), "dt"),
    (lambda: distance_range(0.01, -2.0), "tmax"),
    (lambda: distance_range(0.01, np.inf), "tmax"),
    (lambda: distance_range(3.0, 2.0), "dt"),
    (lambda: distance_range(0.01, 2.0, "esr"), "experiment"),
    (lambda: make_library(0), "n"),
    (lambda: make_library(-5), "n"),
    (lambda: make_library(2.5), "n"),
    (lambda: make_library(10, seed=-1), "seed"),
    (lambda: make_library(10, config="default"), "config"),
    (lambda: iter_library(10, chunk_size=0).__next__(), "chunk_size"),
    (lambda: LibraryConfig(n_time=4), "n_time"),
    (lambda: LibraryConfig(n_dist=0), "n_dist"),
    (lambda: LibraryConfig(tmax=0.0), "tmax"),
    (lambda: LibraryConfig(min_depth=0.5, max_depth=0.2), "min_depth"),
    (lambda: LibraryConfig(max_depth=1.5), "max_depth"),
    (lambda: LibraryConfig(max_noise_fraction=-0.1), "max_noise_fraction"),
    (lambda: LibraryConfig(min_fwhm_fraction=0.9, max_fwhm_fraction=0.1), "fwhm_fraction"),
    (lambda: LibraryConfig(max_peaks=0), "max_peaks"),
])
def test_bad_input_raises_value_error_naming_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
