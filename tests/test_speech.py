"""Tests of descrambler.signals.speech: shapes, SNR, seeds, pitch and formant content on known answers, bad input."""

import dataclasses
import json

import numpy as np
import pytest

from descrambler.signals.speech import SpeechConfig, frame_snr_db, make_speech, resonance_gain

#: One voice, no glide, no envelope: 125 Hz is exactly 4 FFT bins (31.25 Hz each) of a 256-sample frame.
STEADY = SpeechConfig(pitch_hz=(125.0, 125.0), pitch_glide=0.0, unvoiced_fraction=0.0, modulation_depth=0.0,
                      onset_probability=0.0, formants_hz=((500.0, 500.0), (1500.0, 1500.0), (2500.0, 2500.0)),
                      bandwidths_hz=(50.0, 50.0), snr_db=(60.0, 60.0))


def power(frames: np.ndarray) -> np.ndarray:
    return np.abs(np.fft.rfft(frames.astype(np.float64), axis=1)) ** 2


def test_shapes_levels_and_snr():
    config = SpeechConfig(n_samples=128, snr_db=(-5.0, 5.0))
    clean, noisy = make_speech(300, config, seed=1)
    assert clean.shape == noisy.shape == (300, 128) and clean.dtype == noisy.dtype == np.float32
    np.testing.assert_allclose(np.sqrt(np.mean(noisy.astype(np.float64) ** 2, axis=1)), 1, rtol=1e-5)
    snr = frame_snr_db(clean, noisy)
    assert snr.min() >= -5 - 1e-3 and snr.max() <= 5 + 1e-3 and np.ptp(snr) > 8  # drawn across the range


def test_noise_is_white():
    clean, noisy = make_speech(2000, SpeechConfig(), seed=2)
    spectrum = power(noisy - clean).mean(axis=0)[1:-1]
    assert np.ptp(spectrum) / spectrum.mean() < 0.2


def test_seed_reproducibility():
    first = make_speech(50, seed=7)
    again = make_speech(50, seed=7)
    other = make_speech(50, seed=8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])


def test_pitch_gives_harmonics_at_multiples_of_f0():
    clean, _ = make_speech(20, STEADY, seed=3)
    spectrum = power(clean).mean(axis=0)
    bins = np.arange(spectrum.size)
    assert spectrum[bins % 4 == 0].sum() / spectrum.sum() > 0.999  # harmonics of 125 Hz only
    assert spectrum[0] / spectrum.sum() < 1e-6


def test_strongest_harmonic_sits_on_the_first_formant():
    clean, _ = make_speech(20, STEADY, seed=4)
    spectrum = power(clean).mean(axis=0)
    assert STEADY.frequencies[np.argmax(spectrum)] == 500.0
    # the second formant's harmonic (1500 Hz) stands above its neighbours (1375, 1625 Hz)
    f2 = 48
    assert spectrum[f2] > 2 * max(spectrum[f2 - 4], spectrum[f2 + 4])


def test_gliding_pitch_spreads_harmonics():
    glide = dataclasses.replace(STEADY, pitch_glide=0.3)
    spectrum = power(make_speech(20, glide, seed=5)[0]).mean(axis=0)
    bins = np.arange(spectrum.size)
    assert spectrum[bins % 4 == 0].sum() / spectrum.sum() < 0.95


def test_unvoiced_frames_are_high_band_noise():
    config = dataclasses.replace(STEADY, unvoiced_fraction=1.0)
    spectrum = power(make_speech(200, config, seed=6)[0]).mean(axis=0)
    assert spectrum[config.frequencies >= 2000].sum() / spectrum.sum() > 0.6


def test_resonance_gain_known_values():
    np.testing.assert_allclose(resonance_gain(np.array([0.0, 800.0]), 800.0, 100.0), [1.0, 8.0])


def test_frame_snr_known_answer():
    clean = np.ones((2, 4))
    np.testing.assert_allclose(frame_snr_db(clean, clean + 0.1), 20.0)
    assert frame_snr_db(clean, clean)[0] == np.inf


def test_config_survives_json():
    config = SpeechConfig(snr_db=(-3, 7))
    assert SpeechConfig(**json.loads(json.dumps(dataclasses.asdict(config)))) == config
    assert config.snr_db == (-3.0, 7.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_samples": 4}, "n_samples: need at least 8"),
    ({"n_samples": 2.5}, "n_samples: expected a positive integer"),
    ({"sample_rate": 0}, "sample_rate: must be finite and > 0"),
    ({"pitch_hz": (250.0, 80.0)}, "pitch_hz: expected"),
    ({"pitch_hz": 100.0}, "pitch_hz: expected a pair"),
    ({"pitch_glide": 2.0}, "pitch_glide: expected a number in"),
    ({"formants_hz": ()}, "formants_hz: expected one"),
    ({"formants_hz": ((300.0, 5000.0),)}, "formants_hz: expected"),
    ({"bandwidths_hz": (0.0, 10.0)}, "bandwidths_hz: expected"),
    ({"unvoiced_fraction": -0.1}, "unvoiced_fraction: expected a number"),
    ({"fricative_hz": (np.nan, 3000.0)}, "fricative_hz: expected finite"),
    ({"modulation_depth": True}, "modulation_depth: expected a number"),
    ({"onset_probability": 1.5}, "onset_probability: expected a number"),
    ({"snr_db": ("a", 3)}, "snr_db: expected finite"),
])
def test_bad_config_raises(kwargs, message):
    with pytest.raises(ValueError, match="^" + message):
        SpeechConfig(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "n: must be a positive integer"),
    ({"seed": -1}, "seed: expected a non-negative integer"),
    ({"config": {"n_samples": 64}}, "config: expected a SpeechConfig"),
])
def test_bad_make_speech_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match="^" + message):
        make_speech(**{"n": 5, **kwargs})
