"""Measure several variants of a model on the same inputs: energy against quality, Pareto set.

A *variant* is any callable that takes a list of inputs and returns one output per input (a
Transformers pipeline qualifies). :func:`compare` checks everything first, then for each
variant runs a warm-up (not measured) and measures the same inputs with :func:`wattlm.track`.
A variant that raises, returns the wrong number of outputs, or whose quality cannot be computed
is reported as failed; the others still complete.

Per variant: energy per item and per token (J), throughput (items/s), latency per call and per
item (s), the user's quality metric, emissions (g) and provenance. The Pareto set holds the
variants that no other variant beats on both energy per item (lower is better) and quality
(higher is better); without a quality function, latency per item (lower is better) replaces it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wattlm.errors import InvalidInputError
from wattlm.sensors.base import Sensor
from wattlm.units import Provenance

__all__ = [
    "ComparisonResult",
    "VariantResult",
    "compare",
    "half_precision",
    "int8_dynamic",
    "pareto_front",
    "transformers_runner",
    "transformers_variants",
]

Variant = Callable[[list[Any]], Any]
SensorSource = Sequence[Sensor] | Callable[[str], Sequence[Sensor]]


@dataclass
class VariantResult:
    """What one variant cost and delivered on the comparison's inputs.

    ``energy_j`` is the device energy of the measured pass (warm-up excluded);
    ``latency_s`` is the mean wall time of one call (one batch); ``status`` is ``"ok"`` or
    ``"failed"`` (then ``error`` says why, and figures measured before the failure are kept).
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

    @property
    def ok(self) -> bool:
        """Whether the variant completed."""
        return self.status == "ok"

    @property
    def energy_per_item_j(self) -> float | None:
        """Device energy per input item (J)."""
        return self.energy_j / self.items if self.items else None

    @property
    def energy_per_token_j(self) -> float | None:
        """Device energy per token (J), when tokens were counted."""
        return self.energy_j / self.tokens if self.tokens else None

    @property
    def throughput_items_per_s(self) -> float | None:
        """Items processed per second of the measured pass."""
        return self.items / self.duration_s if self.duration_s > 0 and self.items else None

    @property
    def latency_per_item_s(self) -> float | None:
        """Wall time per item (s)."""
        return self.duration_s / self.items if self.items and self.duration_s > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (outputs left out)."""
        return {
            "name": self.name, "status": self.status, "error": self.error,
            "items": self.items, "tokens": self.tokens, "energy_j": self.energy_j,
            "energy_per_item_j": self.energy_per_item_j,
            "energy_per_token_j": self.energy_per_token_j, "duration_s": self.duration_s,
            "throughput_items_per_s": self.throughput_items_per_s,
            "latency_s": self.latency_s, "latency_per_item_s": self.latency_per_item_s,
            "quality": self.quality, "emissions_g": self.emissions_g,
            "provenance": self.provenance.value if self.provenance else None,
            "run_id": self.run_id, "warnings": list(self.warnings),
        }


def pareto_front(points: Mapping[str, tuple[float, float]], *,
                 maximise_second: bool = True) -> list[str]:
    """Names of the points no other point dominates.

    The first coordinate is minimised (energy); the second is maximised (quality) or, with
    ``maximise_second=False``, minimised (latency). ``a`` dominates ``b`` when it is at least
    as good on both and strictly better on one; equal points do not dominate each other.
    Order follows the first coordinate, then the name.
    """
    sign = 1.0 if maximise_second else -1.0
    keyed = {n: (float(x), sign * float(y)) for n, (x, y) in points.items()}
    front = []
    for name, (x, y) in keyed.items():
        dominated = any(ox <= x and oy >= y and (ox < x or oy > y)
                        for other, (ox, oy) in keyed.items() if other != name)
        if not dominated:
            front.append(name)
    return sorted(front, key=lambda n: (keyed[n][0], n))


def _pct(new: float, old: float) -> float:
    return (new - old) / old * 100.0 if old else math.inf


def _num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}"


@dataclass
class ComparisonResult:
    """The outcome of :func:`compare`: one :class:`VariantResult` per variant, in input order."""

    variants: list[VariantResult]
    baseline: str
    has_quality: bool
    quality_name: str = "quality"
    inputs: int = 0

    def __getitem__(self, name: str) -> VariantResult:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    @property
    def succeeded(self) -> list[VariantResult]:
        """The variants that completed."""
        return [v for v in self.variants if v.ok]

    def table(self) -> list[dict[str, Any]]:
        """One row per variant: energy per item and token, throughput, latency, quality, ..."""
        return [v.to_dict() for v in self.variants]

    def pareto(self) -> list[str]:
        """Names of the completed variants no other beats on energy per item and quality.

        Without a quality metric, latency per item stands in for quality (lower is better).
        """
        points: dict[str, tuple[float, float]] = {}
        for v in self.succeeded:
            energy = v.energy_per_item_j
            second = v.quality if self.has_quality else v.latency_per_item_s
            if energy is not None and second is not None:
                points[v.name] = (energy, second)
        return pareto_front(points, maximise_second=self.has_quality)

    def recommendations(self) -> list[str]:
        """Plain sentences with numbers, each variant against the baseline."""
        out: list[str] = []
        base = next((v for v in self.succeeded if v.name == self.baseline), None)
        front = self.pareto()
        if base is None or base.energy_per_item_j is None:
            out.append(f"The baseline {self.baseline!r} did not complete, so no variant can be "
                       "compared with it.")
        else:
            base_e = base.energy_per_item_j
            for v in self.succeeded:
                if v.name == base.name or v.energy_per_item_j is None:
                    continue
                out.append(self._sentence(v, base, base_e, v.name in front))
        ok = [v for v in self.succeeded if v.energy_per_item_j is not None]
        if ok:
            best = min(ok, key=lambda v: (v.energy_per_item_j or 0.0, v.name))
            out.append(f"Lowest energy per item: {best.name} "
                       f"({_num(best.energy_per_item_j)} J per item).")
        if front:
            what = self.quality_name if self.has_quality else "latency"
            out.append(f"Pareto set (energy per item against {what}): {', '.join(front)}.")
        for v in self.variants:
            if not v.ok:
                out.append(f"{v.name} failed: {v.error}")
        return out

    def _sentence(self, v: VariantResult, base: VariantResult, base_e: float,
                  on_front: bool) -> str:
        change = _pct(v.energy_per_item_j or 0.0, base_e)
        if change < 0:
            energy = f"{v.name} cuts energy per item by {-change:.0f} %"
        else:
            energy = f"{v.name} uses {change:.0f} % more energy per item"
        energy += f" than {base.name} ({_num(v.energy_per_item_j)} J vs {_num(base_e)} J)"
        if self.has_quality and v.quality is not None and base.quality is not None:
            delta = v.quality - base.quality
            q = (f"{self.quality_name} {_num(base.quality, 4)} → {_num(v.quality, 4)}")
            if delta < 0:
                tail = f" for a loss of {_num(-delta, 3)} in {q}"
            elif delta > 0:
                tail = f" and gains {_num(delta, 3)} in {q}"
            else:
                tail = f" with the same {q}"
        else:
            speed = _pct(v.latency_per_item_s or 0.0, base.latency_per_item_s or 0.0)
            tail = (f"; latency per item {'+' if speed >= 0 else ''}{speed:.0f} %"
                    if base.latency_per_item_s else "")
        verdict = "" if on_front else " It is dominated by another variant: drop it."
        return f"{energy}{tail}.{verdict}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: table, Pareto set and recommendations."""
        return {"baseline": self.baseline, "quality_name": self.quality_name,
                "has_quality": self.has_quality, "inputs": self.inputs,
                "variants": self.table(), "pareto": self.pareto(),
                "recommendations": self.recommendations()}

    def text_table(self) -> tuple[list[str], list[list[str]]]:
        """Headers and rows formatted for people."""
        headers = ["variant", "status", "J/item", "J/token", "items/s", "latency (s)",
                   self.quality_name, "provenance", "pareto"]
        front = set(self.pareto())
        rows = []
        for v in self.variants:
            rows.append([v.name, v.status, _num(v.energy_per_item_j), _num(v.energy_per_token_j),
                         _num(v.throughput_items_per_s), _num(v.latency_s),
                         _num(v.quality, 4) if v.quality is not None else "-",
                         v.provenance.value if v.provenance else "-",
                         "yes" if v.name in front else ""])
        return headers, rows

    def plot(self, path: str | None = None) -> bytes:
        """Energy per item against quality (or latency) with the Pareto front, as PNG bytes.

        Writes the PNG to ``path`` too when given. Needs matplotlib (``wattlm[report]``).
        """
        from wattlm.report.plots import pareto_plot

        front = set(self.pareto())
        points = []
        for v in self.succeeded:
            second = v.quality if self.has_quality else v.latency_per_item_s
            if v.energy_per_item_j is not None and second is not None:
                points.append((v.name, v.energy_per_item_j, second, v.name in front))
        y_label = self.quality_name if self.has_quality else "latency per item (s, lower is better)"
        png = pareto_plot(points, x_label="energy per item (J)", y_label=y_label)
        if path is not None:
            with open(path, "wb") as handle:
                handle.write(png)
        return png

    def to_markdown(self) -> str:
        """Markdown: table, Pareto set, recommendations."""
        from wattlm.report.markdown import md_table

        headers, rows = self.text_table()
        recs = "\n".join(f"- {' '.join(r.split())}" for r in self.recommendations())
        return (f"# Variant comparison\n\n{self.inputs} inputs per variant; baseline "
                f"{self.baseline}.\n\n{md_table(headers, rows)}\n\n## Recommendations\n\n"
                f"{recs}\n")

    def to_html(self) -> str:
        """A self-contained HTML page with the table, the plot and the recommendations."""
        from wattlm.report._sections import Block
        from wattlm.report.html import blocks_to_html

        headers, rows = self.text_table()
        blocks = [Block("heading", "Variant comparison", level=1),
                  Block("paragraph", f"{self.inputs} inputs per variant; baseline "
                                     f"{self.baseline}."),
                  Block("table", headers=tuple(headers), rows=tuple(tuple(r) for r in rows)),
                  Block("plot", "pareto", caption="Energy per item against "
                        f"{self.quality_name if self.has_quality else 'latency'}; "
                        "red: Pareto set"),
                  Block("heading", "Recommendations"),
                  Block("list", items=tuple(self.recommendations()))]
        return blocks_to_html(blocks, "wattlm variant comparison", lambda _key: self.plot())


