"""Reading a measured DEER trace from a file: zero time, phase, channels, resampling and boxing.

`load_trace(path)` makes a spectrometer export (a text file, or a Bruker BES3T .DSC/.DTA pair read by
`descrambler.deer.bruker`) ready for a network trained on a `LibraryConfig`.
Times are in microseconds (us), distances in nanometres (nm).
"""

from __future__ import annotations

import dataclasses
import numbers
import os
import re
from pathlib import Path

import numpy as np
from scipy.interpolate import PchipInterpolator

from .._validate import choice
from .bruker import BES3T_SUFFIXES, read_bes3t
from .simulate import LibraryConfig

__all__ = ["load_trace", "MeasuredTrace"]


@dataclasses.dataclass
class MeasuredTrace:
    """A measured trace made ready for a network trained on a `LibraryConfig`.

    Returned by `load_trace`. `signal` (property) is the phased real signal at the file's times,
    `after_zero_time()` its points from zero time on.

    Attributes
    ----------
    t : numpy.ndarray
        Uniform time axis from zero time to the last measured time, us, (config.n_time,).
    trace : numpy.ndarray
        The phased real signal resampled onto `t` (pchip) and boxed to [0, 1], float32.
    r : numpy.ndarray
        The distance axis, nm, that a net trained on the notional `config.tmax` applies to: `config.r`
        scaled by (t[-1] / config.tmax)^(1/3).
    raw_t : numpy.ndarray
        The file's time axis, us, all of its points, before any correction.
    raw_signal : numpy.ndarray
        The file's real channel, all of its points.
    zero_time : float
        Zero time on the file's time axis, us (``raw_t - zero_time`` is the corrected axis).
    phase : float
        The phase removed from the complex signal, rad: the real signal used is
        Re[(raw_signal + i raw_imaginary) exp(-i phase)]; 0 without an imaginary channel.
    imaginary_column : int or None
        The file's column (counted from 1) read as the imaginary channel, or None.
    raw_imaginary : numpy.ndarray or None
        The file's imaginary channel, or None.
    notes : tuple of str
        What `load_trace` decided, in words.

    Examples
    --------
    >>> from descrambler.analyse import kuprov_trace
    >>> from descrambler.deer.traces import load_trace
    >>> trace = load_trace(kuprov_trace("I"))  # a shipped measured trace
    >>> trace.trace.shape, float(trace.trace.min()), float(trace.trace.max())
    ((256,), 0.0, 1.0)
    >>> round(float(trace.t[-1]), 3), [round(float(x), 2) for x in (trace.r[0], trace.r[-1])]
    (5.312, [1.63, 8.21])
    """

    t: np.ndarray
    trace: np.ndarray
    r: np.ndarray
    raw_t: np.ndarray
    raw_signal: np.ndarray
    zero_time: float = 0.0
    phase: float = 0.0
    imaginary_column: int | None = None
    raw_imaginary: np.ndarray | None = None
    notes: tuple[str, ...] = ()

    @property
    def signal(self) -> np.ndarray:
        """The phased real signal at the file's times `raw_t` (not resampled, not boxed)."""
        return _rotate(self.raw_signal, self.raw_imaginary, self.phase)[0]

    def after_zero_time(self) -> tuple[np.ndarray, np.ndarray]:
        """(time from zero time in us, phased real signal) of the file's points at or after zero time."""
        keep = self.raw_t >= self.zero_time
        return self.raw_t[keep] - self.zero_time, self.signal[keep]


_SEPARATORS = re.compile(r"[\s,;]+")
#: Separators of a file written with decimal commas ("0,012;0,98" or "0,012<tab>0,98").
_DECIMAL_COMMA_SEPARATORS = re.compile(r"[\s;]+")
#: A number written with a decimal comma (or an integer), as the only content of a field.
_DECIMAL_COMMA_NUMBER = re.compile(r"[-+]?(\d*,\d+|\d+)([eE][-+]?\d+)?")
#: Time units `load_trace` reads, in us (their plausible spans do not overlap: see `_suggest_unit`).
TIME_UNITS = {"us": 1.0, "ns": 1e-3, "ms": 1e3, "s": 1e6}
#: The time span (us) of a DEER trace: a file's time column spanning less or more, in the unit it is
#: read in, is refused as being in another unit (the message says which unit would fit).
_SHORTEST_TRACE_US = 0.1
_LONGEST_TRACE_US = 100.0
#: A step of the time column longer than this many times its median step is a gap (missing points):
#: refused rather than interpolated across.
_MAX_GAP_STEPS = 5.0
#: Values beyond this magnitude are overflows or missing-value markers (such as 1.8e308), not data.
_LARGEST_VALUE = 1e300
#: Auto mode reads a third column as imaginary when, after phasing, what is left in it (its RMS
#: about its mean) is below this fraction of the real signal's range, or below 3 x its noise.
_IMAGINARY_RESIDUAL_FRACTION = 0.04
#: Points per raw step of the fine grid of the zero-time search.
_ZERO_TIME_REFINE = 10


