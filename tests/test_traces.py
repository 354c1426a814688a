"""Tests of descrambler.deer.traces: reading measured traces from files."""

from pathlib import Path

import numpy as np
import pytest

from descrambler.deer import LibraryConfig, dipolar_kernel
from descrambler.deer.traces import load_trace


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
    with pytest.raises(ValueError, match=f"^path: .*{message}"):
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
    with pytest.raises(ValueError, match="^path: .*time_unit='ns'"):
        load_trace(in_ns)


KUPROV = Path(__file__).resolve().parents[1] / "src" / "descrambler" / "data" / "kuprov"
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
    (dict(time_unit="h"), "time_unit"),
])
def test_load_trace_bad_arguments(tmp_path, kwargs, name):
    text = "\n".join(f"{i * 0.1} {np.exp(-i * 0.1)}" for i in range(30))
    with pytest.raises(ValueError, match=f"^{name}:"):
        load_trace(_write(tmp_path, text), **kwargs)


def test_load_trace_refuses_too_few_points_after_zero_time(tmp_path):
    text = "\n".join(f"{i * 0.1} {np.exp(-abs(i * 0.1 - 2.5))}" for i in range(30))
    with pytest.raises(ValueError, match="^path: .*after zero time"):
        load_trace(_write(tmp_path, text))


def test_load_trace_binary_file_without_its_descriptor(tmp_path):
    path = tmp_path / "trace.DTA"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="^path: .*needs trace.DSC beside trace.DTA"):
        load_trace(path)


def test_load_trace_rejects_a_bad_config(tmp_path):
    with pytest.raises(ValueError, match="^config: expected a LibraryConfig"):
        load_trace(_write(tmp_path, "0 1\n1 2\n"), config="default")


def test_load_trace_missing_file(tmp_path):
    with pytest.raises(ValueError, match="^path: no such file"):
        load_trace(tmp_path / "absent.txt")


# ---------------------------------------------------------------- bad input

