"""``run_tasks``: the task energy benchmark over (model, task) pairs.

Everything is checked first (task names, model directories against what the task needs, input
fields, the device, the store), then each pair is loaded, warmed up, measured, scored, rated,
checked for fairness and stored, one after another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wattlm.errors import ComparisonWarning, ConfigError, InvalidInputError, warn
from wattlm.sensors.base import Sensor
from wattlm.tasks.base import Bundle, Item, Runner, Task
from wattlm.tasks.inputs import load_items
from wattlm.tasks.measure import TaskResult, measure_task
from wattlm.tasks.pareto import pareto_set
from wattlm.tasks.ratings import rate
from wattlm.tasks.registry import all_tasks, check_model_dir, get_task

__all__ = ["TINY", "Job", "ModelSpec", "check_device", "mark_pareto", "plan", "run_jobs",
           "run_tasks"]

TINY = "tiny"
"""Model reference meaning the task's tiny default model (built from a config)."""

ModelSpec = str | Runner | Bundle
"""A model directory, :data:`TINY`, a ``runner(items) -> outputs`` callable, or a Bundle."""


@dataclass
class Job:
    """One (model, task) pair, checked and ready to load."""

    task: Task
    model: ModelSpec
    name: str
    items: list[Item]


def check_device(device: str) -> str:
    """``cpu``, or ``cuda``/``cuda:N`` when a CUDA GPU is present.

    Raises:
        ConfigError: an unknown device, or a GPU device on a machine without one.
    """
    text = str(device).strip().lower()
    if text == "cpu":
        return text
    if text != "cuda" and not (text.startswith("cuda:") and text[5:].isdigit()):
        raise ConfigError(f"device: unknown device {device!r}; valid devices: cpu, cuda, cuda:N")
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(f"device: {device!r} needs a CUDA GPU and this machine has none "
                          "(torch.cuda.is_available() is False); valid devices here: cpu")
    index = int(text[5:]) if ":" in text else 0
    if index >= torch.cuda.device_count():
        raise ConfigError(f"device: {device!r} does not exist; this machine has "
                          f"{torch.cuda.device_count()} GPU(s): cuda:0 .. "
                          f"cuda:{torch.cuda.device_count() - 1}")
    return text


def _name(model: ModelSpec, task: Task) -> str:
    if isinstance(model, str):
        return f"tiny-{task.name}" if model == TINY else model.rstrip("/").rsplit("/", 1)[-1]
    if isinstance(model, Bundle):
        return model.description
    return str(getattr(model, "__name__", type(model).__name__))