def _decimal_commas(lines: list[str]) -> str | None:
    """How a text file writes its numbers, by a majority of its lines that start like a number:
    "semicolon" (most hold ';': fields separated by ';', commas are decimal marks, "0,012;0,98"),
    "whitespace" (more lines of whitespace-separated decimal-comma numbers, "0,012<tab>0,98", than
    lines with a '.'), or None (decimal points; fields separated by whitespace, ',' or ';')."""
    data = [line for line in lines if line[0] in "0123456789+-.,"]
    if sum(";" in line for line in data) > len(data) / 2:
        return "semicolon"
    commas = sum("," in line and len(line.split()) >= 2
                 and all(_DECIMAL_COMMA_NUMBER.fullmatch(f) for f in line.split()) for line in data)
    return "whitespace" if commas > sum("." in line for line in data) else None


def _read_columns(path: Path) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Numeric rows of a text file, (rows, columns), the file's line number of each row, and a note
    when the file writes decimal commas (else None).

    Leading header lines and '#'/'%' comments are skipped; only the columns every row has are kept
    (at least two: time and signal). Decimal commas are read when most data lines show them
    (`_decimal_commas`).
    """
    lines = [(number, line.strip()) for number, line in
             enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)]
    lines = [(number, line) for number, line in lines if line and line[0] not in "#%"]
    dialect = _decimal_commas([line for _, line in lines])
    rows: list[list[float]] = []
    numbers: list[int] = []
    for number, stripped in lines:
        if dialect is None:
            fields = [f for f in _SEPARATORS.split(stripped) if f]
        else:
            fields = [f + "?" if "," in f and "." in f else f.replace(",", ".")  # 1.000,5: no number
                      for f in _DECIMAL_COMMA_SEPARATORS.split(stripped) if f]
        try:
            values = [float(f) for f in fields]
        except ValueError:
            if rows:
                how = " (the file writes decimal commas)" if dialect else ""
                raise ValueError(f"path: line {number} of {path} is not numeric{how}: {stripped[:60]!r}") from None
            continue  # header line
        if len(values) < 2:
            raise ValueError(f"path: line {number} of {path} has {len(values)} column(s); need time and signal")
        rows.append(values)
        numbers.append(number)
    if not rows:
        raise ValueError(f"path: {path} holds no numeric rows")
    width = min(len(row) for row in rows)
    note = None if dialect is None else (
        f"decimal commas read (fields separated by {'semicolons' if dialect == 'semicolon' else 'whitespace'})")
    return np.array([row[:width] for row in rows]), np.array(numbers), note


def _check_values(data: np.ndarray, rows: np.ndarray, row_word: str, path: Path) -> None:
    """Refuse NaN, infinite and overflowing values, naming the first one's row and column."""
    bad = ~np.isfinite(data) | (np.abs(np.where(np.isfinite(data), data, 0)) > _LARGEST_VALUE)
    if not np.any(bad):
        return
    row, column = (int(i) for i in np.argwhere(bad)[0])
    value = data[row, column]
    what = ("NaN or infinite values cannot be read" if not np.isfinite(value) else
            f"beyond +-{_LARGEST_VALUE:g}: an overflow or a missing-value marker, not a measurement")
    raise ValueError(f"path: {row_word} {rows[row]}, column {column + 1} of {path} holds {value!r}: {what}")