def _check(variants: Mapping[str, Any], inputs: Sequence[Any], quality: Any, warmup: int,
           batch_size: int | None, baseline: str | None) -> tuple[list[Any], str]:
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
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise InvalidInputError(f"warmup must be an integer >= 0 (calls before measuring), "
                                f"got {warmup!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise InvalidInputError(f"batch_size must be an integer >= 1 or None (all inputs in one "
                                f"call), got {batch_size!r}")
    base = baseline if baseline is not None else next(iter(variants))
    if base not in variants:
        raise InvalidInputError(f"baseline {baseline!r} is not a variant; variants are "
                                f"{', '.join(variants)}")
    return items, base


def _batches(items: list[Any], batch_size: int | None) -> list[list[Any]]:
    size = batch_size or len(items)
    return [items[i:i + size] for i in range(0, len(items), size)]


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


def _run_variant(name: str, fn: Variant, batches: list[list[Any]], items: list[Any],
                 quality: Callable[[list[Any]], Any] | None, warmup: int,
                 count_tokens: Callable[[Any, Any], int] | None,
                 track_options: dict[str, Any], sensors: SensorSource | None) -> VariantResult:
    from wattlm.tracking.tracker import track

    result = VariantResult(name=name)
    try:
        for _ in range(warmup):
            _as_list(fn(list(batches[0])), len(batches[0]), name)
    except Exception as e:  # noqa: BLE001 - a failing variant is reported, the rest go on
        result.status, result.error = "failed", f"warm-up raised {type(e).__name__}: {e}"
        return result
    chosen = sensors(name) if callable(sensors) else sensors
    tracker = track(sensors=chosen, **track_options)
    latencies: list[float] = []
    outputs: list[Any] = []
    failure: str | None = None
    tracker.start()
    try:
        for batch in batches:
            t0 = time.perf_counter()
            produced = fn(list(batch))
            latencies.append(time.perf_counter() - t0)
            outputs.extend(_as_list(produced, len(batch), name))
    except Exception as e:  # noqa: BLE001 - a failing variant is reported, the rest go on
        failure = f"{type(e).__name__}: {e}" if not isinstance(e, InvalidInputError) else str(e)
    record = tracker.stop(status="failed" if failure else "finished")
    result.energy_j, result.duration_s = record.energy_j, record.duration_s
    result.emissions_g, result.provenance, result.run_id = (record.emissions_g,
                                                            record.provenance, record.id)
    result.warnings = list(record.warnings)
    result.latency_s = sum(latencies) / len(latencies) if latencies else None
    result.items, result.outputs = len(outputs), outputs
    if failure:
        result.status, result.error = "failed", failure
        return result
    if count_tokens is not None:
        try:
            result.tokens = int(sum(count_tokens(i, o) for i, o in zip(items, outputs)))
        except Exception as e:  # noqa: BLE001
            result.status, result.error = "failed", f"count_tokens raised {type(e).__name__}: {e}"
            return result
    if quality is not None:
        try:
            value = float(quality(outputs))
        except Exception as e:  # noqa: BLE001
            result.status = "failed"
            result.error = f"the quality function raised {type(e).__name__}: {e}"
            return result
        if not math.isfinite(value):
            result.status, result.error = "failed", f"the quality function returned {value!r}"
            return result
        result.quality = value
    return result


def compare(
    variants: Mapping[str, Variant],
    inputs: Sequence[Any],
    quality: Callable[[list[Any]], float] | None = None,
    *,
    warmup: int = 1,
    batch_size: int | None = None,
    count_tokens: Callable[[Any, Any], int] | None = None,
    baseline: str | None = None,
    quality_name: str = "quality",
    region: str | None = None,
    project: str = "compare",
    save: bool = False,
    db: str | None = None,
    interval_s: float | None = None,
    sensors: SensorSource | None = None,
) -> ComparisonResult:
    """Measure each variant on the same inputs and compare energy with quality.

    Args:
        variants: name -> callable taking a list of inputs and returning one output per input
            (a function, a Transformers pipeline, :func:`transformers_runner`).
        inputs: the items every variant processes (texts, prompts, ...).
        quality: ``quality(outputs) -> number``, higher is better (e.g. accuracy against
            labels); outputs are in input order.
        warmup: unmeasured calls on the first batch before measuring (loads, caches, JIT).
        batch_size: inputs per call (default: all inputs in one call).
        count_tokens: ``count_tokens(input, output) -> int`` for energy per token.
        baseline: the variant the recommendations compare against (default: the first).
        quality_name: label of the quality metric in tables (``"accuracy"``).
        region: grid region of the measurements (as in :func:`wattlm.track`).
        project: project name; each variant's run is ``"<project>:<variant>"``.
        save: whether to save each variant's run in the store.
        db: the store (path or URL) when saving.
        interval_s: sampling interval of the trackers.
        sensors: sensors to measure with (default: probed on this machine), or a function
            ``name -> sensors`` giving fresh ones per variant (tests, replays).

    Returns:
        A :class:`ComparisonResult` (``.table()``, ``.pareto()``, ``.recommendations()``,
        ``.plot()``).

    Raises:
        InvalidInputError: no variants, a variant that is not callable, empty inputs, a bad
            ``warmup``/``batch_size``/``baseline``: all before anything is measured.
        ConfigError, UnknownNameError: invalid tracker settings or region, also up front.
    """
    items, base = _check(variants, inputs, quality, warmup, batch_size, baseline)
    from wattlm.carbon.intensity import resolve_region
    from wattlm.config import resolve_settings

    settings = resolve_settings(region=region, project=project, save=save, db=db,
                                interval_s=interval_s)
    resolve_region(settings.region)  # an unknown region fails here, before any variant runs
    batches = _batches(items, batch_size)
    results = []
    for name, fn in variants.items():
        options = {"region": region, "project": f"{project}:{name}", "save": save, "db": db,
                   "interval_s": interval_s}
        results.append(_run_variant(name, fn, batches, items, quality, warmup, count_tokens,
                                    options, sensors))
    return ComparisonResult(results, base, quality is not None, quality_name, len(items))


# -- Transformers variant makers (torch imported inside) -----------------------------------------

def int8_dynamic(model: Any) -> Any:
    """A copy of ``model`` with dynamic int8 quantisation of its ``nn.Linear`` layers (CPU).

    Uses ``torch.ao.quantization.quantize_dynamic``. Recent torch releases deprecate that API
    in favour of torchao; its deprecation warnings are silenced inside this call only.
    """
    import copy
    import warnings

    import torch

    clone = copy.deepcopy(model).to("cpu").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            clone, {torch.nn.Linear}, dtype=torch.qint8)


