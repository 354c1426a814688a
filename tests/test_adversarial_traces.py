"""Adversarial inputs to `load_trace` and the BES3T reader: wrong time units, decimal commas, gaps,
overflowing values, signal scale, and Bruker files (checked against DeerLab's `deerload`)."""

import warnings

import numpy as np
import pytest

from descrambler.deer.bruker import read_bes3t, read_descriptor
from descrambler.deer import dipolar_kernel
from descrambler.deer.traces import load_trace

T_US = np.arange(0, 3.0, 0.008)
SIGNAL = 0.7 + 0.3 * dipolar_kernel(T_US, [3.5])[:, 0]


def _write(tmp_path, text, name="trace.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _columns(t, *columns, fmt="{:.9g}", sep=" "):
    return "\n".join(sep.join(fmt.format(float(v)) for v in row) for row in zip(t, *columns))


@pytest.fixture
def reference(tmp_path):
    return load_trace(_write(tmp_path, _columns(T_US, SIGNAL), "reference.txt"))


# ---------------------------------------------------------------- time units

@pytest.mark.parametrize("factor, unit", [(1e3, "ns"), (1e-6, "s"), (1e-3, "ms"), (1.0, "us")])
def test_each_time_unit_reads_the_same_trace(tmp_path, reference, factor, unit):
    trace = load_trace(_write(tmp_path, _columns(T_US * factor, SIGNAL)), time_unit=unit)
    np.testing.assert_allclose(trace.trace, reference.trace, atol=1e-6)
    np.testing.assert_allclose(trace.r, reference.r, rtol=1e-9)


@pytest.mark.parametrize("factor, given, suggested", [
    (1e3, "us", "ns"),  # ns read as us: 12-59 nm distances before
    (1e-6, "us", "s"),  # s read as us: 0.01-0.06 nm before
    (1e-6, "ns", "s"),
    (1.0, "ns", "us"),
    (1.0, "s", "us"),
    (1e3, "s", "ns"),
    (1e-3, "us", "ms"),
    (1e-3, "s", "ms"),
])
def test_a_time_column_in_another_unit_is_refused_naming_the_unit_that_fits(tmp_path, factor, given, suggested):
    path = _write(tmp_path, _columns(T_US * factor, SIGNAL))
    with pytest.raises(ValueError, match=rf"^path: the time column .* than a DEER trace .* pass "
                                         rf"time_unit='{suggested}'"):
        load_trace(path, time_unit=given)


@pytest.mark.parametrize("span", [0.05, 150.0])
def test_a_span_no_unit_explains_is_refused(tmp_path, span):
    t = np.linspace(0, span, 100) * 1e12  # too long in every unit
    with pytest.raises(ValueError, match="^path: .*spans .*DEER time axis"):
        load_trace(_write(tmp_path, _columns(t, np.exp(-np.linspace(0, 3, 100)))))


def test_the_span_limits_themselves_are_accepted(tmp_path):
    for span in (0.1, 100.0):
        t = np.linspace(0, span, 200)
        assert load_trace(_write(tmp_path, _columns(t, np.exp(-3 * t / span)))).t[-1] == pytest.approx(span)


# ---------------------------------------------------------------- decimal commas

def _comma(text):
    return text.replace(".", ",")


@pytest.mark.parametrize("sep, header", [(";", "Zeit;Realteil"), ("\t", "Zeit\tRealteil"), ("  ", ""),
                                         (" ; ", "t (us); V")])
def test_decimal_comma_files_are_read_correctly(tmp_path, reference, sep, header):
    text = header + "\n" + _comma(_columns(T_US, SIGNAL, fmt="{:.9f}", sep=sep))
    trace = load_trace(_write(tmp_path, text))
    np.testing.assert_allclose(trace.trace, reference.trace, atol=1e-6)
    assert any("decimal commas" in note for note in trace.notes)


def test_decimal_commas_are_found_whatever_the_header_and_the_last_line(tmp_path, reference):
    t_ns = np.round(T_US * 1e3)  # integral times: 2992 at the end
    v = SIGNAL.copy()
    v[-1] = 1.0  # an integral last value too: the last line "2992 1" shows no comma
    rows = _comma(_columns(t_ns, v, fmt="{:.9g}", sep="\t")).replace("\t1\n", "\t1,0\n")
    trace = load_trace(_write(tmp_path, "2024-05-17 12:00 DEER run 3\n" + rows), time_unit="ns")
    np.testing.assert_allclose(trace.raw_signal, v, rtol=1e-8)
    assert any("decimal commas" in note for note in trace.notes)


def test_comma_separated_integers_stay_separate_columns(tmp_path):
    t_ns = np.round(T_US * 1e3).astype(int)
    counts = np.round(1e4 * SIGNAL).astype(int)
    for sep in (",", ", "):
        trace = load_trace(_write(tmp_path, "\n".join(f"{a}{sep}{b}" for a, b in zip(t_ns, counts))),
                           time_unit="ns")
        np.testing.assert_array_equal(trace.raw_signal, counts)
        np.testing.assert_allclose(trace.raw_t, t_ns / 1e3)


def test_decimal_comma_with_three_columns_reads_the_imaginary_channel(tmp_path):
    signal = (0.6 + 0.4 * dipolar_kernel(T_US, [3.0])[:, 0]) * np.exp(1j * 0.5)
    text = _comma(_columns(T_US, signal.real, signal.imag, fmt="{:.9f}", sep=";"))
    trace = load_trace(_write(tmp_path, text))
    assert trace.imaginary_column == 3 and trace.phase == pytest.approx(0.5, abs=1e-6)


def test_decimal_point_csv_is_unchanged(tmp_path, reference):
    trace = load_trace(_write(tmp_path, _columns(T_US, SIGNAL, sep=", ")))
    np.testing.assert_array_equal(trace.trace, reference.trace)
    assert not any("decimal" in note for note in trace.notes)


def test_semicolons_with_decimal_points_are_read(tmp_path, reference):
    trace = load_trace(_write(tmp_path, _columns(T_US, SIGNAL, sep=";")))
    np.testing.assert_array_equal(trace.trace, reference.trace)


@pytest.mark.parametrize("bad", ["1.000,5;0,9", "0,5.1;0,9"])
def test_a_decimal_comma_file_with_thousands_points_is_refused(tmp_path, bad):
    text = _comma(_columns(T_US[:20], SIGNAL[:20], fmt="{:.6f}", sep=";")) + f"\n{bad}\n" + _comma(
        _columns(T_US[20:], SIGNAL[20:], fmt="{:.6f}", sep=";"))
    with pytest.raises(ValueError, match=r"^path: line 21 .* not numeric \(the file writes decimal commas\)"):
        load_trace(_write(tmp_path, text))


# ---------------------------------------------------------------- gaps

def test_half_the_time_axis_missing_is_refused_naming_the_gap(tmp_path):
    keep = (T_US < 1.0) | (T_US > 2.0)
    with pytest.raises(ValueError, match=r"^path: the time column .* jumps from 0\.992 to 2\.008 us "
                                         r"\(lines 125 to 126\), 127 times its median step"):
        load_trace(_write(tmp_path, _columns(T_US[keep], SIGNAL[keep])))


def test_a_gap_of_six_steps_is_refused_and_of_five_accepted(tmp_path):
    for missing, refused in ((5, True), (4, False)):  # 5 missing points: a step of 6; 4 missing: 5
        keep = np.ones(T_US.size, bool)
        keep[100:100 + missing] = False
        path = _write(tmp_path, _columns(T_US[keep], SIGNAL[keep]))
        if refused:
            with pytest.raises(ValueError, match="^path: .*jumps from .*at most 5 allowed"):
                load_trace(path)
        else:
            assert load_trace(path).raw_t.size == T_US.size - missing


def test_a_gap_in_a_bes3t_axis_names_the_points(tmp_path):
    t = np.concatenate([np.arange(0, 1000, 8.0), np.arange(2000, 3000, 8.0)])
    _write_bes3t(tmp_path, "gap", t, SIGNAL[:t.size], axis="IGD")
    with pytest.raises(ValueError, match=r"^path: .*jumps from .*\(points 125 to 126\)"):
        load_trace(tmp_path / "gap.DSC")


# ---------------------------------------------------------------- non-finite and overflowing values

@pytest.mark.parametrize("row, column, value, reason", [
    (7, 2, "1.5e308", "overflow"),
    (7, 2, "-1.7976931348623157e308", "overflow"),
    (12, 2, "nan", "NaN or infinite"),
    (3, 1, "inf", "NaN or infinite"),
    (30, 2, "1e400", "NaN or infinite"),
    (9, 3, "-inf", "NaN or infinite"),
])
def test_non_finite_and_overflowing_values_are_refused_with_row_and_column(tmp_path, row, column, value, reason):
    table = [[f"{a:.6f}", f"{b:.8f}", "0.0"] for a, b in zip(T_US, SIGNAL)]
    table[row - 2][column - 1] = value
    text = "time real imaginary\n" + "\n".join(" ".join(r) for r in table)
    with pytest.raises(ValueError, match=rf"^path: line {row}, column {column} of .* {reason}"):
        load_trace(_write(tmp_path, text))


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e200, 1e299, 3.0])
def test_the_signal_scale_does_not_matter(tmp_path, scale):
    raw = (0.6 + 0.4 * dipolar_kernel(T_US, [3.0])[:, 0]) * np.exp(1j * 0.9)
    plain = load_trace(_write(tmp_path, _columns(T_US, raw.real, raw.imag, fmt="{!r}"), "plain.txt"))
    scaled_raw = raw * scale
    scaled = load_trace(_write(tmp_path, _columns(T_US, scaled_raw.real, scaled_raw.imag, fmt="{!r}")))
    assert scaled.phase == pytest.approx(plain.phase, abs=1e-9)
    assert scaled.zero_time == plain.zero_time and scaled.imaginary_column == 3
    np.testing.assert_allclose(scaled.trace, plain.trace, atol=1e-6)


