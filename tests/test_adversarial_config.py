"""Adversarial configuration values: counts given as floats, non-numeric fields, a peak count beyond
the library's int8 counter, complex arrays, and distances or times outside a physical range."""

import dataclasses

import numpy as np
import pytest

from descrambler import _validate
from descrambler.deer import (
    LibraryConfig,
    dipolar_frequency,
    dipolar_kernel,
    dipolar_kernel_by_quadrature,
    make_library,
)
from descrambler.deer.simulate import DISTANCE_RANGE_NM, MAX_PEAKS, TIME_RANGE_US
from descrambler.groups import descramble, smoothness_objective
from descrambler.nets.training import TrainConfig

COUNTS = ("n_time", "n_dist", "max_peaks", "min_peaks")
NUMBERS = ("tmax", "min_fwhm_fraction", "max_fwhm_fraction", "min_depth", "max_depth", "max_noise_fraction",
           "min_decay_rate", "max_decay_rate", "min_dimension", "max_dimension", "max_skew", "max_exchange_mhz",
           "min_noise_fraction")


# ---------------------------------------------------------------- integers: floats are refused

@pytest.mark.parametrize("value", [256.0, np.float64(2.0), 2.5, "3", None, True, 3 + 0j, [3]])
def test_positive_int_refuses_anything_but_an_integer(value):
    with pytest.raises(ValueError, match="^n: expected a positive integer"):
        _validate.positive_int(value, "n")


def test_positive_int_accepts_python_and_numpy_integers():
    assert _validate.positive_int(np.int64(3), "n") == 3 and type(_validate.positive_int(np.uint8(3), "n")) is int


@pytest.mark.parametrize("name", COUNTS)
def test_library_counts_given_as_floats_are_refused(name):
    value = {"n_time": 256.0, "n_dist": 64.0, "max_peaks": 4.0, "min_peaks": 1.0}[name]
    with pytest.raises(ValueError, match=f"^{name}: expected a positive integer, got {value!r}"):
        LibraryConfig(**{name: value})


@pytest.mark.parametrize("name, value", [("epochs", 2.0), ("n_train", 2000.0), ("batch_size", 64.0),
                                         ("halve_every", 5.0), ("n_validation", 400.0), ("patience", 3.0),
                                         ("lbfgs_iterations", 20.0)])
def test_training_counts_given_as_floats_are_refused(name, value):
    with pytest.raises(ValueError, match=f"^{name}: expected a positive integer"):
        TrainConfig(data=LibraryConfig(), **{name: value})


def test_numpy_integer_counts_are_stored_as_int_and_give_the_same_library():
    config = LibraryConfig(n_time=np.int64(256), max_peaks=np.int32(4))
    assert type(config.n_time) is int and config == LibraryConfig()
    np.testing.assert_array_equal(make_library(50, config, 3).traces, make_library(50, LibraryConfig(), 3).traces)


# ---------------------------------------------------------------- non-numeric fields

@pytest.mark.parametrize("value", ["0.1", None, True, [0.1], 0.1 + 0j, np.nan])
@pytest.mark.parametrize("name", NUMBERS)
def test_non_numeric_fields_raise_value_error_naming_the_field(name, value):
    with pytest.raises(ValueError, match=f"^{name}: expected a finite number"):
        LibraryConfig(**{name: value})


# ---------------------------------------------------------------- the int8 peak counter

@pytest.mark.parametrize("max_peaks", [128, 200, 10**6])
def test_more_peaks_than_the_counter_holds_are_refused(max_peaks):
    with pytest.raises(ValueError, match=f"^max_peaks: at most {MAX_PEAKS} .*int8.*got {max_peaks}"):
        LibraryConfig(max_peaks=max_peaks, min_peaks=1)


def test_the_largest_peak_count_still_gives_a_consistent_library():
    config = LibraryConfig(max_peaks=MAX_PEAKS, min_peaks=MAX_PEAKS - 10)
    library = make_library(64, config, seed=1)
    assert library.n_peaks.min() >= MAX_PEAKS - 10 and library.n_peaks.max() <= MAX_PEAKS
    np.testing.assert_array_equal((~np.isnan(library.peak_position)).sum(axis=1), library.n_peaks)
    np.testing.assert_allclose(library.distributions.mean(axis=1), 1.0, rtol=1e-5)


# ---------------------------------------------------------------- peaks narrower than the distance grid

