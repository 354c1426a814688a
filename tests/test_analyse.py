"""Tests of descrambler.analyse and of `python -m descrambler analyse`: known answers with networks whose
output is fixed, DeerLab's Tikhonov fit on a synthetic trace, the training-range checks, the command line."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from descrambler import analyse
from descrambler.__main__ import main
from descrambler.analyse import (Analysis, analyse_trace, coverage, fit_depth_and_background, moments, report,
                                 report_json, save_plot, tikhonov_fit)
from descrambler.deer import LibraryConfig, dipolar_kernel
from descrambler.deer.traces import load_trace

CONFIG = LibraryConfig()
KUPROV = Path(__file__).resolve().parents[1] / "src" / "descrambler" / "data" / "kuprov"


def fixed_model(p: np.ndarray) -> nn.Sequential:
    """A network that returns `p` (on the notional distance axis) whatever the trace."""
    layer = nn.Linear(CONFIG.n_time, CONFIG.n_dist)
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.copy_(torch.as_tensor(p, dtype=torch.float32))
    return nn.Sequential(layer)


def gaussian(r, centre, sd):
    return np.exp(-0.5 * ((r - centre) / sd) ** 2)


def write_trace(tmp_path, tmax, centre_notional, sd_notional, depth=0.35, decay=0.15, noise=0.0, name="trace.dat"):
    """A trace whose distribution is the Gaussian (given on the notional 2 us axis) scaled to length `tmax`."""
    scale = np.cbrt(tmax / CONFIG.tmax)
    t = np.linspace(0, tmax, 400)
    r = CONFIG.r * scale
    p = gaussian(CONFIG.r, centre_notional, sd_notional)
    signal = (1 - depth + depth * dipolar_kernel(t, r) @ (p / p.sum())) * np.exp(-decay * t)
    signal = signal + noise * np.random.default_rng(0).standard_normal(t.size)
    path = tmp_path / name
    np.savetxt(path, np.column_stack([t, 3e3 * signal]), header="time (us)  signal")
    return path


def test_moments_of_a_gaussian():
    r = np.linspace(0, 10, 2001)
    mean, sd = moments(r, 7 * gaussian(r, 4.2, 0.3))
    assert mean == pytest.approx(4.2, abs=1e-9) and sd == pytest.approx(0.3, rel=1e-6)


@pytest.mark.parametrize("r, p, name", [
    (np.linspace(1, 2, 5), np.ones(4), "p"),
    (np.linspace(1, 2, 5), -np.ones(5), "p"),
    (np.linspace(1, 2, 5), np.zeros(5), "p"),
    (np.ones((2, 2)), np.ones(4), "r"),
])
def test_moments_bad_input(r, p, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        moments(r, p)


def test_depth_fit_recovers_depth_background_and_scale():
    t = np.linspace(0, 3, 300)
    r = np.linspace(1.5, 7, 200)
    p = gaussian(r, 3.2, 0.2)
    signal = 42 * (0.7 + 0.3 * dipolar_kernel(t, r) @ (p / p.sum())) * np.exp(-0.25 * t)
    fit = fit_depth_and_background(t, signal, r, p)
    assert fit.depth == pytest.approx(0.3, abs=1e-4)
    assert fit.decay_rate == pytest.approx(0.25, abs=1e-4)
    assert fit.scale == pytest.approx(42, rel=1e-4)
    assert fit.residual_rms < 1e-3 and fit.background[0] == pytest.approx(42 * 0.7, rel=1e-3)


def test_analyse_trace_known_answer_on_a_3_us_trace(tmp_path):
    path = write_trace(tmp_path, tmax=3.0, centre_notional=3.0, sd_notional=0.2, depth=0.35, decay=0.15)
    model = fixed_model(gaussian(CONFIG.r, 3.0, 0.2))
    result = analyse_trace(path, model=model, config=CONFIG)
    scale = np.cbrt(3.0 / 2.0)
    np.testing.assert_allclose(result.r, CONFIG.r * scale)
    assert np.sum(result.distribution) * (result.r[1] - result.r[0]) == pytest.approx(1.0)
    assert result.mean_distance == pytest.approx(3.0 * scale, abs=1e-3)
    assert result.width == pytest.approx(0.2 * scale, rel=1e-2)
    assert result.modulation_depth == pytest.approx(0.35, abs=2e-3)
    assert result.depth_fit.decay_rate == pytest.approx(0.15, abs=2e-3)
    assert result.band_low is None and result.n_models == 1 and result.profile is None
    json.loads(report_json(result))  # one JSON object
    text = report(result)
    assert "mean distance" in text and len(text.splitlines()) == 4 + len(result.trace.notes) + CONFIG.n_dist
    assert len(report(result, table=False).splitlines()) == 3 + len(result.trace.notes)
    record = json.loads(report_json(result))
    assert result.warnings == () and record["warnings"] == []
    assert set(record) - {"source", "profile", "notes", "warnings", "units"} <= set(record["units"])


def test_several_networks_give_their_mean_and_95_percent_band(tmp_path):
    path = write_trace(tmp_path, tmax=2.0, centre_notional=3.0, sd_notional=0.2)
    shapes = [gaussian(CONFIG.r, 2.9, 0.2), gaussian(CONFIG.r, 3.1, 0.2)]
    result = analyse_trace(path, model=[fixed_model(p) for p in shapes], config=CONFIG)
    step = CONFIG.r[1] - CONFIG.r[0]
    densities = np.stack([p / p.sum() / step for p in shapes])
    np.testing.assert_allclose(result.distribution, densities.mean(axis=0), rtol=1e-5, atol=1e-6)
    half = 1.959964 * densities.std(axis=0, ddof=1)
    np.testing.assert_allclose(result.band_high, densities.mean(axis=0) + half, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result.band_low, np.clip(densities.mean(axis=0) - half, 0, None), rtol=1e-5, atol=1e-5)
    assert result.n_models == 2 and "band_95_high_per_nm" in result.to_dict()
    assert len(report(result).splitlines()[-1].split()) == 4  # r, P and the band's two edges
    with pytest.raises(ValueError, match="^model:"):
        analyse_trace(path, model=[], config=CONFIG)


def test_tikhonov_fit_finds_a_known_distance(tmp_path):
    pytest.importorskip("deerlab")
    path = write_trace(tmp_path, tmax=3.0, centre_notional=3.0, sd_notional=0.2, noise=0.005)
    fit = tikhonov_fit(load_trace(path))
    true_mean, true_sd = 3.0 * np.cbrt(1.5), 0.2 * np.cbrt(1.5)
    assert fit.mean_distance == pytest.approx(true_mean, abs=0.15)
    assert fit.r[np.argmax(fit.distribution)] == pytest.approx(true_mean, abs=0.05)
    # Tikhonov leaves a few per cent of the mass in low tails, which weigh heavily in the SD: check the peak
    share = fit.distribution / fit.distribution.sum()
    assert share[np.abs(fit.r - true_mean) < 3 * true_sd].sum() > 0.9
    assert fit.modulation_depth == pytest.approx(0.35, abs=0.05)
    assert np.sum(fit.distribution) * (fit.r[1] - fit.r[0]) == pytest.approx(1.0)
    assert np.all(fit.lower <= fit.distribution + 1e-9) and fit.seconds > 0


def test_tikhonov_fit_bad_input():
    with pytest.raises(ValueError, match="^trace:"):
        tikhonov_fit("trace.dat")


def test_coverage_flags_what_the_database_lacks(tmp_path):
    model = fixed_model(gaussian(CONFIG.r, 3.0, 0.2))
    inside = analyse_trace(write_trace(tmp_path, 2.0, 3.0, 0.2, decay=0.2, name="in.dat"), model=model, config=CONFIG)
    assert coverage(inside).flags == ()
    # a 10 us trace with a background of 0.2/us: the network sees a decay of 1.0/us on its 2 us axis
    long = analyse_trace(write_trace(tmp_path, 10.0, 3.0, 0.2, decay=0.2, name="long.dat"), model=model, config=CONFIG)
    checked = coverage(long)
    assert checked.stretch == pytest.approx(5.0)
    assert checked.notional_decay_rate == pytest.approx(1.0, abs=0.02)
    assert any("background decay" in flag for flag in checked.flags)
    noisy = analyse_trace(write_trace(tmp_path, 2.0, 3.0, 0.2, depth=0.05, noise=0.01, name="noisy.dat"),
                          model=model, config=CONFIG)
    assert any("noise" in flag for flag in coverage(noisy).flags)


def test_save_plot_is_atomic_and_readable(tmp_path):
    model = fixed_model(gaussian(CONFIG.r, 3.0, 0.2))
    result = analyse_trace(write_trace(tmp_path, 2.0, 3.0, 0.2), model=model, config=CONFIG)
    target = tmp_path / "plots" / "trace.png"
    save_plot(result, target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in target.parent.iterdir()] == ["trace.png"]  # no temporary file left


# ---------------------------------------------------------------- the command line

@pytest.fixture
def fixed_book_network(monkeypatch):
    """Replace the book's network by a fixed one, so the command-line tests train nothing."""
    model = fixed_model(gaussian(CONFIG.r, 3.0, 0.2))
    monkeypatch.setattr(analyse.trace, "_models", lambda model_, profile: ([model], CONFIG, profile, None))


