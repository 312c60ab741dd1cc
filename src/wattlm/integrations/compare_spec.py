"""Build the variants of a ``wattlm compare`` spec: load, compress (measured), wrap as runners.

Each variant's model is the task's tiny default (``model = "tiny"``) or a local directory,
then optionally changed by one maker: ``dtype`` (half precision), ``quantize`` (dynamic int8,
weight-only int8/int4), ``prune`` (sparsity, ``prune_method``) or ``distil_steps`` (a student
with ``student_layers`` layers). Making is measured with :func:`wattlm.track`; a variant whose
model cannot be built fails alone (its callable raises the error when compared).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wattlm.integrations.compression import MadeVariant, distil, make, prune, weight_only
from wattlm.integrations.hf_variants import half_precision, int8_dynamic
from wattlm.tasks.base import Bundle, Item, Runner, Task

__all__ = ["BuiltVariants", "build_variants"]


@dataclass
class BuiltVariants:
    """Runners by name, what making each cost, and the loaded bundles (for fairness)."""

    runners: dict[str, Runner] = field(default_factory=dict)
    costs: dict[str, MadeVariant] = field(default_factory=dict)
    bundles: dict[str, Bundle] = field(default_factory=dict)
    batch_sizes: dict[str, int] = field(default_factory=dict)


def _maker(options: dict[str, Any], bundle: Bundle, items: Sequence[Item],
           task: Task) -> tuple[str, Callable[[], Any]] | None:
    model = bundle.model
    if options.get("quantize") == "int8":
        return "dynamic int8 (torch.ao)", lambda: int8_dynamic(model)
    if options.get("quantize") in ("int8-weight", "int4-weight"):
        bits = 8 if options["quantize"] == "int8-weight" else 4
        return f"weight-only int{bits} (optimum-quanto)", lambda: weight_only(model, bits)
    if options.get("prune") is not None:
        method = str(options.get("prune_method", "unstructured"))
        sparsity = float(options["prune"])
        return (f"{method} pruning at sparsity {sparsity:g}",
                lambda: prune(model, sparsity, method))
    if options.get("distil_steps") is not None:
        steps, layers = int(options["distil_steps"]), int(options.get("student_layers", 1))
        texts = [str(i[task.text_field]) for i in items]
        return (f"distilled student ({layers} layer(s), {steps} steps)",
                lambda: distil(model, bundle.tokenizer, texts, steps=steps, layers=layers))
    if options.get("dtype") in ("float16", "bfloat16"):
        dtype = str(options["dtype"])
        return dtype, lambda: half_precision(model, dtype)
    return None


def _failing(error: Exception) -> Runner:
    def run(_items: list[Item]) -> list[Any]:
        raise RuntimeError(f"the variant could not be built: {type(error).__name__}: {error}")

    return run


def build_variants(task: Task, items: list[Item], variants: dict[str, dict[str, Any]], *,
                   default_batch_size: int = 8, seed: int = 0,
                   sensors: Callable[[str], Sequence[Any]] | None = None,
                   track_options: dict[str, Any] | None = None) -> BuiltVariants:
    """Load and compress every variant of a checked spec (see the module docstring)."""
    built = BuiltVariants()
    for name, options in variants.items():
        size = int(options.get("batch_size", default_batch_size))
        built.batch_sizes[name] = size
        device = str(options.get("device", "cpu"))
        try:
            path = str(options["model"])
            bundle = (task.build_tiny(items, seed) if path == "tiny" else task.load(path, device))
            if path == "tiny" and device != "cpu":
                bundle.model, bundle.device = bundle.model.to(device), device
            chosen = _maker(options, bundle, items, task)
            if chosen is not None:
                method, fn = chosen
                made = make(method, fn, sensors=sensors(f"make:{name}") if sensors else None,
                            project=f"compare:make:{name}", **(track_options or {}))
                if options.get("quantize") == "int8":
                    device = "cpu"
                bundle = Bundle(made.model, bundle.tokenizer,
                                f"{bundle.description}, {method}", device=device)
                built.costs[name] = made
        except Exception as e:  # noqa: BLE001 - a variant that cannot be built fails alone
            built.runners[name] = _failing(e)
            continue
        built.bundles[name] = bundle
        built.runners[name] = task.make_runner(bundle, size)
    return built
