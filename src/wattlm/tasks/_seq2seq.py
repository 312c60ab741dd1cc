"""Shared by summarisation and translation: a tiny T5 and a batched greedy runner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wattlm.tasks import _hf
from wattlm.tasks.base import Bundle, Item, Runner

__all__ = ["SEQ2SEQ_ARCHITECTURES", "load", "output_tokens", "runner", "tiny_t5"]

SEQ2SEQ_ARCHITECTURES = ("ForConditionalGeneration", "MTModel", "ForSeq2SeqLM")


def tiny_t5(texts: Sequence[str], seed: int, what: str) -> Bundle:
    """A T5 built from a config (d_model 32, 2 layers) with a word tokenizer over ``texts``."""
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = _hf.word_tokenizer(texts, max_length=256)
    _hf.seed(seed)
    config = T5Config(vocab_size=len(tokenizer), d_model=32, d_ff=64, d_kv=16, num_layers=2,  # type: ignore[call-arg]
                      num_heads=2, pad_token_id=tokenizer.pad_token_id,
                      eos_token_id=tokenizer.sep_token_id,
                      decoder_start_token_id=tokenizer.pad_token_id)
    return Bundle(T5ForConditionalGeneration(config).eval(), tokenizer,  # type: ignore[no-untyped-call]
                  f"tiny T5 {what} (random weights, d_model 32, 2 layers)")


def load(path: str, device: str) -> Bundle:
    """A local sequence-to-sequence model directory."""
    return _hf.load_local(path, "AutoModelForSeq2SeqLM", device, path)


def runner(bundle: Bundle, batch_size: int, field: str, max_new_tokens: int,
           prefix: str = "") -> Runner:
    """Greedy generation of up to ``max_new_tokens`` for ``prefix + item[field]``."""
    def run(items: list[Item]) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(items), batch_size):
            prompts = [prefix + str(i[field]) for i in items[start:start + batch_size]]
            out.extend(_hf.generate_texts(bundle, prompts, max_new_tokens))
        return out

    return run


def output_tokens(_bundle: Bundle, outputs: list[Any]) -> int:
    """Generated tokens (counted at generation time)."""
    return sum(int(getattr(o, "tokens", 0)) for o in outputs)
