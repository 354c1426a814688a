"""Reading a Bruker BES3T dataset: the .DSC descriptor (text), the .DTA data (binary) and, for a
non-linear axis, the .XGF axis file (binary). One trace: `read_bes3t(path)`.

BES3T (Bruker EPR Standard for Spectrum Storage and Transfer, written by Xepr) keeps the parameters as
"KEY value" lines of the descriptor and the data as a headerless binary array. Read here, from the
descriptor's #DESC layer: XPTS (points), XTYP (IDX: linear axis from XMIN and XWID, the width from the
first to the last point; IGD: axis values in the .XGF file, format XFMT), XUNI (the axis unit),
IKKF (REAL, or CPLX: real and imaginary parts interleaved), IRFMT and IIFMT (C int8, S int16, I int32,
F float32, D float64), BSEQ (BIG or LIT byte order); YPTS, if present, must be 1 (one trace).
Every refusal is a ValueError starting "path:".
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

__all__ = ["read_bes3t", "BES3T", "read_descriptor"]

#: File suffixes of a BES3T dataset (any case).
BES3T_SUFFIXES = (".dsc", ".dta")
#: BES3T number formats (IRFMT, IIFMT, XFMT) as numpy type codes.
FORMATS = {"C": "i1", "S": "i2", "I": "i4", "F": "f4", "D": "f8"}
BYTE_ORDERS = {"BIG": ">", "LIT": "<"}


@dataclasses.dataclass(frozen=True)
class BES3T:
    """One BES3T trace, as `read_bes3t` returns it.

    Attributes
    ----------
    x : numpy.ndarray
        The axis, in the descriptor's unit `unit`, float64.
    real : numpy.ndarray
        The real part, float64.
    imaginary : numpy.ndarray or None
        The imaginary part, float64; None unless IKKF is CPLX.
    unit : str
        The axis unit (XUNI), as written (e.g. "ns").
    descriptor : dict of str to str
        The #DESC keys, values as text with quotes removed.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from descrambler.deer.bruker import read_bes3t, read_descriptor
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "trace.DSC"), "w") as f:
    ...     _ = f.write("#DESC\\nBSEQ BIG\\nIKKF REAL\\nIRFMT D\\nXTYP IDX\\nXPTS 4\\nXMIN 0\\nXWID 300\\nXUNI 'ns'\\n")
    >>> np.arange(4.0).astype(">f8").tofile(os.path.join(folder, "trace.DTA"))
    >>> data = read_bes3t(os.path.join(folder, "trace.DSC"))
    >>> data.x.tolist(), data.unit, data.imaginary is None
    ([0.0, 100.0, 200.0, 300.0], 'ns', True)
    """

    x: np.ndarray
    real: np.ndarray
    imaginary: np.ndarray | None
    unit: str
    descriptor: dict[str, str]


def _companion(path: Path, suffix: str) -> Path:
    """The file beside `path` with `suffix` (upper or lower case, the same case as `path` first)."""
    options = [path.with_suffix(suffix.upper()), path.with_suffix(suffix.lower())]
    if path.suffix.islower():
        options.reverse()
    for option in options:
        if option.is_file():
            return option
    raise ValueError(f"path: a BES3T dataset needs {path.stem}{suffix.upper()} beside {path.name}; it is missing")


def read_descriptor(path: str | os.PathLike) -> dict[str, str]:
    """The keys of the #DESC layer of a BES3T .DSC file, values as text (surrounding quotes removed).

    '*' starts a comment line; a line ending in a backslash continues on the next one; the layer
    ends at the next '#' header (#SPL, #DSL, #MHL).

    Parameters
    ----------
    path : str or os.PathLike
        The .DSC file.

    Returns
    -------
    dict of str to str
        Key to value.

    Raises
    ------
    ValueError
        If the file has no #DESC layer (the message starts with "path:").

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from descrambler.deer.bruker import read_bes3t, read_descriptor
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "trace.DSC"), "w") as f:
    ...     _ = f.write("#DESC\\nBSEQ BIG\\nIKKF REAL\\nIRFMT D\\nXTYP IDX\\nXPTS 4\\nXMIN 0\\nXWID 300\\nXUNI 'ns'\\n")
    >>> np.arange(4.0).astype(">f8").tofile(os.path.join(folder, "trace.DTA"))
    >>> read_descriptor(os.path.join(folder, "trace.DSC"))["XUNI"]
    'ns'
    """
    path = Path(path)
    keys: dict[str, str] = {}
    inside, pending = False, ""
    for raw in path.read_text(encoding="latin-1").splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        if not line or line.startswith("*"):
            continue
        if line.startswith("#"):
            inside = line[1:].split()[0] == "DESC" if len(line) > 1 else False
            continue
        if inside:
            key, value = (line.split(None, 1) + [""])[:2]
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            keys[key] = value
    if not keys:
        raise ValueError(f"path: {path} has no #DESC layer; is it a BES3T descriptor?")
    return keys


def _key(descriptor: dict[str, str], key: str, path: Path, default: str | None = None) -> str:
    if key in descriptor:
        return descriptor[key]
    if default is None:
        raise ValueError(f"path: the descriptor {path.name} has no {key}")
    return default


def _format(descriptor: dict[str, str], key: str, path: Path, default: str | None = None) -> str:
    """The numpy type code of the BES3T number format under `key` (a comma list must agree)."""
    text = _key(descriptor, key, path, default)
    codes = {c.strip() for c in text.split(",")}
    if len(codes) != 1 or not codes <= FORMATS.keys():
        raise ValueError(f"path: {key} = {text!r} in {path.name}; readable formats: "
                         f"{', '.join(FORMATS)} (int8, int16, int32, float32, float64)")
    return FORMATS[codes.pop()]


def _count(descriptor: dict[str, str], key: str, path: Path, default: str | None = None) -> int:
    text = _key(descriptor, key, path, default)
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"path: {key} = {text!r} in {path.name} is not an integer") from None
    if value < 1:
        raise ValueError(f"path: {key} = {value} in {path.name}; need at least 1")
    return value


def _number(descriptor: dict[str, str], key: str, path: Path) -> float:
    text = _key(descriptor, key, path)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"path: {key} = {text!r} in {path.name} is not a number") from None
    if not np.isfinite(value):
        raise ValueError(f"path: {key} = {text!r} in {path.name} is not finite")
    return value


def _binary(path: Path, dtype: np.dtype, count: int, what: str) -> np.ndarray:
    data = path.read_bytes()
    if len(data) != count * dtype.itemsize:
        raise ValueError(f"path: {path.name} holds {len(data)} bytes; the descriptor's {what} needs "
                         f"{count} x {dtype.itemsize} = {count * dtype.itemsize}")
    return np.frombuffer(data, dtype=dtype)


def read_bes3t(path: str | os.PathLike) -> BES3T:
    """Read the one-dimensional BES3T dataset of `path` (its .DSC or its .DTA; the other must be beside it).

    Parameters
    ----------
    path : str or os.PathLike
        The .DSC or .DTA file (any case); for a non-linear axis (XTYP IGD) the .XGF file must be
        beside it too.

    Returns
    -------
    BES3T
        The axis, real and imaginary parts, the unit and the descriptor.

    Raises
    ------
    ValueError
        If the file is not a BES3T file, a companion file is missing, the descriptor lacks a key or
        has an unreadable value, the data is 2-D, or the binary sizes do not match the descriptor
        (the message starts with "path:").

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from descrambler.deer.bruker import read_bes3t, read_descriptor
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "trace.DSC"), "w") as f:
    ...     _ = f.write("#DESC\\nBSEQ BIG\\nIKKF REAL\\nIRFMT D\\nXTYP IDX\\nXPTS 4\\nXMIN 0\\nXWID 300\\nXUNI 'ns'\\n")
    >>> np.arange(4.0).astype(">f8").tofile(os.path.join(folder, "trace.DTA"))
    >>> read_bes3t(os.path.join(folder, "trace.DTA")).real.tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    path = Path(path)
    if path.suffix.lower() not in BES3T_SUFFIXES:
        raise ValueError(f"path: {path} is not a BES3T file (.DSC or .DTA)")
    dsc, dta = _companion(path, ".DSC"), _companion(path, ".DTA")
    descriptor = read_descriptor(dsc)
    order = _key(descriptor, "BSEQ", dsc)
    if order not in BYTE_ORDERS:
        raise ValueError(f"path: BSEQ = {order!r} in {dsc.name}; expected BIG or LIT")
    endian = BYTE_ORDERS[order]
    n = _count(descriptor, "XPTS", dsc)
    if _count(descriptor, "YPTS", dsc, "1") > 1 or _count(descriptor, "ZPTS", dsc, "1") > 1:
        raise ValueError(f"path: {dsc.name} describes a 2-D dataset (YPTS = {descriptor.get('YPTS')}); read "
                         "one trace: sum or pick the slices in Xepr and save that")
    kind = _key(descriptor, "IKKF", dsc, "REAL")
    if kind not in ("REAL", "CPLX"):
        raise ValueError(f"path: IKKF = {kind!r} in {dsc.name}; expected REAL or CPLX")
    real_code = _format(descriptor, "IRFMT", dsc)
    if kind == "REAL":
        values = _binary(dta, np.dtype(endian + real_code), n, f"{n} real points (IRFMT {descriptor['IRFMT']})")
        real, imaginary = values.astype(np.float64), None
    else:
        imaginary_code = _format(descriptor, "IIFMT", dsc, descriptor["IRFMT"])
        pair = np.dtype([("re", endian + real_code), ("im", endian + imaginary_code)])
        values = _binary(dta, pair, n, f"{n} complex points (IRFMT {descriptor['IRFMT']}, IKKF CPLX)")
        real, imaginary = values["re"].astype(np.float64), values["im"].astype(np.float64)
    axis = _key(descriptor, "XTYP", dsc, "IDX")
    if axis == "IDX":
        x = np.linspace(_number(descriptor, "XMIN", dsc), _number(descriptor, "XMIN", dsc)
                        + _number(descriptor, "XWID", dsc), n)
    elif axis == "IGD":
        xgf = _companion(dsc, ".XGF")
        x = _binary(xgf, np.dtype(endian + _format(descriptor, "XFMT", dsc, "D")), n, f"{n} axis values"
                    ).astype(np.float64)
    else:
        raise ValueError(f"path: XTYP = {axis!r} in {dsc.name}; readable axes: IDX (linear), IGD (.XGF file)")
    return BES3T(x=x, real=real, imaginary=imaginary, unit=_key(descriptor, "XUNI", dsc, ""),
                 descriptor=descriptor)
