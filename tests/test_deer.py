"""Tests of descrambler.deer: kernel, distance range, training library, measured-trace reader."""

from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.special import fresnel

from descrambler.deer import (DIPOLAR_ANGULAR, DIPOLAR_MHZ, LIBRARY_PRESETS, LibraryConfig,
                              _normalisation_map, _skew_normal_factor, dipolar_frequency, dipolar_kernel,
                              dipolar_kernel_by_quadrature, distance_range, iter_library, library_preset,
                              load_trace, make_library)

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


@pytest.mark.parametrize("exchange", [-5.0, 0.0, 3.0])
def test_kernel_with_exchange_matches_quadrature(exchange):
    closed = dipolar_kernel(T, R, exchange_mhz=exchange)
    assert np.abs(closed - dipolar_kernel_by_quadrature(T, R, exchange_mhz=exchange)).max() <= 1e-10
    np.testing.assert_array_equal(closed[0], 1.0)


def test_kernel_without_exchange_is_unchanged():
    """J = 0 gives exactly the kernel of the closed form without exchange."""
    phase = np.outer(T, DIPOLAR_ANGULAR / R**3)
    s, c = fresnel(np.sqrt(6 * phase / np.pi))
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.sqrt(np.pi / (6 * phase)) * (np.cos(phase) * c + np.sin(phase) * s)
    expected[0] = 1.0
    np.testing.assert_array_equal(dipolar_kernel(T, R, exchange_mhz=0.0), expected)
    np.testing.assert_array_equal(dipolar_kernel(T, R), expected)


def test_exchange_shifts_the_frequency():
    """For x = 1/sqrt(3) the dipolar term vanishes: a pure exchange J is K = cos(2 pi J t) as r -> oo."""
    t = np.linspace(0, 2, 50)
    np.testing.assert_allclose(dipolar_kernel(t, [1e4], exchange_mhz=2.5)[:, 0], np.cos(2 * np.pi * 2.5 * t),
                               atol=1e-9)


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


def test_default_library_is_pinned():
    """Values of make_library(8, LibraryConfig(), seed=3) from before the optional features existed.

    Sampled parameters are elementwise float32 arithmetic on the random stream: pinned exactly. The
    arrays go through float32 exp and BLAS, whose last bit may differ between CPUs: pinned to 1e-6.
    """
    lib = make_library(8, LibraryConfig(), seed=3)
    exact = {
        "n_peaks": [4, 1, 1, 1, 1, 4, 4, 3],
        "peak_position": (0, [1.2812329530715942, 5.472452640533447, 3.983630657196045, 3.1084091663360596]),
        "peak_fwhm": (0, [1.2957926988601685, 0.1444433182477951, 0.7512941956520081, 0.15519371628761292]),
        "peak_amplitude": (5, [0.28329116106033325, 0.7861330509185791, 0.37319040298461914,
                               0.14135807752609253]),
        "modulation_depth": (slice(0, 3), [0.57245934009552, 0.965579092502594, 0.935771644115448]),
        "decay_rate": (slice(0, 3), [0.4720688760280609, 0.35297951102256775, 0.4098341763019562]),
        "dimension": (slice(0, 3), [2.237781286239624, 2.8845505714416504, 2.1305384635925293]),
        "noise_rms": (slice(0, 3), [0.008717617020010948, 0.026782141998410225, 0.0319046713411808]),
    }
    np.testing.assert_array_equal(lib.n_peaks, exact.pop("n_peaks"))
    for name, (index, values) in exact.items():
        np.testing.assert_array_equal(getattr(lib, name)[index], np.float32(values), err_msg=name)
    np.testing.assert_allclose(lib.traces[[0, 3, 7], [1, 100, 255]],
                               [0.9547111988067627, 0.017832646146416664, 0.0046326769515872], rtol=1e-6)
    np.testing.assert_allclose(lib.clean[2, [0, 50, 200]],
                               [0.9565799832344055, 0.16515211760997772, 0.1546577662229538], rtol=1e-6)
    np.testing.assert_allclose(lib.background[4, [10, 128]], [0.8301099538803101, 0.41903775930404663],
                               rtol=1e-6)
    np.testing.assert_allclose(lib.distributions[1, 120], 0.010588617995381355, rtol=1e-6)
    np.testing.assert_array_equal(lib.exchange_mhz, 0.0)
    np.testing.assert_array_equal(np.isnan(lib.peak_skew), np.isnan(lib.peak_position))
    np.testing.assert_array_equal(lib.peak_skew[~np.isnan(lib.peak_skew)], 0.0)


