"""Speech-like frames for a denoising network: a source-filter model of voiced speech, shaped noise for
unvoiced speech, and additive white noise at a chosen signal-to-noise ratio.

A frame is `n_samples` samples at `sample_rate` Hz (by default 256 samples at 8 kHz, telephone band:
32 ms, about one phoneme). **Voiced** frames follow the source-filter model of speech production (Fant
1960, as in cascade formant synthesisers): a harmonic series on a fundamental f0 drawn log-uniformly in
`pitch_hz` (80-250 Hz spans low male to high female voices) that glides within the frame (up to
`pitch_glide` in log-frequency, intonation), harmonic amplitudes falling as 1/k (glottal source with lip
radiation, -6 dB per octave), each harmonic shaped by a cascade of three second-order resonances, the
formants F1-F3, with centres drawn in `formants_hz` and bandwidths in `bandwidths_hz`. **Unvoiced** frames
(a share `unvoiced_fraction`; fricatives such as /s/, /f/) are white noise through one broad resonance
with its centre in `fricative_hz`. Every frame carries an amplitude envelope: a slow syllabic modulation
(2-8 Hz, depth up to `modulation_depth`) and, with probability `onset_probability`, an onset or offset
(a 3 ms tanh ramp at a random time in the middle 60 % of the frame). The clean frame is scaled to unit
RMS; white Gaussian noise, rescaled so that the frame's SNR is exactly a value drawn uniformly in
`snr_db`, is added; and both frames are divided by the noisy frame's RMS (an automatic gain control:
the denoiser never sees the absolute level).

Why it is a fair stand-in for speech: a frame-wise denoiser of 256 samples can exploit only what lies
within a frame, and the model holds the structures speech denoisers exploit there: a line spectrum at
multiples of a voice's pitch (which a linear filter cannot follow from frame to frame), formant peaks,
the spectral tilt that puts most energy below 1 kHz, noise-like fricatives with energy high in the band,
and non-stationary levels. What it lacks: real glottal pulse shapes, jitter and shimmer; formant
transitions, nasals (anti-resonances), plosives and silence; speakers, languages, prosody and
coarticulation across frames (frames are independent); room acoustics; and real noise (babble, street,
music) rather than white noise. Numbers measured on it describe this model, not human speech recordings.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from .._validate import non_negative_int, positive, positive_int
from ..nets.data import clean_summary

#: Rise time of an onset or offset ramp, s.
RAMP_SECONDS = 0.003
#: Syllabic modulation frequencies, Hz.
MODULATION_HZ = (2.0, 8.0)
#: Harmonics stop below this share of the Nyquist frequency (no aliasing as the pitch glides).
HARMONIC_LIMIT = 0.95
#: Points on which one pitch period is tabulated before it is read along the gliding phase.
PERIOD_GRID = 1024
#: Frames synthesised at a time (bounds the memory of the period tables).
BLOCK = 4096


def _share(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}")
    return float(value)


def _interval(value, name: str, low: float, high: float) -> tuple[float, float]:
    """(a, b) with low <= a <= b <= high, as floats; ValueError naming `name` otherwise."""
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a pair (low, high), got {value!r}") from None
    for v in (a, b):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{name}: expected finite numbers, got {value!r}")
    if not low <= a <= b <= high:
        raise ValueError(f"{name}: expected {low:g} <= low <= high <= {high:g}, got {value!r}")
    return float(a), float(b)


@dataclasses.dataclass(frozen=True)
class SpeechConfig:
    """How speech-like frames are drawn (see the module's docstring). Frequencies in Hz, SNR in dB.

    `formants_hz`: one (low, high) range per formant centre; `bandwidths_hz`: the range of every
    formant's bandwidth; `fricative_hz`: the range of the unvoiced resonance's centre (its bandwidth is
    half its centre frequency). Pairs are (low, high); JSON lists are accepted and stored as tuples.
    """

    n_samples: int = 256
    sample_rate: float = 8000.0
    pitch_hz: tuple[float, float] = (80.0, 250.0)
    pitch_glide: float = 0.1
    formants_hz: tuple[tuple[float, float], ...] = ((300.0, 900.0), (900.0, 2400.0), (2000.0, 3400.0))
    bandwidths_hz: tuple[float, float] = (60.0, 200.0)
    unvoiced_fraction: float = 0.2
    fricative_hz: tuple[float, float] = (2500.0, 3600.0)
    modulation_depth: float = 0.5
    onset_probability: float = 0.3
    snr_db: tuple[float, float] = (0.0, 10.0)

    def __post_init__(self):
        positive_int(self.n_samples, "n_samples")
        if self.n_samples < 8:
            raise ValueError(f"n_samples: need at least 8 samples, got {self.n_samples}")
        nyquist = positive(self.sample_rate, "sample_rate") / 2
        if isinstance(self.formants_hz, (str, bytes)) or not hasattr(self.formants_hz, "__len__") \
                or len(self.formants_hz) == 0:
            raise ValueError(f"formants_hz: expected one (low, high) pair per formant, got {self.formants_hz!r}")
        checked = {
            "pitch_hz": _interval(self.pitch_hz, "pitch_hz", 1e-9, nyquist / 2),
            "pitch_glide": _share(self.pitch_glide, "pitch_glide"),
            "formants_hz": tuple(_interval(pair, "formants_hz", 1e-9, nyquist) for pair in self.formants_hz),
            "bandwidths_hz": _interval(self.bandwidths_hz, "bandwidths_hz", 1e-9, nyquist),
            "unvoiced_fraction": _share(self.unvoiced_fraction, "unvoiced_fraction"),
            "fricative_hz": _interval(self.fricative_hz, "fricative_hz", 1e-9, nyquist),
            "modulation_depth": _share(self.modulation_depth, "modulation_depth"),
            "onset_probability": _share(self.onset_probability, "onset_probability"),
            "snr_db": _interval(self.snr_db, "snr_db", -100.0, 200.0),
        }
        for name, value in checked.items():  # normalised (tuples of floats) on the frozen instance
            object.__setattr__(self, name, value)

    @property
    def nyquist(self) -> float:
        """Half the sampling rate, Hz."""
        return self.sample_rate / 2

    @property
    def frequencies(self) -> np.ndarray:
        """Frequencies of the real FFT bins of a frame, Hz (n_samples // 2 + 1 of them)."""
        return np.fft.rfftfreq(self.n_samples, 1 / self.sample_rate)

    #: A denoiser learns the clean frames (`descrambler.nets.data.TrainingData`).
    targets = ("clean",)

    def training_pairs(self, n: int, seed: int, target: str) -> tuple[np.ndarray, np.ndarray]:
        """(noisy, clean) frames of `make_speech(n, self, seed)`, float32 (n, n_samples)."""
        clean, noisy = make_speech(n, self, seed)
        return noisy, clean

    def validation_summary(self, model, n: int, seed: int, target: str) -> dict:
        """The median relative error ||y_hat - y|| / ||y|| of the denoised frames of `n` fixed frames."""
        clean, noisy = validation_speech(self, n, seed)
        return clean_summary(model, noisy, clean)


def resonance_gain(f: np.ndarray, centre: np.ndarray, bandwidth: np.ndarray) -> np.ndarray:
    """|H(f)| of a second-order resonance F^2 / (F^2 - f^2 + i B f): 1 at f = 0, F / B at f = F (Hz)."""
    return centre**2 / np.sqrt((centre**2 - f**2) ** 2 + (bandwidth * f) ** 2)


def _uniform(rng: np.random.Generator, interval: tuple[float, float], size) -> np.ndarray:
    return rng.uniform(interval[0], interval[1], size)


def _voiced(config: SpeechConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, n_samples) harmonic series under formant resonances, float64 (unnormalised).

    Each frame is one period g(theta) = sum_k a_k sin(k theta + theta_k) read along the gliding phase
    theta(t) = 2 pi integral f0: g is tabulated on PERIOD_GRID points by an inverse FFT and interpolated
    linearly (for the highest harmonic, about 47 at f0 = 80 Hz, an amplitude error under 1.1 %).
    """
    t = np.arange(config.n_samples) / config.sample_rate
    duration = config.n_samples / config.sample_rate
    f0 = np.exp(_uniform(rng, tuple(np.log(config.pitch_hz)), n))
    glide = _uniform(rng, (-config.pitch_glide, config.pitch_glide), n)
    centres = np.stack([_uniform(rng, pair, n) for pair in config.formants_hz], axis=1)
    widths = _uniform(rng, config.bandwidths_hz, (n, len(config.formants_hz)))
    n_harmonics = max(int(HARMONIC_LIMIT * config.nyquist / config.pitch_hz[0]), 1)
    offsets = rng.uniform(0, 2 * np.pi, (n, n_harmonics))
    pitch = f0[:, None] * np.exp(glide[:, None] * (t / duration - 0.5))  # instantaneous f0, Hz
    cycles = np.cumsum(pitch, axis=1) / config.sample_rate  # phase in cycles
    k = np.arange(1, n_harmonics + 1)
    # formant gains at each harmonic's mean frequency; harmonics that would pass the limit are left out
    f = k[None, :, None] * f0[:, None, None]
    amplitude = np.prod(resonance_gain(f, centres[:, None, :], widths[:, None, :]), axis=2) / k
    amplitude[k[None, :] * pitch.max(axis=1, keepdims=True) >= HARMONIC_LIMIT * config.nyquist] = 0
    signal = np.empty((n, config.n_samples))
    for rows in (slice(i, i + BLOCK) for i in range(0, n, BLOCK)):
        spectrum = np.zeros((len(range(n)[rows]), PERIOD_GRID // 2 + 1), dtype=complex)
        spectrum[:, 1:n_harmonics + 1] = (PERIOD_GRID / 2) * amplitude[rows] * -1j * np.exp(1j * offsets[rows])
        period = np.fft.irfft(spectrum, n=PERIOD_GRID, axis=1)
        position = (cycles[rows] % 1.0) * PERIOD_GRID
        left = position.astype(int) % PERIOD_GRID
        weight = position - np.floor(position)
        signal[rows] = ((1 - weight) * np.take_along_axis(period, left, axis=1)
                        + weight * np.take_along_axis(period, (left + 1) % PERIOD_GRID, axis=1))
    return signal


def _unvoiced(config: SpeechConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, n_samples) white noise through one broad resonance (circular filtering), float64."""
    centre = _uniform(rng, config.fricative_hz, n)[:, None]
    spectrum = np.fft.rfft(rng.standard_normal((n, config.n_samples)), axis=1)
    gain = resonance_gain(config.frequencies[None, :], centre, 0.5 * centre)
    return np.fft.irfft(spectrum * gain, n=config.n_samples, axis=1)


def _envelope(config: SpeechConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, n_samples) amplitude envelopes: slow modulation times an optional onset or offset ramp."""
    t = np.arange(config.n_samples) / config.sample_rate
    rate = _uniform(rng, MODULATION_HZ, n)[:, None]
    depth = _uniform(rng, (0.0, config.modulation_depth), n)[:, None]
    start = rng.uniform(0, 2 * np.pi, n)[:, None]
    envelope = 1 + depth * np.sin(2 * np.pi * rate * t + start)
    ramp = rng.random(n) < config.onset_probability
    when = rng.uniform(0.2, 0.8, n)[:, None] * t[-1]  # inside the frame's middle: no near-silent frame
    direction = np.where(rng.random(n) < 0.5, 1.0, -1.0)[:, None]
    edge = 0.5 * (1 + np.tanh(direction * (t - when) / RAMP_SECONDS))
    return envelope * np.where(ramp[:, None], edge, 1.0)


def _rms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(x**2, axis=1, keepdims=True))


def make_speech(n: int, config: SpeechConfig | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n` frames (clean, noisy), each (n, n_samples) float32, drawn from `seed` (see the module docstring).

    The clean frame has RMS 1 / RMS(noisy); the noise noisy - clean is white and Gaussian with
    10 log10(|clean|^2 / |noise|^2) drawn uniformly in `config.snr_db` per frame; RMS(noisy) = 1. The same
    seed and configuration give the same frames.
    """
    n = positive_int(n, "n")
    config = SpeechConfig() if config is None else config
    if not isinstance(config, SpeechConfig):
        raise ValueError(f"config: expected a SpeechConfig, got {type(config).__name__}")
    rng = np.random.default_rng([non_negative_int(seed, "seed"), 0x5BEEC])
    voiced = rng.random(n) >= config.unvoiced_fraction
    clean = np.empty((n, config.n_samples))
    clean[voiced] = _voiced(config, rng, int(voiced.sum()))
    clean[~voiced] = _unvoiced(config, rng, int((~voiced).sum()))
    clean *= _envelope(config, rng, n)
    clean /= np.maximum(_rms(clean), np.finfo(float).tiny)
    snr = _uniform(rng, config.snr_db, n)[:, None]
    noise = rng.standard_normal((n, config.n_samples))
    noise *= 10 ** (-snr / 20) / _rms(noise)
    noisy = clean + noise
    scale = _rms(noisy)
    return (clean / scale).astype(np.float32), (noisy / scale).astype(np.float32)


@functools.lru_cache(maxsize=4)
def validation_speech(config: SpeechConfig, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed validation frames (clean, noisy) (cached; treat them as read-only)."""
    return make_speech(n, config, seed)


def frame_snr_db(clean: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Per frame 10 log10(|clean|^2 / |estimate - clean|^2), dB (inf where the estimate is exact)."""
    clean = np.asarray(clean, dtype=np.float64)
    error = np.sum((np.asarray(estimate, dtype=np.float64) - clean) ** 2, axis=-1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(np.sum(clean**2, axis=-1) / error)
