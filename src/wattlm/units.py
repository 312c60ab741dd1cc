"""Units at the edges, provenance, and the :class:`Range` value type.

Inside wattlm energy is in joules (J), time in seconds (s), power in watts (W), emissions in
grams CO2e (g), water in litres (L). Convert only where numbers enter or leave, with these helpers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Self, TypeVar

from wattlm.errors import InvalidInputError

__all__ = [
    "G_PER_KG",
    "J_PER_KWH",
    "M_PER_KM",
    "Energy",
    "Mass",
    "Provenance",
    "Quantity",
    "Range",
    "Volume",
    "g_to_kg",
    "j_to_kwh",
    "j_to_wh",
    "wh_to_j",
    "wh_to_kwh",
    "kg_to_g",
    "kwh_to_j",
]

J_PER_KWH = 3.6e6
G_PER_KG = 1000.0
M_PER_KM = 1000.0


def j_to_kwh(energy_j: float) -> float:
    """Joules to kilowatt-hours."""
    return energy_j / J_PER_KWH


def j_to_wh(energy_j: float) -> float:
    """Joules to watt-hours."""
    return energy_j / (J_PER_KWH / 1000.0)


def wh_to_j(energy_wh: float) -> float:
    """Watt-hours to joules."""
    return energy_wh * 3600.0


def wh_to_kwh(energy_wh: float) -> float:
    """Watt-hours (e.g. device-hours x watts) to kilowatt-hours."""
    return energy_wh / 1000.0


def kwh_to_j(energy_kwh: float) -> float:
    """Kilowatt-hours to joules."""
    return energy_kwh * J_PER_KWH


def g_to_kg(mass_g: float) -> float:
    """Grams to kilograms."""
    return mass_g / G_PER_KG


def kg_to_g(mass_kg: float) -> float:
    """Kilograms to grams."""
    return mass_kg * G_PER_KG


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
    def exact(cls, value: float, provenance: Provenance | None = None) -> Self:
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


_Q = TypeVar("_Q", bound="Quantity")


class Quantity(Range):
    """A :class:`Range` of one physical dimension, held in wattlm's internal unit.

    Adding or subtracting another dimension raises; scaling by a number or an untyped
    :class:`Range` keeps the dimension; a ratio of two equal dimensions is a plain Range.
    Views in the units people use (``.kwh``, ``.kg``, ``.t``) are plain Ranges.
    """

    dimension: ClassVar[str] = ""
    unit: ClassVar[str] = ""

    @classmethod
    def of(cls: type[_Q], value: Range | float) -> _Q:
        """A quantity from a Range or a number given in the internal unit."""
        r = value if isinstance(value, Range) else Range.exact(float(value))
        if isinstance(r, Quantity) and type(r) is not cls:
            raise InvalidInputError(f"cannot use a {r.dimension} as a {cls.dimension}")
        return cls(r.low, r.central, r.high, r.provenance)

    def _same(self, other: Range | float) -> Range | float:
        if isinstance(other, Quantity) and type(other) is not type(self):
            raise InvalidInputError(
                f"cannot combine a {self.dimension} ({self.unit}) with a {other.dimension} "
                f"({other.unit})"
            )
        return other

    def _wrap(self: _Q, r: Range) -> _Q:
        return type(self)(r.low, r.central, r.high, r.provenance)

    def __add__(self: _Q, other: Range | float) -> _Q:
        return self._wrap(Range.__add__(self, self._same(other)))

    __radd__ = __add__

    def __mul__(self, other: Range | float) -> Any:
        product = Range.__mul__(self, other)
        return product if isinstance(other, Quantity) else self._wrap(product)

    __rmul__ = __mul__

    def __truediv__(self, other: Range | float) -> Any:
        r = Range.__truediv__(self, self._same(other))
        if isinstance(other, Quantity):
            return Range(r.low, r.central, r.high, r.provenance)
        return self._wrap(r)

    def scaled(self, factor: float) -> Range:
        """The value in another unit, as a plain Range (``factor`` internal units per unit)."""
        return Range(self.low / factor, self.central / factor, self.high / factor,
                     self.provenance)

    def to_dict(self) -> dict[str, Any]:
        """The Range's dict plus ``unit`` (the internal unit, e.g. ``"J"``)."""
        return {**super().to_dict(), "unit": self.unit}

    def __format__(self, spec: str) -> str:
        if spec:
            return super().__format__(spec)
        from wattlm._format import format_range

        return format_range(self, self.dimension)

    def __str__(self) -> str:
        return format(self)


class Energy(Quantity):
    """Energy in joules; views ``.wh``, ``.kwh``, ``.mwh``."""

    dimension = "energy"
    unit = "J"

    @property
    def j(self) -> Range:
        """In joules (a plain Range)."""
        return self.scaled(1.0)

    @property
    def wh(self) -> Range:
        """In watt-hours."""
        return self.scaled(3600.0)

    @property
    def kwh(self) -> Range:
        """In kilowatt-hours."""
        return self.scaled(J_PER_KWH)

    @property
    def mwh(self) -> Range:
        """In megawatt-hours."""
        return self.scaled(J_PER_KWH * 1000.0)


class Mass(Quantity):
    """Mass (CO2-equivalent) in grams; views ``.kg``, ``.t``."""

    dimension = "mass"
    unit = "g"

    @property
    def g(self) -> Range:
        """In grams (a plain Range)."""
        return self.scaled(1.0)

    @property
    def kg(self) -> Range:
        """In kilograms."""
        return self.scaled(1000.0)

    @property
    def t(self) -> Range:
        """In tonnes."""
        return self.scaled(1e6)


class Volume(Quantity):
    """Volume (water) in litres; views ``.ml``, ``.m3``."""

    dimension = "volume"
    unit = "L"

    @property
    def l(self) -> Range:  # noqa: E743
        """In litres (a plain Range)."""
        return self.scaled(1.0)

    @property
    def ml(self) -> Range:
        """In millilitres."""
        return self.scaled(1e-3)

    @property
    def m3(self) -> Range:
        """In cubic metres."""
        return self.scaled(1000.0)
