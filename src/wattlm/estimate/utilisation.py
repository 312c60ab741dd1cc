"""Training utilisation (MFU over published device-hours) by accelerator generation and size.

Curve (units: parameters as counts, FLOP/s)::

    u(N, hw) = u_gen(hw) * N / (N + N_half(hw)),   N_half(hw) = N_ref * (peak(hw) / peak_H100)^2

A model too small for its accelerator cannot keep it busy: its matrix products are small against
the fixed per-step costs (communication, kernel launches, pipeline bubbles), and the faster the
part the larger the model must be to hide them, hence ``N_half`` grows with the square of the
peak FLOP/s. ``u_gen`` is the utilisation a large model reaches on a generation (Volta and
Pascal, Ampere, Hopper, Blackwell, TPU v2-v3, TPU v4 and later). On A100-era runs (LLaMA, Llama 2,
BLOOM) ``N_half`` is ~1 B and the curve is flat at 0.3-0.5; on H100 the Llama 3 cards imply about
5-16 % at <= 8 B, ~27 % at 70 B and 33 % at 405 B.

Fitted on the ``from_params`` rows of ``training_footprints.csv`` (GPT-3 on V100, T5 on TPU v3,
LLaMA 1, Llama 2 and BLOOM on A100, Llama 3 / 3.1 / 3.2 on H100): ``N_ref`` by a log grid,
``u_gen`` as the geometric mean of each generation's implied ``u / (N / (N + N_half))``. A
generation without rows takes the median of the others. The range comes from leave-one-family-
out residuals (:func:`cross_validated_log_ratios`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wattlm._caches import cached

if TYPE_CHECKING:  # pragma: no cover
    from wattlm.catalog.hardware import Hardware
    from wattlm.estimate.validation import ValidationRow

__all__ = [
    "MOE_EFFICIENCY",
    "UNFITTED_GENERATION_SPREAD",
    "UtilisationCurve",
    "cross_validated_log_ratios",
    "fit_curve",
    "generation",
    "using_rows",
    "utilisation_curve",
]

#: Reference peak (H100 SXM dense bf16, FLOP/s) for ``N_half``.
PEAK_REF = 989.4e12
#: Extra spread (low, central, high factor on the hours) for a generation without published rows
#: (Blackwell, TPU v4 and later): its ``u_gen`` is the median of the others.
UNFITTED_GENERATION_SPREAD = (0.6, 1.0, 1.6)
#: MoE runs lose utilisation to all-to-all and load imbalance (low, central, high): Patterson et
#: al. 2021 Table 4 on TPU v3: Switch 28 % and GShard 39 % of peak against dense T5 37 %.
MOE_EFFICIENCY = (0.65, 0.85, 1.0)


def generation(hw: Hardware) -> str:
    """Accelerator generation used by the curve."""
    name = hw.name.upper()
    if hw.kind == "tpu":
        return "TPU v2-v3" if name in ("TPU-V2", "TPU-V3") else "TPU v4+"
    if not hw.has_bf16:
        return "pre-Ampere"
    if name.startswith(("A100", "A10", "L4", "RTX", "MI250")):
        return "Ampere"
    if name.startswith(("B200", "GB200", "B100", "B300")):
        return "Blackwell"
    return "Hopper+"


@dataclass(frozen=True)
class UtilisationCurve:
    """The fitted curve: ``n_ref`` (parameters) and ``u_gen`` per generation."""

    n_ref: float
    u_gen: dict[str, float]

    def n_half(self, peak_flops: float) -> float:
        """``N_half = N_ref (peak / peak_H100)^2``, parameters."""
        return self.n_ref * (peak_flops / PEAK_REF) ** 2

    def u_max(self, gen: str) -> float:
        """Large-model utilisation of a generation (median of the others if unfitted)."""
        if gen in self.u_gen:
            return self.u_gen[gen]
        return statistics.median(self.u_gen.values()) if self.u_gen else 0.4

    def __call__(self, n_active: float, gen: str, peak_flops: float) -> float:
        """``u(N) = u_gen N / (N + N_half)``."""
        return self.u_max(gen) * n_active / (n_active + self.n_half(peak_flops))


def _implied(row: ValidationRow) -> tuple[str, float, float, float] | None:
    """(generation, N, peak, implied utilisation) of a from-params row."""
    from wattlm.catalog.hardware import get_hardware

    if row.active_params is None or row.tokens is None:
        return None
    hw = get_hardware(row.hardware)
    peak = hw.peak_flops("bf16")
    flops = 6.0 * row.active_params * row.tokens
    return generation(hw), row.active_params, peak, flops / (row.device_hours * 3600.0 * peak)


def fit_curve(rows: Sequence[ValidationRow]) -> UtilisationCurve:
    """Fit ``N_ref`` (log grid, 0.1-100 B) and ``u_gen`` on published rows (least log error)."""
    points = [p for r in rows if (p := _implied(r)) is not None]
    best: tuple[float, UtilisationCurve] | None = None
    for i in range(61):
        n_ref = 1e8 * 10 ** (i / 20.0)
        u_gen: dict[str, float] = {}
        for gen in sorted({p[0] for p in points}):
            logs = [math.log(u * (n + n_ref * (peak / PEAK_REF) ** 2) / n)
                    for g, n, peak, u in points if g == gen]
            u_gen[gen] = math.exp(statistics.fmean(logs))
        curve = UtilisationCurve(n_ref, u_gen)
        err = sum(math.log(curve(n, g, peak) / u) ** 2 for g, n, peak, u in points)
        if best is None or err < best[0]:
            best = (err, curve)
    return best[1] if best else UtilisationCurve(1e10, {})


#: Set by :func:`using_rows` (cross-validation): the rows the curve and its range are fitted on.
_OVERRIDE: list[Sequence[ValidationRow]] = []


@contextmanager
def using_rows(rows: Sequence[ValidationRow]) -> Iterator[None]:
    """Fit the curve and its range on ``rows`` only inside the block (leave-one-family-out)."""
    _OVERRIDE.append(rows)
    try:
        yield
    finally:
        _OVERRIDE.pop()


def _rows() -> Sequence[ValidationRow]:
    from wattlm.estimate.validation import training_rows

    if _OVERRIDE:
        return _OVERRIDE[-1]
    return [r for r in training_rows() if "from_params" in r.modes]


def utilisation_curve() -> UtilisationCurve:
    """The curve fitted on every packaged from-params row (or those of :func:`using_rows`)."""
    return fit_curve(_rows()) if _OVERRIDE else _full_curve()


@cached
def _full_curve() -> UtilisationCurve:
    return fit_curve(_rows())


def cross_validated_log_ratios() -> tuple[float, float]:
    """Return the 10th and 90th percentiles of log(estimated / published device-hours).

    Leave one family out; the training range is built from them.
    """
    return _log_ratios(tuple(_rows())) if _OVERRIDE else _full_log_ratios()


@cached
def _full_log_ratios() -> tuple[float, float]:
    return _log_ratios(tuple(_rows()))


def _log_ratios(rows: Sequence[ValidationRow]) -> tuple[float, float]:
    logs = []
    for fam in sorted({r.family for r in rows}):
        curve = fit_curve([r for r in rows if r.family != fam])
        for r in rows:
            if r.family != fam:
                continue
            point = _implied(r)
            if point is None:
                continue
            g, n, peak, u = point
            logs.append(math.log(u / curve(n, g, peak)))
    logs.sort()
    if not logs:
        return -0.5, 0.5

    def pick(q: float) -> float:
        return logs[min(len(logs) - 1, max(0, round(q * (len(logs) - 1))))]

    return pick(0.10), pick(0.90)
