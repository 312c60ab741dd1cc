"""Translation: a target-language sentence per source; chrF and BLEU (``sacrebleu``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wattlm.tasks import _seq2seq
from wattlm.tasks.base import Bundle, Item, Quality, Runner, Task

__all__ = ["TASK", "chrf_bleu"]

MAX_NEW_TOKENS = 16


def _tiny(items: Sequence[Item], seed: int) -> Bundle:
    texts = [f"{i['source']} {i.get('target', '')}" for i in items]
    return _seq2seq.tiny_t5(["translate english to french:", *texts], seed, "translator")


def _runner(bundle: Bundle, batch_size: int) -> Runner:
    return _seq2seq.runner(bundle, batch_size, "source", MAX_NEW_TOKENS,
                           "translate English to French: ")


def chrf_bleu(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus chrF (Popović 2015) and BLEU (Papineni et al. 2002) with sacrebleu's defaults."""
    import sacrebleu

    refs = [list(references)]
    return {"chrf": float(sacrebleu.corpus_chrf(list(predictions), refs).score),
            "bleu": float(sacrebleu.corpus_bleu(list(predictions), refs).score)}


def _score(outputs: list[Any], items: list[Item]) -> Quality:
    values = chrf_bleu([str(o) for o in outputs], [str(i["target"]) for i in items])
    return Quality("chrf", values["chrf"], {"bleu": values["bleu"]})


TASK = Task(
    name="translation", title="translation", aliases=("translate", "mt"),
    fields=("source", "target"), text_field="source", metric="chrf",
    architectures=_seq2seq.SEQ2SEQ_ARCHITECTURES,
    needs="a sequence-to-sequence model (e.g. T5ForConditionalGeneration, MarianMTModel)",
    generates=True, build_tiny=_tiny, load=_seq2seq.load, make_runner=_runner, score=_score,
    output_tokens=_seq2seq.output_tokens)
