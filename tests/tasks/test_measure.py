"""Measurement, metrics and ratings against hand-computed values (exact sensors, references)."""

from __future__ import annotations

from typing import Any

import pytest

from wattlm.tasks import plan, run_jobs
from wattlm.tasks.classification import label_matches
from wattlm.tasks.measure import measure_task, percentile
from wattlm.tasks.pareto import pareto_set
from wattlm.tasks.qa import exact_match, token_f1
from wattlm.tasks.ratings import rate, reference_rows
from wattlm.tasks.registry import get_task
from wattlm.units import J_PER_KWH

from .conftest import stepping_sensor


def _answers(items: list[dict[str, Any]]) -> list[str]:
    return [str(i["answer"]) for i in items]


def test_energy_per_1000_queries_is_exact_with_a_stepping_sensor() -> None:
    task = get_task("qa")
    items = plan(["qa"], limit=10)[0].items
    sensor = stepping_sensor(100.0)
    result = measure_task(task, _answers, items, model="oracle", batch_size=4, warmup=1,
                          windows=3, sensors=[sensor])
    # reads: start (0 J), one snapshot before the windows, one after each window, stop
    assert result.window_energy_j == [100.0, 100.0, 100.0]
    assert result.energy_j == pytest.approx(500.0)
    d = result.to_dict()
    assert d["queries"] == 10 and d["windows"] == 3
    assert d["energy_per_query_j"] == pytest.approx(500.0 / 30)
    assert d["energy_per_1000_queries_wh"] == pytest.approx(500.0 / 30 * 1000 / 3600)
    assert d["energy_per_1000_queries_wh_by_kind"] == {"gpu": pytest.approx(500 / 30 / 3.6)}
    assert d["energy_per_query_spread"]["mean_j"] == pytest.approx(10.0)
    assert d["energy_per_query_spread"]["stdev_j"] == pytest.approx(0.0)
    assert len(result.latencies_s) == 3 * 3           # 3 batches (4+4+2) per window
    assert d["quality"] == {"metric": "f1", "value": 1.0, "others": {"exact_match": 1.0}}
    assert d["provenance"] == "measured" and d["cpu_only"] is False


def test_a_wrong_reference_scores_zero_and_a_failing_runner_is_reported() -> None:
    task = get_task("qa")
    items = plan(["qa"], limit=6)[0].items
    wrong = measure_task(task, lambda b: ["nobody"] * len(b), items, model="wrong",
                         sensors=[stepping_sensor(1.0)])
    assert wrong.quality is not None and wrong.quality.value == 0.0

    def short(batch: list[Any]) -> list[Any]:
        return batch[:-1]

    failed = measure_task(task, short, items, model="short", warmup=0,
                          sensors=[stepping_sensor(1.0)])
    assert failed.status == "failed" and "5 outputs for 6 inputs" in (failed.error or "")
    assert failed.to_dict()["energy_per_1000_queries_wh"] is None


def test_squad_metrics_hand_computed() -> None:
    assert exact_match("The Lyon.", "lyon")
    assert token_f1("in the city of Lyon", "Lyon city") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert token_f1("Porto", "Lyon") == 0.0


def test_integer_labels_match_default_label_names() -> None:
    """The compare bug: integer labels against LABEL_k names gave accuracy 0."""
    assert label_matches({"id": 1, "name": "LABEL_1"}, 1)
    assert label_matches("LABEL_0", "0")
    assert not label_matches({"id": 0, "name": "LABEL_0"}, 1)
    assert label_matches({"id": 1, "name": "positive"}, "Positive")
    task = get_task("classification")
    items = [{"text": "a", "label": 1}, {"text": "b", "label": 0}, {"text": "c", "label": 1}]
    quality = task.score([{"id": 1, "name": "LABEL_1"}, {"id": 1, "name": "LABEL_1"},
                          {"id": 1, "name": "LABEL_1"}], items)
    assert quality.value == pytest.approx(2 / 3)
    assert quality.others["macro_f1"] == pytest.approx((0.8 + 0.0) / 2)


def test_ratings_follow_the_reference_boundaries() -> None:
    row = reference_rows()["classification"]
    assert row.reference_wh == pytest.approx(0.002 * J_PER_KWH / 3600)   # 0.002 kWh per 1,000
    assert rate("classification", 0.5, {"gpu"}).stars == 5
    assert rate("classification", 0.51, {"gpu", "cpu"}).stars == 4
    assert rate("classification", 2.0, {"gpu"}).stars == 3
    assert rate("classification", 8.0, {"gpu"}).stars == 2
    assert rate("classification", 8.1, {"gpu"}).stars == 1
    cpu = rate("classification", 0.1, {"cpu", "memory"})
    assert cpu.stars is None and cpu.basis.startswith("cpu-only measurement")
    assert "A100" in (cpu.comparable_with or "")
    assert set(reference_rows()) == {"classification", "qa", "summarisation", "translation",
                                     "generation", "similarity"}


def test_percentiles_and_pareto() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == pytest.approx(2.5)
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert percentile([], 50) is None
    points = {"a": (1.0, 0.5, 0.1), "b": (2.0, 0.9, 0.1), "c": (2.0, 0.8, 0.2),
              "d": (1.0, 0.5, 0.3)}
    assert pareto_set(points, ["min", "max", "min"]) == ["a", "b"]
    assert pareto_set({"a": (1.0, 0.5), "b": (1.0, 0.5)}, ["min", "max"]) == ["a", "b"]


def test_run_jobs_marks_the_pareto_set_and_rates_gpu_runs() -> None:
    jobs = plan(["qa"], models={"qa": [_answers, lambda b: ["x"] * len(b)]}, limit=8)
    results = run_jobs(jobs, fairness=False,
                       sensors=lambda job: [stepping_sensor(0.001, kind="gpu")])
    good, bad = results
    assert good.pareto is True and bad.pareto is False     # same energy, better quality
    assert good.rating["rating"] == 5                     # ~0 Wh per 1,000 queries on a GPU
