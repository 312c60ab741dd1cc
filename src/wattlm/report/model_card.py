"""The Hugging Face model-card ``co2_eq_emissions`` block (emissions in **grams** CO2e).

The Hub's metadata spec (huggingface.co/docs/hub/model-cards-co2) asks for::

    co2_eq_emissions:
      emissions: number (in grams of CO2)
      source: ...
      training_type: pre-training or fine-tuning
      geographical_location: ...
      hardware_used: ...

``emissions`` is the operational emissions (energy x PUE x grid intensity, central value);
embodied emissions are not part of the Hub field and are given in a YAML comment instead.
The YAML is written without a YAML library (strings are JSON-quoted, which YAML reads as
double-quoted scalars) so the block works without pyyaml.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from decimal import Decimal
from typing import Any

from wattlm._format import format_energy, format_mass, format_number
from wattlm.errors import InvalidInputError, WattlmError
from wattlm.report._data import ReportData, build_report_data
from wattlm.units import kwh_to_j

__all__ = ["TRAINING_TYPES", "co2_block", "co2_eq_emissions", "model_card_yaml", "to_yaml",
           "yaml_number", "yaml_scalar"]

TRAINING_TYPES = ("pre-training", "fine-tuning")


def _location(data: ReportData) -> str | None:
    if not data.region:
        return None
    from wattlm.carbon.intensity import resolve_region

    try:
        grid = resolve_region(data.region)
    except WattlmError:  # an unknown region: the code alone is still a location
        return data.region
    return grid.name if grid.name == grid.code else f"{grid.name} ({grid.code})"


def _hardware(data: ReportData) -> str | None:
    if data.devices:
        counts = Counter(str(d.get("model") or d["name"]) for d in data.devices)
        return ", ".join(f"{n} x {name}" if n > 1 else name for name, n in counts.items())
    return data.hardware if data.hardware and data.hardware != "-" else None


def co2_block(
    emissions_g: float,
    *,
    source: str,
    training_type: str | None = None,
    geographical_location: str | None = None,
    hardware_used: str | None = None,
) -> dict[str, Any]:
    """The checked ``co2_eq_emissions`` mapping from grams; unknown (None) keys are left out.

    Raises:
        InvalidInputError: negative or non-finite grams, or an unknown ``training_type``.
    """
    if not math.isfinite(emissions_g) or emissions_g < 0:
        raise InvalidInputError(f"emissions must be a finite number of grams >= 0, "
                                f"got {emissions_g!r}")
    if training_type is not None and training_type not in TRAINING_TYPES:
        raise InvalidInputError(f"training_type must be one of {', '.join(TRAINING_TYPES)}, "
                                f"got {training_type!r}")
    block: dict[str, Any] = {
        "emissions": float(f"{float(emissions_g):.6g}"),
        "source": source,
        "training_type": training_type,
        "geographical_location": geographical_location,
        "hardware_used": hardware_used,
    }
    return {k: v for k, v in block.items() if v is not None}


def co2_eq_emissions(
    subject: Any,
    *,
    training_type: str | None = None,
    source: str | None = None,
    geographical_location: str | None = None,
    hardware_used: str | None = None,
) -> dict[str, Any]:
    """The ``co2_eq_emissions`` mapping of a run or an estimate.

    Args:
        subject: a :class:`~wattlm.records.RunRecord`, an estimate or a ``ReportData``.
        training_type: ``"pre-training"`` or ``"fine-tuning"`` (omitted when None).
        source: who computed the figure (default: ``"wattlm <version> (measured run 42)"``).
        geographical_location: default: the run's region name.
        hardware_used: default: the run's devices (``"2 x A100, cpu"``) or the estimate's
            hardware.

    Returns:
        ``{"emissions": grams, "source": ..., ...}``; keys whose value is unknown are left out.

    Raises:
        InvalidInputError: ``training_type`` is not one of :data:`TRAINING_TYPES`.
    """
    data = build_report_data(subject)
    from wattlm import __version__

    what = (f"measured run {data.subject_id}" if data.kind == "measured run"
            else data.kind)
    if data.emissions_g is None:
        raise InvalidInputError(f"the emissions of {what} are not known (it was never "
                                "accounted); re-account it with `wattlm show RUN --region R`")
    grams = data.emissions_g.central
    return co2_block(
        grams if math.isfinite(grams) else 0.0,
        source=source or f"wattlm {__version__} ({what})", training_type=training_type,
        geographical_location=geographical_location or _location(data),
        hardware_used=hardware_used or _hardware(data))


def yaml_number(value: float) -> str:
    """A number in fixed-point decimal with a dot (``0.00000032``, ``12.0``), never e-notation.

    YAML readers disagree on ``3.2e-07`` (YAML 1.1 needs a dot, some read ``1e-07`` as a
    string); the Hub's emissions filter needs a plain number.
    """
    if not math.isfinite(float(value)):
        raise InvalidInputError(f"cannot write a non-finite number {value!r} to YAML")
    if isinstance(value, int):
        return str(value)
    text = format(Decimal(repr(float(value))), "f")
    return text if "." in text else text + ".0"


def yaml_scalar(value: Any) -> str:
    """Format a YAML scalar: numbers in fixed point, strings JSON-quoted (valid YAML)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return yaml_number(value)
    return json.dumps(str(value), ensure_ascii=True)


def to_yaml(block: dict[str, Any], key: str = "co2_eq_emissions",
            comments: tuple[str, ...] = ()) -> str:
    """``key:`` followed by the block's entries, indented two spaces (a flat mapping)."""
    lines = [f"# {' '.join(c.split())}" for c in comments]
    lines.append(f"{key}:")
    for name, value in block.items():
        lines.append(f"  {name}: {yaml_scalar(value)}")
    return "\n".join(lines) + "\n"


def model_card_yaml(subject: Any, **options: Any) -> str:
    """The ``co2_eq_emissions`` YAML block for a model card's front matter.

    ``options`` are passed to :func:`co2_eq_emissions`. Comments above the block give the
    energy, the embodied share and the provenance, which the Hub field has no place for.
    """
    data = build_report_data(subject)
    block = co2_eq_emissions(data, **options)
    pue = format_number(data.pue) if data.pue is not None else "unknown"
    intensity = (format_number(data.intensity_g_per_kwh)
                 if data.intensity_g_per_kwh is not None else "unknown")
    comments = [
        f"wattlm: energy {format_energy(kwh_to_j(data.energy_kwh.central))} (IT), PUE "
        f"{pue}, intensity {intensity} g/kWh; provenance "
        f"{data.provenance.value if data.provenance else 'unknown'}",
    ]
    if data.embodied_g is not None:
        from wattlm.report._sections import embodied_text

        text = embodied_text(data)
        comments.append(f"wattlm: embodied share {format_mass(data.embodied_g.central)} CO2e "
                        "(not included in emissions)" if not text.startswith("not counted")
                        else f"wattlm: embodied share {text}")
    return to_yaml(block, comments=tuple(comments))
