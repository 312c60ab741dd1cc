"""Plausibility of cumulative energy counters: wraps, resets, stalls and impossible jumps.

A hardware energy counter (RAPL ``energy_uj``, NVML total energy) only ever grows, except when
it wraps at the top of its range or is reset (driver reload, GPU reset, firmware). Between two
reads ``dt`` seconds apart the channel cannot have used more than ``max_power_w * dt``; that
bound decides what a step means:

* ``Δ = now − last ≥ 0`` and ``Δ ≤ allowed``: a normal step, counted.
* ``Δ ≥ 0`` but ``Δ > allowed``: an impossible jump (``W112``): not counted, degraded.
* ``Δ < 0`` and the wrapped step ``Δ + range ≤ allowed``: one wrap, counted.
* ``Δ < 0`` otherwise (no known range, or a wrap would need more than the bound, e.g. a reset
  or a counter stepping back 1 J): a reset (``W111``): nothing is counted for that interval,
  counting goes on from the new value, the channel is degraded.
* ``dt > range / max_power_w``: more than one wrap may have happened unseen (a stall: the
  process was suspended or starved), said with ``W113`` and degraded; the step is still taken
  as at most one wrap.

``allowed = max_power_w × (dt + 2 × update_period_s)``: a counter refreshed every
``update_period_s`` can post the energy of up to one period before the previous read, and one
after. See docs/methodology/measurement.md, "Guarantees".
"""

from __future__ import annotations

import time
from collections.abc import Callable

from wattlm.sensors.base import SensorNote

__all__ = ["CounterJudge"]


class CounterJudge:
    """Turns raw readings of one cumulative counter into believable increments.

    Args:
        name: the channel's name, for messages.
        unit_j: joules per raw unit (1e-6 for µJ, 1e-3 for mJ).
        max_power_w: the highest power the channel can draw (the plausibility bound).
        range_units: the wrap point in raw units; None when the counter does not wrap.
        update_period_s: how often the hardware refreshes the counter.
        clock: monotonic clock (seconds), injectable for tests.
    """

    def __init__(self, name: str, *, unit_j: float, max_power_w: float,
                 range_units: int | float | None = None, update_period_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.unit_j = unit_j
        self.max_power_w = max_power_w
        self.range_units = range_units if range_units is not None and range_units > 0 else None
        self.update_period_s = update_period_s
        self._clock = clock
        self._last: tuple[float, int | float] | None = None
        self.notes: list[SensorNote] = []
        self.wraps = 0
        self.resets = 0

    @property
    def max_read_interval_s(self) -> float | None:
        """Longest gap between reads for which at most one wrap is possible (None: no wrap)."""
        if self.range_units is None:
            return None
        return self.range_units * self.unit_j / self.max_power_w

    def first(self, raw: int | float) -> None:
        """Take the starting value."""
        self._last = (self._clock(), raw)

    def step(self, raw: int | float) -> int | float:
        """The increment (raw units) to count for a new reading; 0 for rejected steps."""
        now = self._clock()
        if self._last is None:
            self._last = (now, raw)
            return 0
        then, last = self._last
        self._last = (now, raw)
        dt = max(now - then, 0.0)
        limit = self.max_read_interval_s
        if limit is not None and dt > limit:
            self._note("W113", f"{dt:.1f} s between two reads, longer than the {limit:.1f} s "
                       f"in which the counter can wrap at {self.max_power_w:.0f} W: energy of "
                       "extra wraps, if any, is missing")
        allowed_j = self.max_power_w * (dt + 2 * self.update_period_s) * 1.001 + 1e-9
        delta = raw - last
        if delta >= 0:
            if delta * self.unit_j <= allowed_j:
                return delta
            self._note("W112", f"counter jumped by {delta * self.unit_j:.1f} J in {dt:.3f} s, "
                       f"more than the {self.max_power_w:.0f} W bound allows: not counted")
            return 0
        if self.range_units is not None and (delta + self.range_units) * self.unit_j <= allowed_j:
            self.wraps += 1
            return delta + self.range_units
        self.resets += 1
        self._note("W111", f"counter went back from {last} to {raw} ({delta * self.unit_j:.3f} J)"
                   f" in {dt:.3f} s and a wrap would need more than {self.max_power_w:.0f} W: "
                   "taken as a reset, that interval is not counted")
        return 0

    def _note(self, code: str, message: str) -> None:
        self.notes.append(SensorNote(code, f"{self.name}: {message}"))

    def drain(self) -> list[SensorNote]:
        """Notes since the last call."""
        notes, self.notes = self.notes, []
        return notes