def test_explicit_defaults_give_the_same_library():
    explicit = LibraryConfig(normalisation="box", min_peaks=1, fwhm_reference="range", peak_positions="triangular",
                             max_skew=0.0, max_exchange_mhz=0.0, min_noise_fraction=0.0)
    a, b = make_library(300, seed=5), make_library(300, explicit, seed=5)
    for name in ("traces", "clean", "background", "distributions", "noise_rms", "peak_fwhm"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_noise_with_zero_minimum_is_u_times_maximum():
    """(min + (max - min) u) depth with min = 0 reproduces u max depth bit for bit, as in library_dd."""
    rng = np.random.default_rng(0)
    u, depth = rng.random(10_000, dtype=np.float32), rng.random(10_000, dtype=np.float32)
    for high in (0.05, 0.1, 0.3, 1.0):
        new = (np.float32(0.0) + np.float32(high - 0.0) * u) * depth
        np.testing.assert_array_equal(new, u * np.float32(high) * depth)


def test_noise_minimum_is_respected():
    config = LibraryConfig(min_noise_fraction=0.02, max_noise_fraction=0.04)
    lib = make_library(3000, config, seed=1)
    fraction = lib.noise_rms / lib.modulation_depth
    assert fraction.min() >= 0.02 * (1 - 1e-6) and fraction.max() <= 0.04 * (1 + 1e-6)
    assert fraction.mean() == pytest.approx(0.03, abs=0.001)


def test_first_last_normalisation():
    lib = make_library(3000, LibraryConfig(normalisation="first_last"), seed=2)
    np.testing.assert_allclose(lib.traces[:, 0], 1.0, atol=1e-6)
    np.testing.assert_array_equal(lib.traces[:, -1], 0.0)
    assert np.all(np.isfinite(lib.traces)) and np.all(np.isfinite(lib.clean))
    assert np.all(np.isfinite(lib.background))
    # the same affine map on the clean trace: the noise is all that separates them
    scale = (lib.clean[:, :1] - lib.background[:, :1]) / lib.modulation_depth[:, None]
    residual = (lib.traces - lib.clean) / scale
    ratio = residual.std(axis=1)[lib.noise_rms > 0.01] / lib.noise_rms[lib.noise_rms > 0.01]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.02)


def test_first_last_falls_back_to_box_for_equal_end_points():
    traces = np.array([[0.9, 0.2, 0.5, 0.9],  # first == last: zero denominator
                       [1.0, 0.3, 0.1, 0.4]], np.float32)
    offset, scale = _normalisation_map(traces, "first_last")
    mapped = (traces - offset) * scale
    assert np.all(np.isfinite(mapped))
    np.testing.assert_allclose(mapped[0], [1.0, 0.0, 3 / 7, 1.0], rtol=1e-6)  # the box map
    box_offset, box_scale = _normalisation_map(traces[:1], "box")
    np.testing.assert_array_equal((traces[:1] - box_offset) * box_scale, mapped[:1])
    np.testing.assert_allclose(mapped[1], [1.0, -1 / 6, -0.5, 0.0], rtol=1e-6, atol=1e-7)


def test_peak_count_range():
    lib = make_library(2000, LibraryConfig(min_peaks=2, max_peaks=2), seed=0)
    np.testing.assert_array_equal(lib.n_peaks, 2)
    np.testing.assert_array_equal((~np.isnan(lib.peak_position)).sum(axis=1), 2)
    lib = make_library(6000, LibraryConfig(min_peaks=2, max_peaks=4), seed=0)
    np.testing.assert_allclose(np.bincount(lib.n_peaks, minlength=5)[2:] / 6000, 1 / 3, atol=0.03)


def test_uniform_peak_positions():
    config = LibraryConfig(peak_positions="uniform", max_peaks=1)
    lib = make_library(20_000, config, seed=4)
    rmin, rmax = config.distance_limits
    position = lib.peak_position[:, 0].astype(np.float64)
    assert position.mean() == pytest.approx((rmin + rmax) / 2, abs=0.03)  # ~5 standard errors
    assert stats.kstest(position, stats.uniform(rmin, rmax - rmin).cdf).pvalue > 1e-3
    counts = np.histogram(position, bins=20, range=(rmin, rmax))[0]
    assert stats.chisquare(counts).pvalue > 1e-3


