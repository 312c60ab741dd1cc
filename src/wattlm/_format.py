"""The one way wattlm prints a number for people.

Every figure a person reads (CLI tables, reports, dashboard, plots, equivalents, logs) goes
through these functions: the SI prefix is chosen per value, three significant digits are kept,
thousands are separated, and a range is printed in the unit of its central value, e.g.
``394 t (307–683 t)``. E-notation never appears. JSON output does not use this module: it keeps
base units (J, g, L, s, W) at full precision.

Values arrive in wattlm's internal units: energy in J, mass in g, volume in L, power in W,
time in s.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Protocol

__all__ = [
    "DIMENSIONS",
    "format_count",
    "format_duration",
    "format_energy",
    "format_length",
    "format_mass",
    "format_number",
    "format_power",
    "format_quantity",
    "format_range",
    "format_volume",
    "pick_unit",
    "significant",
]

MISSING = "–"

# Each dimension: (factor from the internal unit, symbol), smallest first.
_ENERGY_WH = ((3.6, "mWh"), (3600.0, "Wh"), (3.6e6, "kWh"), (3.6e9, "MWh"), (3.6e12, "GWh"),
              (3.6e15, "TWh"))
_ENERGY_J = ((1e-3, "mJ"), (1.0, "J"), (1e3, "kJ"), (1e6, "MJ"), (1e9, "GJ"), (1e12, "TJ"))
_MASS = ((1e-3, "mg"), (1.0, "g"), (1e3, "kg"), (1e6, "t"), (1e9, "kt"), (1e12, "Mt"))
_VOLUME = ((1e-3, "mL"), (1.0, "L"), (1e3, "m³"))
_POWER = ((1e-3, "mW"), (1.0, "W"), (1e3, "kW"), (1e6, "MW"), (1e9, "GW"))
_DURATION = ((1e-3, "ms"), (1.0, "s"), (60.0, "min"), (3600.0, "h"), (86400.0, "d"))
_LENGTH = ((1e-6, "µm"), (1e-3, "mm"), (1.0, "m"), (1e3, "km"))
_FLOP = tuple((10.0 ** (3 * i), f"{p}FLOP") for i, p in enumerate(("", "k", "M", "G", "T", "P",
                                                                     "E", "Z", "Y")))
_PLAIN = ((1.0, ""),)

DIMENSIONS: dict[str, tuple[tuple[float, str], ...]] = {
    "energy": _ENERGY_WH,
    "energy_j": _ENERGY_J,
    "mass": _MASS,
    "volume": _VOLUME,
    "power": _POWER,
    "duration": _DURATION,
    "length": _LENGTH,
    "flop": _FLOP,
    "number": _PLAIN,
}


class _RangeLike(Protocol):
    @property
    def low(self) -> float: ...
    @property
    def central(self) -> float: ...
    @property
    def high(self) -> float: ...


def significant(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits, fixed-point, thousands separated.

    >>> significant(490864), significant(0.00332), significant(12.0)
    ('491,000', '0.00332', '12.0')
    """
    value = float(value)  # numpy scalars (matplotlib ticks) repr as np.float64(...)
    if not math.isfinite(value):
        return MISSING
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = digits - 1 - magnitude
    rounded = round(value, decimals)
    # rounding can carry into a new magnitude (999.6 -> 1,000): one decimal fewer
    if rounded != 0 and math.floor(math.log10(abs(rounded))) > magnitude:
        decimals -= 1
    decimals = max(decimals, 0)
    return f"{Decimal(repr(rounded)):,.{decimals}f}"


def _pick(value: float, scale: tuple[tuple[float, str], ...]) -> tuple[float, str]:
    """The largest unit in which ``|value|`` is at least 1 (the smallest one otherwise)."""
    chosen = scale[0]
    for factor, symbol in scale:
        if abs(value) >= factor * (1 - 5e-4):
            chosen = (factor, symbol)
    return chosen


def pick_unit(largest: float, dimension: str) -> tuple[float, str]:
    """``(factor, symbol)`` of the unit that prints ``largest`` (internal unit) best.

    For axes and table columns that share one unit: divide every value by ``factor``.
    """
    return _pick(largest, DIMENSIONS[dimension]) if largest else DIMENSIONS[dimension][
        1 if len(DIMENSIONS[dimension]) > 1 else 0]


def _join(number: str, symbol: str) -> str:
    return f"{number} {symbol}" if symbol else number


def format_quantity(value: float | None, dimension: str, digits: int = 3) -> str:
    """``value`` (internal unit of ``dimension``) with its best unit: ``1.23 kWh``, ``394 t``.

    ``dimension`` is one of :data:`DIMENSIONS`; None or NaN print as ``–``.
    """
    if value is None or not math.isfinite(value):
        return MISSING
    if value == 0:
        return _join("0", DIMENSIONS[dimension][1 if len(DIMENSIONS[dimension]) > 1 else 0][1])
    factor, symbol = _pick(value, DIMENSIONS[dimension])
    return _join(significant(value / factor, digits), symbol)


def format_range(value: _RangeLike | None, dimension: str, digits: int = 3) -> str:
    """A range in the unit of its central value: ``394 t (307–683 t)``.

    A range without spread prints as its central value alone.
    """
    if value is None:
        return MISSING
    central = format_quantity(value.central, dimension, digits)
    if value.low == value.high:
        return central
    scale = DIMENSIONS[dimension]
    factor, symbol = _pick(value.central, scale) if value.central else _pick(value.high, scale)
    low = significant(value.low / factor, digits)
    high = significant(value.high / factor, digits)
    return f"{central} ({low}–{_join(high, symbol)})"


def format_energy(energy_j: float | None, digits: int = 3) -> str:
    """Energy given in J, printed in mWh … TWh (``8.19e-07 kWh`` becomes ``0.819 mWh``)."""
    return format_quantity(energy_j, "energy", digits)


def format_mass(mass_g: float | None, digits: int = 3) -> str:
    """Mass (CO2e) given in g, printed in mg, g, kg, t, kt or Mt."""
    return format_quantity(mass_g, "mass", digits)


def format_volume(volume_l: float | None, digits: int = 3) -> str:
    """Volume given in L, printed in mL, L or m³."""
    return format_quantity(volume_l, "volume", digits)


def format_power(power_w: float | None, digits: int = 3) -> str:
    """Power given in W, printed in mW … GW."""
    return format_quantity(power_w, "power", digits)


def format_duration(duration_s: float | None, digits: int = 3) -> str:
    """Time given in s, printed in ms, s, min, h or d."""
    return format_quantity(duration_s, "duration", digits)


def format_length(length_m: float | None, digits: int = 3) -> str:
    """Length given in m, printed in µm, mm, m or km (``3.32e-06 km`` becomes ``3.32 mm``)."""
    return format_quantity(length_m, "length", digits)


def format_number(value: float | None, digits: int = 3) -> str:
    """A plain number, three significant digits, thousands separated, never e-notation."""
    return format_quantity(value, "number", digits)


def format_count(value: float | None) -> str:
    """A count people read as words past a million: ``12,345``, ``2.00 trillion``."""
    if value is None or not math.isfinite(value):
        return MISSING
    for factor, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(value) >= factor:
            return f"{significant(value / factor)} {word}"
    return f"{round(value):,}" if float(value).is_integer() else significant(value)
