"""Transformers helpers shared by the task modules (torch and transformers imported inside).

The tiny default models use a word-level BERT tokenizer whose vocabulary is every word of the
task's items, so nothing is downloaded; random weights are seeded, so runs repeat.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from wattlm.tasks.base import Bundle

__all__ = ["SPECIALS", "Generated", "count_tokens", "encode", "generate_texts", "load_local",
           "seed", "word_tokenizer"]

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_WORDS = re.compile(r"\w+|[^\w\s]")


def word_tokenizer(texts: Iterable[str], max_length: int = 128) -> Any:
    """A BERT tokenizer whose vocabulary is the lower-cased words and marks of ``texts``."""
    from transformers import BertTokenizerFast  # type: ignore[attr-defined]

    words = sorted({w for t in texts for w in _WORDS.findall(t.lower())} - set(SPECIALS))
    vocab = {w: i for i, w in enumerate(SPECIALS + words)}
    return BertTokenizerFast(vocab=vocab, do_lower_case=True, model_max_length=max_length)


def seed(value: int) -> None:
    """Seed torch so a tiny model's random weights repeat."""
    import torch

    torch.manual_seed(value)


def load_local(path: str, auto_class: str, device: str, description: str) -> Bundle:
    """Load a local model directory (``local_files_only=True``) with a transformers auto class."""
    import transformers
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = getattr(transformers, auto_class).from_pretrained(path, local_files_only=True)
    return Bundle(model.to(device).eval(), tokenizer, description, device=device)


def encode(bundle: Bundle, texts: Sequence[str], *, max_length: int = 128,
           pair: Sequence[str] | None = None, special: bool = True) -> dict[str, Any]:
    """Tokenise a batch (padding, truncation) and move it to the bundle's device."""
    args: tuple[Any, ...] = (list(texts),) if pair is None else (list(texts), list(pair))
    encoded = bundle.tokenizer(*args, padding=True, truncation=True, max_length=max_length,
                               return_tensors="pt", add_special_tokens=special,
                               return_token_type_ids=pair is not None)
    return {k: v.to(bundle.device) for k, v in encoded.items()}


class Generated(str):
    """Generated text that remembers how many tokens the model produced for it."""

    tokens: int = 0


def generate_texts(bundle: Bundle, prompts: Sequence[str],
                   max_new_tokens: int) -> list[Generated]:
    """Greedy generation of the new text only (decoder-only prompts are cut off).

    Each result's ``tokens`` counts the decoding steps the row took: up to and including its
    first end-of-sequence token, or all ``max_new_tokens`` steps (the decoder start token of
    encoder-decoder models is not counted).
    """
    import torch

    model, tokenizer = bundle.model, bundle.tokenizer
    decoder_only = not getattr(model.config, "is_encoder_decoder", False)
    if decoder_only:
        tokenizer.padding_side = "left"
    encoded = encode(bundle, prompts, special=not decoder_only)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    with torch.no_grad():
        out = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=pad)
    out = out[:, encoded["input_ids"].shape[1]:] if decoder_only else out[:, 1:]
    texts: list[str] = tokenizer.batch_decode(out, skip_special_tokens=True)
    eos = getattr(model.generation_config, "eos_token_id", None)
    eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
    counts = [next((k + 1 for k, t in enumerate(row) if t in eos_ids), len(row))
              for row in out.tolist()]
    results = []
    for text, count in zip(texts, counts):
        item = Generated(text.strip())
        item.tokens = int(count)
        results.append(item)
    return results


def count_tokens(bundle: Bundle, texts: Sequence[str]) -> int:
    """Tokens of ``texts`` with the bundle's tokenizer (no special tokens)."""
    return sum(len(bundle.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