def test_fwhm_relative_to_distance():
    config = LibraryConfig(fwhm_reference="distance", min_fwhm_fraction=0.05, max_fwhm_fraction=0.5)
    lib = make_library(5000, config, seed=6)
    present = ~np.isnan(lib.peak_position)
    ratio = lib.peak_fwhm[present] / lib.peak_position[present]
    assert ratio.min() >= 0.05 * (1 - 1e-6) and ratio.max() <= 0.5 * (1 + 1e-6)
    # |u3 + u4 - 1| favours narrow peaks: mean fraction 0.05 + 0.45 / 3
    assert ratio.mean() == pytest.approx(0.2, abs=0.01)


def test_fwhm_consistency_check_follows_the_reference():
    LibraryConfig(fwhm_reference="distance", min_fwhm_fraction=0.3, max_fwhm_fraction=0.35)
    with pytest.raises(ValueError, match="min_fwhm_fraction"):
        LibraryConfig(fwhm_reference="range", min_fwhm_fraction=0.3, max_fwhm_fraction=0.35)


def test_skew_normal_factor():
    z = np.linspace(-4, 4, 101, dtype=np.float32)[None, :]
    np.testing.assert_array_equal(_skew_normal_factor(z.copy(), np.zeros((1, 1), np.float32)), 1.0)
    factor = _skew_normal_factor(z.copy(), np.float32([[2.0]]))
    assert factor.dtype == np.float32
    np.testing.assert_allclose(factor[0], 2 * stats.norm.cdf(2.0 * np.sqrt(2) * z[0]), rtol=1e-5, atol=1e-6)


def _single_peak_library(n, **fields):
    config = LibraryConfig(max_peaks=1, fwhm_reference="distance", min_fwhm_fraction=0.1,
                           max_fwhm_fraction=0.15, **fields)
    lib = make_library(n, config, seed=8)
    r = lib.r
    sigma = lib.peak_fwhm[:, 0].astype(np.float64) / (2 * np.sqrt(2 * np.log(2)))
    position = lib.peak_position[:, 0].astype(np.float64)
    inside = (position - 4 * sigma > r[0]) & (position + 4 * sigma < r[-1])
    return lib, position, sigma, inside


def test_gaussian_peak_is_the_normal_density():
    lib, position, sigma, inside = _single_peak_library(200)
    for i in np.flatnonzero(inside)[:20]:
        expected = stats.norm.pdf(lib.r, position[i], sigma[i])
        expected *= lib.r.size / expected.sum()
        np.testing.assert_allclose(lib.distributions[i], expected, rtol=2e-4, atol=1e-6 * expected.max())


def test_skewed_peak_is_the_skew_normal_density():
    lib, position, sigma, inside = _single_peak_library(400, max_skew=4.0)
    alpha = lib.peak_skew[:, 0]
    assert np.abs(alpha).max() <= 4.0 and alpha.min() < -2 and alpha.max() > 2
    checked = 0
    for i in np.flatnonzero(inside)[:40]:
        expected = stats.skewnorm.pdf(lib.r, alpha[i], position[i], sigma[i])
        expected *= lib.r.size / expected.sum()
        np.testing.assert_allclose(lib.distributions[i], expected, rtol=2e-4, atol=1e-5 * expected.max())
        if abs(alpha[i]) > 1:  # the sign of the grid distribution's skewness is the sign of alpha
            p = lib.distributions[i] / lib.distributions[i].sum()
            mean = p @ lib.r
            skewness = p @ (lib.r - mean) ** 3 / (p @ (lib.r - mean) ** 2) ** 1.5
            assert np.sign(skewness) == np.sign(alpha[i]) and abs(skewness) > 0.1
            checked += 1
    assert checked >= 10


def _form_factor(lib):
    """F from a library without background decay: clean - background = depth F scale."""
    clean, background = lib.clean.astype(np.float64), lib.background.astype(np.float64)
    return (clean - background) / (clean[:, :1] - background[:, :1])


