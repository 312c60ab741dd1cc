"""1-5 stars per task from a reference table of energy per 1,000 queries.

The reference for each task is the mean energy per 1,000 queries that Luccioni, Jernite &
Strubell (2024, *Power Hungry Processing*, Table 2) measured for task-specific models on one
A100-SXM4-80GB GPU (node GPU + CPU + RAM, CodeCarbon). The star boundaries are wattlm's choice,
factors of the reference on a log scale: 5 stars at most a quarter of it, 4 at most half,
3 up to twice, 2 up to four times, 1 above. Translation and embedding have no row in that
table; they use the nearest task (summarisation, masked language modelling), marked as proxies.

The table holds for GPU measurements of the whole node. A run that measured no GPU is labelled
CPU-only and not rated against it (rating None, with the reason in ``rating_basis``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from typing import Any

from wattlm._caches import cached

__all__ = ["Rating", "RatingRow", "rate", "reference_rows"]


@dataclass(frozen=True)
class RatingRow:
    """One task's reference and star boundaries (Wh per 1,000 queries)."""

    task: str
    reference_wh: float
    bounds_wh: tuple[float, float, float, float]
    reference_task: str
    hardware: str
    boundary: str
    source: str
    source_row: str


@dataclass(frozen=True)
class Rating:
    """Stars (or None) and what they are comparable with."""

    stars: int | None
    basis: str
    comparable_with: str | None

    def to_dict(self) -> dict[str, Any]:
        """``rating``, ``rating_basis`` and ``rating_comparable_with``."""
        return {"rating": self.stars, "rating_basis": self.basis,
                "rating_comparable_with": self.comparable_with}


@cached
def reference_rows() -> dict[str, RatingRow]:
    """The packaged reference table, by task name."""
    text = resources.files("wattlm.tasks").joinpath("data", "rating_reference.csv").read_text(
        encoding="utf-8")
    rows = {}
    for r in csv.DictReader(text.splitlines(keepends=True)):
        bounds = (float(r["star5_max_wh"]), float(r["star4_max_wh"]), float(r["star3_max_wh"]),
                  float(r["star2_max_wh"]))
        rows[r["task"]] = RatingRow(r["task"], float(r["reference_wh_per_1000"]), bounds,
                                    r["reference_task"], r["hardware"], r["boundary"],
                                    r["source"], r["source_row"])
    return rows


def rate(task: str, energy_per_1000_wh: float | None, device_kinds: set[str]) -> Rating:
    """Stars for ``energy_per_1000_wh`` (all devices) of ``task``.

    Args:
        task: canonical task name.
        energy_per_1000_wh: measured energy per 1,000 queries (Wh), all devices.
        device_kinds: kinds of the measured channels (``{"cpu", "memory"}``, ``{"gpu", ...}``).
    """
    row = reference_rows().get(task)
    if row is None:
        return Rating(None, f"no reference for task {task}", None)
    where = (f"{row.hardware}, {row.boundary}; reference {row.reference_wh:g} Wh per 1,000 "
             f"queries ({row.reference_task}; {row.source})")
    if "gpu" not in device_kinds:
        return Rating(None, "cpu-only measurement: the reference table holds for GPU runs "
                      f"({row.hardware}), so this run is not rated against it", where)
    if energy_per_1000_wh is None:
        return Rating(None, "no energy measured", where)
    stars = 1
    for level, bound in zip((5, 4, 3, 2), row.bounds_wh):
        if energy_per_1000_wh <= bound:
            stars = level
            break
    return Rating(stars, "energy per 1,000 queries (all measured devices) against the "
                  "reference's star boundaries", where)
