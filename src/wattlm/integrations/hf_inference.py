"""Measure inference with a Transformers pipeline, or a model and its tokenizer.

Method: warm-up batches first (not counted: first calls allocate memory, build kernels and
caches), then the inputs in batches; the energy is the tracker's cumulative reading after the
last batch minus the one before the first. Tokens are counted with the tokenizer: input tokens
as the model sees them (special tokens included, padding excluded), output tokens as generated
(none for classification). Latency is per batch call (every item of a batch waits for the whole
batch). Works on CPU and GPU (CUDA work is synchronised before each clock reading).

Imports torch and transformers only inside the functions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wattlm.errors import InvalidInputError
from wattlm.integrations.projection import percentile
from wattlm.records import RunRecord
from wattlm.sensors.base import Sensor
from wattlm.units import Provenance

__all__ = ["InferenceReport", "measure_inference"]

_GENERATION_TASKS = ("text-generation", "text2text-generation", "summarization", "translation")


@dataclass(frozen=True)
class InferenceReport:
    """What :func:`measure_inference` measured (energy in J, time in s).

    Attributes:
        items: inputs processed (warm-up excluded).
        batches: batch calls made (warm-up excluded).
        input_tokens: tokens fed to the model (special tokens included, padding excluded).
        output_tokens: tokens generated (0 for classification and other non-generative tasks).
        energy_j: energy of the measured batches, all devices of the tracker.
        duration_s: wall-clock time of the measured batches.
        latencies_s: wall-clock time of each batch call.
        provenance: weakest provenance of the sensors (``measured`` ... ``modelled``).
        device: where the model ran (``cpu``, ``cuda:0``).
        warmup_batches: batches run before measuring.
        run: the saved run, when this call started its own tracker (``None`` when it joined
            a running one).
    """

    items: int
    batches: int
    input_tokens: int
    output_tokens: int
    energy_j: float
    duration_s: float
    latencies_s: tuple[float, ...]
    provenance: Provenance | None
    device: str
    warmup_batches: int
    run: RunRecord | None = None

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    @property
    def energy_per_item_j(self) -> float:
        """Energy per input item (J)."""
        return self.energy_j / self.items

    @property
    def energy_per_token_j(self) -> float:
        """Energy per token, input and output together (J); 0 when no tokens were counted."""
        return self.energy_j / self.tokens if self.tokens else 0.0

    @property
    def items_per_s(self) -> float:
        """Throughput in items per second."""
        return self.items / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        """Throughput in tokens (input + output) per second."""
        return self.tokens / self.duration_s if self.duration_s > 0 else 0.0

    def latency_percentile_s(self, q: float) -> float:
        """Return the ``q``-th percentile (0-100) of batch latency."""
        return percentile(list(self.latencies_s), q)

    @property
    def latency_p50_s(self) -> float:
        """Median batch latency."""
        return self.latency_percentile_s(50.0)

    @property
    def latency_p95_s(self) -> float:
        """95th percentile of batch latency."""
        return self.latency_percentile_s(95.0)

    @property
    def latency_p99_s(self) -> float:
        """99th percentile of batch latency."""
        return self.latency_percentile_s(99.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the derived figures."""
        return {
            "items": self.items, "batches": self.batches, "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens, "energy_j": self.energy_j,
            "duration_s": self.duration_s, "energy_per_item_j": self.energy_per_item_j,
            "energy_per_token_j": self.energy_per_token_j, "items_per_s": self.items_per_s,
            "tokens_per_s": self.tokens_per_s, "latency_p50_s": self.latency_p50_s,
            "latency_p95_s": self.latency_p95_s, "latency_p99_s": self.latency_p99_s,
            "provenance": self.provenance.value if self.provenance else None,
            "device": self.device, "warmup_batches": self.warmup_batches,
            "run_id": self.run.id if self.run is not None else None,
        }


