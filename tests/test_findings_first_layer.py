"""First-layer measurements on hand-built weight matrices with known answers."""

import numpy as np
import pytest

from descrambler.deer.simulate import DIPOLAR_MHZ
from descrambler.study.findings.first_layer import bandpass, channel_profiles, frequency_ridge, multiplexing, notch
from descrambler.study.findings.spectra import display_spectrum, folded_energy, input_frequencies, power_spectrum

N_LINK, N_IN, DT = 40, 256, 2 / 255
BIN = 1 / (N_IN * DT)  # MHz per input-frequency bin


def _layer(amplitude: np.ndarray, seed: int = 0) -> np.ndarray:
    """Rows with the one-sided amplitude spectrum `amplitude` (n_in//2 + 1 bins) and random phases."""
    rng = np.random.default_rng(seed)
    phases = np.exp(2j * np.pi * rng.random((N_LINK, amplitude.size)))
    phases[:, 0] = phases[:, -1] = 1.0  # DC and Nyquist bins are real
    return np.fft.irfft(amplitude * phases, n=N_IN, axis=1)


def _distance(bins: float) -> float:
    """Distance whose dipolar frequency falls `bins` input-frequency bins above zero."""
    return float(np.cbrt(DIPOLAR_MHZ / (bins * BIN)))


@pytest.fixture
def band_layer():
    amplitude = np.full(N_IN // 2 + 1, 0.01)  # stop band: 40 dB below the pass band
    amplitude[1:41] = 1.0
    amplitude[0] = 0.1  # a 20 dB notch at zero frequency
    return _layer(amplitude)


def test_notch_depth(band_layer):
    assert notch(band_layer, min_link_frequency=0).depth_db == pytest.approx(-20, abs=1e-6)
    assert notch(band_layer, min_link_frequency=1).depth_db < -10


def test_bandpass_edges_and_attenuation(band_layer):
    limits = (_distance(40.5), _distance(0.5))  # pass band: bins 1 to 40
    result = bandpass(band_layer, DT, limits, fraction=0.99)
    assert result.low_mhz == pytest.approx(BIN)
    assert result.high_mhz == pytest.approx(40 * BIN)
    assert result.pass_band_mhz == pytest.approx((0.5 * BIN, 40.5 * BIN))
    assert result.attenuation_db == pytest.approx(-40, abs=1e-6)
    assert result.stop_band_share < 1e-3 < result.white_stop_band_share


def test_white_weights_have_no_band_or_notch():
    W = np.random.default_rng(1).standard_normal((N_LINK, N_IN))
    assert abs(bandpass(W, DT, (_distance(40.5), _distance(0.5))).attenuation_db) < 1
    assert abs(notch(W, min_link_frequency=0).depth_db) < 3


def test_cubic_frequency_map_gives_exponent_three():
    links = np.array([2, 4, 6, 8, 10])
    j, t = np.arange(N_LINK)[:, None], np.arange(N_IN)[None, :]
    W = sum(np.cos(2 * np.pi * k * j / N_LINK) * np.cos(2 * np.pi * (k**3 / 8) * t / N_IN) for k in links)
    W = W + 1e-3 * np.random.default_rng(2).standard_normal(W.shape)
    ridge = frequency_ridge(W, DT)
    np.testing.assert_array_equal(np.flatnonzero(ridge.used), links)
    assert ridge.exponent == pytest.approx(3, abs=0.1)
    assert ridge.ci_low - 1e-9 <= 3 <= ridge.ci_high + 1e-9 and ridge.r_squared == pytest.approx(1)
    assert ridge.prefactor_mhz == pytest.approx(BIN / 8, rel=0.05)


def test_too_few_ridge_points_give_nan():
    W = np.random.default_rng(3).standard_normal((N_LINK, N_IN))
    assert np.isnan(frequency_ridge(W, DT, min_contrast_db=30).exponent)


def test_multiplexing_separates_disjoint_from_shared_channels():
    j, t = np.arange(N_LINK)[:, None], np.arange(N_IN)[None, :]
    disjoint = sum(np.cos(2 * np.pi * k * j / N_LINK) * np.cos(2 * np.pi * 6 * k * t / N_IN) for k in range(1, 15))
    shared = sum(np.cos(2 * np.pi * k * j / N_LINK) * np.cos(2 * np.pi * 30 * t / N_IN) for k in range(1, 15))
    separate, same = multiplexing(disjoint, DT, n_random=5), multiplexing(shared, DT, n_random=5)
    assert separate.overlap < 1e-6 and separate.ratio < 0.01
    assert same.overlap == pytest.approx(1)
    np.testing.assert_allclose(separate.channel_centre_mhz[:14], 6 * np.arange(1, 15) * BIN)
    profiles, energy = channel_profiles(disjoint)
    np.testing.assert_allclose(profiles[:14].sum(axis=1), 1)
    assert np.argmax(profiles[2]) == 18 and energy[18] == pytest.approx(0, abs=1e-12)  # links 1..14 used


def test_power_spectrum_of_a_sinusoid_peaks_at_its_frequency():
    t = np.arange(N_IN)
    frequency, power = power_spectrum(np.cos(2 * np.pi * 17 * t / N_IN)[None, :] + 3.0, DT)
    assert np.argmax(power) == 17 and frequency[17] == pytest.approx(17 * BIN)
    assert power[0] == pytest.approx(0, abs=1e-9)  # the mean is removed


def test_folded_energy_conserves_energy_and_display_is_symmetric():
    W = np.random.default_rng(4).standard_normal((N_LINK + 1, N_IN - 1))
    energy, bins = folded_energy(W)
    assert energy.sum() == pytest.approx((np.abs(np.fft.fft2(W)) ** 2).sum())
    assert bins.sum() == W.size
    shown = display_spectrum(np.random.default_rng(5).standard_normal((N_LINK, N_IN)))
    np.testing.assert_allclose(shown[1:], shown[1:][::-1])
    assert input_frequencies(N_IN, DT)[-1] == pytest.approx(1 / (2 * DT))


@pytest.mark.parametrize("call, name", [
    (lambda: notch(np.ones(10)), "W"),
    (lambda: notch(np.full((4, 8), np.nan)), "W"),
    (lambda: notch(np.ones((1, 8))), "W"),
    (lambda: notch(np.ones((8, 16)), min_link_frequency=9), "min_link_frequency"),
    (lambda: notch(np.ones((8, 16)), neighbours=20), "neighbours"),
    (lambda: bandpass(np.ones((8, 256)), -1.0, (1.2, 5.9)), "dt"),
    (lambda: bandpass(np.ones((8, 256)), DT, (5.9, 1.2)), "distance_limits"),
    (lambda: bandpass(np.ones((8, 256)), DT, (1.2, 5.9), fraction=1.5), "fraction"),
    (lambda: multiplexing(np.ones((8, 16)), DT, n_random=0), "n_random"),
    (lambda: frequency_ridge(np.ones((8, 16)), 0.0), "dt"),
    (lambda: frequency_ridge(np.ones((8, 16)), DT, min_contrast_db=np.nan), "min_contrast_db"),
    (lambda: notch(np.ones((8, 16)), min_link_frequency=1.5), "min_link_frequency"),
    (lambda: notch(np.ones((8, 16)), min_link_frequency=True), "min_link_frequency"),
    (lambda: power_spectrum(np.ones(16), DT), "signals"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^([\w.]+, )*{name}(, [\w.]+)*:"):
        call()
