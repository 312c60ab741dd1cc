"""Phases of one run: a stack per thread and per asyncio task, and a bounded record.

Each thread and each asyncio task has its own stack of open phases (a context variable), so
phases opened from two threads on one tracker never nest into each other; a task inherits
the phases open where it was created. Closed phases become :class:`PhaseRecord`s: the first
:data:`MAX_PHASE_RECORDS` are kept one by one; after that (``W410``) further phases are
summed per name into one aggregate record each (start of the first, summed duration and
energy), for at most :data:`MAX_PHASE_NAMES` names, and the rest into :data:`OTHER_PHASES`.
Memory stays bounded however many phases a job opens.
"""

from __future__ import annotations

import contextvars
import itertools
import threading
from collections.abc import Sequence
from typing import Any

from wattlm.errors import MeasurementWarning, warn
from wattlm.records import PhaseRecord, Sample

__all__ = ["MAX_PHASE_NAMES", "MAX_PHASE_RECORDS", "OTHER_PHASES", "PhaseBook",
           "flag_short_window"]

MAX_PHASE_RECORDS = 1000
MAX_PHASE_NAMES = 100
OTHER_PHASES = "(other phases)"

_ids = itertools.count(1)


class PhaseBook:
    """Open and closed phases of one run.

    Args:
        max_records: phases kept one by one before aggregation starts.
        max_names: aggregate records (one per name) before the rest go to ``OTHER_PHASES``.
    """

    def __init__(self, max_records: int = MAX_PHASE_RECORDS,
                 max_names: int = MAX_PHASE_NAMES) -> None:
        self.max_records = max_records
        self.max_names = max_names
        self._stack: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar(
            f"wattlm_phases_{next(_ids)}", default=())
        self._lock = threading.Lock()
        self._open: dict[int, tuple[str, Sample]] = {}
        self._records: list[PhaseRecord] = []
        self._aggregates: dict[str, PhaseRecord] = {}
        self.warnings: list[str] = []
        self._run_start: Sample | None = None

    def reset(self, run_start: Sample) -> None:
        """Forget everything: a new run starts at ``run_start``."""
        with self._lock:
            self._open.clear()
            self._records, self._aggregates, self.warnings = [], {}, []
            self._run_start = run_start

    def _current(self) -> tuple[int, ...]:
        """Open phases of the current context (ids of phases closed elsewhere dropped)."""
        return tuple(i for i in self._stack.get() if i in self._open)

    def has_open(self) -> bool:
        """Whether this thread or task has an open phase."""
        return bool(self._current())

    def begin(self, name: str, sample: Sample) -> None:
        """Open ``name`` in this context, nested inside this context's innermost open phase."""
        with self._lock:
            stack = self._current()
            full = f"{self._open[stack[-1]][0]}/{name}" if stack else name
            phase_id = next(_ids)
            self._open[phase_id] = (full, sample)
        self._stack.set((*stack, phase_id))

    def end(self, sample: Sample, names: Sequence[str]) -> PhaseRecord | None:
        """Close this context's innermost open phase at ``sample``; None when there is none."""
        stack = self._current()
        if not stack:
            return None
        self._stack.set(stack[:-1])
        return self._close(stack[-1], sample, names)

    def close_all(self, sample: Sample, names: Sequence[str]) -> list[PhaseRecord]:
        """Close every phase still open, in any thread or task (innermost first)."""
        with self._lock:
            ids = sorted(self._open, reverse=True)
        closed = [self._close(i, sample, names) for i in ids]
        return [c for c in closed if c is not None]

    def _close(self, phase_id: int, end: Sample, names: Sequence[str]) -> PhaseRecord | None:
        with self._lock:
            opened = self._open.pop(phase_id, None)
            start = self._run_start
            if opened is None or start is None:
                return None
            name, begin = opened
            per_device = {n: b - a for n, a, b in zip(names, begin.energy_j, end.energy_j)}
            record = PhaseRecord(name=name, start_s=begin.time_s - start.time_s,
                                 duration_s=end.time_s - begin.time_s,
                                 energy_j=sum(per_device.values()), device_energy_j=per_device)
            self._keep(record)
            return record

    def _keep(self, record: PhaseRecord) -> None:
        """Keep the record, or sum it into its name's aggregate (lock held)."""
        if len(self._records) < self.max_records:
            self._records.append(record)
            return
        if not self.warnings:
            self.warnings.append(warn(
                f"more than {self.max_records} phases: later phases are summed per name (one "
                f"record each, at most {self.max_names} names; others into {OTHER_PHASES!r})",
                MeasurementWarning, "W410"))
        key = record.name
        if key not in self._aggregates and len(self._aggregates) >= self.max_names:
            key = OTHER_PHASES
        total = self._aggregates.get(key)
        if total is None:
            self._aggregates[key] = PhaseRecord(
                name=key, start_s=record.start_s, duration_s=record.duration_s,
                energy_j=record.energy_j, device_energy_j=dict(record.device_energy_j))
            return
        total.duration_s += record.duration_s
        total.energy_j += record.energy_j
        for device, energy in record.device_energy_j.items():
            total.device_energy_j[device] = total.device_energy_j.get(device, 0.0) + energy

    def records(self) -> list[PhaseRecord]:
        """Every closed phase, by start time (aggregates included)."""
        with self._lock:
            kept = self._records + list(self._aggregates.values())
        return sorted(kept, key=lambda p: (p.start_s, p.name))


def flag_short_window(warnings: list[str], what: str, duration_s: float,
                      sensors: Sequence[Any]) -> bool:
    """Warn (``W401``) when ``what`` lasted less than a counter's update period; True if so."""
    period = max((s.info.update_period_s for s in sensors), default=0.0)
    if duration_s >= period:
        return False
    warnings.append(warn(
        f"{what} lasted {duration_s * 1000:.1f} ms, shorter than the {period * 1000:.0f} ms "
        "update period of a counter: its energy is unreliable", MeasurementWarning, "W401"))
    return True
