"""compare(): checks before measuring, failing variants, Pareto set, tiny BERT on CPU."""

from __future__ import annotations

import math
from typing import Any

import pytest

from wattlm.compare.variants import ComparisonResult, VariantResult, compare, pareto_front
from wattlm.errors import InvalidInputError
from wattlm.integrations.hf_variants import half_precision, int8_dynamic, transformers_runner
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
    assert "(5.90 J vs 10.0 J) for a loss of 0.00300 in accuracy 0.912 → 0.909" in recs[0]
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


# -- windows, break-even, fairness axis (issue 14) ---------------------------------------------

def _stepping(joules_per_read: dict[str, float]) -> Any:
    """Fresh sensors per variant; each read adds exactly ``joules_per_read[name]``."""
    import itertools

    def sensors(name: str) -> list[FakeSensor]:
        ticks = itertools.count()
        return [FakeSensor(f"fake-{name}", power_w=joules_per_read[name],
                           clock=lambda: float(next(ticks)))]
    return sensors


def test_break_even_hand_computed() -> None:
    from wattlm.compare.payback import break_even, distinguishable

    assert break_even(100.0, 10.0, 6.0) == (25, None)          # 100 J / 4 J per query
    assert break_even(101.0, 10.0, 6.0) == (26, None)          # rounded up
    assert break_even(0.0, 10.0, 6.0) == (0, None)
    queries, reason = break_even(100.0, 10.0, 12.0)
    assert queries is None and reason and reason.startswith("never pays back")
    queries, reason = break_even(100.0, 10.0, 6.0, separable=False)
    assert queries is None and "not distinguishable" in (reason or "")
    assert distinguishable([1.0, 1.1, 0.9], [2.0, 2.1, 1.9]) is True
    assert distinguishable([1.0, 2.0, 3.0], [1.5, 2.5, 3.5]) is False
    assert distinguishable([1.0], [2.0, 2.1]) is None


def test_windows_give_spread_and_break_even_with_exact_sensors() -> None:
    # per read: base 40 J, small 16 J; 4 items, 3 windows -> per item 10 J and 4 J
    variants = {"base": lambda b: [1] * len(b), "small": lambda b: [1] * len(b)}
    result = compare(variants, ["a", "b", "c", "d"], quality=lambda o: 1.0, windows=3,
                     batch_size={"base": 2, "small": 4}, interval_s=60.0,
                     make_cost={"small": 600.0}, sensors=_stepping({"base": 40.0, "small": 16.0}))
    base, small = result["base"], result["small"]
    assert base.window_energy_per_item_j == [10.0, 10.0, 10.0]
    assert small.window_energy_per_item_j == [4.0, 4.0, 4.0]
    assert small.distinguishable is True
    # energy per item over the whole run: (start read + 1 + 3 windows + stop) reads
    assert small.energy_per_item_j == pytest.approx(16.0 * 5 / 12)
    saving = base.energy_per_item_j - small.energy_per_item_j
    assert small.break_even_queries == math.ceil(600.0 / saving)
    row = result.to_dict()["variants"][1]
    assert row["break_even_queries"] == small.break_even_queries
    assert row["saving_per_1000_queries_wh"] == pytest.approx(saving * 1000 / 3600)
    assert base.batch_size == 2 and small.batch_size == 4


def test_latency_is_one_batch_not_the_whole_input_set() -> None:
    import time as clock

    def slow(batch: list[Any]) -> list[Any]:
        clock.sleep(0.02)
        return batch

    result = compare({"v": slow}, list(range(10)), batch_size=2, warmup=0,
                     sensors=_stepping({"v": 1.0}))
    v = result["v"]
    assert 0.015 < (v.latency_s or 0) < 0.5
    assert (v.latency_s or 0) < v.duration_s / 3      # 5 calls of ~20 ms, not one of ~100 ms


def _report(flips: int) -> Any:
    from wattlm.fairness.counterfactual import AxisResult, FairnessReport
    from wattlm.fairness.stats import wilson_interval

    axis = AxisResult("gender", 12, flips, wilson_interval(flips, 12), 0.01, (0.0, 0.02),
                      {"man": 0.5, "woman": 0.5})
    return FairnessReport("classification", {"gender": axis}, "score")


def test_a_cheaper_but_less_fair_variant_warns_and_fairness_is_a_pareto_axis() -> None:
    reports = {"base": _report(0), "small": _report(9)}
    result = compare({"base": lambda b: b, "small": lambda b: b}, ["x", "y"],
                     quality=lambda o: 1.0, interval_s=60.0,
                     fairness=lambda name, _fn: reports[name],
                     sensors=_stepping({"base": 10.0, "small": 5.0}))
    small = result["small"]
    assert any(w.startswith("W701: variant 'small' saves energy") for w in small.warnings)
    assert result.pareto() == ["small", "base"]     # base is fairer: not dominated
    assert result.to_dict()["variants"][1]["fairness"]["flip_rate"] == pytest.approx(0.75)
    same = compare({"base": lambda b: b, "small": lambda b: b}, ["x", "y"],
                   quality=lambda o: 1.0, interval_s=60.0,
                   fairness=lambda name, _fn: _report(0),
                   sensors=_stepping({"base": 10.0, "small": 5.0}))
    assert same["small"].warnings == [] or not any("W701" in w for w in same["small"].warnings)
    assert same.pareto() == ["small"]
