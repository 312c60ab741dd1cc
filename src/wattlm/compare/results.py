"""The results of :func:`wattlm.compare.variants.compare`: per variant, and the comparison.

Figures are in base units (J, s, g); the JSON fields of ``ComparisonResult.to_dict()`` are the
interface (``break_even_queries``, ``saving_per_1000_queries_wh``, ``pareto``, ...).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wattlm.tasks.pareto import pareto_set
from wattlm.units import Provenance, j_to_wh

__all__ = ["ComparisonResult", "VariantResult", "pareto_front"]


@dataclass
class VariantResult:
    """What one variant cost and delivered on the comparison's inputs.

    ``energy_j`` is the device energy of the measured windows (warm-up excluded);
    ``latency_s`` is the mean wall time of one call (one batch); ``status`` is ``"ok"`` or
    ``"failed"`` (then ``error`` says why, and figures measured before the failure are kept).
    ``make_energy_j`` is what making the variant cost (None when not measured).
    """

    name: str
    status: str = "ok"
    error: str | None = None
    items: int = 0
    tokens: int | None = None
    energy_j: float = 0.0
    duration_s: float = 0.0
    latency_s: float | None = None
    quality: float | None = None
    emissions_g: float = 0.0
    provenance: Provenance | None = None
    run_id: int | None = None
    warnings: list[str] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list, repr=False)
    window_energy_j: list[float] = field(default_factory=list)
    batch_size: int | None = None
    make_energy_j: float | None = None
    make_method: str | None = None
    fairness: Any = None
    break_even_queries: int | None = None
    break_even_reason: str | None = None
    distinguishable: bool | None = None

    @property
    def ok(self) -> bool:
        """Whether the variant completed."""
        return self.status == "ok"

    @property
    def windows(self) -> int:
        """Measured passes over the inputs."""
        return max(len(self.window_energy_j), 1)

    @property
    def energy_per_item_j(self) -> float | None:
        """Device energy per input item (J), over every window."""
        return self.energy_j / (self.items * self.windows) if self.items else None

    @property
    def window_energy_per_item_j(self) -> list[float]:
        """Energy per item in each window (J)."""
        return [e / self.items for e in self.window_energy_j] if self.items else []

    @property
    def energy_per_item_stdev_j(self) -> float | None:
        """Standard deviation of energy per item over the windows (J)."""
        values = self.window_energy_per_item_j
        return statistics.stdev(values) if len(values) > 1 else None

    @property
    def energy_per_token_j(self) -> float | None:
        """Device energy per token (J), when tokens were counted."""
        return self.energy_j / (self.tokens * self.windows) if self.tokens else None

    @property
    def throughput_items_per_s(self) -> float | None:
        """Items processed per second of the measured windows."""
        if self.duration_s <= 0 or not self.items:
            return None
        return self.items * self.windows / self.duration_s

    @property
    def latency_per_item_s(self) -> float | None:
        """Wall time per item (s)."""
        if not self.items or self.duration_s <= 0:
            return None
        return self.duration_s / (self.items * self.windows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (outputs left out)."""
        fair = self.fairness.to_dict() if hasattr(self.fairness, "to_dict") else self.fairness
        return {
            "name": self.name, "status": self.status, "error": self.error,
            "items": self.items, "windows": self.windows, "batch_size": self.batch_size,
            "tokens": self.tokens, "energy_j": self.energy_j,
            "energy_per_item_j": self.energy_per_item_j,
            "energy_per_item_stdev_j": self.energy_per_item_stdev_j,
            "window_energy_per_item_j": self.window_energy_per_item_j,
            "energy_per_token_j": self.energy_per_token_j, "duration_s": self.duration_s,
            "throughput_items_per_s": self.throughput_items_per_s,
            "latency_s": self.latency_s, "latency_per_item_s": self.latency_per_item_s,
            "quality": self.quality, "fairness": fair, "emissions_g": self.emissions_g,
            "make_energy_j": self.make_energy_j, "make_method": self.make_method,
            "break_even_queries": self.break_even_queries,
            "break_even_reason": self.break_even_reason,
            "distinguishable_from_baseline": self.distinguishable,
            "provenance": self.provenance.value if self.provenance else None,
            "run_id": self.run_id, "warnings": list(self.warnings),
        }


