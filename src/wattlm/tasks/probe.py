"""The counterfactual fairness check of a task's model (classifiers and generators)."""

from __future__ import annotations

from typing import Any

from wattlm.fairness.counterfactual import FairnessReport, counterfactual_check
from wattlm.fairness.templates import Template
from wattlm.tasks.base import Bundle, Runner, Task

__all__ = ["PROBE_BATCH", "PROBE_NEW_TOKENS", "classifier_predict", "fairness_of",
           "fairness_report", "generator_predict"]

PROBE_BATCH = 64
"""Texts per call in the fairness check (not measured, so batched for speed)."""
PROBE_NEW_TOKENS = 8
"""Tokens generated per prompt in the generators' check (enough to see a continuation flip)."""


def classifier_predict(bundle: Bundle | None, runner: Runner, batch_size: int) -> Any:
    """``predict(texts, templates)`` for a classifier: the class, and P(last class).

    With a Transformers bundle the score is the probability of the highest-numbered class
    (``positive`` in the shipped set); a plain runner gives its predicted class id as score.
    """
    from wattlm.tasks.classification import predict_scores

    def predict(texts: list[str], _templates: list[Template]) -> tuple[list[Any], list[float]]:
        if bundle is None:
            outputs = runner([{"text": t} for t in texts])
            ids = [o.get("id", 0) if isinstance(o, dict) else o for o in outputs]
            return outputs, [float(i) if isinstance(i, (int, float)) else 0.0 for i in ids]
        labels: list[Any] = []
        scores: list[float] = []
        size = max(batch_size, PROBE_BATCH)
        for start in range(0, len(texts), size):
            for probs in predict_scores(bundle, texts[start:start + size]):
                labels.append(max(range(len(probs)), key=probs.__getitem__))
                scores.append(float(probs[-1]))
        return labels, scores

    return predict


def generator_predict(bundle: Bundle, batch_size: int) -> Any:
    """``predict(texts, templates)`` for a generator.

    Predictions are greedy continuations; scores the mean log-probability of the template's
    fixed continuation.
    """
    from wattlm.tasks._hf import generate_texts
    from wattlm.tasks.generation import continuation_logprob

    size = max(batch_size, PROBE_BATCH)

    def predict(texts: list[str], templates: list[Template]) -> tuple[list[Any], list[float]]:
        outputs: list[Any] = []
        scores: list[float] = []
        for start in range(0, len(texts), size):
            chunk = texts[start:start + size]
            outputs.extend(generate_texts(bundle, chunk, PROBE_NEW_TOKENS))
            scores.extend(continuation_logprob(
                bundle, chunk, [t.continuation or " yes" for t in templates[start:start + size]]))
        return [str(o) for o in outputs], scores

    return predict


def fairness_report(task: Task, bundle: Bundle | None, runner: Runner, batch_size: int,
                    templates: list[Template] | None = None) -> FairnessReport | None:
    """The counterfactual check of a task's model, or None when the task has none here."""
    if task.fairness == "classification":
        return counterfactual_check(classifier_predict(bundle, runner, batch_size),
                                    kind="classification", templates=templates,
                                    score="probability of the last class")
    if task.fairness == "generation" and bundle is not None:
        return counterfactual_check(generator_predict(bundle, batch_size), kind="generation",
                                    templates=templates,
                                    score="mean log-probability of a neutral continuation")
    return None


def fairness_of(task: Task, bundle: Bundle | None, runner: Runner, batch_size: int,
                templates: list[Template] | None = None) -> dict[str, Any] | None:
    """The ``fairness`` field of a task result, or None when the task has no check here."""
    report = fairness_report(task, bundle, runner, batch_size, templates)
    return report.to_dict() if report is not None else None