# ---------------------------------------------------------------- Bruker BES3T

def _write_bes3t(folder, name, t, real, imaginary=None, *, order="BIG", fmt="D", unit="ns", axis="IDX",
                 extra="", suffix_case=str.upper):
    """Write a one-trace BES3T dataset as Xepr does: descriptor text, headerless binary data."""
    endian = {"BIG": ">", "LIT": "<"}[order]
    code = {"C": "i1", "S": "i2", "I": "i4", "F": "f4", "D": "f8"}[fmt]
    kind = "REAL" if imaginary is None else "CPLX"
    lines = ["#DESC\t1.2 * DESCRIPTOR INFORMATION ***********************", "* Dataset Type and Format:",
             "DSRC\tEXP", f"BSEQ\t{order}", f"IKKF\t{kind}", f"XTYP\t{axis}", "YTYP\tNODATA", "ZTYP\tNODATA",
             f"IRFMT\t{fmt}"] + ([f"IIFMT\t{fmt}"] if imaginary is not None else []) + [
             f"XPTS\t{t.size}", f"XMIN\t{float(t[0])!r}", f"XWID\t{float(t[-1] - t[0])!r}", f"XUNI\t'{unit}'",
             "TITL\t'a DEER trace'", "IRNAM\t'Intensity'", "XNAM\t'Time'"]
    if axis == "IGD":
        lines.append("XFMT\tD")
    lines += [extra, "#SPL\t1.2 * STANDARD PARAMETER LAYER", "OPER    xuser", "XPTS\t999",
              "#DSL\t1.0 * DEVICE SPECIFIC LAYER", "#MHL\t1.0 * MANIPULATION HISTORY LAYER by BRUKER"]
    (folder / (name + suffix_case(".dsc"))).write_text("\n".join(lines) + "\n")
    if imaginary is None:
        values = np.asarray(real)
    else:
        values = np.empty(2 * t.size)
        values[0::2], values[1::2] = real, imaginary
    (folder / (name + suffix_case(".dta"))).write_bytes(values.astype(endian + code).tobytes())
    if axis == "IGD":
        (folder / (name + suffix_case(".xgf"))).write_bytes(np.asarray(t, float).astype(endian + "f8").tobytes())
    return folder / (name + suffix_case(".dsc"))