class _Runner:
    """Runs one batch and counts its tokens (a pipeline or a model with its tokenizer)."""

    def __init__(self, target: Any, tokenizer: Any, generate: bool | None,
                 call_kwargs: dict[str, Any]) -> None:
        from transformers import Pipeline

        self.is_pipeline = isinstance(target, Pipeline)
        self.target = target
        self.kwargs = dict(call_kwargs)
        if self.is_pipeline:
            self.tokenizer = tokenizer or target.tokenizer
            task = str(getattr(target, "task", "") or "")
            self.generate = any(task.startswith(t) for t in _GENERATION_TASKS)
            if task.startswith("text-generation"):
                self.kwargs.setdefault("return_full_text", False)
            self.device = str(getattr(target, "device", "cpu"))
        else:
            self.tokenizer = tokenizer
            self.generate = bool(generate)
            device = getattr(target, "device", None)
            self.device = str(device) if device is not None else "cpu"
        if self.tokenizer is None:
            raise InvalidInputError("measure_inference needs a tokenizer to count tokens: pass "
                                    "tokenizer=, or a pipeline that has one")
        if not self.is_pipeline and not callable(target):
            raise InvalidInputError("measure_inference takes a transformers Pipeline or a model "
                                    f"(with tokenizer=), got {type(target).__name__}")

    def sync(self) -> None:
        """Wait for queued CUDA work, so that clocks and counters cover it."""
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize(self.device)

    def run(self, batch: list[str], batch_size: int) -> tuple[int, int]:
        """Run a batch; return (input tokens, output tokens)."""
        if self.is_pipeline:
            return self._run_pipeline(batch, batch_size)
        return self._run_model(batch)

    def _count(self, texts: list[str], *, special: bool) -> int:
        encoded = self.tokenizer(texts, truncation=True, add_special_tokens=special)
        return sum(len(ids) for ids in encoded["input_ids"])

    def _run_pipeline(self, batch: list[str], batch_size: int) -> tuple[int, int]:
        outputs = self.target(batch, batch_size=batch_size, **self.kwargs)
        self.sync()
        input_tokens = self._count(batch, special=True)
        if not self.generate:
            return input_tokens, 0
        texts: list[str] = []
        for out in outputs:
            for item in out if isinstance(out, list) else [out]:
                for key in ("generated_text", "summary_text", "translation_text"):
                    if isinstance(item, dict) and key in item:
                        texts.append(str(item[key]))
        return input_tokens, self._count(texts, special=False) if texts else 0

    def _run_model(self, batch: list[str]) -> tuple[int, int]:
        import torch

        encoded = self.tokenizer(batch, padding=True, truncation=True, return_tensors="pt")
        mask = encoded.get("attention_mask")
        input_tokens = int(mask.sum()) if mask is not None else int(encoded["input_ids"].numel())
        encoded = encoded.to(self.device)
        with torch.inference_mode():
            if not self.generate:
                self.target(**encoded, **self.kwargs)
                self.sync()
                return input_tokens, 0
            out = self.target.generate(**encoded, **self.kwargs)
        self.sync()
        config = getattr(self.target, "config", None)
        start = 1 if getattr(config, "is_encoder_decoder", False) else encoded["input_ids"].shape[1]
        new = out[:, start:]
        pad = getattr(self.tokenizer, "pad_token_id", None)
        output_tokens = int((new != pad).sum()) if pad is not None else int(new.numel())
        return input_tokens, output_tokens


def measure_inference(
    target: Any,
    inputs: Sequence[str],
    *,
    tokenizer: Any = None,
    batch_size: int = 16,
    warmup_batches: int = 1,
    generate: bool | None = None,
    region: str | None = None,
    project: str | None = None,
    save: bool | None = None,
    sensors: Sequence[Sensor] | None = None,
    **call_kwargs: Any,
) -> InferenceReport:
    """Measure the energy, tokens, throughput and latency of inference.

    Args:
        target: a ``transformers.Pipeline``, or a model (``PreTrainedModel``) with ``tokenizer``.
        inputs: the texts, processed in order in batches of ``batch_size``.
        tokenizer: the tokenizer (a pipeline's own is used by default).
        batch_size: items per batch call (>= 1).
        warmup_batches: batches of the first inputs run before measuring (>= 0).
        generate: for a model: call ``model.generate`` (counts output tokens) instead of a
            forward pass. Pipelines decide from their task.
        region: grid region, as in :func:`wattlm.track` (used when no tracker is running; a
            running tracker, ``with wattlm.track(): ...``, is joined instead).
        project: project name in the store (own tracker only).
        save: whether to save the run (own tracker only).
        sensors: sensors to read instead of probing this machine (own tracker only).
        **call_kwargs: passed to each pipeline or model call (``max_new_tokens=``, ...).

    Returns:
        An :class:`InferenceReport`.

    Raises:
        InvalidInputError: no inputs, a non-text input, ``batch_size < 1``,
            ``warmup_batches < 0``, or no tokenizer.
    """
    texts = list(inputs)
    if not texts:
        raise InvalidInputError("measure_inference needs at least one input text")
    bad = next((t for t in texts if not isinstance(t, str)), None)
    if bad is not None:
        raise InvalidInputError(f"measure_inference takes texts (str), got {type(bad).__name__}")
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be >= 1, got {batch_size!r}")
    if warmup_batches < 0:
        raise InvalidInputError(f"warmup_batches must be >= 0, got {warmup_batches!r}")
    runner = _Runner(target, tokenizer, generate, call_kwargs)

    from wattlm.tracking.tracker import active_tracker, track

    tracker = active_tracker()
    owns = tracker is None
    if tracker is None:
        tracker = track(region=region, project=project, save=save, sensors=sensors).start()
    batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]
    run: RunRecord | None = None
    try:
        with tracker.phase("warmup"):
            for _ in range(warmup_batches):
                runner.run(batches[0], batch_size)
        latencies: list[float] = []
        input_tokens = output_tokens = 0
        with tracker.phase("inference"):
            first = tracker.read()
            for batch in batches:
                t0 = time.perf_counter()
                counted = runner.run(batch, batch_size)
                latencies.append(time.perf_counter() - t0)
                input_tokens += counted[0]
                output_tokens += counted[1]
            last = tracker.read()
        provenance = Provenance.weakest(*(s.info.provenance for s in tracker.sensors))
    finally:
        if owns:
            run = tracker.stop()
    return InferenceReport(
        items=len(texts), batches=len(batches), input_tokens=input_tokens,
        output_tokens=output_tokens, energy_j=sum(last.energy_j) - sum(first.energy_j),
        duration_s=last.time_s - first.time_s, latencies_s=tuple(latencies),
        provenance=provenance, device=runner.device, warmup_batches=warmup_batches, run=run)
