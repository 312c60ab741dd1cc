"""Embodied (manufacturing) emissions of accelerators, amortised over their service life.

``embodied_kg = devices * (device_kg + host_share_kg) * duration_s / lifetime_s``

``device_kg`` (low, central, high) comes from the hardware catalogue
(:func:`wattlm.catalog.hardware.get_hardware`); ``host_share_kg`` is the non-accelerator part of
a GPU server divided by its accelerators (``host_embodied.csv``), always added: the reported
scope is "accelerator + its share of the server". The lifetime is 3 to 5 years, central 4.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from wattlm._caches import cached
from wattlm.carbon._tables import parse_float, read_table
from wattlm.errors import InvalidInputError
from wattlm.units import Provenance, Range

__all__ = [
    "LIFETIME_YEARS",
    "SECONDS_PER_YEAR",
    "EmbodiedShare",
    "embodied_share",
    "host_share_kg",
]

SECONDS_PER_YEAR = 365.25 * 86_400.0
# 3 years: EcoLogits (2025); 4 years: Morrison et al. (2025, OLMo); 5 years: EcoLogits v1
LIFETIME_YEARS = Range(3.0, 4.0, 5.0, Provenance.ASSUMED)
LIFETIME_SOURCE = ("3 years (EcoLogits, 2025), 4 years (Morrison et al. 2025, OLMo), "
                   "5 years (EcoLogits v1); central 4")


@dataclass(frozen=True)
class EmbodiedShare:
    """Embodied emissions of a run and the figures behind them (for ``assumptions``)."""

    embodied_kg: Range
    assumptions: dict[str, dict[str, Any]]


@cached
def host_share_kg() -> Range:
    """Per-accelerator share of a GPU server's non-accelerator embodied emissions (kg CO2e).

    Low/high: the smallest and largest published server figure divided by its accelerators;
    central: the median.
    """
    table = "host_embodied.csv"
    shares = [parse_float(r["embodied_kg"], table, "embodied_kg")
              / parse_float(r["accelerators_per_server"], table, "accelerators_per_server")
              for r in read_table(table)]
    return Range(min(shares), statistics.median(shares), max(shares), Provenance.ESTIMATED)


def _catalogue_range(hardware: str) -> tuple[Range | None, str, str]:
    """(device embodied Range or None, catalogue name, scope)."""
    from wattlm.catalog.hardware import get_hardware

    item = get_hardware(hardware)
    if item.embodied_kg is None:
        return None, item.name, item.embodied_scope
    low, central, high = item.embodied_low_kg, item.embodied_kg, item.embodied_high_kg
    value = Range(low if low is not None else central, central,
                  high if high is not None else central, Provenance.ESTIMATED)
    return value, item.name, item.embodied_scope


def _per_accelerator(device: Range, scope: str) -> Range:
    """Accelerator plus its share of the host server (the scope wattlm reports).

    The catalogue's figure is for the accelerator board; the host share is added. Where the
    catalogue's scope says a bound is already a whole-server per-GPU share (its text mentions a
    server), that bound is a second published estimate of the reported scope, not a board figure:
    then ``low = min(board.low + host.low, board.high)`` and ``high = board.central +
    host.high``, so no server is counted twice.
    """
    if "server" not in scope.lower():
        return device + host_share_kg()
    board = Range(device.low, device.central, device.central, device.provenance)
    total = board + host_share_kg()
    return Range(min(total.low, device.high), total.central, total.high, total.provenance)


def embodied_share(hardware: str | None, duration_s: float | None,
                   devices: int = 1) -> EmbodiedShare:
    """Manufacturing emissions attributable to a run of ``duration_s`` on ``devices`` devices.

    Without ``hardware`` the result is 0 with an assumption saying embodied is not counted.

    Raises:
        InvalidInputError: ``hardware`` given without a positive ``duration_s``, or
            ``devices`` < 1.
        UnknownNameError: ``hardware`` is not in the catalogue.
    """
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise InvalidInputError(f"devices must be an integer >= 1, got {devices!r}")
    if hardware is None:
        note = {"value": 0.0, "source": "not counted: no hardware given (pass hardware=)",
                "provenance": None}
        return EmbodiedShare(Range.exact(0.0), {"embodied": note})
    if duration_s is None or not 0 <= float(duration_s) < float("inf"):
        raise InvalidInputError(
            f"embodied emissions of {hardware!r} need the run time: pass duration_s >= 0 "
            f"(seconds), got {duration_s!r}")
    device, name, scope = _catalogue_range(hardware)
    lifetime = {"value": LIFETIME_YEARS.central, "low": LIFETIME_YEARS.low,
                "high": LIFETIME_YEARS.high, "unit": "years", "source": LIFETIME_SOURCE,
                "provenance": Provenance.ASSUMED.value}
    if device is None:
        note = {"value": 0.0, "source": f"not counted: the catalogue has no embodied figure "
                f"for {name}", "provenance": None}
        return EmbodiedShare(Range.exact(0.0), {"embodied": note})
    per_device = _per_accelerator(device, scope)
    fraction = Range.exact(float(duration_s)) / (LIFETIME_YEARS * SECONDS_PER_YEAR)
    total = (per_device * fraction * devices).with_provenance(Provenance.ESTIMATED)
    assumptions: dict[str, dict[str, Any]] = {
        "embodied": {"value": total.central, "low": total.low, "high": total.high,
                     "unit": "kg CO2e", "hardware": name, "devices": devices,
                     "scope": scope, "source": "hardware catalogue",
                     "provenance": Provenance.ESTIMATED.value},
        "device_embodied": {"value": device.central, "low": device.low, "high": device.high,
                            "unit": "kg CO2e per device", "source": f"catalogue: {name}",
                            "provenance": Provenance.ESTIMATED.value},
        "lifetime": lifetime,
    }
    host = host_share_kg()
    assumptions["host_share"] = {
        "value": host.central, "low": host.low, "high": host.high,
        "unit": "kg CO2e per accelerator",
        "source": "carbon/data/host_embodied.csv (BLOOM; Boavizta via EcoLogits)",
        "provenance": Provenance.ESTIMATED.value}
    assumptions["per_accelerator"] = {
        "value": per_device.central, "low": per_device.low, "high": per_device.high,
        "unit": "kg CO2e (accelerator + host share)", "source": "catalogue + host share",
        "provenance": Provenance.ESTIMATED.value}
    return EmbodiedShare(total, assumptions)
