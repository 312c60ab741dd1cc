"""Confidence intervals: Wilson for proportions, percentile bootstrap for score gaps."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["bootstrap_interval", "wilson_interval"]

T = TypeVar("T")
Z_95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval (Wilson 1927) of a binomial proportion, 95 % by default.

    Chosen over the normal approximation because it stays inside [0, 1] and behaves at rates
    near 0, where flip rates usually are. ``(0.0, 1.0)`` when there are no trials.
    """
    if trials <= 0:
        return (0.0, 1.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= trials else min(1.0, centre + half)
    return (low, high)


def bootstrap_interval(units: Sequence[T], statistic: Callable[[Sequence[T]], float], *,
                       resamples: int = 1000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval (Efron & Tibshirani 1993) of ``statistic`` over ``units``.

    Units (templates) are resampled with replacement ``resamples`` times with a fixed seed, so
    the interval repeats.
    """
    if not units:
        return (math.nan, math.nan)
    rng = random.Random(seed)
    n = len(units)
    values = sorted(statistic([units[rng.randrange(n)] for _ in range(n)])
                    for _ in range(resamples))
    tail = (1 - level) / 2
    low = values[int(math.floor(tail * (resamples - 1)))]
    high = values[int(math.ceil((1 - tail) * (resamples - 1)))]
    return (low, high)
