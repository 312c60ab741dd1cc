"""The one validation layer: every value from outside passes through here on its way in.

Each check returns the clean value or raises an :class:`~wattlm.errors.InvalidInputError` (a
:class:`~wattlm.errors.ConfigError` for settings) whose message says what was wrong, what would
be right and where the value came from::

    argument --interval: interval_s must be a finite number of seconds in (0, 86,400], got 'nan'

``origin`` names the source: ``"argument --pue"``, ``"environment WATTLM_PUE"``,
``"/home/me/wattlm.toml line 3"``. NaN and infinity are rejected everywhere; upper bounds
(:data:`BOUNDS`) catch values that are surely a mistake.
"""

from __future__ import annotations

import math
import os
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wattlm.errors import InvalidInputError

__all__ = [
    "BOUNDS",
    "MAX_SQL_INTEGER",
    "bounded",
    "count",
    "finite",
    "fraction",
    "path_for_reading",
    "path_for_writing",
    "positive",
    "pue",
    "read_text",
    "shown",
    "text",
    "url",
]

#: Largest integer SQLite and PostgreSQL (BIGINT) store.
MAX_SQL_INTEGER = 2**63 - 1

#: Documented upper bounds: a value beyond one is surely a mistake (docs/cli.md, "Bounds").
BOUNDS: dict[str, tuple[float, str]] = {
    "interval_s": (86_400.0, "an interval above a day"),
    "flush_s": (86_400.0, "a flush period above a day"),
    "baseline_s": (3_600.0, "an idle baseline above an hour"),
    "distributed_timeout_s": (86_400.0, "a timeout above a day"),
    "pue": (3.0, "a PUE above 3 (the worst surveyed data centres are near 2.5)"),
    "intensity_g_per_kwh": (2_000.0, "a grid above 2,000 g/kWh (coal plants are near 1,000)"),
    "intensity": (2_000.0, "a grid above 2,000 g/kWh (coal plants are near 1,000)"),
    "cpu_tdp_w": (2_000.0, "a TDP above 2 kW per socket"),
    # accounting (footprint, Accountant)
    "energy_kwh": (1e12, "more than 10^12 kWh (every data centre together uses about "
                         "4 x 10^11 kWh a year)"),
    "duration_s": (3.6e13, "more than 10^10 accelerator-hours of run time"),
    "wue_l_per_kwh": (100.0, "a water usage above 100 L/kWh (surveyed data centres use 0 to "
                             "about 2)"),
    # estimates (wattlm estimate train|infer, estimate_training, estimate_inference)
    "params": (1e14, "a model above 100 trillion parameters (the largest published are near 2 "
                     "trillion)"),
    "active_params": (1e14, "above 100 trillion active parameters"),
    "teacher_params": (1e14, "a teacher above 100 trillion parameters"),
    "tokens": (1e15, "more than 10^15 training tokens (the largest published runs use about "
                     "4 x 10^13)"),
    "devices": (1e6, "more than a million accelerators in one job"),
    "tensor_parallel": (1e6, "more than a million devices per replica"),
    "expert_parallel": (1e6, "more than a million devices for the experts"),
    "data_parallel": (1e6, "more than a million replicas"),
    "device_hours": (1e10, "more than 10 billion accelerator-hours (the largest published runs "
                           "are near 4 x 10^7)"),
    "days": (3_650.0, "a training run above ten years"),
    "hours": (87_600.0, "a training run above ten years"),
    "power_w": (10_000.0, "an average above 10 kW per accelerator"),
    "seq_len": (1e7, "a sequence above 10 million tokens (the longest published contexts)"),
    "input_tokens": (1e7, "a prompt above 10 million tokens (the longest published contexts)"),
    "output_tokens": (1e7, "an answer above 10 million tokens"),
    "batch_size": (1e6, "more than a million concurrent requests"),
    "arrival_rate": (1e6, "more than a million requests per second"),
    "pid": (2**22, "a process id above 4,194,304 (Linux's largest pid_max)"),
}