def test_exchange_form_factor():
    # a fine distance grid (step 0.0023 nm) resolves peaks of FWHM 0.2 % of their distance
    config = LibraryConfig(max_exchange_mhz=5.0, max_decay_rate=0.0, max_peaks=1, n_dist=2048,
                           peak_positions="uniform", fwhm_reference="distance", min_fwhm_fraction=0.002,
                           max_fwhm_fraction=0.0022)
    lib = make_library(300, config, seed=9)
    J = lib.exchange_mhz
    assert np.abs(J).max() <= 5.0 and J.min() < -3 and J.max() > 3
    form_factor = _form_factor(lib)
    for i in range(20):
        on_grid = lib.distributions[i] / config.n_dist @ dipolar_kernel(lib.t, lib.r, exchange_mhz=J[i]).T
        np.testing.assert_allclose(form_factor[i], on_grid, atol=2e-4)
    # a single narrow peak: the kernel with exchange at the peak's distance. Below 2 nm the kernel
    # dephases within the peak's width at late times, and at the grid's end the peak is cut off.
    position = lib.peak_position[:, 0]
    chosen = np.flatnonzero((position > 2.0) & (position < lib.r[-1] - 0.05))
    assert chosen.size > 100
    for i in chosen:
        at_peak = dipolar_kernel(lib.t, [position[i]], exchange_mhz=J[i])[:, 0]
        np.testing.assert_allclose(form_factor[i], at_peak, atol=3e-3)


# ---------------------------------------------------------------- presets

def test_presets():
    assert library_preset("library_dd") == LibraryConfig()
    assert set(LIBRARY_PRESETS) == {"library_dd", "deernet_2018"}
    config = library_preset("deernet_2018")
    assert config.t.size == 256 and config.tmax == 2.0
    rmin, rmax = config.distance_limits
    assert round(rmin, 2) == 1.18 and round(rmax, 2) == 5.93


def test_deernet_2018_preset_parameters_in_range():
    config = library_preset("deernet_2018")
    lib = make_library(20_000, config, seed=12)
    rmin, rmax = config.distance_limits
    present = ~np.isnan(lib.peak_position)
    assert set(np.unique(lib.n_peaks)) == {1, 2, 3}
    np.testing.assert_array_equal(present.sum(axis=1), lib.n_peaks)
    np.testing.assert_array_equal(np.isnan(lib.peak_skew), ~present)
    position, fwhm, skew = lib.peak_position[present], lib.peak_fwhm[present], lib.peak_skew[present]
    assert position.min() >= rmin - 1e-5 and position.max() <= rmax + 1e-5
    assert position.mean() == pytest.approx((rmin + rmax) / 2, abs=0.05)
    ratio = fwhm / position
    assert ratio.min() >= 0.05 * (1 - 1e-6) and ratio.max() <= 0.5 * (1 + 1e-6)
    assert np.abs(skew).max() <= 3.0 and skew.min() < -2.9 and skew.max() > 2.9
    assert lib.modulation_depth.min() >= 0.1 and lib.modulation_depth.max() <= 0.6
    assert lib.decay_rate.min() >= 0.0 and lib.decay_rate.max() <= 0.5
    assert lib.dimension.min() >= 2.0 and lib.dimension.max() <= 3.5
    assert np.abs(lib.exchange_mhz).max() <= 5.0 and lib.exchange_mhz.min() < -4.9 and lib.exchange_mhz.max() > 4.9
    fraction = lib.noise_rms / lib.modulation_depth
    assert fraction.min() >= 0 and fraction.max() <= 0.1 * (1 + 1e-6)
    np.testing.assert_allclose(lib.traces[:, 0], 1.0, atol=1e-6)
    np.testing.assert_array_equal(lib.traces[:, -1], 0.0)
    assert np.all(np.isfinite(lib.traces)) and np.all(np.isfinite(lib.distributions))
    np.testing.assert_allclose(lib.distributions.mean(axis=1), 1.0, rtol=1e-5)