def _raw_echo(t_us, zero_time=0.1, phase=0.6):
    tau = np.abs(t_us - zero_time)
    return 2.0e4 * (0.6 + 0.4 * dipolar_kernel(tau, [3.2])[:, 0]) * np.exp(-0.1 * tau) * np.exp(1j * phase)


def _deerload(path):
    dl = pytest.importorskip("deerlab")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dl.deerload(str(path))


# DeerLab 1.2's deerload is the oracle where it reads correctly: it drops the sign of a negative XMIN
# and views complex float32/int formats as complex128 (garbage), so those cases are checked against
# the values written instead.

@pytest.mark.parametrize("order", ["BIG", "LIT"])
def test_bes3t_complex_matches_deerload(tmp_path, order):
    t_ns = np.arange(0.0, 3200.0, 8.0)
    v = _raw_echo(t_ns / 1e3)
    path = _write_bes3t(tmp_path, "deer", t_ns, v.real, v.imag, order=order)
    ours = read_bes3t(path)
    t_dl, v_dl = _deerload(path)
    np.testing.assert_allclose(ours.x / 1e3, t_dl, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ours.real, v_dl.real)
    np.testing.assert_array_equal(ours.imaginary, v_dl.imag)
    trace = load_trace(path)
    assert trace.imaginary_column == 3 and np.degrees(trace.phase) == pytest.approx(np.degrees(0.6), abs=0.05)
    assert trace.zero_time == pytest.approx(0.1, abs=0.008)
    np.testing.assert_allclose(trace.raw_t, t_dl)