def shown(value: Any, limit: int = 60) -> str:
    """``repr`` of a bad value, escaped and cut, safe to print on one line."""
    text_value = repr(value)
    text_value = "".join(
        c if unicodedata.category(c)[0] != "C" else c.encode("unicode_escape").decode("ascii")
        for c in text_value
    )
    return text_value if len(text_value) <= limit else text_value[: limit - 1] + "…"


def _fail(origin: str | None, name: str, expected: str, value: Any,
          error: type[InvalidInputError] = InvalidInputError) -> InvalidInputError:
    where = f"{origin}: " if origin else ""
    return error(f"{where}{name} must be {expected}, got {shown(value)}")


def finite(value: Any, name: str, *, origin: str | None = None, unit: str = "") -> float:
    """``value`` as a finite float (numbers and numeric strings; not bools, NaN or infinity)."""
    described = f"a finite number{' of ' + unit if unit else ''}"
    if isinstance(value, bool):
        raise _fail(origin, name, described, value)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise _fail(origin, name, described, value) from None
    if not math.isfinite(number):
        raise _fail(origin, name, described, value)
    return number


def _plain(number: float) -> str:
    """A bound for people: ``100,000,000,000,000`` or ``0.001``, never e-notation."""
    if float(number).is_integer():
        return f"{int(number):,}"
    return f"{number:,f}".rstrip("0")


def _interval(low: float | None, high: float | None, low_open: bool) -> str:
    left = "(" if low_open else "["
    lo = "-inf" if low is None else _plain(low)
    hi = "inf" if high is None else _plain(high)
    return f"{left}{lo}, {hi}]"


def bounded(
    value: Any, name: str, *, low: float | None = None, high: float | None = None,
    low_open: bool = False, origin: str | None = None, unit: str = "",
) -> float:
    """A finite number in ``[low, high]`` (``(low, high]`` with ``low_open``).

    ``high`` defaults to the documented bound of ``name`` in :data:`BOUNDS`, if any.
    """
    number = finite(value, name, origin=origin, unit=unit)
    limit = high if high is not None else BOUNDS.get(name, (None, ""))[0]
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = limit is not None and number > limit
    if too_low or too_high:
        expected = (f"a number{' of ' + unit if unit else ''} in "
                    f"{_interval(low, limit, low_open)}")
        if too_high and name in BOUNDS and high is None:
            expected += f" ({BOUNDS[name][1]} is surely a mistake)"
        raise _fail(origin, name, expected, value)
    return number


def positive(value: Any, name: str, *, origin: str | None = None, unit: str = "",
             high: float | None = None) -> float:
    """A finite number > 0 (and within the documented bound of ``name``)."""
    return bounded(value, name, low=0.0, low_open=True, high=high, origin=origin, unit=unit)


def fraction(value: Any, name: str, *, origin: str | None = None,
             upper_open: bool = False) -> float:
    """A finite number in [0, 1] (or [0, 1) with ``upper_open``)."""
    number = bounded(value, name, low=0.0, high=1.0, origin=origin)
    if upper_open and number >= 1.0:
        raise _fail(origin, name, "a fraction in [0, 1)", value)
    return number


def pue(value: Any, *, origin: str | None = None) -> float:
    """A power usage effectiveness: a finite number in [1, 3]."""
    return bounded(value, "pue", low=1.0, origin=origin)


def count(value: Any, name: str, *, origin: str | None = None, low: int = 0,
          high: int | None = None) -> int:
    """A whole number in ``[low, high]`` (``3.0`` is accepted, ``2.5`` and ``"1e999"`` are not).

    ``high`` defaults to the documented bound of ``name`` in :data:`BOUNDS`, else
    :data:`MAX_SQL_INTEGER`.
    """
    if high is None:
        high = int(BOUNDS[name][0]) if name in BOUNDS else MAX_SQL_INTEGER
    expected = f"a whole number in [{low:,}, {high:,}]"
    if isinstance(value, bool):
        raise _fail(origin, name, expected, value)
    if isinstance(value, int):
        number = value
    else:
        try:
            as_float = float(value)
        except (TypeError, ValueError, OverflowError):
            raise _fail(origin, name, expected, value) from None
        if not math.isfinite(as_float) or not as_float.is_integer():
            raise _fail(origin, name, expected, value)
        text_value = str(value).strip()
        number = int(text_value) if text_value.lstrip("+-").isdigit() else int(as_float)
    if not low <= number <= high:
        if number > high and name in BOUNDS and high == int(BOUNDS[name][0]):
            expected += f" ({BOUNDS[name][1]} is surely a mistake)"
        raise _fail(origin, name, expected, value)
    return number


