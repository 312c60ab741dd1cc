"""Extractive question answering: an answer span from the context; exact match and F1.

Exact match and token F1 follow the SQuAD v1.1 evaluation (Rajpurkar et al. 2016): answers are
lower-cased, punctuation and the articles a/an/the removed, whitespace collapsed; F1 is the
harmonic mean of token precision and recall. The metric is a few lines and is written here.
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Sequence
from typing import Any

from wattlm.tasks import _hf
from wattlm.tasks.base import Bundle, Item, Quality, Runner, Task

__all__ = ["TASK", "exact_match", "token_f1"]

_MAX_ANSWER_TOKENS = 8


def _tiny(items: Sequence[Item], seed: int) -> Bundle:
    from transformers import BertConfig, BertForQuestionAnswering

    tokenizer = _hf.word_tokenizer(f"{i['question']} {i['context']}" for i in items)
    _hf.seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=256)
    return Bundle(BertForQuestionAnswering(config).eval(), tokenizer,  # type: ignore[no-untyped-call]
                  "tiny BERT span extractor (random weights, hidden 32, 2 layers)")


def _load(path: str, device: str) -> Bundle:
    return _hf.load_local(path, "AutoModelForQuestionAnswering", device, path)


def _best_span(start: list[float], end: list[float], allowed: list[int]) -> tuple[int, int]:
    best, span = float("-inf"), (allowed[0], allowed[0])
    for i in allowed:
        for j in allowed:
            if i <= j < i + _MAX_ANSWER_TOKENS and start[i] + end[j] > best:
                best, span = start[i] + end[j], (i, j)
    return span


def _runner(bundle: Bundle, batch_size: int) -> Runner:
    import torch

    def run(items: list[Item]) -> list[Any]:
        out: list[Any] = []
        for first in range(0, len(items), batch_size):
            chunk = items[first:first + batch_size]
            encoded = bundle.tokenizer([str(i["question"]) for i in chunk],
                                       [str(i["context"]) for i in chunk], padding=True,
                                       truncation="only_second", max_length=256,
                                       return_tensors="pt", return_offsets_mapping=True)
            offsets = encoded.pop("offset_mapping").tolist()
            with torch.no_grad():
                result = bundle.model(**{k: v.to(bundle.device) for k, v in encoded.items()})
            starts, ends = result.start_logits.float().tolist(), result.end_logits.float().tolist()
            for row, item in enumerate(chunk):
                ids = encoded.sequence_ids(row)
                allowed = [k for k, s in enumerate(ids) if s == 1] or [0]
                i, j = _best_span(starts[row], ends[row], allowed)
                context = str(item["context"])
                out.append(context[offsets[row][i][0]:offsets[row][j][1]])
        return out

    return run


def _normalise(text: str) -> list[str]:
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return text.split()


def exact_match(prediction: str, answer: str) -> bool:
    """SQuAD exact match after normalisation."""
    return _normalise(prediction) == _normalise(answer)


def token_f1(prediction: str, answer: str) -> float:
    """SQuAD token F1 after normalisation."""
    pred, gold = _normalise(prediction), _normalise(answer)
    common = sum((collections.Counter(pred) & collections.Counter(gold)).values())
    if not pred or not gold:
        return float(pred == gold)
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def _score(outputs: list[Any], items: list[Item]) -> Quality:
    answers = [str(i["answer"]) for i in items]
    em = sum(exact_match(str(o), a) for o, a in zip(outputs, answers)) / len(answers)
    f1 = sum(token_f1(str(o), a) for o, a in zip(outputs, answers)) / len(answers)
    return Quality("f1", f1, {"exact_match": em})


def _convert(item: Item) -> Item:
    answers = item.get("answers")  # SQuAD-style datasets: answers = {"text": [...], ...}
    if "answer" not in item and isinstance(answers, dict) and answers.get("text"):
        return {**item, "answer": answers["text"][0]}
    return item


TASK = Task(
    name="qa", title="extractive question answering",
    aliases=("question-answering", "extractive-qa", "squad"),
    fields=("question", "context", "answer"), text_field="question", metric="f1",
    architectures=("ForQuestionAnswering",),
    needs="an extractive QA model (architectures ending ForQuestionAnswering)",
    generates=False, build_tiny=_tiny, load=_load, make_runner=_runner, score=_score,
    convert=_convert)