def _read_bes3t(path: Path, time_unit: str | None) -> tuple[np.ndarray, np.ndarray, str, str, bool]:
    """A BES3T dataset as `load_trace` reads a text file: columns (time, real[, imaginary]), the
    point numbers (from 1), "point", the time unit (checked against `time_unit`), and whether it has
    an imaginary part."""
    dataset = read_bes3t(path)
    unit = {"µs": "us", "\u03bcs": "us"}.get(dataset.unit, dataset.unit)
    if unit not in TIME_UNITS:
        if time_unit is None:
            raise ValueError(f"path: the axis of {path} is in {dataset.unit!r} (XUNI), not a time unit "
                             f"({', '.join(TIME_UNITS)}); is it a DEER trace? If the axis is time, pass time_unit=")
        unit = time_unit
    elif time_unit is not None and time_unit != unit:
        raise ValueError(f"time_unit: {time_unit!r} given, but the descriptor of {path} says the time axis is "
                         f"in {unit} (XUNI); leave time_unit out for a BES3T file")
    columns = [dataset.x, dataset.real] + ([] if dataset.imaginary is None else [dataset.imaginary])
    return (np.column_stack(columns), np.arange(1, dataset.x.size + 1), "point", unit,
            dataset.imaginary is not None)


def _suggest_unit(span_in_file: float) -> str | None:
    """The time unit (a key of TIME_UNITS) in which a span of `span_in_file` is as long as a DEER trace."""
    for unit, factor in TIME_UNITS.items():
        if _SHORTEST_TRACE_US <= span_in_file * factor <= _LONGEST_TRACE_US:
            return unit
    return None


def _check_time_axis(raw_t: np.ndarray, rows: np.ndarray, row_word: str, path: Path, unit: str,
                     suggest: bool = True) -> None:
    """Refuse a time axis (us) that does not increase, spans no plausible DEER trace in `unit` (with
    `suggest`, the message names the unit that would fit), or has a gap (a step over _MAX_GAP_STEPS
    times the median step)."""
    if raw_t.size < 8:
        raise ValueError(f"path: {path} has {raw_t.size} data points; need at least 8")
    steps = np.diff(raw_t)
    if np.any(steps <= 0):
        raise ValueError(f"path: the time column of {path} is not strictly increasing")
    span = raw_t[-1] - raw_t[0]
    if not _SHORTEST_TRACE_US <= span <= _LONGEST_TRACE_US:
        read = f"{span / TIME_UNITS[unit]:.6g} {unit}"
        other = _suggest_unit(span / TIME_UNITS[unit]) if suggest else None
        advice = (f"if it is in {other}, pass time_unit='{other}'" if other and other != unit else
                  "is it a DEER time axis?")
        length = "shorter" if span < _SHORTEST_TRACE_US else "longer"
        raise ValueError(f"path: the time column of {path} spans {read} ({span:.6g} us), {length} than a DEER "
                         f"trace ({_SHORTEST_TRACE_US:g} .. {_LONGEST_TRACE_US:g} us); {advice}")
    median = float(np.median(steps))
    widest = int(np.argmax(steps))
    if steps[widest] > _MAX_GAP_STEPS * median:
        raise ValueError(f"path: the time column of {path} jumps from {raw_t[widest]:.6g} to {raw_t[widest + 1]:.6g} "
                         f"us ({row_word}s {rows[widest]} to {rows[widest + 1]}), {steps[widest] / median:.3g} times "
                         f"its median step of {median:.4g} us (at most {_MAX_GAP_STEPS:g} allowed): points are "
                         "missing there; load the whole trace, or cut the file before the gap")


def _rotate(real: np.ndarray, imaginary: np.ndarray | None, phase: float) -> tuple[np.ndarray, np.ndarray]:
    """Real and imaginary parts of (real + i imaginary) exp(-i phase)."""
    if imaginary is None:
        return real, np.zeros_like(real)
    c, s = np.cos(phase), np.sin(phase)
    return real * c + imaginary * s, imaginary * c - real * s