def text(value: Any, name: str, *, origin: str | None = None, max_length: int = 200,
         allow_empty: bool = False) -> str:
    """A printable one-line string: no control characters, at most ``max_length`` characters."""
    expected = (f"{'a' if allow_empty else 'a non-empty'} line of text of at most "
                f"{max_length:,} printable characters")
    if not isinstance(value, str):
        raise _fail(origin, name, expected, value)
    stripped = value.strip()
    if (not stripped and not allow_empty) or len(value) > max_length:
        raise _fail(origin, name, expected, value)
    if any(unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") for c in value):
        raise _fail(origin, name, expected, value)
    return stripped


def path_for_reading(path: str | os.PathLike[str], what: str) -> Path:
    """An existing, readable regular file, or one clear line naming ``path``."""
    p = Path(path)
    try:
        exists, is_dir = p.exists(), p.is_dir()
    except (OSError, ValueError) as e:  # a name too long, a NUL byte
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise InvalidInputError(f"{what} {shown(str(p))} cannot be read: {reason}") from None
    if not exists:
        raise InvalidInputError(f"{what} {p} does not exist")
    if is_dir:
        raise InvalidInputError(f"{what} {p} is a directory, expected a file")
    if not os.access(p, os.R_OK):
        raise InvalidInputError(f"{what} {p} is not readable (check its permissions)")
    return p


def read_text(path: str | os.PathLike[str], what: str, *, max_bytes: int = 256 * 2**20) -> str:
    """The UTF-8 text of a user's file; a binary, non-UTF-8, huge or unreadable file is an error."""
    p = path_for_reading(path, what)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise InvalidInputError(
                f"{what} {p} is {size:,} bytes, more than the {max_bytes:,} accepted")
        data = p.read_bytes()
    except OSError as e:
        raise InvalidInputError(f"{what} {p} cannot be read: {e.strerror or e}") from None
    if b"\x00" in data:
        raise InvalidInputError(f"{what} {p} is a binary file, expected UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidInputError(
            f"{what} {p} is not UTF-8 text (byte {e.start:,} is {data[e.start]:#04x}); "
            "save it as UTF-8") from None


def path_for_writing(path: str | os.PathLike[str], what: str) -> Path:
    """A destination that can be written: not a directory, its folder exists and is writable.

    Checked before the work starts, so a bad ``-o`` fails at once, not after an hour of training.
    """
    p = Path(path)
    try:
        is_dir = p.is_dir()
        p.exists()
    except (OSError, ValueError) as e:  # a name too long, a NUL byte
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise InvalidInputError(f"{what} {shown(str(p))} cannot be written: {reason}") from None
    if is_dir:
        raise InvalidInputError(f"{what} {p} is a directory, expected a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InvalidInputError(f"{what} {p}: folder {parent} does not exist")
    if p.exists() and not os.access(p, os.W_OK):
        raise InvalidInputError(f"{what} {p} is not writable (check its permissions)")
    if not p.exists() and not os.access(parent, os.W_OK):
        raise InvalidInputError(f"{what} {p}: folder {parent} is not writable")
    return p


def url(value: Any, name: str, *, schemes: tuple[str, ...], origin: str | None = None) -> str:
    """A URL whose scheme is one of ``schemes`` (``http``, ``postgresql``, ...) with a host."""
    expected = f"a URL starting with {' or '.join(s + '://' for s in schemes)}"
    candidate = text(value, name, origin=origin, max_length=2_000)
    parts = urlsplit(candidate)
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme not in schemes or not parts.netloc:
        # never echo the URL itself: it may hold a password
        where = f"{origin}: " if origin else ""
        got = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        raise InvalidInputError(f"{where}{name} must be {expected}, got a URL with {got}")
    return candidate