def test_streaming_equals_make_library_for_the_2018_preset():
    config = library_preset("deernet_2018")
    whole = make_library(9000, config, seed=3)
    chunks = list(iter_library(9000, config, seed=3, chunk_size=4096))
    assert [len(c) for c in chunks] == [4096, 4096, 808]
    for name in ("traces", "clean", "background", "distributions", "peak_skew", "exchange_mhz", "noise_rms"):
        np.testing.assert_array_equal(np.concatenate([getattr(c, name) for c in chunks]), getattr(whole, name))


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
    # Negative times are no longer refused as such (raw files have points before zero time); this file is
    # still refused, rightly: its signal only rises, so it has no echo maximum to take as zero time.
    ("\n".join(f"{i * 0.1 - 0.3} {i}" for i in range(20)), "negative times .* zero time"),
    ("\n".join(f"{i * 0.1} 1.0" for i in range(20)), "constant"),
    ("\n".join(f"{0.5 + i * 0.1} {i}" for i in range(20)), "zero time"),
    ("only a header\n", "no numeric"),
])
def test_load_trace_rejects_malformed_files(tmp_path, text, message):
    with pytest.raises(ValueError, match=f"path: .*{message}"):
        load_trace(_write(tmp_path, text))


def _raw_trace(t, zero_time, phase_deg, noise, seed=0, depth=0.4, distance=3.5, decay=0.2):
    """A two-channel trace as a spectrometer records it: echo at `zero_time`, points before it (the DEER
    signal is symmetric about zero time), rotated by `phase_deg`, complex noise, arbitrary scale."""
    tau = np.abs(t - zero_time)
    clean = (1 - depth + depth * dipolar_kernel(tau, [distance])[:, 0]) * np.exp(-decay * tau)
    rng = np.random.default_rng(seed)
    complex_signal = clean * np.exp(1j * np.radians(phase_deg))
    complex_signal = complex_signal + noise * (rng.standard_normal(t.size) + 1j * rng.standard_normal(t.size))
    return 2.5e4 * complex_signal, clean


def _write_complex(tmp_path, t, signal, name="raw.txt"):
    rows = "\n".join(f"{a:.6f}\t{b.real:.8g}\t{b.imag:.8g}" for a, b in zip(t, signal))
    return _write(tmp_path, "time (us)\treal\timaginary\n" + rows, name)


def test_load_trace_raw_two_channel_known_answer(tmp_path):
    t = np.arange(0, 3.4, 0.008)  # a spectrometer's axis: acquisition starts 300 ns before the echo
    signal, clean = _raw_trace(t, zero_time=0.3, phase_deg=37.0, noise=0.003)
    trace = load_trace(_write_complex(tmp_path, t, signal))
    assert trace.imaginary_column == 3
    assert trace.zero_time == pytest.approx(0.3, abs=0.004)  # half a raw step
    assert np.degrees(trace.phase) == pytest.approx(37.0, abs=0.5)
    assert trace.t[0] == 0 and trace.t[-1] == pytest.approx(t[-1] - trace.zero_time)
    np.testing.assert_allclose(trace.r, LibraryConfig().r * np.cbrt(trace.t[-1] / 2.0))
    tau = trace.t + trace.zero_time - 0.3
    expected = (0.6 + 0.4 * dipolar_kernel(np.abs(tau), [3.5])[:, 0]) * np.exp(-0.2 * np.abs(tau))
    expected = (expected - expected.min()) / np.ptp(expected)
    assert np.sqrt(np.mean((trace.trace - expected) ** 2)) < 0.02  # noise 0.003 of a 0.4 * 0.9 modulation
    t_after, v_after = trace.after_zero_time()
    assert t_after[0] >= 0 and t_after.size == np.count_nonzero(t >= trace.zero_time)
    np.testing.assert_allclose(v_after / 2.5e4, np.interp(t_after + trace.zero_time, t, clean), atol=0.02)
    assert any("imaginary" in note for note in trace.notes) and any("first-moment" in note for note in trace.notes)


@pytest.mark.parametrize("zero_time, phase_deg, start, noise", [
    (0.3, 37.0, 0.0, 0.003), (0.13, -120.0, -0.1, 0.01), (0.2, 200.0, 0.0, 0.0), (0.05, 10.0, -0.2, 0.005)])
def test_zero_time_and_phase_agree_with_deerlab(tmp_path, zero_time, phase_deg, start, noise):
    dl = pytest.importorskip("deerlab")
    t = np.arange(start, start + 3.2, 0.008)
    signal, _ = _raw_trace(t, zero_time, phase_deg, noise, seed=3)
    trace = load_trace(_write_complex(tmp_path, t, signal))
    stored = trace.raw_signal + 1j * trace.raw_imaginary  # the file's values (8 significant digits)
    real, _, deerlab_phase = dl.correctphase(stored, full_output=True)  # multiplies by exp(+i phase)
    assert np.cos(trace.phase + deerlab_phase[0]) == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(trace.signal, real, rtol=1e-9, atol=1e-9 * np.abs(real).max())
    deerlab_zero = t[0] - dl.correctzerotime(real, t)[0]
    assert trace.zero_time == pytest.approx(deerlab_zero, abs=0.008 / 10 + 1e-12)  # one step of the fine grid
    assert trace.zero_time == pytest.approx(zero_time, abs=0.008)


