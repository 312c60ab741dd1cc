"""Sensors for tests and demos, shipped so that users can test code that uses wattlm.

:class:`FakeSensor` follows a script (constant power, a function of time, or explicit counter
readings), can fail on cue, and can block on cue like a stuck driver call
(``block_after_reads``). :class:`ReplaySensor` replays a recorded
CSV of ``time_s,power_w`` or ``time_s,energy_j`` against the clock.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from wattlm.errors import DataError, SensorError
from wattlm.records import DeviceInfo
from wattlm.sensors.base import Sensor
from wattlm.units import Provenance

__all__ = ["FakeSensor", "ReplaySensor"]


class FakeSensor(Sensor):
    """A scripted energy channel.

    Args:
        name: channel name (``"fake-gpu0"``).
        kind: ``cpu``, ``gpu``, ``memory``, ...
        power_w: constant power, or a function of seconds since start giving power; energy is
            then ``power * elapsed`` (constant) or integrated in 1 ms steps (function).
        readings: explicit cumulative counter values (J) returned one per ``read_j``; the last
            value repeats. Overrides ``power_w``.
        fail_after_reads: raise :class:`SensorError` from this read on (0-based count of reads).
        block_after_reads: from this read on (0-based), ``read_j`` blocks like a hung NVML call
            or a sysfs file that never answers: for ``block_s`` seconds, or until
            :meth:`release` when ``block_s`` is None.
        block_s: how long a blocked read blocks (None: until :meth:`release`).
        provenance: label of the figures (``measured`` by default).
        clock: injectable clock (seconds).
    """

    def __init__(
        self,
        name: str = "fake",
        kind: str = "gpu",
        *,
        power_w: float | Callable[[float], float] = 100.0,
        readings: Sequence[float] | None = None,
        fail_after_reads: int | None = None,
        block_after_reads: int | None = None,
        block_s: float | None = None,
        provenance: Provenance = Provenance.MEASURED,
        update_period_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.info = DeviceInfo(name=name, kind=kind, provenance=provenance,
                               update_period_s=update_period_s)
        self._power = power_w
        self._readings = list(readings) if readings is not None else None
        self._fail_after = fail_after_reads
        self._block_after = block_after_reads
        self._block_s = block_s
        self._released = threading.Event()
        self._clock = clock
        self._t0 = clock()
        self.reads = 0
        self.closed = False

    def start(self) -> None:
        """Restart the script."""
        self._t0 = self._clock()
        self.reads = 0

    def read_j(self) -> float:
        """The scripted cumulative energy."""
        index = self.reads
        self.reads += 1
        if self._block_after is not None and index >= self._block_after:
            self._released.wait(self._block_s)
        if self._fail_after is not None and index >= self._fail_after:
            raise SensorError(f"{self.info.name}: scripted failure at read {index}")
        if self._readings is not None:
            return float(self._readings[min(index, len(self._readings) - 1)])
        elapsed = self._clock() - self._t0
        if callable(self._power):
            steps = max(int(elapsed / 1e-3), 1)
            dt = elapsed / steps
            return sum(self._power((i + 0.5) * dt) * dt for i in range(steps))
        return float(self._power) * elapsed

    def release(self) -> None:
        """Let blocked reads (``block_after_reads``) return, now and from now on."""
        self._released.set()

    def close(self) -> None:
        """Mark closed."""
        self.closed = True


class ReplaySensor(Sensor):
    """Replays a recorded trace (CSV with ``time_s`` and ``power_w`` or ``energy_j``).

    Time in the file is relative to its first row; replay follows ``clock`` from ``start``.
    Between rows power is linear (``power_w``) or energy is linear (``energy_j``).
    """

    def __init__(
        self,
        path: str | Path,
        name: str = "replay",
        kind: str = "gpu",
        *,
        provenance: Provenance = Provenance.MEASURED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.info = DeviceInfo(name=name, kind=kind, provenance=provenance)
        self._clock = clock
        self._t0 = clock()
        times, energy = self._load(Path(path))
        self._times = times
        self._energy = energy

    @staticmethod
    def _load(path: Path) -> tuple[list[float], list[float]]:
        try:
            with path.open(newline="") as handle:
                rows = list(csv.DictReader(handle))
        except OSError as e:
            raise DataError(f"cannot read replay trace {path}: {e}") from e
        if not rows:
            raise DataError(f"replay trace {path} has no rows")
        columns = set(rows[0])
        if "time_s" not in columns or not ({"power_w", "energy_j"} & columns):
            raise DataError(f"replay trace {path} needs columns time_s and power_w or energy_j")
        try:
            times = [float(r["time_s"]) for r in rows]
            values = [float(r["energy_j"] if "energy_j" in columns else r["power_w"])
                      for r in rows]
        except ValueError as e:
            raise DataError(f"replay trace {path}: {e}") from e
        if any(b < a for a, b in zip(times, times[1:])):
            raise DataError(f"replay trace {path}: time_s must not decrease")
        t_first = times[0]
        times = [t - t_first for t in times]
        if "energy_j" in columns:
            return times, [v - values[0] for v in values]
        energy = [0.0]
        for i in range(1, len(times)):
            step = 0.5 * (values[i] + values[i - 1]) * (times[i] - times[i - 1])
            energy.append(energy[-1] + step)
        return times, energy

    def start(self) -> None:
        """Start the replay now."""
        self._t0 = self._clock()

    def read_j(self) -> float:
        """Energy of the trace up to the elapsed time (the last value after its end)."""
        elapsed = self._clock() - self._t0
        times, energy = self._times, self._energy
        if elapsed >= times[-1]:
            return energy[-1]
        lo, hi = 0, len(times) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if times[mid] <= elapsed:
                lo = mid
            else:
                hi = mid
        span = times[hi] - times[lo]
        frac = 0.0 if span == 0 else (elapsed - times[lo]) / span
        return energy[lo] + frac * (energy[hi] - energy[lo])
