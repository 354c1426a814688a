"""Tests of descrambler.deer: kernel, distance range, training library, measured-trace reader."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import fresnel

from descrambler.deer import (
    LibraryConfig,
    dipolar_frequency,
    dipolar_kernel,
    dipolar_kernel_by_quadrature,
    distance_range,
    iter_library,
    library_preset,
    make_library,
)
from descrambler.deer.simulate import (
    DIPOLAR_ANGULAR,
    DIPOLAR_MHZ,
    LIBRARY_PRESETS,
    _normalisation_map,
    _skew_normal_factor,
)

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


#: Tolerance of float32 results of O(1) arithmetic that goes through libm and BLAS (see the test below).
FLOAT32_TOLERANCE = {"rtol": 16 * float(np.finfo(np.float32).eps), "atol": 16 * float(np.finfo(np.float32).eps)}


def test_default_library_is_pinned():
    """Values of make_library(8, LibraryConfig(), seed=3) from before the optional features existed.

    Sampled parameters are elementwise float32 arithmetic on the random stream: pinned exactly. The
    arrays go through float32 exp, fresnel and BLAS sums over 256 distances, whose last bits differ between
    CPUs and BLAS kernels: every value is O(1) work on O(1) quantities (the traces are boxed to [0, 1]), so
    they are compared to FLOAT32_TOLERANCE absolute and relative (16 float32 epsilons, about 1.9e-6; a value
    near zero, such as a trace's 0.0046 after boxing, inherits the absolute error of the O(1) terms it is
    the difference of: 4e-8 between an AMD EPYC and an Intel Xeon).
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
                               [0.9547111988067627, 0.017832646146416664, 0.0046326769515872], **FLOAT32_TOLERANCE)
    np.testing.assert_allclose(lib.clean[2, [0, 50, 200]],
                               [0.9565799832344055, 0.16515211760997772, 0.1546577662229538], **FLOAT32_TOLERANCE)
    np.testing.assert_allclose(lib.background[4, [10, 128]], [0.8301099538803101, 0.41903775930404663],
                               **FLOAT32_TOLERANCE)
    np.testing.assert_allclose(lib.distributions[1, 120], 0.010588617995381355, **FLOAT32_TOLERANCE)
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
    with pytest.raises(ValueError, match="^min_fwhm_fraction"):
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
    (lambda: LibraryConfig(min_fwhm_fraction=0.9, max_fwhm_fraction=0.1), "min_fwhm_fraction"),
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
     "min_fwhm_fraction"),
    (lambda: library_preset("deernet"), "name"),
])
def test_bad_input_raises_value_error_naming_argument(call, name):
    with pytest.raises(ValueError, match=rf"^([\w.]+, )*{name}(, [\w.]+)*:"):
        call()