def test_command_line_text_json_and_plot(tmp_path, capsys, fixed_book_network):
    path = write_trace(tmp_path, 2.0, 3.0, 0.2)
    assert main(["analyse", str(path), "--profile", "smoke", "--plot", str(tmp_path / "out.png")]) == 0
    text = capsys.readouterr().out
    assert "mean distance 3.0" in text and "modulation depth 0.35" in text
    assert (tmp_path / "out.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["analyse", str(path), "--json", "--zero-time", "0", "--profile", "smoke"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["mean_distance_nm"] == pytest.approx(3.0, abs=1e-3)
    assert len(record["r_nm"]) == len(record["distribution_per_nm"]) == CONFIG.n_dist
    assert record["profile"] == "smoke" and record["zero_time_us"] == 0


@pytest.mark.parametrize("arguments, message", [
    (["missing.dat"], "path: no such file"),
    (["bad.dat"], "path: .*not numeric"),
    (["good.dat", "--phase", "10"], "phase:"),
    (["good.dat", "--imaginary-column", "x"], "--imaginary-column"),
    (["good.dat", "--zero-time", "99"], "zero_time:"),
])
def test_command_line_errors_are_one_line(tmp_path, capsys, fixed_book_network, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    write_trace(tmp_path, 2.0, 3.0, 0.2, name="good.dat")
    (tmp_path / "bad.dat").write_text("0 1\n0.1 2\n0.2 x\n")
    assert main(["analyse", *arguments]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in captured.err
    assert __import__("re").search(message, lines[0]) and captured.out == ""


def test_real_trace_through_a_fixed_network():
    model = fixed_model(gaussian(CONFIG.r, 3.0, 0.2))
    result = analyse_trace(KUPROV / "sample_VI_DEERNet_input.dat", model=model, config=CONFIG)
    assert isinstance(result, Analysis)
    assert result.mean_distance == pytest.approx(3.0 * np.cbrt(5.568 / 2.0), abs=1e-3)
    assert 0 < result.modulation_depth < 1




def test_a_distribution_that_does_not_fall_off_at_an_end_is_flagged_with_its_bias():
    from descrambler.analyse.trace import edge_warnings

    r = CONFIG.r
    inside = gaussian(r, 3.5, 0.3)
    assert edge_warnings(r, inside) == ()
    cut = gaussian(r, r[0] + 0.1, 0.4)  # a broad peak at the shortest distance: most of it would lie below
    (warning,) = edge_warnings(r, cut)
    assert warning.startswith("the distribution is still at") and "shortest distance" in warning
    assert f"({r[0]:.2f} nm)" in warning and "moves the mean by +" in warning
    both = gaussian(r, r[0], 0.5) + gaussian(r, r[-1], 0.5)
    assert [w.split(" distance ")[0][-8:] for w in edge_warnings(r, both)] == ["shortest", " longest"]


def test_the_command_warns_and_prints_the_table_only_when_asked(tmp_path, capsys, monkeypatch):
    model = fixed_model(gaussian(CONFIG.r, CONFIG.r[0], 0.5))
    monkeypatch.setattr(analyse.trace, "_models", lambda model_, profile: ([model], CONFIG, profile, "trained now"))
    path = write_trace(tmp_path, 2.0, 3.0, 0.2)
    assert main(["analyse", str(path), "--profile", "smoke"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines()[0] == "note: trained now"
    assert captured.err.splitlines()[1].startswith("warning: the distribution is still at")
    assert all(line.startswith("#") for line in captured.out.strip().splitlines())
    assert main(["analyse", str(path), "--profile", "smoke", "--table"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) > CONFIG.n_dist
