"""Which CPU this is and its TDP: ``/proc/cpuinfo`` and the packaged table ``data/cpu_tdp.csv``.

The table comes from CodeCarbon (MIT, see ``data/SOURCES.md``); the modelled CPU sensor
(:mod:`wattlm.sensors.model`) turns CPU-seconds into joules with it.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from wattlm._caches import cached
from wattlm.errors import DataError

__all__ = ["DEFAULT_TDP_W_PER_CORE", "CpuInfo", "TdpMatch", "load_tdp_table", "match_cpu_tdp",
           "read_cpu_info"]

#: TDP share per logical core when the CPU is not in the table (W). An assumption: server parts
#: give 2-3.5 W per hardware thread (EPYC 7763: 280 W / 128 threads; Xeon Platinum 8380:
#: 270 W / 80 threads), desktop parts ~8 W (Core i7-8700K: 95 W / 12 threads).
DEFAULT_TDP_W_PER_CORE = 4.0

@dataclass(frozen=True)
class CpuInfo:
    """What ``/proc/cpuinfo`` says: the model string, sockets and logical cores."""

    model_name: str
    sockets: int
    logical_cores: int


def read_cpu_info(path: str | os.PathLike[str] = "/proc/cpuinfo") -> CpuInfo:
    """Parse ``/proc/cpuinfo`` (x86 ``model name``; ARM ``Model``/``Hardware``/``CPU part``).

    Args:
        path: the cpuinfo file (injectable for tests).

    Returns:
        The model string ('' when absent), the number of sockets (distinct ``physical id``,
        at least 1) and logical cores (``processor`` entries, or ``os.cpu_count()``).
    """
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    model = ""
    physical: set[str] = set()
    processors = 0
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "processor":
            processors += 1
        elif key == "physical id":
            physical.add(value)
        elif key in ("model name", "cpu model", "model", "hardware") and not model:
            if key == "model" and value.isdigit():
                continue  # x86 "model : 85" is a number, not a name
            model = value
    return CpuInfo(model_name=model, sockets=max(len(physical), 1),
                   logical_cores=processors or (os.cpu_count() or 1))


@dataclass(frozen=True)
class TdpMatch:
    """A CPU found in the TDP table."""

    table_name: str
    tdp_w: float
    source_id: str


_NOISE = re.compile(r"\((r|tm|c)\)|®|™|\bcpu\b|\bprocessor\b|\b\d+-core\b|@.*$", re.IGNORECASE)


def _tokens(name: str) -> frozenset[str]:
    cleaned = _NOISE.sub(" ", name.lower())
    return frozenset(t for t in re.split(r"[\s,]+", cleaned) if t)


@cached
def load_tdp_table() -> tuple[tuple[str, float, str], ...]:
    """Load the packaged CPU TDP table: ``(cpu_name, tdp_w, source_id)`` rows (cached).

    Raises:
        DataError: the packaged file is malformed.
    """
    text = resources.files("wattlm.sensors").joinpath("data/cpu_tdp.csv").read_text("utf-8")
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        try:
            rows.append((row["cpu_name"], float(row["tdp_w"]), row["source_id"]))
        except (KeyError, ValueError) as e:
            raise DataError(f"cpu_tdp.csv: bad row {row}: {e}") from e
    return tuple(rows)


@cached
def match_cpu_tdp(model_name: str) -> TdpMatch | None:
    """Find a ``/proc/cpuinfo`` model string in the TDP table.

    A table entry matches when all its words appear in the model string once ``(R)``,
    ``(TM)``, ``CPU``, ``Processor``, ``N-Core`` and the ``@ clock`` suffix are removed, and at
    least one of them holds a digit (a model number). The entry with the most words wins
    (``Xeon Platinum 8351N`` over ``8351``); words are compared whole, so ``EPYC 7203``
    does not match ``EPYC 7203P``.

    Args:
        model_name: e.g. ``Intel(R) Xeon(R) Platinum 8351N CPU @ 2.40GHz``.

    Returns:
        The match, or None when the CPU is unknown.
    """
    wanted = _tokens(model_name)
    numbers = [t for t in wanted if any(ch.isdigit() for ch in t)]
    if not numbers:
        return None
    best: tuple[int, TdpMatch] | None = None
    for name, tdp_w, source in load_tdp_table():
        lowered = name.lower()
        if not any(number in lowered for number in numbers):  # cheap necessary condition
            continue
        tokens = _tokens(name)
        if not tokens or not tokens <= wanted or not any(ch.isdigit() for ch in "".join(tokens)):
            continue
        if best is None or len(tokens) > best[0]:
            best = (len(tokens), TdpMatch(name, tdp_w, source))
    return None if best is None else best[1]