@pytest.mark.parametrize("order", ["BIG", "LIT"])
@pytest.mark.parametrize("fmt", ["D", "F", "I", "S", "C"])
def test_bes3t_real_matches_deerload(tmp_path, order, fmt):
    t_ns = np.arange(0.0, 2400.0, 16.0)
    v = np.round(100 * (0.7 + 0.3 * dipolar_kernel(t_ns / 1e3, [3.0])[:, 0]))
    path = _write_bes3t(tmp_path, "real", t_ns, v, order=order, fmt=fmt)
    ours = read_bes3t(path.with_suffix(".DTA"))
    t_dl, v_dl = _deerload(path)
    np.testing.assert_array_equal(ours.real, v_dl)
    np.testing.assert_array_equal(ours.real, v)
    assert ours.imaginary is None
    trace = load_trace(path)
    assert trace.imaginary_column is None and trace.zero_time == 0 and trace.t[-1] == pytest.approx(t_dl[-1])


@pytest.mark.parametrize("order", ["BIG", "LIT"])
@pytest.mark.parametrize("fmt", ["F", "I", "S"])
def test_bes3t_complex_in_other_formats(tmp_path, order, fmt):
    t_ns = np.arange(0.0, 3200.0, 8.0)
    v = np.round(_raw_echo(t_ns / 1e3) / 2)  # fits int16
    path = _write_bes3t(tmp_path, "deer", t_ns, v.real, v.imag, order=order, fmt=fmt)
    ours = read_bes3t(path)
    np.testing.assert_array_equal(ours.real, v.real)
    np.testing.assert_array_equal(ours.imaginary, v.imag)
    assert np.degrees(load_trace(path).phase) == pytest.approx(np.degrees(0.6), abs=0.05)


def test_bes3t_lower_case_names(tmp_path):
    t_ns = np.arange(0.0, 2400.0, 16.0)
    v = 0.7 + 0.3 * dipolar_kernel(t_ns / 1e3, [3.0])[:, 0]
    path = _write_bes3t(tmp_path, "lower", t_ns, v, order="LIT", suffix_case=str.lower)
    assert path.name == "lower.dsc"
    np.testing.assert_array_equal(read_bes3t(path.with_suffix(".dta")).real, v)


def test_bes3t_negative_xmin_and_int8(tmp_path):
    t_ns = np.arange(-96.0, 2000.0, 8.0)
    v = np.round(100 * (0.6 + 0.4 * dipolar_kernel(np.abs(t_ns) / 1e3, [2.5])[:, 0]))
    path = _write_bes3t(tmp_path, "neg", t_ns, v, fmt="C")
    ours = read_bes3t(path)
    np.testing.assert_allclose(ours.x, t_ns)
    np.testing.assert_array_equal(ours.real, v)
    assert load_trace(path).zero_time == pytest.approx(0.0, abs=0.004)


def test_bes3t_axis_from_the_xgf_file(tmp_path):
    t_ns = np.arange(0.0, 3000.0, 8.0)
    t_ns[1:] += 0.5  # not representable by XMIN, XWID: the .XGF holds it
    v = _raw_echo(t_ns / 1e3, zero_time=0.0)
    path = _write_bes3t(tmp_path, "igd", t_ns, v.real, v.imag, axis="IGD")
    np.testing.assert_array_equal(read_bes3t(path).x, t_ns)
    np.testing.assert_allclose(load_trace(path).raw_t, t_ns / 1e3)


def test_bes3t_reads_the_same_trace_as_the_text_export(tmp_path):
    t_ns = np.arange(-80.0, 3000.0, 8.0)
    v = _raw_echo(t_ns / 1e3)
    path = _write_bes3t(tmp_path, "same", t_ns, v.real, v.imag)
    text = _write(tmp_path, _columns(t_ns, v.real, v.imag, fmt="{!r}"))
    np.testing.assert_array_equal(load_trace(path).trace, load_trace(text, time_unit="ns").trace)
    assert load_trace(path, time_unit="ns").zero_time == load_trace(path).zero_time