def _auto_phase(real: np.ndarray, imaginary: np.ndarray) -> float:
    """The phase (rad, in [0, 2 pi)) whose removal puts most of the signal on the real axis.

    Minimises the energy left in the imaginary part, sum Im[V exp(-i phase)]^2 (closed form: the
    angle of the principal axis of the (Re, Im) point cloud), and of the two minimisers picks the one
    that leaves a real part with a positive mean. DeerLab's `correctphase` uses the same criterion.
    """
    a = np.sum(real**2)
    b = np.sum(imaginary**2)
    c = np.sum(real * imaginary)
    phase = 0.5 * np.arctan2(2 * c, a - b)  # maximises sum Re^2
    if np.mean(_rotate(real, imaginary, phase)[0]) < 0:
        phase += np.pi
    return float(np.mod(phase, 2 * np.pi))


def noise_level(x: np.ndarray) -> float:
    """Robust estimate of the white-noise RMS of a signal, in its units, from its second differences
    (median absolute deviation); 0 for fewer than three points."""
    second = np.diff(np.asarray(x, dtype=float), 2)
    if second.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(second - np.median(second))) / np.sqrt(6))


def _first_moment_zero_time(t: np.ndarray, v: np.ndarray) -> float | None:
    """Zero time, us, from the echo maximum refined by a first-moment analysis (DeerAnalysis' method).

    The signal is interpolated (pchip) on a grid ten times finer than the mean raw step; around its
    maximum, each candidate t0 within half the distance to the nearer end is scored by
    |sum v(t) (t - t0)| over a window of that half-width centred on t0; the candidate with the
    smallest first moment is zero time (a symmetric echo has none). A maximum at the first point
    gives that point; a maximum at the last point gives None (no echo in the trace).
    """
    fine_t = np.linspace(t[0], t[-1], (t.size - 1) * _ZERO_TIME_REFINE + 1)
    fine_v = PchipInterpolator(t, v)(fine_t)
    peak = int(np.argmax(fine_v))
    if peak == fine_t.size - 1:
        return None
    if peak == 0:
        return float(fine_t[0])
    half = min(peak, fine_t.size - 1 - peak) // 2
    offsets = np.arange(-half, half + 1)
    candidates = np.arange(peak - half, peak + half + 1)
    windows = candidates[:, None] + offsets[None, :]
    moments = np.abs(np.sum(fine_v[windows] * (fine_t[windows] - fine_t[candidates, None]), axis=1))
    return float(fine_t[candidates[np.argmin(moments)]])


def _has_echo_rise(t: np.ndarray, v: np.ndarray, zero_time: float) -> bool:
    """Whether the signal rises significantly from its first point to a maximum more than two raw
    steps later: the mark of points recorded before zero time. A processed trace that starts at its
    zero time and only looks higher a few points in because of noise does not have one."""
    step = float(np.median(np.diff(t)))
    if zero_time - t[0] <= 2 * step:
        return False
    width = min(5, v.size)
    smooth = np.convolve(np.pad(v, (width // 2, width - 1 - width // 2), mode="edge"),
                         np.ones(width) / width, mode="valid")
    return bool(smooth.max() - smooth[0] > 5 * noise_level(v) / np.sqrt(width))


def _number_or_auto(value, name: str) -> float | str:
    if isinstance(value, str) and value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}: expected 'auto' or a finite number, got {value!r}")
    return float(value)


def _imaginary_argument(value) -> int | str | None:
    if value is None or (isinstance(value, str) and value == "auto"):
        return value
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)) or value < 3:
        raise ValueError(f"imaginary: expected 'auto', None or a column number >= 3 (column 1 is time, "
                         f"column 2 the real signal), got {value!r}")
    return int(value)


