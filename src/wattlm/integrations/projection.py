"""Project a training run's total energy and time from its first steps (pure, no I/O).

The idea is carbontracker's (Anthony et al., 2020, arXiv:2007.03051): measure the first part of
training and extrapolate. Here it is done per optimiser step, with uncertainty:

* after ``warmup_steps`` (compilation, caches, data loader start-up are not typical), then
  ``MIN_POINTS`` measured steps, and once
  ``fraction`` of ``max_steps`` is done, take the per-step energy and time of the most recent
  ``window_steps`` steps;
* central projection: ``E_total = E_so_far + mean(e_step) * remaining_steps`` (likewise time);
* range: the same with the 10th and 90th percentile of the per-step figures, so a workload
  whose steps vary projects a wider range.

Units: energy in J, time in s.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from wattlm.errors import InvalidInputError
from wattlm.units import Provenance, Range

__all__ = ["MIN_POINTS", "Projection", "StepProjector", "percentile"]

MIN_POINTS = 5
"""Per-step rates needed (after warm-up) before the first projection."""


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in [0, 100]) of a non-empty list."""
    if not values:
        raise InvalidInputError("percentile of an empty list")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    weight = position - lower
    return ordered[lower] * (1.0 - weight) + ordered[upper] * weight


@dataclass(frozen=True)
class Projection:
    """A projection of the whole run, made at ``step`` of ``max_steps``.

    Attributes:
        step: the optimiser step the projection was made at.
        max_steps: the run's planned number of steps.
        energy_j: projected total energy of the run (J), low/central/high.
        duration_s: projected total wall-clock time of the run (s), low/central/high.
    """

    step: int
    max_steps: int
    energy_j: Range
    duration_s: Range

    @property
    def fraction_done(self) -> float:
        """Share of the steps done when the projection was made."""
        return self.step / self.max_steps


class StepProjector:
    """Collects cumulative (step, energy, time) points and projects the run's totals.

    Args:
        max_steps: planned optimiser steps (> 0).
        warmup_steps: steps ignored for the per-step rates (>= 0).
        fraction: share of ``max_steps`` that must be done before projecting (0 < f <= 1).
        window_steps: how many recent steps the per-step rates come from (>= 2).
        provenance: label of the projected figures (the energy's provenance, at best
            ``estimated`` since it is an extrapolation).
    """

    def __init__(
        self,
        max_steps: int,
        *,
        warmup_steps: int = 5,
        fraction: float = 0.1,
        window_steps: int = 50,
        provenance: Provenance | None = None,
    ) -> None:
        if max_steps <= 0:
            raise InvalidInputError(f"max_steps must be > 0 to project, got {max_steps!r}")
        if warmup_steps < 0:
            raise InvalidInputError(f"warmup_steps must be >= 0, got {warmup_steps!r}")
        if not 0.0 < fraction <= 1.0:
            raise InvalidInputError(f"fraction must be in (0, 1], got {fraction!r}")
        if window_steps < 2:
            raise InvalidInputError(f"window_steps must be >= 2, got {window_steps!r}")
        self.max_steps = max_steps
        self.warmup_steps = warmup_steps
        self.fraction = fraction
        self.window_steps = window_steps
        self.provenance = Provenance.weakest(provenance, Provenance.ESTIMATED)
        self._last: tuple[int, float, float] | None = None
        self._energy_per_step: deque[float] = deque(maxlen=window_steps)
        self._time_per_step: deque[float] = deque(maxlen=window_steps)

    @property
    def first_step(self) -> int:
        """The first step at which a projection can be made."""
        return max(math.ceil(self.fraction * self.max_steps), self.warmup_steps + MIN_POINTS + 1)

    def add(self, step: int, energy_j: float, elapsed_s: float) -> Projection | None:
        """Record the cumulative energy and elapsed time at the end of ``step``.

        Repeated or earlier steps are ignored (a callback registered twice). Returns the
        current projection once enough steps are done, else ``None``.
        """
        last = self._last
        if last is not None and step <= last[0]:
            return None
        self._last = (step, energy_j, elapsed_s)
        if last is None or step <= self.warmup_steps:
            return None
        steps = step - last[0]
        self._energy_per_step.append(max(energy_j - last[1], 0.0) / steps)
        self._time_per_step.append(max(elapsed_s - last[2], 0.0) / steps)
        if step < self.first_step or len(self._energy_per_step) < MIN_POINTS:
            return None
        return self.project()

    def project(self) -> Projection | None:
        """Project from the points so far (``None`` before ``MIN_POINTS`` rates)."""
        if self._last is None or len(self._energy_per_step) < MIN_POINTS:
            return None
        step, energy_j, elapsed_s = self._last
        remaining = max(self.max_steps - step, 0)
        return Projection(
            step=step, max_steps=self.max_steps,
            energy_j=self._extrapolate(energy_j, list(self._energy_per_step), remaining),
            duration_s=self._extrapolate(elapsed_s, list(self._time_per_step), remaining))

    def _extrapolate(self, so_far: float, per_step: list[float], remaining: int) -> Range:
        mean = sum(per_step) / len(per_step)
        low = min(percentile(per_step, 10.0), mean)
        high = max(percentile(per_step, 90.0), mean)
        return Range(so_far + low * remaining, so_far + mean * remaining,
                     so_far + high * remaining, self.provenance)