def test_bes3t_descriptor_layers_comments_and_continuations(tmp_path):
    path = tmp_path / "d.DSC"
    path.write_text("* comment\n#DESC\t1.2 * DESCRIPTOR\nXPTS\t12\nTITL\t'a long \\\ntitle'\n* c\nXUNI 'ns'\n"
                    "#SPL\t1.2\nXPTS\t99\n")
    assert read_descriptor(path) == {"XPTS": "12", "TITL": "a long title", "XUNI": "ns"}


@pytest.mark.parametrize("change, message", [
    (dict(extra="YPTS\t16"), "2-D dataset"),
    (dict(unit="G"), r"in 'G' \(XUNI\), not a time unit"),
    (dict(order="PDP"), "BSEQ"),
    (dict(fmt="A"), "IRFMT"),
    (dict(axis="NTUP"), "XTYP"),
])
def test_bes3t_refusals(tmp_path, change, message):
    t_ns = np.arange(0.0, 2000.0, 8.0)
    v = _raw_echo(t_ns / 1e3)
    settings = dict(order="BIG", fmt="D", unit="ns", axis="IDX", extra="")
    settings.update(change)
    path = tmp_path / "bad.DSC"
    if settings["order"] == "PDP" or settings["fmt"] == "A":  # no binary layout: write the descriptor by hand
        good = _write_bes3t(tmp_path, "bad", t_ns, v.real, v.imag)
        text = good.read_text().replace("BSEQ\tBIG", f"BSEQ\t{settings['order']}").replace(
            "IRFMT\tD", f"IRFMT\t{settings['fmt']}").replace("IIFMT\tD", f"IIFMT\t{settings['fmt']}")
        path.write_text(text)
    else:
        path = _write_bes3t(tmp_path, "bad", t_ns, v.real, v.imag, **settings)
    with pytest.raises(ValueError, match=f"^path: .*{message}"):
        load_trace(path)


def test_bes3t_data_of_the_wrong_size_is_refused(tmp_path):
    t_ns = np.arange(0.0, 2000.0, 8.0)
    path = _write_bes3t(tmp_path, "short", t_ns, SIGNAL[:t_ns.size])
    path.with_suffix(".DTA").write_bytes(path.with_suffix(".DTA").read_bytes()[:-8])
    with pytest.raises(ValueError, match=r"^path: short.DTA holds 1992 bytes; .* needs 250 x 8 = 2000"):
        load_trace(path)


@pytest.mark.parametrize("missing", [".DTA", ".XGF"])
def test_bes3t_missing_partner_file(tmp_path, missing):
    t_ns = np.arange(0.0, 2000.0, 8.0)
    path = _write_bes3t(tmp_path, "lone", t_ns, SIGNAL[:t_ns.size], axis="IGD")
    path.with_suffix(missing).unlink()
    with pytest.raises(ValueError, match=f"^path: a BES3T dataset needs lone{missing}"):
        load_trace(path)


def test_bes3t_time_unit_that_contradicts_the_descriptor(tmp_path):
    t_ns = np.arange(0.0, 2000.0, 8.0)
    path = _write_bes3t(tmp_path, "unit", t_ns, SIGNAL[:t_ns.size])
    with pytest.raises(ValueError, match="^time_unit: 'us' given, but the descriptor .* in ns"):
        load_trace(path, time_unit="us")


def test_bes3t_in_microseconds_and_a_nan_point(tmp_path):
    t_us = np.arange(0.0, 2.0, 0.008)
    v = SIGNAL[:t_us.size].copy()
    path = _write_bes3t(tmp_path, "us", t_us, v, unit="us")
    assert load_trace(path).t[-1] == pytest.approx(t_us[-1])
    v[40] = np.nan
    path = _write_bes3t(tmp_path, "us", t_us, v, unit="us")
    with pytest.raises(ValueError, match="^path: point 41, column 2 of .* NaN"):
        load_trace(path)


def test_a_descriptor_without_a_desc_layer(tmp_path):
    path = tmp_path / "x.DSC"
    path.write_text("just text\n")
    (tmp_path / "x.DTA").write_bytes(b"\x00" * 16)
    with pytest.raises(ValueError, match="^path: .*no #DESC layer"):
        load_trace(path)