def plan(tasks: Sequence[str] | None = None, *,
         models: Mapping[str, Sequence[ModelSpec]] | None = None,
         inputs: str | None = None, dataset: str | None = None, split: str | None = None,
         limit: int | None = None) -> list[Job]:
    """Check everything that can be checked without loading a model; one Job per pair.

    Raises:
        InvalidInputError: an unknown task, a bad ``limit``, ``inputs``/``dataset`` with more
            than one task.
        ConfigError: a model directory that is missing or cannot do its task, input items
            missing a field.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 1):
        raise InvalidInputError(f"limit must be a whole number >= 1, got {limit!r}")
    chosen = [get_task(t) for t in tasks] if tasks else all_tasks()
    for task_name in models or {}:
        key = get_task(task_name, where="model for task").name
        if key not in {t.name for t in chosen}:
            chosen.append(get_task(key))
    if (inputs or dataset) and len(chosen) != 1:
        raise InvalidInputError("--inputs/--dataset give the items of one task: choose it with "
                                f"--task (valid tasks: {', '.join(t.name for t in all_tasks())})")
    by_task: dict[str, list[ModelSpec]] = {}
    for task_name, refs in (models or {}).items():
        by_task.setdefault(get_task(task_name).name, []).extend(refs)
    jobs = []
    for task in chosen:
        items = load_items(task, inputs=inputs, dataset=dataset, split=split, limit=limit)
        for ref in by_task.get(task.name) or [TINY]:
            if isinstance(ref, str) and ref != TINY:
                ref = check_model_dir(task, ref, where=f"model for task {task.name}")
            jobs.append(Job(task, ref, _name(ref, task), items))
    return jobs


def _bundle_and_runner(job: Job, device: str, batch_size: int,
                       seed: int) -> tuple[Bundle | None, Runner]:
    model = job.model
    if isinstance(model, str):
        bundle = (job.task.build_tiny(job.items, seed) if model == TINY
                  else job.task.load(model, device))
        if model == TINY and device != "cpu":
            bundle.model, bundle.device = bundle.model.to(device), device
        return bundle, job.task.make_runner(bundle, batch_size)
    if isinstance(model, Bundle):
        return model, job.task.make_runner(model, batch_size)
    return None, model


def _store(result: TaskResult, project: str, db: str | None) -> None:
    from wattlm.records import DeviceInfo
    from wattlm.store import open_store

    record = result.record
    try:
        with open_store(db) as store:
            record.project = project
            record.extra.update({"benchmark": "wattlm tasks", "task": result.task,
                                 "model": result.model})
            record.id = store.create_run(
                project=project, started_at=record.started_at, host=record.host,
                region=record.region, devices=[DeviceInfo(d.name, d.kind, d.provenance)
                                               for d in record.devices],
                extra={"benchmark": "wattlm tasks", "task": result.task, "model": result.model})
            result.run_id = record.id
            record.extra["task_result"] = result.to_dict()
            store.finish_run(record)
    except Exception as e:  # noqa: BLE001 - the benchmark result is still returned
        result.warnings.append(warn(f"could not save the {result.model} / {result.task} result "
                                    f"({e})", ComparisonWarning, "W710"))


def run_jobs(jobs: Sequence[Job], *, batch_size: int = 8, warmup: int = 1, windows: int = 1,
             device: str = "cpu", fairness: bool = True, save: bool = False,
             project: str = "tasks", db: str | None = None, region: str | None = None,
             interval_s: float | None = None, seed: int = 0,
             sensors: Callable[[Job], Sequence[Sensor]] | None = None,
             templates: Sequence[Any] | None = None, group_field: str | None = None,
             progress: Callable[[int, int, str], None] | None = None) -> list[TaskResult]:
    """Load, measure, score, rate, check and store each job in turn (see :func:`run_tasks`)."""
    from wattlm.tasks.probe import fairness_report

    results = []
    options = {"region": region, "interval_s": interval_s, "save": False,
               "project": project}
    for done, job in enumerate(jobs):
        if progress is not None:
            progress(done, len(jobs), f"{job.name} / {job.task.name}")
        try:
            bundle, runner = _bundle_and_runner(job, device, batch_size, seed)
        except Exception as e:  # noqa: BLE001 - one model that will not load fails alone
            results.append(TaskResult(job.name, job.task.name, len(job.items), batch_size,
                                      status="failed",
                                      error=f"loading raised {type(e).__name__}: {e}"))
            continue
        counter = None
        if job.task.output_tokens is not None:
            count = job.task.output_tokens

            def counter(outs: list[Any], b: Any = bundle, c: Any = count) -> int:
                return int(c(b, outs))
        result = measure_task(job.task, runner, job.items, model=job.name,
                              batch_size=batch_size, warmup=warmup, windows=windows,
                              sensors=sensors(job) if sensors else None, track_options=options,
                              output_tokens=counter)
        result.description = bundle.description if bundle else "a Python callable"
        if result.status == "ok":
            result.rating = rate(job.task.name, result.energy_per_1000_queries_wh,
                                 set(result.device_kinds.values())).to_dict()
            if fairness and job.task.fairness:
                report = fairness_report(job.task, bundle, runner, batch_size,
                                         list(templates) if templates else None)
                result.fairness_report = report
                result.fairness = report.to_dict() if report is not None else None
            if group_field:
                _group_metrics(result, job, group_field)
            if save:
                _store(result, project, db)
        results.append(result)
    if progress is not None:
        progress(len(jobs), len(jobs), "done")
    mark_pareto(results)
    return results


def mark_pareto(results: Sequence[TaskResult]) -> None:
    """Set ``pareto`` on each completed result (the Pareto set of its task).

    Objectives: energy per query (min), quality (max) and, where every model of the task has
    a fairness check, the flip rate (min).
    """
    by_task: dict[str, list[TaskResult]] = {}
    for r in results:
        if r.status == "ok" and r.energy_per_query_j is not None and r.quality is not None:
            by_task.setdefault(r.task, []).append(r)
    for group in by_task.values():
        fair = all(r.fairness_report is not None for r in group)
        points = {f"{i}": [r.energy_per_query_j or 0.0, r.quality.value if r.quality else 0.0]
                  + ([float(r.fairness_report.flip_rate)] if fair else [])
                  for i, r in enumerate(group)}
        front = set(pareto_set(points, ["min", "max"] + (["min"] if fair else [])))
        for i, r in enumerate(group):
            r.pareto = str(i) in front
        _warn_less_fair(group)


def _warn_less_fair(group: Sequence[TaskResult]) -> None:
    """W701 on a model cheaper than the task's most energy-hungry one but less fair.

    "Less fair" is :meth:`~wattlm.fairness.counterfactual.FairnessReport.less_fair_than`:
    the intervals are separated, not merely the point estimates.
    """
    checked = [r for r in group if r.fairness_report is not None]
    if len(checked) < 2:
        return
    reference = max(checked, key=lambda r: r.energy_per_query_j or 0.0)
    for r in checked:
        if r is reference or (r.energy_per_query_j or 0.0) >= (reference.energy_per_query_j
                                                                or 0.0):
            continue
        if r.fairness_report.less_fair_than(reference.fairness_report):
            r.warnings.append(warn(
                f"{r.model} uses less energy than {reference.model} on {r.task} but is less "
                f"fair (flip rate {r.fairness_report.flip_rate:.3f} vs "
                f"{reference.fairness_report.flip_rate:.3f})", ComparisonWarning, "W701"))


def _group_metrics(result: TaskResult, job: Job, group_field: str) -> None:
    """Demographic parity / equalised odds of a classifier from the items' group field."""
    from wattlm.fairness.group import group_metrics

    if job.task.name != "classification":
        return
    from wattlm.tasks.classification import label_matches

    gold = [str(i["label"]) for i in job.items]
    labels = sorted(set(gold))
    predicted = [next((lab for lab in labels if label_matches(o, lab)), "other")
                 for o in result.outputs]
    metrics = group_metrics(gold, predicted, [i[group_field] for i in job.items],
                            positive=labels[-1])
    result.fairness = {**(result.fairness or {}), "group_metrics": metrics,
                       "group_field": group_field}