def test_load_trace_pre_zero_points_on_a_negative_time_axis(tmp_path):
    t = np.arange(-0.2, 2.5, 0.01)
    signal, _ = _raw_trace(t, zero_time=0.0, phase_deg=0.0, noise=0.0)
    path = _write(tmp_path, "\n".join(f"{a:.5f} {b.real:.8g}" for a, b in zip(t, signal)))
    trace = load_trace(path)
    assert trace.imaginary_column is None and trace.phase == 0
    assert abs(trace.zero_time) <= 0.001
    assert trace.t[-1] == pytest.approx(t[-1] - trace.zero_time)
    explicit = load_trace(path, zero_time=0.0)
    assert explicit.zero_time == 0 and explicit.t[-1] == pytest.approx(t[-1])
    np.testing.assert_allclose(explicit.trace, trace.trace, atol=0.01)


def test_processed_noisy_trace_keeps_its_own_zero(tmp_path):
    # the user trace of chapter 2: starts at zero time; noise may put the maximum a few points in
    t = np.arange(0, 3.0 + 1e-9, 0.01)
    r = np.linspace(1.0, 8.0, 701)
    p = np.exp(-0.5 * ((r - 3.2) / 0.15) ** 2)
    form = dipolar_kernel(t, r) @ (p / p.sum())
    for seed in range(20):
        rng = np.random.default_rng(seed)
        signal = (0.9 + 0.1 * form) * np.exp(-0.05 * t) + 0.02 * rng.standard_normal(t.size)
        trace = load_trace(_write(tmp_path, "\n".join(f"{a} {b}" for a, b in zip(t, signal))))
        assert trace.zero_time == 0 and trace.t[-1] == pytest.approx(3.0)


def test_third_column_that_is_not_imaginary_is_ignored(tmp_path):
    # a processed export: time, signal, background fit (DeerAnalysis writes such files)
    t = np.arange(0, 3.0, 0.008)
    rng = np.random.default_rng(1)
    background = 0.6 * np.exp(-0.1 * t)
    signal = (0.6 + 0.4 * dipolar_kernel(t, [3.0])[:, 0]) * np.exp(-0.1 * t) + 0.003 * rng.standard_normal(t.size)
    three = load_trace(_write(tmp_path, "\n".join(f"{a} {b} {c}" for a, b, c in zip(t, signal, background)), "3.txt"))
    two = load_trace(_write(tmp_path, "\n".join(f"{a} {b}" for a, b in zip(t, signal)), "2.txt"))
    assert three.imaginary_column is None and three.phase == 0
    assert any("column 3 ignored" in note for note in three.notes)
    np.testing.assert_array_equal(three.trace, two.trace)
    forced = load_trace(tmp_path / "3.txt", imaginary=3)
    assert forced.imaginary_column == 3 and forced.phase != 0
    given = load_trace(tmp_path / "3.txt", imaginary=3, phase=0.0)
    np.testing.assert_array_equal(given.trace, two.trace)


def test_load_trace_time_in_nanoseconds(tmp_path):
    t = np.arange(0, 3.0, 0.008)
    signal = 0.7 + 0.3 * dipolar_kernel(t, [3.5])[:, 0]
    in_ns = _write(tmp_path, "\n".join(f"{1000 * a:.3f} {b}" for a, b in zip(t, signal)), "ns.txt")
    in_us = load_trace(_write(tmp_path, "\n".join(f"{a:.6f} {b}" for a, b in zip(t, signal)), "us.txt"))
    np.testing.assert_allclose(load_trace(in_ns, time_unit="ns").trace, in_us.trace, atol=1e-6)
    with pytest.raises(ValueError, match="path: .*time_unit='ns'"):
        load_trace(in_ns)


KUPROV = Path(__file__).resolve().parents[1] / "data" / "kuprov"
KUPROV_LENGTHS = {"I": 5.312, "II": 6.304, "III": 11.16, "IV": 3.512, "V": 1.496, "VI": 5.568}


