"""Sentence similarity / embedding: cosine of mean-pooled embeddings; Spearman correlation.

Each item is a sentence pair with a gold similarity score (0-5, STS-style); the model embeds
both sentences (mean of the last hidden state over real tokens) and the quality is the
Spearman rank correlation between cosine similarity and the gold scores (``scipy``), as in
the STS benchmark evaluations (Cer et al. 2017).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wattlm.tasks import _hf
from wattlm.tasks.base import Bundle, Item, Quality, Runner, Task

__all__ = ["TASK", "embed"]


def _tiny(items: Sequence[Item], seed: int) -> Bundle:
    from transformers import BertConfig, BertModel

    tokenizer = _hf.word_tokenizer(f"{i['sentence1']} {i['sentence2']}" for i in items)
    _hf.seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=128)
    return Bundle(BertModel(config, add_pooling_layer=False).eval(), tokenizer,  # type: ignore[no-untyped-call]
                  "tiny BERT encoder (random weights, hidden 32, 2 layers)")


def _load(path: str, device: str) -> Bundle:
    return _hf.load_local(path, "AutoModel", device, path)


def embed(bundle: Bundle, texts: Sequence[str]) -> Any:
    """Mean-pooled, L2-normalised embeddings (a torch tensor, one row per text)."""
    import torch

    encoded = _hf.encode(bundle, texts)
    with torch.no_grad():
        out = bundle.model(**encoded)
    hidden = getattr(out, "last_hidden_state", None)
    if hidden is None:
        hidden = out.hidden_states[-1]
    mask = encoded["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden.float() * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=-1)


def _runner(bundle: Bundle, batch_size: int) -> Runner:
    def run(items: list[Item]) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            left = embed(bundle, [str(i["sentence1"]) for i in chunk])
            right = embed(bundle, [str(i["sentence2"]) for i in chunk])
            out.extend(float(v) for v in (left * right).sum(dim=-1).tolist())
        return out

    return run


def _score(outputs: list[Any], items: list[Item]) -> Quality:
    from scipy.stats import pearsonr, spearmanr

    gold = [float(i["score"]) for i in items]
    predicted = [float(o) for o in outputs]
    if len(set(predicted)) < 2 or len(set(gold)) < 2:
        return Quality("spearman", 0.0, {"pearson": 0.0})
    rho = float(spearmanr(predicted, gold).statistic)
    r = float(pearsonr(predicted, gold).statistic)
    return Quality("spearman", rho, {"pearson": r})


TASK = Task(
    name="similarity", title="sentence similarity / embedding",
    aliases=("sentence-similarity", "embedding", "feature-extraction", "sts"),
    fields=("sentence1", "sentence2", "score"), text_field="sentence1", metric="spearman",
    architectures=("Model", "ForMaskedLM", "ForSequenceClassification"),
    needs="an encoder (a base model such as BertModel, or one ending ForMaskedLM)",
    generates=False, build_tiny=_tiny, load=_load, make_runner=_runner, score=_score)
