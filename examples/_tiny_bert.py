"""Shared by the examples: the dataset, and a small BERT built locally when no checkpoint is given.

No model hub is needed: without ``--model PATH`` the examples build a BERT from a config (random
weights, hidden size 32, 2 layers) and a word-level tokenizer whose vocabulary is the words of
``data/reviews.csv``.
"""

from __future__ import annotations

import csv
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATA = Path(__file__).resolve().parent / "data" / "reviews.csv"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def load_reviews(path: Path = DATA) -> tuple[list[str], list[int]]:
    """Texts and labels of the example dataset."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [int(r["label"]) for r in rows]


def build_tokenizer(texts: list[str], max_length: int = 64) -> Any:
    """A BERT tokenizer whose vocabulary is every word and punctuation mark of ``texts``."""
    from transformers import BertTokenizerFast

    words = sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower())})
    folder = Path(tempfile.mkdtemp(prefix="wattlm-vocab-"))
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(SPECIALS + words) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True,
                             model_max_length=max_length)


def build_tiny_bert(vocab_size: int, num_labels: int = 2, seed: int = 0) -> Any:
    """A randomly initialised BERT for sequence classification: hidden 32, 2 layers."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=128, num_labels=num_labels)
    return BertForSequenceClassification(config)


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1, with an error that says so."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def checkpoint_dir(text: str) -> str:
    """An argparse type: a local checkpoint directory (with ``config.json``), checked up front."""
    import argparse

    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a directory: give a local checkpoint folder (the one "
            "save_pretrained() wrote, with config.json); no model hub is used")
    if not (path / "config.json").is_file():
        raise argparse.ArgumentTypeError(
            f"{text!r} has no config.json: give the folder save_pretrained() wrote")
    return str(path)


def load_model(model_path: str | None, texts: list[str]) -> tuple[Any, Any, str]:
    """(model, tokenizer, description): a local checkpoint, or the tiny BERT."""
    if model_path:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(model_path,
                                                                   local_files_only=True)
        return model, tokenizer, f"checkpoint {model_path}"
    tokenizer = build_tokenizer(texts)
    model = build_tiny_bert(len(tokenizer))
    return model, tokenizer, ("no --model given: a tiny BERT built from a config (random "
                              "weights, hidden 32, 2 layers) with a tokenizer built from "
                              "examples/data; its predictions mean nothing, its energy is real")


def run_example(main: Callable[[], int], script: str) -> int:
    """Run an example's ``main``; a wattlm input error is one line on stderr, exit 2."""
    from wattlm.errors import WattlmError

    try:
        return main()
    except WattlmError as e:
        print(f"{Path(script).name}: error: {e}", file=sys.stderr)
        return 2