def pareto_front(points: Mapping[str, tuple[float, float]], *,
                 maximise_second: bool = True) -> list[str]:
    """Names of the points no other point dominates (energy min, second max or min)."""
    return pareto_set(points, ["min", "max" if maximise_second else "min"])


@dataclass
class ComparisonResult:
    """The outcome of :func:`compare`: one :class:`VariantResult` per variant, in input order."""

    variants: list[VariantResult]
    baseline: str
    has_quality: bool
    quality_name: str = "quality"
    inputs: int = 0
    max_quality_loss: float | None = None

    def __getitem__(self, name: str) -> VariantResult:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    @property
    def succeeded(self) -> list[VariantResult]:
        """The variants that completed."""
        return [v for v in self.variants if v.ok]

    @property
    def base(self) -> VariantResult | None:
        """The baseline's result, when it completed."""
        return next((v for v in self.succeeded if v.name == self.baseline), None)

    def table(self) -> list[dict[str, Any]]:
        """One row per variant (see :meth:`VariantResult.to_dict`), with saving figures."""
        rows = []
        for v in self.variants:
            row = v.to_dict()
            row.update(self.saving(v))
            rows.append(row)
        return rows

    def saving(self, v: VariantResult) -> dict[str, float | None]:
        """Saving per 1,000 queries (Wh) and quality loss against the baseline."""
        base = self.base
        if base is None or v.energy_per_item_j is None or base.energy_per_item_j is None:
            return {"saving_per_1000_queries_wh": None, "quality_loss": None}
        loss = (base.quality - v.quality if base.quality is not None and v.quality is not None
                else None)
        return {"saving_per_1000_queries_wh":
                j_to_wh(base.energy_per_item_j - v.energy_per_item_j) * 1000,
                "quality_loss": loss}

    def pareto(self) -> list[str]:
        """Completed variants no other beats on energy, quality (or latency) and fairness."""
        fair = bool(self.succeeded) and all(v.fairness is not None for v in self.succeeded)
        points: dict[str, list[float]] = {}
        for v in self.succeeded:
            second = v.quality if self.has_quality else v.latency_per_item_s
            if v.energy_per_item_j is None or second is None:
                continue
            points[v.name] = [v.energy_per_item_j, second]
            if fair:
                points[v.name].append(float(v.fairness.unfairness))
        senses = ["min", "max" if self.has_quality else "min"] + (["min"] if fair else [])
        return pareto_set(points, senses)

    def best_within(self, max_quality_loss: float) -> VariantResult | None:
        """The variant with the largest saving whose quality loss is at most the given one."""
        best, best_saving = None, 0.0
        for v in self.succeeded:
            s = self.saving(v)
            loss, saving = s["quality_loss"], s["saving_per_1000_queries_wh"]
            within = loss is None or loss <= max_quality_loss
            if saving is not None and saving > best_saving and within:
                best, best_saving = v, saving
        return best

    def recommendations(self) -> list[str]:
        """Plain sentences with numbers, each variant against the baseline."""
        from wattlm.report.comparison import recommendations

        return recommendations(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: table, Pareto set, best variant within the loss, recommendations."""
        best = (self.best_within(self.max_quality_loss)
                if self.max_quality_loss is not None else None)
        return {"baseline": self.baseline, "quality_name": self.quality_name,
                "has_quality": self.has_quality, "inputs": self.inputs,
                "variants": self.table(), "pareto": self.pareto(),
                "max_quality_loss": self.max_quality_loss,
                "best_within_quality_loss": best.name if best else None,
                "recommendations": self.recommendations()}

    def text_table(self) -> tuple[list[str], list[list[str]]]:
        """Headers and rows formatted for people."""
        from wattlm.report.comparison import text_table

        return text_table(self)

    def plot(self, path: str | None = None) -> bytes:
        """Energy per item against quality (or latency) with the Pareto front, as PNG bytes."""
        from wattlm.report.comparison import comparison_plot

        png = comparison_plot(self)
        if path is not None:
            with open(path, "wb") as handle:
                handle.write(png)
        return png

    def to_markdown(self) -> str:
        """Markdown: table, Pareto set, recommendations."""
        from wattlm.report.comparison import to_markdown

        return to_markdown(self)

    def to_html(self) -> str:
        """A self-contained HTML page with the table, the plot and the recommendations."""
        from wattlm.report.comparison import to_html

        return to_html(self)