@pytest.mark.parametrize("fields", [dict(n_dist=2), dict(n_dist=16), dict(n_dist=81),
                                    dict(min_fwhm_fraction=0.001), dict(n_time=23, n_dist=2, tmax=1.0)])
def test_peaks_that_can_fall_between_grid_points_are_refused(fields):
    # before: n_time 23, n_dist 2, tmax 1 gave all-zero distributions and NaN traces (136 of 2000)
    with pytest.raises(ValueError, match="^min_fwhm_fraction, n_dist: the narrowest peak .* use n_dist >= "):
        LibraryConfig(**fields)


def test_the_suggested_n_dist_gives_a_finite_library():
    message = ""
    try:
        LibraryConfig(n_dist=16, max_skew=50.0)
    except ValueError as error:
        message = str(error)
    n_dist = int(message.split("use n_dist >= ")[1].split()[0])
    library = make_library(3000, LibraryConfig(n_dist=n_dist, max_skew=50.0), seed=2)
    assert np.all(np.isfinite(library.distributions)) and np.all(np.isfinite(library.traces))


# ---------------------------------------------------------------- complex arrays

@pytest.mark.parametrize("call, name", [
    (lambda: _validate.as_array(np.array([1 + 2j, 3]), "S"), "S"),
    (lambda: _validate.as_array(np.array([1 + 0j]), "S"), "S"),  # even with a zero imaginary part
    (lambda: _validate.as_array([1, 2j], "x"), "x"),
    (lambda: _validate.as_array(2j, "x"), "x"),
    (lambda: dipolar_kernel([0.0, 0.1], np.array([2.0, 3.0]) + 0.1j), "r"),
    (lambda: dipolar_kernel(np.array([0.0, 0.1]) * (1 + 1j), [2.0]), "t"),
    (lambda: descramble(np.eye(3) * (1 + 1j)), "S"),
    (lambda: smoothness_objective(np.eye(3), np.ones((3, 5)) * 1j), "S"),
])
def test_complex_arrays_are_refused_not_truncated(call, name):
    with pytest.raises(ValueError, match=f"^{name}: complex values are not accepted"):
        call()


def test_complex_arrays_are_accepted_where_complex_is_asked_for():
    assert _validate.as_array([1j], "z", dtype=complex)[0] == 1j


# ---------------------------------------------------------------- physical ranges of r and t

@pytest.mark.parametrize("call, name", [
    (lambda: dipolar_kernel([0.0, 1.0], [1e-110]), "r: distances must lie in"),
    (lambda: dipolar_kernel([0.0, 1.0], [2.0, 5e-3]), "r: distances must lie in"),
    (lambda: dipolar_kernel([0.0, 1.0], [2.0, 1e200]), "r: distances must lie in"),
    (lambda: dipolar_kernel([0.0, 1e7], [2.0]), "t: times must be 0 or lie in"),
    (lambda: dipolar_kernel([0.0, 1e300], [2.0]), "t: times must be 0 or lie in"),
    (lambda: dipolar_kernel([0.0, 1.1125369292536007e-308], [11.0]), "t: times must be 0 or lie in"),
    (lambda: dipolar_kernel([1e-101, 1.0], [2.0]), "t: times must be 0 or lie in"),
    (lambda: dipolar_frequency(1e-110), "r: distances must lie in"),
    (lambda: dipolar_kernel_by_quadrature([0.0], [1e-110]), "r: distances must lie in"),
    (lambda: dipolar_kernel_by_quadrature([1e9], [2.0]), "t: times must be 0 or lie in"),
    (lambda: LibraryConfig(tmax=1e-300), "tmax, n_time: the time grid"),
    (lambda: LibraryConfig(tmax=1e30), "tmax, n_time: the time grid"),
])
def test_distances_and_times_outside_a_physical_range_are_refused(call, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        call()


def test_the_range_limits_give_a_finite_kernel():
    low, high = DISTANCE_RANGE_NM
    kernel = dipolar_kernel([0.0, 1.7e-16, *TIME_RANGE_US], [low, 2.0, high])  # 1.7e-16 us: rounding residue
    assert np.all(np.isfinite(kernel)) and np.all(np.abs(kernel) <= 1 + 1e-12)


def test_a_config_replaced_with_a_bad_value_is_refused_too():
    with pytest.raises(ValueError, match="^min_depth: expected a finite number"):
        dataclasses.replace(LibraryConfig(), min_depth="0.1")
