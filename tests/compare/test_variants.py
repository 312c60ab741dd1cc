"""compare(): checks before measuring, failing variants, Pareto set, tiny BERT on CPU."""

from __future__ import annotations

from typing import Any

import pytest

from wattlm.compare.variants import (
    ComparisonResult,
    VariantResult,
    compare,
    half_precision,
    int8_dynamic,
    pareto_front,
    transformers_runner,
)
from wattlm.errors import InvalidInputError
from wattlm.sensors.fake import FakeSensor


def _fixed(energy_j: dict[str, float]) -> Any:
    """Fresh sensors per variant whose counter reads exactly ``energy_j[name]``."""
    return lambda name: [FakeSensor(f"fake-{name}", readings=[energy_j[name]])]


def test_pareto_front_constructed() -> None:
    points = {"a": (10.0, 0.90), "b": (6.0, 0.85), "c": (12.0, 0.90), "d": (6.0, 0.80),
              "e": (15.0, 0.95)}
    # c is beaten by a (less energy, same quality); d by b (same energy, better quality)
    assert pareto_front(points) == ["b", "a", "e"]
    assert pareto_front({"x": (1.0, 1.0), "y": (1.0, 1.0)}) == ["x", "y"]  # ties survive
    # second coordinate minimised (latency)
    assert pareto_front({"a": (1.0, 5.0), "b": (2.0, 1.0), "c": (3.0, 2.0)},
                        maximise_second=False) == ["a", "b"]


def test_recommendations_have_numbers() -> None:
    result = ComparisonResult([
        VariantResult("base", items=10, energy_j=100.0, duration_s=1.0, quality=0.912),
        VariantResult("int8", items=10, energy_j=59.0, duration_s=1.0, quality=0.909),
        VariantResult("fp16", items=10, energy_j=120.0, duration_s=1.0, quality=0.912),
    ], baseline="base", has_quality=True, quality_name="accuracy", inputs=10)
    recs = result.recommendations()
    assert recs[0].startswith("int8 cuts energy per item by 41 % than base")
    assert "loss of 0.003 in accuracy 0.912 → 0.909" in recs[0]
    assert "fp16 uses 20 % more energy per item" in recs[1] and "drop it" in recs[1]
    assert result.pareto() == ["int8", "base"]


@pytest.mark.parametrize("variants, inputs, kwargs, message", [
    ({}, ["a"], {}, "at least one variant"),
    ({"x": 3}, ["a"], {}, "not a callable"),
    ({"x": lambda b: b}, [], {}, "inputs is empty"),
    ({"x": lambda b: b}, "abc", {}, "list of items"),
    ({"x": lambda b: b}, ["a"], {"batch_size": 0}, "batch_size"),
    ({"x": lambda b: b}, ["a"], {"warmup": -1}, "warmup"),
    ({"x": lambda b: b}, ["a"], {"baseline": "y"}, "baseline 'y' is not a variant"),
    ({"x": lambda b: b}, ["a"], {"quality": 0.5}, "quality must be a function"),
])
def test_bad_input_fails_before_measuring(variants: dict[str, Any], inputs: Any,
                                          kwargs: dict[str, Any], message: str) -> None:
    calls: list[str] = []

    def sensors(name: str) -> list[FakeSensor]:
        calls.append(name)
        return [FakeSensor(readings=[1.0])]

    with pytest.raises(InvalidInputError, match=message):
        compare(variants, inputs, sensors=sensors, **kwargs)
    assert calls == []


def test_unknown_region_fails_before_any_variant_runs() -> None:
    ran: list[int] = []

    def variant(batch: list[Any]) -> list[Any]:
        ran.append(len(batch))
        return batch

    with pytest.raises(Exception, match="region"):
        compare({"x": variant}, ["a"], region="Atlantis")
    assert ran == []


