"""Break-even of a compressed variant, and whether two variants can be told apart.

A variant that cost ``E_make`` joules to make and saves ``s = e_base - e_variant`` joules per
query repays its making after ``ceil(E_make / s)`` queries. It never does when it saves
nothing (``s <= 0``), and the figure is not given when the saving is within the spread of the
repeated measurement windows.

Two variants are *distinguishable* when their mean energies per query differ by more than
twice the standard error of the difference (Welch): ``|m_a - m_b| > 2 sqrt(s_a²/n_a +
s_b²/n_b)`` over their measured windows; with fewer than two windows each, it is unknown.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

__all__ = ["break_even", "distinguishable"]


def distinguishable(a_j: Sequence[float], b_j: Sequence[float]) -> bool | None:
    """Whether per-query energies over windows ``a_j`` and ``b_j`` differ beyond their spread.

    None when either has fewer than two windows (no spread to judge by).
    """
    if len(a_j) < 2 or len(b_j) < 2:
        return None
    mean_a, mean_b = statistics.fmean(a_j), statistics.fmean(b_j)
    se = math.sqrt(statistics.variance(a_j) / len(a_j) + statistics.variance(b_j) / len(b_j))
    return abs(mean_a - mean_b) > 2.0 * se


def break_even(make_energy_j: float | None, base_per_query_j: float | None,
               variant_per_query_j: float | None,
               separable: bool | None = None) -> tuple[int | None, str | None]:
    """``(queries, None)`` after which the making cost is repaid, or ``(None, reason)``.

    Args:
        make_energy_j: energy spent making the variant (J); None when not measured.
        base_per_query_j: the baseline's energy per query (J).
        variant_per_query_j: the variant's energy per query (J).
        separable: :func:`distinguishable` of the two (False: no break-even is claimed).
    """
    if base_per_query_j is None or variant_per_query_j is None:
        return None, "energy per query not measured"
    saving = base_per_query_j - variant_per_query_j
    if saving <= 0:
        return None, ("never pays back: it uses as much or more energy per query than the "
                      "baseline")
    if separable is False:
        return None, ("the saving per query is within the spread of the measurement windows: "
                      "not distinguishable from the baseline")
    if not make_energy_j:
        return 0, None
    return math.ceil(make_energy_j / saving), None
