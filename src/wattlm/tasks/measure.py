"""Measure one (model, task): warm-up excluded, energy per 1,000 queries, latency, quality.

One tracker spans the measured windows; a snapshot of the sensors after each window gives the
window's energy per device, so the spread over repeated windows comes from the same run.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wattlm.sensors.base import Sensor
from wattlm.tasks.base import Item, Quality, Runner, Task
from wattlm.units import Provenance, j_to_wh

__all__ = ["TaskResult", "measure_task", "percentile"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between order statistics."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class TaskResult:
    """What one model cost and delivered on one task (energy in J; per-1,000 figures in Wh)."""

    model: str
    task: str
    queries: int
    batch_size: int
    energy_j: float = 0.0
    duration_s: float = 0.0
    device_energy_j: dict[str, float] = field(default_factory=dict)
    device_kinds: dict[str, str] = field(default_factory=dict)
    device_provenance: dict[str, str] = field(default_factory=dict)
    provenance: Provenance | None = None
    window_energy_j: list[float] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    output_tokens: int | None = None
    quality: Quality | None = None
    rating: dict[str, Any] = field(default_factory=dict)
    fairness: dict[str, Any] | None = None
    status: str = "ok"
    error: str | None = None
    run_id: int | None = None
    description: str = ""
    warnings: list[str] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list, repr=False)
    record: Any = field(default=None, repr=False)
    pareto: bool | None = None
    fairness_report: Any = field(default=None, repr=False)

    @property
    def cpu_only(self) -> bool:
        """Whether no GPU channel was measured."""
        return "gpu" not in set(self.device_kinds.values())

    @property
    def measured_queries(self) -> int:
        """Queries over all measured windows."""
        return self.queries * max(len(self.window_energy_j), 1)

    @property
    def energy_per_query_j(self) -> float | None:
        """Energy per query (J), all devices."""
        n = self.measured_queries
        return self.energy_j / n if n and self.status == "ok" else None

    def per_1000_wh(self, energy_j: float) -> float | None:
        """``energy_j`` over the measured windows as Wh per 1,000 queries."""
        n = self.measured_queries
        return j_to_wh(energy_j) / n * 1000 if n and self.status == "ok" else None

    @property
    def energy_per_1000_queries_wh(self) -> float | None:
        """Energy per 1,000 queries (Wh), all devices."""
        return self.per_1000_wh(self.energy_j)

    @property
    def energy_per_output_token_j(self) -> float | None:
        """Energy per generated token (J), for generating tasks."""
        if not self.output_tokens or self.status != "ok":
            return None
        return self.energy_j / self.output_tokens

    @property
    def spread(self) -> dict[str, float | None]:
        """Mean, standard deviation, min and max of energy per query over the windows (J)."""
        per_query = [e / self.queries for e in self.window_energy_j if self.queries]
        if not per_query:
            return {"mean_j": None, "stdev_j": None, "min_j": None, "max_j": None}
        stdev = statistics.stdev(per_query) if len(per_query) > 1 else None
        return {"mean_j": statistics.fmean(per_query), "stdev_j": stdev,
                "min_j": min(per_query), "max_j": max(per_query)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the interface names (``energy_per_1000_queries_wh`` ...)."""
        kinds: dict[str, float] = {}
        for name, energy in self.device_energy_j.items():
            kind = self.device_kinds.get(name, "other")
            kinds[kind] = kinds.get(kind, 0.0) + energy
        duration = self.duration_s
        return {
            "model": self.model, "task": self.task, "status": self.status, "error": self.error,
            "description": self.description, "queries": self.queries,
            "windows": len(self.window_energy_j), "batch_size": self.batch_size,
            "energy_j": self.energy_j,
            "energy_per_1000_queries_wh": self.energy_per_1000_queries_wh,
            "energy_per_1000_queries_wh_by_kind": {k: self.per_1000_wh(v)
                                                   for k, v in sorted(kinds.items())},
            "devices": [{"name": n, "kind": self.device_kinds.get(n),
                         "provenance": self.device_provenance.get(n),
                         "energy_per_1000_queries_wh": self.per_1000_wh(e)}
                        for n, e in self.device_energy_j.items()],
            "provenance": self.provenance.value if self.provenance else None,
            "cpu_only": self.cpu_only,
            "energy_per_query_j": self.energy_per_query_j,
            "energy_per_query_spread": self.spread,
            "output_tokens": self.output_tokens,
            "energy_per_output_token_j": self.energy_per_output_token_j,
            "duration_s": duration,
            "latency_p50_s": percentile(self.latencies_s, 50),
            "latency_p95_s": percentile(self.latencies_s, 95),
            "throughput_queries_per_s": (self.measured_queries / duration
                                         if duration > 0 and self.status == "ok" else None),
            "quality": self.quality.to_dict() if self.quality else None,
            **(self.rating or {"rating": None, "rating_basis": "not measured",
                               "rating_comparable_with": None}),
            "fairness": self.fairness, "pareto": self.pareto, "run_id": self.run_id,
            "warnings": list(self.warnings),
        }


