"""Units at the edges, provenance, and the :class:`Range` value type.

Inside wattlm energy is in joules (J), time in seconds (s), power in watts (W), emissions in
grams CO2e (g), water in litres (L). Convert only where numbers enter or leave, with these helpers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from wattlm.errors import InvalidInputError

__all__ = [
    "J_PER_KWH",
    "Provenance",
    "Range",
    "g_to_kg",
    "j_to_kwh",
    "j_to_wh",
    "kg_to_g",
    "kwh_to_j",
]

J_PER_KWH = 3.6e6


def j_to_kwh(energy_j: float) -> float:
    """Joules to kilowatt-hours."""
    return energy_j / J_PER_KWH


def j_to_wh(energy_j: float) -> float:
    """Joules to watt-hours."""
    return energy_j / (J_PER_KWH / 1000.0)


def kwh_to_j(energy_kwh: float) -> float:
    """Kilowatt-hours to joules."""
    return energy_kwh * J_PER_KWH


def g_to_kg(mass_g: float) -> float:
    """Grams to kilograms."""
    return mass_g / 1000.0


def kg_to_g(mass_kg: float) -> float:
    """Kilograms to grams."""
    return mass_kg * 1000.0


class Provenance(str, Enum):
    """Where a figure comes from, strongest first.

    ``measured``: a hardware energy counter; ``integrated``: sampled power, integrated;
    ``modelled``: utilisation x TDP or a memory model; ``estimated``: the analytic estimator;
    ``assumed``: a default the user did not set.
    """

    MEASURED = "measured"
    INTEGRATED = "integrated"
    MODELLED = "modelled"
    ESTIMATED = "estimated"
    ASSUMED = "assumed"

    @property
    def rank(self) -> int:
        """0 for the strongest (measured) to 4 for the weakest (assumed)."""
        return list(Provenance).index(self)

    @staticmethod
    def weakest(*items: Provenance | None) -> Provenance | None:
        """The weakest of several provenances (a sum is only as good as its weakest part)."""
        present = [p for p in items if p is not None]
        return max(present, key=lambda p: p.rank) if present else None

    def __str__(self) -> str:
        return self.value


def _check_number(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise InvalidInputError(f"Range {name} must be a finite number, got {value!r}")
    return value


@dataclass(frozen=True)
class Range:
    """An uncertain figure: ``low <= central <= high``, with an optional provenance.

    Arithmetic with numbers and other ranges propagates bounds for non-negative quantities
    (products of lows give the low) and keeps the weakest provenance.
    """

    low: float
    central: float
    high: float
    provenance: Provenance | None = None

    def __post_init__(self) -> None:
        low = _check_number("low", self.low)
        central = _check_number("central", self.central)
        high = _check_number("high", self.high)
        tolerance = 1e-9 * max(abs(low), abs(high), 1e-300)
        if not (low - tolerance <= central <= high + tolerance):
            raise InvalidInputError(
                f"Range needs low <= central <= high, got {low!r}, {central!r}, {high!r}"
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "central", central)
        object.__setattr__(self, "high", high)
        if self.provenance is not None and not isinstance(self.provenance, Provenance):
            object.__setattr__(self, "provenance", Provenance(self.provenance))

    @classmethod
    def exact(cls, value: float, provenance: Provenance | None = None) -> Range:
        """A range with no spread."""
        return cls(value, value, value, provenance)

    @classmethod
    def around(
        cls, central: float, low_factor: float, high_factor: float,
        provenance: Provenance | None = None,
    ) -> Range:
        """``central`` with bounds ``central * low_factor`` and ``central * high_factor``."""
        return cls(central * low_factor, central, central * high_factor, provenance)

    @property
    def spread(self) -> float:
        """``high / low`` (infinite when low is 0 and high is not)."""
        if self.low == 0:
            return 1.0 if self.high == 0 else math.inf
        return self.high / self.low

    def contains(self, value: float) -> bool:
        """Whether ``low <= value <= high``."""
        return self.low <= value <= self.high

    def with_provenance(self, provenance: Provenance | None) -> Range:
        """The same bounds with another provenance."""
        return Range(self.low, self.central, self.high, provenance)

    def map(self, func: Any) -> Range:
        """Apply a monotonic increasing function to each bound."""
        return Range(func(self.low), func(self.central), func(self.high), self.provenance)

    def to_dict(self) -> dict[str, Any]:
        """``{"low":..., "central":..., "high":..., "provenance":...}`` for JSON."""
        out: dict[str, Any] = {"low": self.low, "central": self.central, "high": self.high}
        if self.provenance is not None:
            out["provenance"] = self.provenance.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Range:
        """Inverse of :meth:`to_dict`."""
        prov = data.get("provenance")
        return cls(data["low"], data["central"], data["high"], Provenance(prov) if prov else None)

    @staticmethod
    def _coerce(other: Range | float) -> Range:
        return other if isinstance(other, Range) else Range.exact(float(other))

    def __add__(self, other: Range | float) -> Range:
        o = self._coerce(other)
        return Range(self.low + o.low, self.central + o.central, self.high + o.high,
                     Provenance.weakest(self.provenance, o.provenance))

    __radd__ = __add__

    def __mul__(self, other: Range | float) -> Range:
        o = self._coerce(other)
        products = [a * b for a in (self.low, self.high) for b in (o.low, o.high)]
        return Range(min(products), self.central * o.central, max(products),
                     Provenance.weakest(self.provenance, o.provenance))

    __rmul__ = __mul__

    def __truediv__(self, other: Range | float) -> Range:
        o = self._coerce(other)
        if o.low <= 0 <= o.high:
            raise InvalidInputError("cannot divide a Range by a range that contains zero")
        return self * Range(1.0 / o.high, 1.0 / o.central, 1.0 / o.low, o.provenance)

    def __format__(self, spec: str) -> str:
        spec = spec or ".3g"
        return f"{self.central:{spec}} [{self.low:{spec}}–{self.high:{spec}}]"

    def __str__(self) -> str:
        return format(self)