def test_failing_variants_are_reported_and_the_rest_complete() -> None:
    def boom(batch: list[Any]) -> list[Any]:
        raise RuntimeError("out of memory")

    def short(batch: list[Any]) -> list[Any]:
        return batch[:-1]

    result = compare({"ok": lambda b: [len(t) for t in b], "boom": boom, "short": short},
                     ["aa", "b", "ccc"], quality=lambda outs: sum(outs) / 6.0,
                     sensors=_fixed({"ok": 30.0, "boom": 1.0, "short": 1.0}), warmup=0)
    ok, failed_boom, failed_short = result.variants
    assert ok.ok and ok.energy_per_item_j == pytest.approx(10.0) and ok.quality == 1.0
    assert failed_boom.status == "failed" and "RuntimeError: out of memory" in failed_boom.error
    assert failed_short.status == "failed" and "2 outputs for 3 inputs" in failed_short.error
    assert result.pareto() == ["ok"]
    assert any(r.startswith("boom failed") for r in result.recommendations())


def test_a_quality_function_that_raises_fails_only_that_variant() -> None:
    def quality(outputs: list[Any]) -> float:
        if outputs[0] == "bad":
            raise ZeroDivisionError("no labels")
        return 1.0

    result = compare({"good": lambda b: ["ok"] * len(b), "bad": lambda b: ["bad"] * len(b)},
                     ["x", "y"], quality=quality, sensors=_fixed({"good": 2.0, "bad": 2.0}))
    assert result["good"].ok and result["good"].quality == 1.0
    assert result["bad"].status == "failed"
    assert "quality function raised ZeroDivisionError: no labels" in (result["bad"].error or "")


def test_batching_warmup_and_token_counts() -> None:
    seen: list[int] = []

    def variant(batch: list[str]) -> list[str]:
        seen.append(len(batch))
        return [t.upper() for t in batch]

    result = compare({"v": variant}, ["a b", "c", "d e f", "g", "h"], batch_size=2, warmup=1,
                     count_tokens=lambda i, o: len(i.split()), sensors=_fixed({"v": 80.0}))
    assert seen == [2, 2, 2, 1]            # one warm-up call on the first batch, then 3 calls
    v = result["v"]
    assert v.items == 5 and v.tokens == 8
    assert v.energy_per_item_j == pytest.approx(16.0)
    assert v.energy_per_token_j == pytest.approx(10.0)
    assert v.outputs == ["A B", "C", "D E F", "G", "H"]


def _tiny_bert() -> tuple[Any, Any]:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    torch.manual_seed(0)
    words = ["the", "cat", "dog", "sat", "ran", "on", "a", "mat", "fast", "slow", "big", "red"]
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    tokenizer = BertTokenizerFast(vocab=vocab)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                        num_labels=3)
    return BertForSequenceClassification(config).eval(), tokenizer


TEXTS = ["the cat sat on a mat", "a dog ran fast", "the big red dog", "a slow cat",
         "the mat", "red cat ran on the mat", "a big dog sat", "slow slow dog", "fast cat",
         "the red mat"]


def test_three_variants_of_a_tiny_bert_on_cpu_give_the_right_pareto_set() -> None:
    model, tokenizer = _tiny_bert()
    base = transformers_runner(model, tokenizer, batch_size=4)
    labels = base(TEXTS)  # the base model's own predictions: base accuracy is 1.0
    variants = {
        "base": base,
        "int8": transformers_runner(int8_dynamic(model), tokenizer, batch_size=4, device="cpu"),
        "bf16": transformers_runner(half_precision(model, "bfloat16"), tokenizer, batch_size=4),
    }
    energy = {"base": 100.0, "int8": 60.0, "bf16": 120.0}   # constructed: J per 10 items

    def accuracy(outputs: list[int]) -> float:
        return sum(o == y for o, y in zip(outputs, labels)) / len(labels)

    result = compare(variants, TEXTS, quality=accuracy, quality_name="accuracy",
                     sensors=_fixed(energy))
    assert [v.status for v in result.variants] == ["ok", "ok", "ok"]
    per_item = {v.name: v.energy_per_item_j for v in result.variants}
    assert per_item == pytest.approx({"base": 10.0, "int8": 6.0, "bf16": 12.0})
    assert result["base"].quality == 1.0
    front = result.pareto()
    assert "int8" in front                     # the least energy is always on the front
    assert "bf16" not in front                 # more energy than base, no better quality
    assert ("base" in front) == (result["int8"].quality < 1.0)
    assert any("int8 cuts energy per item by 40 %" in r for r in result.recommendations())
    png = result.plot()
    assert png[:4] == b"\x89PNG"