@pytest.mark.parametrize("sample", sorted(KUPROV_LENGTHS))
def test_the_six_real_traces_load(sample):
    path = KUPROV / f"sample_{sample}_DEERNet_input.dat"
    trace = load_trace(path)
    assert trace.zero_time == 0 and trace.imaginary_column is None  # processed, four columns
    assert trace.t[-1] == pytest.approx(KUPROV_LENGTHS[sample])
    np.testing.assert_allclose(trace.r, LibraryConfig().r * np.cbrt(KUPROV_LENGTHS[sample] / 2.0))
    # column 4 is the imaginary part left after the authors' phasing: it barely rotates the signal
    phased = load_trace(path, imaginary=4)
    assert abs(np.sin(phased.phase)) < np.sin(np.radians(1.0))
    np.testing.assert_allclose(phased.trace, trace.trace, atol=1e-3)


@pytest.mark.parametrize("kwargs, name", [
    (dict(zero_time="early"), "zero_time"),
    (dict(zero_time=np.nan), "zero_time"),
    (dict(zero_time=5.0), "zero_time"),
    (dict(phase="x"), "phase"),
    (dict(phase=0.3), "phase"),  # no imaginary channel to rotate
    (dict(imaginary=2), "imaginary"),
    (dict(imaginary=7), "imaginary"),
    (dict(imaginary=True), "imaginary"),
    (dict(time_unit="s"), "time_unit"),
])
def test_load_trace_bad_arguments(tmp_path, kwargs, name):
    text = "\n".join(f"{i * 0.1} {np.exp(-i * 0.1)}" for i in range(30))
    with pytest.raises(ValueError, match=f"^{name}:"):
        load_trace(_write(tmp_path, text), **kwargs)


def test_load_trace_refuses_too_few_points_after_zero_time(tmp_path):
    text = "\n".join(f"{i * 0.1} {np.exp(-abs(i * 0.1 - 2.5))}" for i in range(30))
    with pytest.raises(ValueError, match="path: .*after zero time"):
        load_trace(_write(tmp_path, text))


def test_load_trace_binary_file_hint(tmp_path):
    path = tmp_path / "trace.DTA"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="path: .*deerload"):
        load_trace(path)


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
    (lambda: dipolar_kernel(T, R, exchange_mhz=np.nan), "exchange_mhz"),
    (lambda: dipolar_kernel(T, R, exchange_mhz=[1.0, 2.0]), "exchange_mhz"),
    (lambda: dipolar_kernel_by_quadrature(T, R, exchange_mhz="a"), "exchange_mhz"),
    (lambda: LibraryConfig(normalisation="minmax"), "normalisation"),
    (lambda: LibraryConfig(fwhm_reference="width"), "fwhm_reference"),
    (lambda: LibraryConfig(peak_positions="gaussian"), "peak_positions"),
    (lambda: LibraryConfig(min_peaks=0), "min_peaks"),
    (lambda: LibraryConfig(min_peaks=5), "min_peaks"),
    (lambda: LibraryConfig(min_peaks=1.5), "min_peaks"),
    (lambda: LibraryConfig(min_peaks=3, max_peaks=2), "min_peaks"),
    (lambda: LibraryConfig(max_skew=-1.0), "max_skew"),
    (lambda: LibraryConfig(max_skew=np.inf), "max_skew"),
    (lambda: LibraryConfig(max_skew=np.nan), "max_skew"),
    (lambda: LibraryConfig(max_skew="3"), "max_skew"),
    (lambda: LibraryConfig(max_exchange_mhz=-5.0), "max_exchange_mhz"),
    (lambda: LibraryConfig(max_exchange_mhz=np.inf), "max_exchange_mhz"),
    (lambda: LibraryConfig(min_noise_fraction=-0.01), "min_noise_fraction"),
    (lambda: LibraryConfig(min_noise_fraction=0.06), "min_noise_fraction"),
    (lambda: LibraryConfig(min_noise_fraction=np.nan), "min_noise_fraction"),
    (lambda: LibraryConfig(fwhm_reference="distance", min_fwhm_fraction=0.6, max_fwhm_fraction=0.5),
     "fwhm_fraction"),
    (lambda: library_preset("deernet"), "name"),
])
def test_bad_input_raises_value_error_naming_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
