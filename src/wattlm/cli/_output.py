"""Output helpers shared by commands: ``--format human|json`` and simple tables.

Numbers for people go through :mod:`wattlm._format`; ``--format json`` keeps full precision in
base units.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from wattlm._format import format_number  # the one formatter, for callers not yet moved to it
from wattlm.units import Range

__all__ = ["add_format_option", "emit", "equivalents_line", "format_number", "table",
           "to_jsonable"]


def add_format_option(parser: argparse.ArgumentParser, extra: Sequence[str] = ()) -> None:
    """Add ``--format human|json`` (plus any extra choices)."""
    parser.add_argument("--format", choices=["human", "json", *extra], default="human",
                        help="output format (default: human)")


def to_jsonable(value: Any) -> Any:
    """Turn records, Ranges and dataclasses into JSON-ready structures."""
    if isinstance(value, Range):
        return value.to_dict()
    if hasattr(value, "to_dict"):
        return to_jsonable(value.to_dict())
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value


def emit(data: Any, fmt: str, human: Callable[[Any], str]) -> None:
    """Print ``data`` as JSON or through the ``human`` renderer."""
    if fmt == "json":
        json.dump(to_jsonable(data), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(human(data).rstrip("\n") + "\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table with aligned columns."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def equivalents_line(subject: Any) -> str:
    """Operational emissions and facility energy of a footprint (or a run) in everyday terms.

    ``subject`` has ``emissions`` (g) and ``facility_energy`` (J) quantities: a
    :class:`~wattlm.records.Footprint` or a :class:`~wattlm.records.RunRecord`.
    """
    from wattlm.carbon.equivalents import equivalents

    emissions, energy = subject.emissions, subject.facility_energy
    if emissions is None:
        return "–"
    return " · ".join(str(e) for e in equivalents(emissions.kg.central, energy.kwh.central))