def _batches(items: list[Item], size: int) -> list[list[Item]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def measure_task(task: Task, runner: Runner, items: list[Item], *, model: str,
                 batch_size: int = 8, warmup: int = 1, windows: int = 1,
                 sensors: Sequence[Sensor] | None = None,
                 track_options: dict[str, Any] | None = None,
                 output_tokens: Callable[[list[Any]], int] | None = None) -> TaskResult:
    """Run ``runner`` over ``items`` in batches and measure it with :func:`wattlm.track`.

    ``warmup`` unmeasured calls on the first batch come first; then ``windows`` passes over
    all items are measured by one tracker (each window's energy from a sensor snapshot). The
    quality is scored on the last window's outputs. A runner that raises or returns the wrong
    number of outputs gives a result with ``status="failed"`` and the error.
    """
    from wattlm.tracking.tracker import track

    result = TaskResult(model=model, task=task.name, queries=len(items), batch_size=batch_size)
    batches = _batches(items, batch_size)
    try:
        for _ in range(warmup):
            runner(list(batches[0]))
    except Exception as e:  # noqa: BLE001 - a failing model is reported, the others go on
        result.status, result.error = "failed", f"warm-up raised {type(e).__name__}: {e}"
        return result
    tracker = track(sensors=sensors, **(track_options or {}))
    tracker.start()
    outputs: list[Any] = []
    previous = tracker.read()
    try:
        for _ in range(windows):
            outputs = []
            for batch in batches:
                t0 = time.perf_counter()
                produced = list(runner(list(batch)))
                result.latencies_s.append(time.perf_counter() - t0)
                if len(produced) != len(batch):
                    raise ValueError(f"{len(produced)} outputs for {len(batch)} inputs")
                outputs.extend(produced)
            now = tracker.read()
            result.window_energy_j.append(sum(now.energy_j) - sum(previous.energy_j))
            previous = now
    except Exception as e:  # noqa: BLE001 - a failing model is reported, the others go on
        result.status, result.error = "failed", f"{type(e).__name__}: {e}"
    record = tracker.stop(status="failed" if result.status == "failed" else "finished")
    _fill(result, record)
    result.outputs = outputs
    if result.status == "ok":
        result.quality = task.score(outputs, items)
        if output_tokens is not None:
            result.output_tokens = output_tokens(outputs) * windows
    return result


def _fill(result: TaskResult, record: Any) -> None:
    result.energy_j, result.duration_s = record.energy_j, record.duration_s
    result.provenance, result.warnings = record.provenance, list(record.warnings)
    for device in record.devices:
        result.device_energy_j[device.name] = device.energy_j
        result.device_kinds[device.name] = device.kind
        result.device_provenance[device.name] = device.provenance.value
    result.record = record
