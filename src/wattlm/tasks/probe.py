"""The counterfactual fairness check of a task's model (classifiers and generators)."""

from __future__ import annotations

from typing import Any

from wattlm.fairness.counterfactual import counterfactual_check
from wattlm.fairness.templates import Template
from wattlm.tasks.base import Bundle, Runner, Task

__all__ = ["classifier_predict", "fairness_of", "generator_predict"]


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
        for start in range(0, len(texts), batch_size):
            for probs in predict_scores(bundle, texts[start:start + batch_size]):
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
    from wattlm.tasks.generation import MAX_NEW_TOKENS, continuation_logprob

    def predict(texts: list[str], templates: list[Template]) -> tuple[list[Any], list[float]]:
        outputs: list[Any] = []
        for start in range(0, len(texts), batch_size):
            outputs.extend(generate_texts(bundle, texts[start:start + batch_size],
                                          MAX_NEW_TOKENS))
        scores = [continuation_logprob(bundle, [text], t.continuation or " yes")[0]
                  for text, t in zip(texts, templates)]
        return [str(o) for o in outputs], scores

    return predict


def fairness_of(task: Task, bundle: Bundle | None, runner: Runner, batch_size: int,
                templates: list[Template] | None = None) -> dict[str, Any] | None:
    """The ``fairness`` field of a task result, or None when the task has no check here."""
    if task.fairness == "classification":
        report = counterfactual_check(classifier_predict(bundle, runner, batch_size),
                                      kind="classification", templates=templates,
                                      score="probability of the last class")
    elif task.fairness == "generation" and bundle is not None:
        report = counterfactual_check(generator_predict(bundle, batch_size), kind="generation",
                                      templates=templates,
                                      score="mean log-probability of a neutral continuation")
    else:
        return None
    return report.to_dict()
