"""Tiny, hub-free Transformers objects for the integration tests (CPU, random weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

WORDS = ["the", "a", "cat", "dog", "sat", "ran", "fast", "on", "mat", "good", "bad", "film",
         "was", "very", ".", ","]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def tokenizer(tmp_path: Path) -> Any:
    from transformers import BertTokenizerFast

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(SPECIALS + WORDS) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True, model_max_length=32)


def tiny_bert(vocab_size: int) -> Any:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=64, num_labels=2)
    return BertForSequenceClassification(config)


@pytest.fixture
def model(tokenizer: Any) -> Any:
    return tiny_bert(len(tokenizer))


class TinyDataset:
    """Random sentences of the vocabulary with a label (map-style, fixed length)."""

    def __init__(self, tokenizer: Any, n: int = 64, seed: int = 0) -> None:
        import random

        rng = random.Random(seed)
        texts = [" ".join(rng.choice(WORDS[:-2]) for _ in range(rng.randint(3, 8)))
                 for _ in range(n)]
        self.labels = [int("good" in t) for t in texts]
        self.encoded = tokenizer(texts, padding="max_length", max_length=12, truncation=True)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        item = {k: torch.tensor(v[i]) for k, v in self.encoded.items()}
        item["labels"] = torch.tensor(self.labels[i])
        return item


@pytest.fixture
def dataset(tokenizer: Any) -> TinyDataset:
    return TinyDataset(tokenizer)
