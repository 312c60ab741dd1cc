"""The sensor interface: one energy channel, read as a cumulative counter in joules.

Every backend (RAPL domain, NVIDIA/AMD GPU, Gaudi, Apple SoC, modelled CPU or memory, fakes) is a
:class:`Sensor`. The sampler only calls :meth:`Sensor.start`, :meth:`Sensor.read_j` and
:meth:`Sensor.close`; it never asks what kind of backend it holds. Probes report what is
available, with a reason (:class:`ProbeResult`), and any bad input they met (:class:`Problem`).

There is no "null sensor": missing hardware is an unavailable :class:`ProbeResult` with its
reason, never a channel reading 0 J (an absent device's energy is unknown, not zero).
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from wattlm.records import DeviceInfo

__all__ = ["PowerIntegratingSensor", "Problem", "ProbeResult", "Sensor", "SensorNote"]


@dataclass(frozen=True)
class SensorNote:
    """Something a sensor noticed about its own counter (a reset, a stall), for the sampler.

    ``code`` is a warning code of docs/warnings.md; ``degraded`` marks the channel untrustworthy.
    """

    code: str
    message: str
    degraded: bool = True


class Sensor(ABC):
    """One energy channel. ``read_j`` returns joules used since ``start`` (monotonic).

    Implementations raise :class:`~wattlm.errors.SensorError` when a reading fails; the
    sampler then warns once, marks the run degraded and keeps the channel's last value.
    """

    info: DeviceInfo

    #: Longest time between two reads for the counter to stay trustworthy (at most one wrap);
    #: None when it cannot wrap. The sampler reads the sensor at least twice as often.
    max_read_interval_s: float | None = None

    def start(self) -> None:  # noqa: B027 - optional hook
        """Take the counter's starting value. Called once before the first ``read_j``."""

    @abstractmethod
    def read_j(self) -> float:
        """Energy in J since :meth:`start`."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release handles. Never raises."""

    def drain_notes(self) -> list[SensorNote]:
        """Problems seen since the last call (reset, stall, implausible step); default none."""
        return []


class PowerIntegratingSensor(Sensor):
    """A sensor that only knows instantaneous power; integrates it with the trapezoid rule.

    Subclasses implement :meth:`read_power_w`. Accuracy depends on the sampling interval, so
    the sampler may read such sensors more often (``preferred_interval_s``). A reading that is
    not plausible (NaN, infinite, negative, or above ``max_power_w``) is not integrated: the
    next good reading is joined to the last good one, and a ``W114`` note marks the channel
    degraded.
    """

    preferred_interval_s = 0.1
    #: Highest believable power of the channel (W); None: no upper bound.
    max_power_w: float | None = None

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._energy_j = 0.0
        self._last: tuple[float, float] | None = None
        self._notes: list[SensorNote] = []

    @abstractmethod
    def read_power_w(self) -> float:
        """Instantaneous power in W."""

    def _plausible(self, power: float) -> bool:
        bound = self.max_power_w
        if math.isfinite(power) and power >= 0 and (bound is None or power <= bound):
            return True
        limit = f" (bound {bound:.0f} W)" if bound is not None else ""
        self._notes.append(SensorNote("W114", f"{self.info.name}: implausible power reading "
                                      f"{power!r} W{limit} was not integrated"))
        return False

    def start(self) -> None:
        """Take the first power reading."""
        self._energy_j = 0.0
        now, power = self._clock(), float(self.read_power_w())
        self._last = (now, power) if self._plausible(power) else None

    def read_j(self) -> float:
        """Trapezoid integral of the plausible power readings since :meth:`start`."""
        now, power = self._clock(), float(self.read_power_w())
        if not self._plausible(power):
            return self._energy_j
        if self._last is None:
            self._last = (now, power)
            return self._energy_j
        then, before = self._last
        self._energy_j += 0.5 * (before + power) * max(now - then, 0.0)
        self._last = (now, power)
        return self._energy_j

    def drain_notes(self) -> list[SensorNote]:
        """Implausible readings seen since the last call."""
        notes, self._notes = self._notes, []
        return notes


@dataclass
class ProbeResult:
    """What a probe found: a backend, whether it works here, why (not), and its sensors."""

    backend: str
    available: bool
    reason: str
    sensors: list[Sensor] = field(default_factory=list)
    hint: str = ""
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    """Bad input or a broken install a probe met: warned in a run, shown by ``wattlm env``.

    Attributes:
        code: the warning code (``W140``..``W159``, see ``docs/warnings.md``).
        message: what is wrong and how to fix it, in one line.
    """

    code: str
    message: str
