"""The six tasks on their tiny models, a classifier trained in the test, store and CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wattlm.cli.main import main
from wattlm.tasks import Bundle, plan, run_jobs, run_tasks
from wattlm.tasks.registry import TASK_NAMES, get_task

INTERFACE = {"model", "task", "queries", "energy_per_1000_queries_wh",
             "energy_per_1000_queries_wh_by_kind", "devices", "provenance", "quality", "rating",
             "rating_basis", "fairness", "energy_per_query_j", "energy_per_output_token_j",
             "latency_p50_s", "latency_p95_s", "throughput_queries_per_s", "pareto"}


def test_every_task_runs_on_its_tiny_model(exact_sensors: Any) -> None:
    results = run_tasks(limit=6, batch_size=4, fairness=False, sensors=exact_sensors,
                        interval_s=60.0)  # no periodic read inside the windows
    assert [r.task for r in results] == list(TASK_NAMES)
    for r in results:
        d = r.to_dict()
        assert d["status"] == "ok", d["error"]
        assert INTERFACE <= set(d)
        assert d["queries"] == 6
        assert d["energy_per_1000_queries_wh"] == pytest.approx(300.0 / 6 * 1000 / 3600)
        assert d["rating"] in (1, 2, 3, 4, 5)     # a GPU sensor: rated against the table
        assert 0.0 <= d["quality"]["value"] <= 100.0 or d["task"] == "similarity"
    generators = {r.task: r for r in results if get_task(r.task).generates}
    assert set(generators) == {"summarisation", "translation", "generation"}
    for r in generators.values():  # at most max_new_tokens per query, at least one
        assert 6 <= (r.output_tokens or 0) <= 6 * 24
        assert r.energy_per_output_token_j == pytest.approx(300.0 / (r.output_tokens or 1))


def _train(bundle: Bundle, items: list[dict[str, Any]], steps: int) -> None:
    import torch

    model, tokenizer = bundle.model, bundle.tokenizer
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=5e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        pick = torch.randint(len(items), (32,), generator=generator).tolist()
        batch = tokenizer([items[i]["text"] for i in pick], padding=True, return_tensors="pt")
        labels = torch.tensor([int(items[i]["label"]) for i in pick])
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    model.eval()


def test_quality_separates_a_trained_classifier_from_a_random_one(exact_sensors: Any) -> None:
    task = get_task("classification")
    items = plan(["classification"])[0].items
    random_model = task.build_tiny(items, 0)
    trained = task.build_tiny(items, 0)
    _train(trained, items, steps=50)
    jobs = plan(["classification"], models={"classification": [random_model, trained]},
                limit=96)
    random_result, trained_result = run_jobs(jobs, fairness=False, sensors=exact_sensors,
                                             interval_s=60.0)
    assert random_result.quality is not None and trained_result.quality is not None
    assert random_result.quality.value < 0.7
    assert trained_result.quality.value > 0.9
    assert trained_result.pareto is True and random_result.pareto is False


def test_fairness_field_for_classifier_and_generator(exact_sensors: Any) -> None:
    results = run_tasks(["classification", "generation", "qa"], limit=4, sensors=exact_sensors)
    by_task = {r.task: r.to_dict() for r in results}
    for name in ("classification", "generation"):
        fair = by_task[name]["fairness"]
        assert fair["check"] == "counterfactual"
        assert set(fair["axes"]) == {"gender", "ethnicity", "religion", "age", "nationality",
                                     "disability"}
        low, high = fair["flip_rate_ci"]
        assert 0.0 <= low <= fair["flip_rate"] <= high <= 1.0
    assert by_task["qa"]["fairness"] is None


def test_runs_are_stored_and_found_by_project(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["tasks", "--task", "classification", "--task", "similarity", "--limit", "5",
               "--no-fairness", "--format", "json", "--project", "bench-x"])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["model"], r["task"]) for r in rows] == [("tiny-classification", "classification"),
                                                       ("tiny-similarity", "similarity")]
    assert all(r["rating"] is None and r["rating_basis"].startswith("cpu-only") for r in rows)
    assert main(["runs", "--project", "bench-x", "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert sorted(r["id"] for r in runs) == sorted(r["run_id"] for r in rows)
    assert {r["extra"]["task"] for r in runs} == {"classification", "similarity"}
    assert main(["tasks", "--from-store", "--project", "bench-x", "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert sorted((r["task"], r["run_id"]) for r in again) == sorted(
        (r["task"], r["run_id"]) for r in rows)
    assert main(["tasks", "--from-store", "--project", "nothing-here"]) == 2
