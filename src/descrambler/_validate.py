"""Argument checks shared by the package: each failure is a ValueError naming the argument."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np


def as_array(value, name: str, *, ndim: int | None = None, dtype=np.float64,
             finite: bool = True) -> np.ndarray:
    """Return `value` as a numpy array of `dtype`, checking its dimension and finiteness.

    Complex input is refused when `dtype` is real (numpy would drop the imaginary part with only a
    warning): pass `value.real` explicitly if that is what is meant.
    """
    if not np.issubdtype(np.dtype(dtype), np.complexfloating) and _is_complex(value):
        raise ValueError(f"{name}: complex values are not accepted (the imaginary part would be lost); "
                         "pass the real part explicitly")
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: cannot be read as a numeric array ({error})") from None
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {array.shape}")
    if finite and not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return array


def _is_complex(value) -> bool:
    if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
        return True
    try:
        return bool(np.iscomplexobj(value))
    except (TypeError, ValueError):
        return False


def positive_int(value, name: str) -> int:
    """Return `value` as an int, requiring an integer >= 1.

    Integers only (int or a numpy integer): a float is refused even when it is integral (256.0), so a
    count never passes as a float to fail later; bool is refused too.
    """
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name}: must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(value, name: str) -> int:
    """Return `value` as an int, requiring an integer >= 0 (a seed, an index)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)) or value < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")
    return int(value)


def positive(value, name: str) -> float:
    """Return `value` as a float, requiring a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: must be finite and > 0, got {value!r}")
    return float(value)


def choice(value, name: str, choices: Iterable[str]) -> str:
    """Return `value`, requiring it to be one of `choices`."""
    options = tuple(choices)
    if value not in options:
        raise ValueError(f"{name}: unknown value {value!r}; expected one of {', '.join(map(repr, options))}")
    return value


def finite(value, name: str) -> float:
    """Return `value` as a float, requiring a finite real number (not a bool, a string or None)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return float(value)


def non_negative(value, name: str) -> float:
    """Return `value` as a float, requiring a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    return float(value)


#: The checks a configuration can declare for its fields (see `check_fields`).
FIELD_CHECKS = {"positive_int": positive_int, "non_negative_int": non_negative_int, "positive": positive,
                "non_negative": non_negative, "finite": finite}


def check_fields(config, **fields: tuple[str, ...]) -> None:
    """Check the named fields of a (frozen) dataclass and store their normalised values (int or float).

    Each keyword is a check of FIELD_CHECKS and its value the field names it applies to, in order; the
    first failure is a ValueError naming the field. Configurations declare their constraints once, in
    their __post_init__, through this helper.
    """
    for check, names in fields.items():
        for name in names:
            object.__setattr__(config, name, FIELD_CHECKS[check](getattr(config, name), name))
