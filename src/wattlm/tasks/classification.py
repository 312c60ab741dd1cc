"""Text classification: a label per text; accuracy and macro F1 (scikit-learn).

Labels may be integers (``0``, ``1``) or names (``positive``); a model's default names
(``LABEL_0``) are matched to integer labels by their index, so the two never disagree on form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wattlm.tasks import _hf
from wattlm.tasks.base import Bundle, Item, Quality, Runner, Task

__all__ = ["TASK", "label_matches", "predict_scores"]


def _tiny(items: Sequence[Item], seed: int) -> Bundle:
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer = _hf.word_tokenizer(str(i["text"]) for i in items)
    labels = sorted({str(i.get("label", 0)) for i in items})
    _hf.seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,  # type: ignore[call-arg]
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=128, num_labels=max(len(labels), 2))
    return Bundle(BertForSequenceClassification(config).eval(), tokenizer,  # type: ignore[no-untyped-call]
                  "tiny BERT classifier (random weights, hidden 32, 2 layers)")


def _load(path: str, device: str) -> Bundle:
    return _hf.load_local(path, "AutoModelForSequenceClassification", device, path)


def predict_scores(bundle: Bundle, texts: Sequence[str]) -> list[list[float]]:
    """Class probabilities per text (softmax of the logits)."""
    import torch

    encoded = _hf.encode(bundle, texts)
    with torch.no_grad():
        logits = bundle.model(**encoded).logits.float()
    rows: list[list[float]] = torch.softmax(logits, dim=-1).tolist()
    return rows


def _runner(bundle: Bundle, batch_size: int) -> Runner:
    def run(items: list[Item]) -> list[Any]:
        texts = [str(i["text"]) for i in items]
        out: list[Any] = []
        for start in range(0, len(texts), batch_size):
            for probs in predict_scores(bundle, texts[start:start + batch_size]):
                out.append(max(range(len(probs)), key=probs.__getitem__))
        names = getattr(bundle.model.config, "id2label", None) or {}
        return [{"id": o, "name": names.get(o, f"LABEL_{o}")} for o in out]

    return run


def label_matches(prediction: Any, gold: Any) -> bool:
    """Whether a prediction (an id, a name, or ``{"id", "name"}``) is the gold label.

    Integer-like gold labels compare with the predicted class index (so ``LABEL_1`` and ``1``
    agree); other gold labels compare with the predicted name, case-insensitively.
    """
    if isinstance(prediction, dict):
        ident, name = prediction.get("id"), prediction.get("name")
    elif isinstance(prediction, int):
        ident, name = prediction, None
    else:
        ident, name = None, prediction
    gold_text = str(gold).strip()
    if gold_text.lstrip("-").isdigit():
        if ident is None and isinstance(name, str) and name.upper().startswith("LABEL_"):
            ident = int(name.split("_", 1)[1]) if name.split("_", 1)[1].isdigit() else None
        return ident is not None and int(ident) == int(gold_text)
    return name is not None and str(name).strip().lower() == gold_text.lower()


def _score(outputs: list[Any], items: list[Item]) -> Quality:
    from sklearn.metrics import f1_score

    gold = [str(i["label"]) for i in items]
    labels = sorted(set(gold))
    predicted = [next((label for label in labels if label_matches(o, label)), "\0other")
                 for o in outputs]
    accuracy = sum(p == g for p, g in zip(predicted, gold)) / len(gold)
    f1 = float(f1_score(gold, predicted, labels=labels, average="macro",
                        zero_division=0))
    return Quality("accuracy", accuracy, {"macro_f1": f1})


TASK = Task(
    name="classification", title="text classification",
    aliases=("text-classification", "sentiment", "sequence-classification"),
    fields=("text", "label"), text_field="text", metric="accuracy",
    architectures=("ForSequenceClassification",),
    needs="a sequence classifier (architectures ending ForSequenceClassification)",
    generates=False, build_tiny=_tiny, load=_load, make_runner=_runner, score=_score,
    fairness="classification")
