"""Measure several variants of a model on the same inputs: energy, quality, fairness, payback.

A *variant* is any callable that takes a list of inputs and returns one output per input (a
Transformers pipeline qualifies; :mod:`wattlm.integrations.hf_variants` and
:mod:`wattlm.integrations.compression` make them). :func:`compare` checks everything first,
then for each variant runs a warm-up (not measured) and measures ``windows`` passes over the
inputs with one :func:`wattlm.track` run (a sensor snapshot after each window gives the
spread). A variant that raises, returns the wrong number of outputs, or whose quality cannot
be computed is reported as failed; the others still complete.

Per variant: energy per item and per token (J) with its spread, throughput, latency of one
call (one batch), quality, fairness (optional), the energy it cost to make, and the break-even
against the baseline (:mod:`wattlm.compare.payback`). The Pareto set is taken over energy per
item (min), quality (max, or latency when there is no quality) and, when every variant has a
fairness check, the flip rate (min). Rendering is in :mod:`wattlm.report.comparison`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from wattlm.compare.payback import break_even, distinguishable
from wattlm.compare.results import ComparisonResult, VariantResult, pareto_front
from wattlm.errors import ComparisonWarning, InvalidInputError, warn
from wattlm.sensors.base import Sensor

__all__ = ["ComparisonResult", "VariantResult", "compare", "pareto_front"]

Variant = Callable[[list[Any]], Any]
SensorSource = Sequence[Sensor] | Callable[[str], Sequence[Sensor]]


def _check(variants: Mapping[str, Any], inputs: Sequence[Any], quality: Any, warmup: int,
           batch_size: int | Mapping[str, int] | None, baseline: str | None,
           windows: int) -> tuple[list[Any], str]:
    if not isinstance(variants, Mapping) or not variants:
        raise InvalidInputError("compare() needs at least one variant: a dict of name -> "
                                "callable taking a list of inputs")
    for name, fn in variants.items():
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(f"variant names must be non-empty strings, got {name!r}")
        if not callable(fn):
            raise InvalidInputError(f"variant {name!r} is a {type(fn).__name__}, not a callable "
                                    "(a function or pipeline taking a list of inputs)")
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
        raise InvalidInputError("inputs must be a list of items (e.g. texts), got "
                                f"{type(inputs).__name__}")
    items = list(inputs)
    if not items:
        raise InvalidInputError("inputs is empty: give at least one item to run each variant on")
    if quality is not None and not callable(quality):
        raise InvalidInputError(f"quality must be a function outputs -> number, got "
                                f"{type(quality).__name__}")
    for key, value, low in (("warmup", warmup, 0), ("windows", windows, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidInputError(f"{key} must be an integer >= {low}, got {value!r}")
    sizes = batch_size.values() if isinstance(batch_size, Mapping) else [batch_size]
    for size in sizes:
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise InvalidInputError(f"batch_size must be an integer >= 1 or None (all inputs in "
                                    f"one call), got {size!r}")
    base = baseline if baseline is not None else next(iter(variants))
    if base not in variants:
        raise InvalidInputError(f"baseline {baseline!r} is not a variant; variants are "
                                f"{', '.join(variants)}")
    return items, base


def _as_list(outputs: Any, expected: int, name: str) -> list[Any]:
    try:
        values = list(outputs)
    except TypeError as e:
        raise InvalidInputError(f"variant {name!r} returned a {type(outputs).__name__}, not a "
                                "list of outputs") from e
    if len(values) != expected:
        raise InvalidInputError(f"variant {name!r} returned {len(values)} outputs for "
                                f"{expected} inputs; it must return one output per input")
    return values


def _measure(result: VariantResult, fn: Variant, batches: list[list[Any]], windows: int,
             tracker: Any) -> list[Any]:
    latencies: list[float] = []
    outputs: list[Any] = []
    tracker.start()
    previous = sum(tracker.read().energy_j)
    failure: str | None = None
    try:
        for _ in range(windows):
            outputs = []
            for batch in batches:
                t0 = time.perf_counter()
                produced = fn(list(batch))
                latencies.append(time.perf_counter() - t0)
                outputs.extend(_as_list(produced, len(batch), result.name))
            now = sum(tracker.read().energy_j)
            result.window_energy_j.append(now - previous)
            previous = now
    except Exception as e:  # noqa: BLE001 - a failing variant is reported, the rest go on
        failure = f"{type(e).__name__}: {e}" if not isinstance(e, InvalidInputError) else str(e)
    record = tracker.stop(status="failed" if failure else "finished")
    result.energy_j, result.duration_s = record.energy_j, record.duration_s
    result.emissions_g, result.provenance, result.run_id = (record.emissions_g,
                                                            record.provenance, record.id)
    result.warnings = list(record.warnings)
    result.latency_s = sum(latencies) / len(latencies) if latencies else None
    result.items = len(outputs) if not failure else len(outputs)
    if failure:
        result.status, result.error = "failed", failure
    return outputs


def _score(result: VariantResult, items: list[Any], quality: Any, count_tokens: Any) -> None:
    try:
        if count_tokens is not None:
            result.tokens = int(sum(count_tokens(i, o) for i, o in zip(items, result.outputs)))
    except Exception as e:  # noqa: BLE001
        result.status, result.error = "failed", f"count_tokens raised {type(e).__name__}: {e}"
        return
    if quality is None:
        return
    try:
        value = float(quality(result.outputs))
    except Exception as e:  # noqa: BLE001
        result.status = "failed"
        result.error = f"the quality function raised {type(e).__name__}: {e}"
        return
    if not math.isfinite(value):
        result.status, result.error = "failed", f"the quality function returned {value!r}"
        return
    result.quality = value


def _run_variant(name: str, fn: Variant, items: list[Any], size: int | None, *, warmup: int,
                 windows: int, quality: Any, count_tokens: Any, track_options: dict[str, Any],
                 sensors: SensorSource | None) -> VariantResult:
    from wattlm.tracking.tracker import track

    result = VariantResult(name=name, batch_size=size or len(items))
    step = size or len(items)
    batches = [items[i:i + step] for i in range(0, len(items), step)]
    try:
        for _ in range(warmup):
            _as_list(fn(list(batches[0])), len(batches[0]), name)
    except Exception as e:  # noqa: BLE001 - a failing variant is reported, the rest go on
        result.status, result.error = "failed", f"warm-up raised {type(e).__name__}: {e}"
        return result
    chosen = sensors(name) if callable(sensors) else sensors
    result.outputs = _measure(result, fn, batches, windows, track(sensors=chosen, **track_options))
    if result.ok:
        _score(result, items, quality, count_tokens)
    return result


def _settle(result: ComparisonResult) -> None:
    """Break-even, distinguishability and the less-fair warning of each variant."""
    base = result.base
    for v in result.succeeded:
        if base is None or v is base:
            continue
        v.distinguishable = distinguishable(v.window_energy_per_item_j,
                                            base.window_energy_per_item_j)
        v.break_even_queries, v.break_even_reason = break_even(
            v.make_energy_j, base.energy_per_item_j, v.energy_per_item_j, v.distinguishable)
        saves = (v.energy_per_item_j or 0.0) < (base.energy_per_item_j or 0.0)
        if (saves and v.fairness is not None and base.fairness is not None
                and v.fairness.less_fair_than(base.fairness)):
            v.warnings.append(warn(
                f"variant {v.name!r} saves energy against {base.name!r} by becoming less fair "
                f"(flip rate {v.fairness.flip_rate:.3f} vs {base.fairness.flip_rate:.3f}, "
                f"worst score gap {v.fairness.score_gap:.3f} vs {base.fairness.score_gap:.3f})",
                ComparisonWarning, "W701"))


def compare(
    variants: Mapping[str, Variant],
    inputs: Sequence[Any],
    quality: Callable[[list[Any]], float] | None = None,
    *,
    warmup: int = 1,
    windows: int = 1,
    batch_size: int | Mapping[str, int] | None = None,
    count_tokens: Callable[[Any, Any], int] | None = None,
    baseline: str | None = None,
    quality_name: str = "quality",
    make_cost: Mapping[str, Any] | None = None,
    fairness: Callable[[str, Variant], Any] | None = None,
    max_quality_loss: float | None = None,
    region: str | None = None,
    project: str = "compare",
    save: bool = False,
    db: str | None = None,
    interval_s: float | None = None,
    sensors: SensorSource | None = None,
) -> ComparisonResult:
    """Measure each variant on the same inputs and compare energy with quality and fairness.

    Args:
        variants: name -> callable taking a list of inputs and returning one output per input.
        inputs: the items every variant processes (texts, task items, ...).
        quality: ``quality(outputs) -> number``, higher is better; outputs in input order.
        warmup: unmeasured calls on the first batch before measuring (loads, caches, JIT).
        windows: measured passes over the inputs (two or more give the spread and say
            whether a variant is distinguishable from the baseline).
        batch_size: inputs per call, one number or name -> number (default: all inputs in
            one call). ``latency_s`` is the time of one such call.
        count_tokens: ``count_tokens(input, output) -> int`` for energy per token.
        baseline: the variant the others are compared with (default: the first).
        quality_name: label of the quality metric in tables (``"accuracy"``).
        make_cost: name -> energy it cost to make the variant (J), or an object with
            ``energy_j`` and ``method`` (:class:`~wattlm.integrations.compression.MadeVariant`).
        fairness: ``fairness(name, variant) -> FairnessReport`` (third Pareto axis; W701 when
            a variant saves energy by becoming less fair).
        max_quality_loss: report the variant with the largest saving within this loss.
        region: grid region of the measurements (as in :func:`wattlm.track`).
        project: project name; each variant's run is ``"<project>:<variant>"``.
        save: whether to save each variant's run in the store.
        db: the store (path or URL) when saving.
        interval_s: sampling interval of the trackers.
        sensors: sensors to measure with, or ``name -> sensors`` (fresh ones per variant).

    Raises:
        InvalidInputError: no variants, a variant that is not callable, empty inputs, a bad
            ``warmup``/``windows``/``batch_size``/``baseline``: all before anything runs.
        ConfigError, UnknownNameError: invalid tracker settings or region, also up front.
    """
    items, base = _check(variants, inputs, quality, warmup, batch_size, baseline, windows)
    from wattlm.carbon.intensity import resolve_region
    from wattlm.config import resolve_settings

    settings = resolve_settings(region=region, project=project, save=save, db=db,
                                interval_s=interval_s)
    resolve_region(settings.region)  # an unknown region fails here, before any variant runs
    results = []
    for name, fn in variants.items():
        size = batch_size.get(name) if isinstance(batch_size, Mapping) else batch_size
        options = {"region": region, "project": f"{project}:{name}", "save": save, "db": db,
                   "interval_s": interval_s}
        result = _run_variant(name, fn, items, size, warmup=warmup, windows=windows,
                              quality=quality, count_tokens=count_tokens,
                              track_options=options, sensors=sensors)
        cost = (make_cost or {}).get(name)
        if cost is not None:
            result.make_energy_j = float(getattr(cost, "energy_j", cost))
            result.make_method = getattr(cost, "method", None)
        if fairness is not None and result.ok:
            result.fairness = fairness(name, fn)
        results.append(result)
    out = ComparisonResult(results, base, quality is not None, quality_name, len(items),
                           max_quality_loss)
    _settle(out)
    return out