def half_precision(model: Any, dtype: str = "float16") -> Any:
    """A copy of ``model`` in ``float16`` or ``bfloat16``."""
    import copy

    import torch

    if dtype not in ("float16", "bfloat16"):
        raise InvalidInputError(f"dtype must be float16 or bfloat16, got {dtype!r}")
    return copy.deepcopy(model).to(getattr(torch, dtype)).eval()


def transformers_runner(model: Any, tokenizer: Any, *, batch_size: int = 8,
                        max_length: int = 128, device: str | None = None) -> Variant:
    """A variant callable for a Transformers model: texts in, one output per text.

    Texts are tokenised with padding and truncation and run ``batch_size`` at a time under
    ``torch.inference_mode()``. Models with ``logits`` give the arg-max class id per text;
    others give the mean of the last hidden state (a list of floats).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be an integer >= 1, got {batch_size!r}")

    def run(texts: list[Any]) -> list[Any]:
        import torch

        target = device or (str(next(model.parameters()).device) if _has_params(model)
                            else "cpu")
        outputs: list[Any] = []
        for start in range(0, len(texts), batch_size):
            chunk = [str(t) for t in texts[start:start + batch_size]]
            encoded = tokenizer(chunk, padding=True, truncation=True, max_length=max_length,
                                return_tensors="pt")
            encoded = {k: v.to(target) for k, v in encoded.items()}
            with torch.inference_mode():
                out = model(**encoded)
            logits = getattr(out, "logits", None)
            if logits is not None:
                outputs.extend(int(i) for i in logits.float().argmax(dim=-1).tolist())
            else:
                hidden = out.last_hidden_state.float().mean(dim=1)
                outputs.extend(row for row in hidden.tolist())
        return outputs

    run.tokenizer = tokenizer  # type: ignore[attr-defined]
    return run


def _has_params(model: Any) -> bool:
    try:
        next(model.parameters())
    except (StopIteration, AttributeError, TypeError):
        return False
    return True


def transformers_variants(model: Any, tokenizer: Any, *, int8: bool = True,
                          half: str | None = None, batch_sizes: Sequence[int] = (),
                          batch_size: int = 8, max_length: int = 128) -> dict[str, Variant]:
    """Ready-made variants of one model: as is, int8, half precision, other batch sizes.

    Args:
        model: a Transformers model (in float32).
        tokenizer: its tokenizer.
        int8: add ``"int8"`` (dynamic int8 quantisation; runs on CPU).
        half: ``"float16"`` or ``"bfloat16"`` to add that variant.
        batch_sizes: extra ``"batch-N"`` variants of the unchanged model.
        batch_size: batch size of the other variants.
        max_length: truncation length.

    Returns:
        name -> callable, ``"base"`` first (the default baseline of :func:`compare`).
    """
    out: dict[str, Variant] = {"base": transformers_runner(
        model, tokenizer, batch_size=batch_size, max_length=max_length)}
    if int8:
        out["int8"] = transformers_runner(int8_dynamic(model), tokenizer, batch_size=batch_size,
                                          max_length=max_length, device="cpu")
    if half:
        out[half] = transformers_runner(half_precision(model, half), tokenizer,
                                        batch_size=batch_size, max_length=max_length)
    for size in batch_sizes:
        out[f"batch-{size}"] = transformers_runner(model, tokenizer, batch_size=size,
                                                   max_length=max_length)
    return out