def load_trace(path: str | os.PathLike, config: LibraryConfig | None = None, *,
               zero_time: float | str = "auto", phase: float | str = "auto",
               imaginary: int | str | None = "auto", time_unit: str | None = None) -> MeasuredTrace:
    """Read a measured DEER trace for a trained net: a raw spectrometer export or a processed trace.

    The file is text (column 1 time, column 2 the real signal, optionally an imaginary channel;
    header lines, '#'/'%' comments and extra columns allowed; fields separated by whitespace, ',' or
    ';'; files written with decimal commas, "0,012;0,98" or tab-separated "0,012  0,98", are
    recognised by a majority of their data lines and `notes` says so), or a Bruker BES3T dataset
    (.DSC or .DTA with its partner beside it, see `descrambler.deer.bruker`), read as the columns time,
    real part and, for complex data (IKKF CPLX), imaginary part.

    The time axis must be strictly increasing, have at least 8 points, span what a DEER trace spans
    (0.1 .. 100 us once converted: else the unit is wrong, and the message says which unit fits) and
    have no gap (no step over 5 times the median step: missing points are refused, not
    interpolated). NaN, infinite and overflowing values (beyond +-1e300, such as the 1.8e308
    missing-value marker) are refused, naming their row and column. The signal's scale does not
    matter (1e-300 or 1e200 give the same trace). After the corrections the trace must start at zero
    time (or within one resampled step after it); the phased real signal is resampled (pchip) to
    `config.n_time` points from zero time to the last point and boxed to [0, 1], and the distance
    axis is `config.r` scaled by (length / config.tmax)^(1/3).

    Parameters
    ----------
    path : str or os.PathLike
        The trace file.
    config : LibraryConfig or None, default None
        The training database of the network that will read the trace; None: LibraryConfig().
    zero_time : float or "auto", default "auto"
        Zero time, us, on the file's time axis: points before it are used only for the resampling
        near zero time, then dropped. "auto": from the echo maximum refined by a first-moment
        analysis (the DeerAnalysis method; DeerLab's `correctzerotime` does the same), except for a
        file that starts at or just after 0 (within one resampled step) without a significant rise to
        a later maximum: that is a processed trace and its own zero, t = 0, is kept.
    phase : float or "auto", default "auto"
        With an imaginary channel the complex signal is multiplied by exp(-i phase), rad, and its
        real part is used; "auto" takes the phase that leaves the least energy in the imaginary part
        and a positive mean real part (DeerLab's `correctphase` criterion). A number overrides it, and
        then the third column of a three-column file is taken as imaginary without the check.
    imaginary : int, "auto" or None, default "auto"
        The file's column (counted from 1, >= 3) holding the imaginary channel; None: none; "auto":
        column 3 of a file with exactly three columns, if it behaves as an imaginary channel (after
        phasing, the RMS left in it is below 4 % of the real signal's range or below three times its
        noise), else it is ignored and `notes` says so. Files with four or more columns never get one
        automatically.
    time_unit : {"us", "ns", "ms", "s"} or None, default None
        Unit of the file's time axis; None: "us" for a text file, the descriptor's XUNI for a BES3T
        file (a `time_unit` that contradicts it is refused).

    Returns
    -------
    MeasuredTrace
        The resampled, boxed trace, its distance axis, the raw data and the decisions taken.

    Raises
    ------
    ValueError
        If an argument is invalid, or the file cannot be read as a DEER trace ("path: ..." for the
        file's content: missing, non-numeric, too short, wrong time unit, a gap, no zero time,
        constant) (the message starts with the argument's name).

    Examples
    --------
    >>> from descrambler.analyse import kuprov_trace
    >>> from descrambler.deer.traces import load_trace
    >>> trace = load_trace(kuprov_trace("I"))  # a shipped measured trace
    >>> trace.notes
    ('zero time 0 us: the file starts at zero time (no echo rise before a later maximum)',)
    """
    config = LibraryConfig() if config is None else config
    if not isinstance(config, LibraryConfig):
        raise ValueError(f"config: expected a LibraryConfig, got {type(config).__name__}")
    zero_time = _number_or_auto(zero_time, "zero_time")
    phase = _number_or_auto(phase, "phase")
    imaginary = _imaginary_argument(imaginary)
    if time_unit is not None:
        choice(time_unit, "time_unit", TIME_UNITS)
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: no such file: {path}")
    notes: list[str] = []
    if path.suffix.lower() in BES3T_SUFFIXES:
        data, rows, row_word, time_unit, known_imaginary = _read_bes3t(path, time_unit)
    else:
        data, rows, note = _read_columns(path)
        row_word, time_unit, known_imaginary = "line", time_unit or "us", False
        notes += [note] if note else []
    _check_values(data, rows, row_word, path)
    raw_t, raw_signal = data[:, 0] * TIME_UNITS[time_unit], data[:, 1]
    _check_time_axis(raw_t, rows, row_word, path, time_unit, suggest=row_word == "line")

    # ---- channels and phase
    raw_imaginary, column = None, None
    if isinstance(imaginary, int):
        if imaginary > data.shape[1]:
            raise ValueError(f"imaginary: column {imaginary} requested, but {path} has {data.shape[1]} columns")
        column = imaginary
    elif imaginary == "auto" and data.shape[1] == 3:
        column = 3
    if column is not None:
        raw_imaginary = data[:, column - 1]
    # computations on signal x 2^-k (exact), largest |value| in [0.5, 1): squares of 1e-200 or 1e200
    # would under- or overflow; the phase, zero time and boxed trace do not depend on the scale
    exponent = int(np.frexp(max(np.max(np.abs(raw_signal)),
                                0.0 if raw_imaginary is None else np.max(np.abs(raw_imaginary))))[1])
    signal = np.ldexp(raw_signal, -exponent)
    imag = None if raw_imaginary is None else np.ldexp(raw_imaginary, -exponent)
    if raw_imaginary is None:
        if phase != "auto" and phase != 0:
            raise ValueError(f"phase: {path} is read without an imaginary channel, so there is nothing to "
                             "rotate; name its column with imaginary=")
        phase = 0.0
    elif phase == "auto":
        phase = _auto_phase(signal, imag)
        real, rest = _rotate(signal, imag, phase)
        if imaginary == "auto" and not known_imaginary:
            left, limit = np.std(rest), max(_IMAGINARY_RESIDUAL_FRACTION * np.ptp(real), 3 * noise_level(real))
            if left > limit:
                notes.append(f"column 3 ignored: it does not behave as an imaginary channel (after phasing "
                             f"its RMS is {left:.3g}, above {limit:.3g}); pass imaginary=3 to use it")
                raw_imaginary, imag, column, phase = None, None, None, 0.0
        if column is not None:
            notes.append(f"column {column} read as the imaginary channel; phase {np.degrees(phase):.2f} deg "
                         "removed (auto)")
    else:
        notes.append(f"column {column} read as the imaginary channel; phase {np.degrees(phase):.2f} deg "
                     "removed (given)")
    real = _rotate(signal, imag, phase)[0]
    if np.ptp(real) == 0:
        raise ValueError(f"path: the signal column of {path} is constant")

    # ---- zero time
    if zero_time == "auto":
        found = _first_moment_zero_time(raw_t, real)
        if found is None:
            negative = f" has negative times (from {raw_t[0]:.6g} us) but" if raw_t[0] < 0 else ""
            raise ValueError(f"path: cannot find zero time in {path}: it{negative} peaks at its last point, while "
                             "a DEER trace peaks at zero time; pass zero_time= (us) if the trace is right")
        if raw_t[0] >= 0 and not _has_echo_rise(raw_t, real, found):
            zero_time = 0.0
            notes.append("zero time 0 us: the file starts at zero time (no echo rise before a later maximum)")
        else:
            zero_time = found
            notes.append(f"zero time {found:.4g} us from the echo maximum and a first-moment fit around it")
    else:
        if zero_time >= raw_t[-1]:
            raise ValueError(f"zero_time: {zero_time} us is at or after the last time of {path} "
                             f"({raw_t[-1]:.6g} us)")
        notes.append(f"zero time {zero_time:.4g} us (given)")
    shifted = raw_t - zero_time
    after = int(np.count_nonzero(shifted >= 0))
    if after < 8:
        raise ValueError(f"path: {path} has {after} points after zero time ({zero_time:.6g} us); need at least 8")
    t = np.linspace(0.0, shifted[-1], config.n_time)
    if shifted[0] > t[1]:
        raise ValueError(f"path: {path} starts at {shifted[0]:.6g} us after zero time; the net needs the trace "
                         f"from zero time (first point at most {t[1]:.4g} us after it); pass zero_time= if "
                         "zero time is elsewhere")
    resampled = PchipInterpolator(shifted, real, extrapolate=True)(t)
    if np.ptp(resampled) == 0:
        raise ValueError(f"path: the signal of {path} is constant after zero time")
    boxed = (resampled - resampled.min()) / np.ptp(resampled)
    r = config.r * np.cbrt(shifted[-1] / config.tmax)
    return MeasuredTrace(t=t, trace=boxed.astype(np.float32), r=r, raw_t=raw_t, raw_signal=raw_signal,
                         zero_time=float(zero_time), phase=float(phase), imaginary_column=column,
                         raw_imaginary=raw_imaginary, notes=tuple(notes))
