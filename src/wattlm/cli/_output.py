"""Output helpers shared by commands: ``--format human|json`` and simple tables."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

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


def format_number(value: float | None, digits: int = 3) -> str:
    """Human-friendly number with ``digits`` significant figures ("-" for None)."""
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 10 ** digits or abs(value) < 1e-3:
        return f"{value:.{digits}g}"
    if abs(value) < 1:
        return f"{value:.{digits}g}"
    decimals = max(digits - len(str(int(abs(value)))), 0)
    return f"{value:,.{decimals}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table with aligned columns."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def equivalents_line(record: Any) -> str:
    """A run's operational emissions and facility energy in everyday terms (sources: docs)."""
    from wattlm.carbon.equivalents import equivalents

    return " · ".join(str(e) for e in equivalents(record.emissions_kg,
                                                   record.energy_kwh * record.pue))
