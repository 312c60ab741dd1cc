"""What a task is: its inputs, how to run a model on them, and its quality metric.

A task module defines one :class:`Task`. The runner a task builds is a plain callable
``runner(items) -> outputs`` (one output per item), so a Transformers model, a pipeline wrapped
in a function, or a rule-based reference can all be measured the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Bundle", "Item", "Quality", "Runner", "Task"]

Item = dict[str, Any]
Runner = Callable[[list[Item]], list[Any]]


@dataclass
class Bundle:
    """A loaded model with what its task needs to run it (tokenizer, device, description)."""

    model: Any
    tokenizer: Any
    description: str
    device: str = "cpu"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Quality:
    """A task's standard metric on one run (higher is better) plus secondary metrics."""

    metric: str
    value: float
    others: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"metric": ..., "value": ..., "others": {...}}``."""
        return {"metric": self.metric, "value": self.value, "others": dict(self.others)}


@dataclass(frozen=True)
class Task:
    """One benchmark task.

    Attributes:
        name: canonical name (``classification``).
        title: human name (``text classification``).
        aliases: other accepted names (``text-classification``).
        fields: fields every input item must have.
        text_field: the field holding the query text (token counts, fairness templates).
        metric: name of the primary quality metric.
        architectures: accepted ``config.json`` architecture suffixes for ``--model PATH``.
        needs: what kind of model the task needs, for error messages.
        generates: whether outputs are generated text (energy per output token).
        build_tiny: ``build_tiny(items, seed) -> Bundle``: a small model from a config.
        load: ``load(path, device) -> Bundle``: a local model directory.
        make_runner: ``make_runner(bundle, batch_size) -> Runner``.
        score: ``score(outputs, items) -> Quality``.
        output_tokens: ``output_tokens(bundle, outputs) -> int`` for generating tasks.
        fairness: the kind of counterfactual check the task supports (``classification``,
            ``generation``) or None.
    """

    name: str
    title: str
    aliases: tuple[str, ...]
    fields: tuple[str, ...]
    text_field: str
    metric: str
    architectures: tuple[str, ...]
    needs: str
    generates: bool
    build_tiny: Callable[[Sequence[Item], int], Bundle]
    load: Callable[[str, str], Bundle]
    make_runner: Callable[[Bundle, int], Runner]
    score: Callable[[list[Any], list[Item]], Quality]
    output_tokens: Callable[[Bundle, list[Any]], int] | None = None
    fairness: str | None = None
    convert: Callable[[Item], Item] | None = None
