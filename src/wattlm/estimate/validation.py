"""Validation of the training estimate against published footprints (``wattlm validate``).

Two modes over ``estimate/data/training_footprints.csv`` (rows copied from published papers with
their source columns, plus ``wl_*`` columns that encode each row's conventions: power basis,
whether PUE is inside, which carbon intensity):

* ``given_hours``: the published device-hours, average power per device, PUE and intensity go
  in; energy and emissions must come out within 2 % of the published values.
* ``from_params``: only parameters, tokens and hardware (plus the row's PUE and intensity, so the
  comparison is like for like); the published energy (or emissions, where no energy is given)
  must fall inside [low, high] for >= 70 % of rows, with median absolute error <= 35 % and
  median high/low <= 3. Cross-validated: each row is estimated with the utilisation curve (and
  its range) fitted without the row's model family (leave one family out).
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass
from importlib import resources
from typing import Any

from wattlm._caches import cached
from wattlm.errors import DataError
from wattlm.estimate.training import estimate_training

__all__ = ["TARGETS", "ValidationRow", "training_rows", "validate_training"]

#: The targets of the issue, checked by :func:`validate_training`.
TARGETS = {
    "given_hours_max_abs_error_pct": 2.0,
    "from_params_median_abs_error_pct": 35.0,
    "from_params_min_inside_fraction": 0.70,
    "from_params_max_median_spread": 3.0,
}


@dataclass(frozen=True)
class ValidationRow:
    """One published footprint with the conventions the estimator needs to reproduce it."""

    row_id: str
    model: str
    hardware: str
    device_hours: float
    power_w: float
    pue: float
    intensity_g_per_kwh: float
    energy_kwh: float | None
    emissions_kg: float | None
    params: float | None
    active_params: float | None
    tokens: float | None
    modes: tuple[str, ...]
    note: str
    source: str
    family: str = ""


def _opt(value: str) -> float | None:
    return float(value) if value.strip() else None


@cached
def training_rows() -> tuple[ValidationRow, ...]:
    """Return the packaged published training footprints."""
    text = resources.files("wattlm.estimate").joinpath(
        "data", "training_footprints.csv").read_text("utf-8")
    out = []
    for r in csv.DictReader(text.splitlines()):
        try:
            out.append(ValidationRow(
                row_id=r["row_id"], model=r["model"], hardware=r["wl_hardware"],
                device_hours=float(r["wl_device_hours"]), power_w=float(r["wl_power_w"]),
                pue=float(r["wl_pue"]), intensity_g_per_kwh=float(r["wl_intensity_g_per_kwh"]),
                energy_kwh=_opt(r["wl_energy_kwh"]), emissions_kg=_opt(r["wl_emissions_kg"]),
                params=_opt(r["wl_params"]), active_params=_opt(r["wl_active_params"]),
                tokens=_opt(r["wl_tokens"]), modes=tuple(r["wl_modes"].split(";")),
                note=r["wl_note"], source=f"{r['source']} ({r['source_locator']})",
                family=r.get("wl_family") or r["row_id"],
            ))
        except (KeyError, ValueError) as e:
            raise DataError(f"training_footprints.csv row {r.get('row_id')!r}: {e}") from e
    return tuple(out)


def _error_pct(estimated: float, published: float) -> float:
    return 100.0 * (estimated - published) / published


def _given_hours(row: ValidationRow) -> dict[str, Any]:
    est = estimate_training(hardware=row.hardware, device_hours=row.device_hours,
                            power_w=row.power_w, pue=row.pue,
                            intensity=row.intensity_g_per_kwh)
    out: dict[str, Any] = {"row_id": row.row_id, "model": row.model, "hardware": row.hardware,
                           "source": row.source}
    errors = []
    for key, published, estimated in (
        ("energy_kwh", row.energy_kwh, est.energy_kwh.central),
        ("emissions_kg", row.emissions_kg, est.emissions_kg.central),
    ):
        out[f"published_{key}"] = published
        out[f"estimated_{key}"] = estimated
        if published is not None:
            err = _error_pct(estimated, published)
            out[f"{key}_error_pct"] = err
            errors.append(abs(err))
    out["max_abs_error_pct"] = max(errors)
    out["ok"] = out["max_abs_error_pct"] <= TARGETS["given_hours_max_abs_error_pct"]
    return out


def _from_params(row: ValidationRow, rows: tuple[ValidationRow, ...] = ()) -> dict[str, Any]:
    """One row estimated with the curve fitted on the other families only (when ``rows``)."""
    from wattlm.estimate.utilisation import using_rows

    others = [r for r in rows if r.family != row.family and "from_params" in r.modes]
    if others:
        with using_rows(others):
            return _from_params_estimate(row)
    return _from_params_estimate(row)


def _from_params_estimate(row: ValidationRow) -> dict[str, Any]:
    est = estimate_training(params=row.params, active_params=row.active_params,
                            tokens=row.tokens, hardware=row.hardware, pue=row.pue,
                            intensity=row.intensity_g_per_kwh)
    published: float | None
    if row.energy_kwh is not None:
        quantity, published, estimate = "energy_kwh", row.energy_kwh, est.energy_kwh
    else:
        quantity, published, estimate = "emissions_kg", row.emissions_kg, est.emissions_kg
    if published is None:
        raise DataError(f"training_footprints.csv row {row.row_id}: no published value")
    return {
        "row_id": row.row_id, "model": row.model, "hardware": row.hardware,
        "family": row.family, "quantity": quantity, "published": published, "low": estimate.low,
        "central": estimate.central, "high": estimate.high,
        "error_pct": _error_pct(estimate.central, published),
        "inside": estimate.low <= published <= estimate.high, "spread": estimate.spread,
        "published_device_hours": row.device_hours,
        "estimated_device_hours": est.device_hours.central, "source": row.source,
    }


def validate_training() -> dict[str, Any]:
    """Run both modes over every packaged row.

    Returns:
        ``{"given_hours": [...], "from_params": [...], "summary": {...}}``; the summary holds
        each target, the measured value, its unit (``%``, ``fraction`` or ``ratio``) and
        ``pass``.
    """
    rows = training_rows()
    given = [_given_hours(r) for r in rows if "given_hours" in r.modes]
    from_params = [_from_params(r, rows) for r in rows if "from_params" in r.modes]
    max_err = max(g["max_abs_error_pct"] for g in given)
    median_err = statistics.median(abs(f["error_pct"]) for f in from_params)
    inside = sum(1 for f in from_params if f["inside"]) / len(from_params)
    spread = statistics.median(f["spread"] for f in from_params)
    checks = [
        {"target": "given hours: every |error| <= 2 %", "value": max_err, "unit": "%",
         "pass": max_err <= TARGETS["given_hours_max_abs_error_pct"]},
        {"target": "from params (cross-validated): median |error| <= 35 %", "value": median_err,
         "unit": "%",
         "pass": median_err <= TARGETS["from_params_median_abs_error_pct"]},
        {"target": "from params (cross-validated): >= 70 % inside [low, high]", "value": inside,
         "unit": "fraction",
         "pass": inside >= TARGETS["from_params_min_inside_fraction"]},
        {"target": "from params (cross-validated): median high/low <= 3", "value": spread,
         "unit": "ratio",
         "pass": spread <= TARGETS["from_params_max_median_spread"]},
    ]
    summary = {
        "given_hours_rows": len(given), "from_params_rows": len(from_params),
        "given_hours_max_abs_error_pct": max_err,
        "from_params_median_abs_error_pct": median_err,
        "from_params_inside_fraction": inside, "from_params_median_spread": spread,
        "checks": checks, "pass": all(c["pass"] for c in checks),
    }
    return {"given_hours": given, "from_params": from_params, "summary": summary}
