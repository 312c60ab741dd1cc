"""Summarisation: a short summary per document; ROUGE-L F-measure (``rouge-score``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wattlm.tasks import _seq2seq
from wattlm.tasks.base import Bundle, Item, Quality, Runner, Task

__all__ = ["TASK", "rouge"]

MAX_NEW_TOKENS = 24


def _tiny(items: Sequence[Item], seed: int) -> Bundle:
    texts = [f"{i['document']} {i.get('summary', '')}" for i in items]
    return _seq2seq.tiny_t5(["summarize:", *texts], seed, "summariser")


def _runner(bundle: Bundle, batch_size: int) -> Runner:
    return _seq2seq.runner(bundle, batch_size, "document", MAX_NEW_TOKENS, "summarize: ")


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1, ROUGE-2 and ROUGE-L F-measures (Lin 2004; Google's ``rouge-score``)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for prediction, reference in zip(predictions, references):
        scores = scorer.score(reference, prediction)
        for key in totals:
            totals[key] += scores[key].fmeasure
    return {k: v / len(references) for k, v in totals.items()}


def _score(outputs: list[Any], items: list[Item]) -> Quality:
    values = rouge([str(o) for o in outputs], [str(i["summary"]) for i in items])
    return Quality("rougeL", values["rougeL"],
                   {"rouge1": values["rouge1"], "rouge2": values["rouge2"]})


TASK = Task(
    name="summarisation", title="summarisation",
    aliases=("summarization", "summary"), fields=("document", "summary"),
    text_field="document", metric="rougeL", architectures=_seq2seq.SEQ2SEQ_ARCHITECTURES,
    needs="a sequence-to-sequence model (e.g. T5ForConditionalGeneration, BART)",
    generates=True, build_tiny=_tiny, load=_seq2seq.load, make_runner=_runner, score=_score,
    output_tokens=_seq2seq.output_tokens)
