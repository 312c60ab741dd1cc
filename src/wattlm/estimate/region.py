"""How much an estimate depends on the grid: one warning (W803) when no region is given."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from wattlm._caches import cached
from wattlm.errors import EstimateWarning, warn

if TYPE_CHECKING:  # pragma: no cover
    from wattlm.records import Footprint

__all__ = [
    "HIGH_G_PER_KWH",
    "LOW_G_PER_KWH",
    "one_region_warning",
    "warn_region_dependence",
]

#: A low- and a high-carbon grid for the sensitivity statement (gCO2e/kWh, orders of magnitude
#: of national annual averages: hydro/nuclear-dominated grids ~30, coal-dominated ~800).
LOW_G_PER_KWH = 30.0
HIGH_G_PER_KWH = 800.0


@contextmanager
def one_region_warning(region: str | None, intensity: float | None) -> Iterator[None]:
    """Wrap an estimate's accounting call so that one warning is given without a region.

    The accounting's own W201 is replaced by this module's W803, which also says how much the
    answer depends on the grid; the footprint's assumptions still record the world default.
    """
    if region is not None or intensity is not None:
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="W201")
        yield


@cached
def _state() -> dict[str, bool]:
    return {"emitted": False}


def warn_region_dependence(fp: Footprint) -> None:
    """Warn once per process that emissions scale with the grid, with the figures at two grids."""
    state = _state()
    if state["emitted"]:
        return
    state["emitted"] = True
    note = fp.assumptions.get("intensity", {})
    world = float(note.get("value", 0.0) or 0.0)
    if world <= 0:
        return
    central = fp.emissions_kg.central
    low, high = central * LOW_G_PER_KWH / world, central * HIGH_G_PER_KWH / world
    from wattlm._format import format_mass
    from wattlm.units import kg_to_g

    warn(f"no region: emissions use the world average {world:.0f} g/kWh "
         f"({format_mass(kg_to_g(central))}) and scale linearly with the grid: "
         f"{format_mass(kg_to_g(low))} at {LOW_G_PER_KWH:.0f} g/kWh, "
         f"{format_mass(kg_to_g(high))} at {HIGH_G_PER_KWH:.0f} g/kWh (a factor "
         f"{HIGH_G_PER_KWH / LOW_G_PER_KWH:.0f} between them); pass region=",
         EstimateWarning, "W803")