def run_tasks(tasks: Sequence[str] | None = None, *,
              models: Mapping[str, Sequence[ModelSpec]] | None = None,
              inputs: str | None = None, dataset: str | None = None, split: str | None = None,
              limit: int | None = None, device: str = "cpu", save: bool = False,
              db: str | None = None, **options: Any) -> list[TaskResult]:
    """Benchmark models on tasks: energy per 1,000 queries, latency, quality, stars, fairness.

    Args:
        tasks: task names (default: all six). See :func:`wattlm.tasks.registry.get_task`.
        models: task -> models (directories, ``"tiny"``, runners or Bundles); tasks without
            an entry use their tiny default model.
        inputs: a JSONL/CSV file of items for the (single) task.
        dataset: a ``datasets`` dataset saved on disk, for the (single) task.
        split: the split of ``dataset`` (default ``test`` when present, else the first).
        limit: first N items only.
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        save: store one run per (model, task) in project ``project`` (``wattlm runs
            --project tasks``).
        db: the store when saving.
        **options: ``batch_size``, ``warmup``, ``windows``, ``fairness``, ``project``,
            ``region``, ``interval_s``, ``seed``, ``sensors`` (``job -> sensors``),
            ``templates`` (fairness templates), ``group_field`` (classification items'
            group, for demographic parity and equalised odds),
            ``progress`` (``(done, total, label) -> None``), as in :func:`run_jobs`.

    Returns:
        One :class:`~wattlm.tasks.measure.TaskResult` per (model, task).

    Raises:
        WattlmError: any bad input, before a model is loaded.
    """
    from wattlm import _validate

    if limit is not None:
        limit = _validate.count(limit, "limit", low=1, high=10**9)
    if split is not None:
        split = _validate.text(split, "split")
    _check_numbers(options)
    jobs = plan(tasks, models=models, inputs=inputs, dataset=dataset, split=split, limit=limit)
    group_field = options.get("group_field")
    if group_field is not None:
        _check_groups(jobs, _validate.text(group_field, "group_field"))
    device = check_device(device)
    if save:
        from wattlm.config import resolve_settings
        from wattlm.store import open_store

        db = resolve_settings(db=db).db_path
        open_store(db).close()  # strict at the door: an unwritable store fails now
    if options.get("region"):
        from wattlm.carbon.intensity import resolve_region

        resolve_region(options["region"])
    return run_jobs(jobs, device=device, save=save, db=db, **options)


def _check_groups(jobs: Sequence[Job], group_field: str) -> None:
    for job in jobs:
        if job.task.name != "classification":
            raise InvalidInputError(f"group_field: group metrics need task classification "
                                    f"(labels and predictions), not {job.task.name}")
        for number, item in enumerate(job.items, start=1):
            if item.get(group_field) in (None, ""):
                raise ConfigError(f"item {number}: missing group field {group_field!r} (set by "
                                  "--groups); every item needs its group for group metrics")


def _check_numbers(options: Mapping[str, Any]) -> None:
    """Whole numbers within their bounds, and the project a one-line text."""
    from wattlm import _validate

    for key, low, high in (("batch_size", 1, 1_000_000), ("warmup", 0, 10_000),
                           ("windows", 1, 10_000)):
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidInputError(f"{key} must be a whole number >= {low}, got "
                                    f"{_validate.shown(value)}")
        if value is not None:
            _validate.count(value, key, low=low, high=high)
    if options.get("project") is not None:
        _validate.text(options["project"], "project")
