"""``wattlm tasks``: the task energy benchmark (energy per 1,000 queries, quality, stars).

The TOML spec (``--spec FILE``)::

    [benchmark]
    tasks = ["classification", "qa"]   # default: all six
    limit = 100                        # first N items per task
    batch_size = 8
    windows = 3                        # measured passes (spread of energy per query)

    [[models]]
    path = "./models/my-bert"          # a local directory (shown by its name), or "tiny"
    tasks = ["classification"]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from wattlm.cli._output import add_format_option, emit, table

_BENCH_KEYS = {"tasks", "limit", "batch_size", "warmup", "windows", "device", "fairness",
               "project", "region"}
_MODEL_KEYS = {"path", "tasks"}


def register(subparsers: Any) -> None:
    """Add the ``tasks`` command."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "tasks", help="task energy benchmark: energy per 1,000 queries, quality, stars",
        description="Measure models on six NLP tasks (classification, qa, summarisation, "
        "translation, generation, similarity): energy per 1,000 queries (per device and "
        "total, with provenance), per query and per output token, latency p50/p95, "
        "throughput, quality with the task's metric, 1-5 stars against a published reference "
        "(GPU runs only) and a counterfactual fairness check. Without --model each task uses "
        "a tiny model built from a config (random weights), so it runs offline.")
    p.add_argument("--task", action="append", metavar="TASK", help="a task to run "
                   "(repeat; default: all six)")
    p.add_argument("--model", action="append", metavar="[TASK=]PATH", help="a local model "
                   "directory for TASK (repeat); PATH alone applies to the one --task given")
    p.add_argument("--spec", metavar="FILE", help="TOML file naming tasks and models")
    p.add_argument("--inputs", metavar="FILE", help="items of the one --task (.jsonl or .csv)")
    p.add_argument("--dataset", metavar="DIR", help="a datasets dataset saved with "
                   "save_to_disk, for the one --task")
    p.add_argument("--split", help="split of --dataset (default: test, else the first)")
    p.add_argument("--limit", type=int, metavar="N", help="first N items per task")
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="queries per call "
                   "(default 8)")
    p.add_argument("--warmup", type=int, default=1, metavar="N", help="unmeasured calls "
                   "first (default 1)")
    p.add_argument("--windows", type=int, default=1, metavar="N", help="measured passes over "
                   "the items (default 1; more gives the spread)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--no-fairness", action="store_true", help="skip the fairness check")
    p.add_argument("--templates", metavar="FILE", help="your own fairness templates "
                   "(.txt/.csv/.jsonl, each with one {identity} slot)")
    p.add_argument("--groups", metavar="FIELD", help="classification items' group field: "
                   "adds demographic parity and equalised odds differences (fairlearn)")
    p.add_argument("--project", default=None, help="project of the stored runs (default "
                   "tasks; `wattlm runs --project tasks` lists them)")
    p.add_argument("--no-save", action="store_true", help="do not store the runs")
    p.add_argument("--db", metavar="PATH", help="store (default: the configured one)")
    p.add_argument("--region", help="grid region of the measurements")
    p.add_argument("--report", choices=("md", "html", "json"), help="also write a report")
    p.add_argument("-o", "--output", metavar="FILE", help="file for --report (default stdout)")
    p.add_argument("--list", action="store_true", help="list the tasks and exit")
    p.add_argument("--from-store", action="store_true", help="measure nothing: print (and "
                   "--report) the results stored in --project (default tasks)")
    add_format_option(p)
    p.set_defaults(handler=_handle)


def _read_spec(path: str) -> dict[str, Any]:
    from pathlib import Path

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    from wattlm import _validate
    from wattlm.errors import ConfigError, InvalidInputError, did_you_mean

    file = Path(path)
    try:
        source = _validate.read_text(file, "--spec file")
    except InvalidInputError as e:  # missing, directory, binary, not UTF-8: one line
        raise ConfigError(str(e)) from None
    try:
        spec = tomllib.loads(source)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"--spec {file}: invalid TOML: {e}") from e
    for key, allowed, where in ((set(spec), {"benchmark", "models"}, str(file)),
                                (set(spec.get("benchmark", {})), _BENCH_KEYS,
                                 f"{file} [benchmark]")):
        for bad in sorted(key - allowed):
            raise ConfigError(f"{where}: {did_you_mean(bad, sorted(allowed), 'key')}; allowed "
                              f"keys: {', '.join(sorted(allowed))}")
    models: dict[str, list[str]] = {}
    for number, entry in enumerate(spec.get("models", []), start=1):
        where = f"{file} [[models]] #{number}"
        if not isinstance(entry, dict) or "path" not in entry:
            raise ConfigError(f"{where}: path = \"dir\" (or \"tiny\") is required")
        for bad in sorted(set(entry) - _MODEL_KEYS):
            raise ConfigError(f"{where}: unknown key {bad!r}; allowed keys: "
                              f"{', '.join(sorted(_MODEL_KEYS))}")
        path_value = str(entry["path"])
        if path_value != "tiny":
            path_value = str((file.parent / path_value).resolve())
        for task in entry.get("tasks") or spec.get("benchmark", {}).get("tasks") or []:
            models.setdefault(str(task), []).append(path_value)
    return {"benchmark": dict(spec.get("benchmark", {})), "models": models}


def _models(args: argparse.Namespace, tasks: list[str] | None,
            models: dict[str, list[str]]) -> dict[str, list[str]]:
    from wattlm.errors import ConfigError

    for text in args.model or []:
        task, sep, path = text.partition("=")
        if not sep:
            if not tasks or len(tasks) != 1:
                raise ConfigError(f"--model {text}: say which task it is for (TASK=PATH), or "
                                  "give exactly one --task")
            task, path = tasks[0], text
        models.setdefault(task, []).append(path)
    return models


class Progress:
    """A progress bar over (model, task) pairs on stderr, with the time left."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int, label: str) -> None:
        """Redraw after ``done`` of ``total`` pairs."""
        from wattlm._format import format_duration

        elapsed = time.monotonic() - self.started
        width = 20
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        left = (f", about {format_duration(elapsed / done * (total - done))} left"
                if 0 < done < total else "")
        line = (f"wattlm tasks [{bar}] {done}/{total} {label} "
                f"({format_duration(elapsed)} elapsed{left})")
        end = "\n" if not self.tty or done == total else ""
        self.stream.write(("\r" if self.tty else "") + line + end)
        self.stream.flush()


def _human(rows: list[dict[str, Any]]) -> str:
    from wattlm._format import format_duration, format_energy, format_number, format_quantity

    out = []
    for r in rows:
        per_query = r["energy_per_query_j"]
        fair = r.get("fairness") or {}
        stars = "★" * r["rating"] if r["rating"] else "cpu-only" if r["cpu_only"] else "-"
        quality = r["quality"] or {}
        out.append([r["model"], r["task"], r["status"], r["queries"],
                    format_energy(per_query * 1000 if per_query is not None else None),
                    format_quantity(per_query, "energy_j"),
                    format_quantity(r["energy_per_output_token_j"], "energy_j"),
                    format_duration(r["latency_p50_s"]), format_duration(r["latency_p95_s"]),
                    format_number(r["throughput_queries_per_s"]),
                    f"{quality.get('metric', '-')} {format_number(quality.get('value'))}",
                    stars, format_number(fair.get("flip_rate")), r["provenance"] or "-"])
    body = table(["model", "task", "status", "queries", "per 1k queries", "per query",
                  "per out token", "p50", "p95", "queries/s", "quality", "stars", "flip rate",
                  "provenance"], out)
    notes = sorted({r["rating_basis"] for r in rows if r["rating"] is None and r["cpu_only"]})
    return body + ("\n\n" + "\n".join(f"- {n}" for n in notes) if notes else "")


def _from_store(args: argparse.Namespace) -> int:
    """The stored results of a project, newest run per (model, task), rendered again."""
    from wattlm.config import resolve_settings
    from wattlm.errors import UnknownNameError
    from wattlm.store import open_store

    project = args.project or "tasks"
    with open_store(resolve_settings(db=args.db).db_path) as store:
        records = store.list_runs(limit=10_000, project=project)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for record in reversed(records):  # oldest first, so the newest result wins
        result = record.extra.get("task_result")
        if isinstance(result, dict):
            rows[(str(result.get("model")), str(result.get("task")))] = result
    if not rows:
        raise UnknownNameError(f"no stored task results in project {project!r}: run `wattlm "
                               f"tasks --project {project}` first")
    emit(list(rows.values()), args.format, _human)
    if args.report:
        from wattlm.cli.report import write_text
        from wattlm.report.tasks import render_tasks

        write_text(render_tasks(list(rows.values()), args.report), args.output)
    return 0


def _check(args: argparse.Namespace) -> None:
    """The options no later step checks before the first model loads, one line each."""
    from wattlm import _validate
    from wattlm.config import resolve_settings
    from wattlm.errors import InvalidInputError

    if args.output is not None and args.report is None:
        raise InvalidInputError("-o/--output names the file of --report: add --report md|html|"
                                "json, or drop -o")
    if args.output not in (None, "-"):
        _validate.path_for_writing(args.output, "-o")
    if args.project is not None:
        args.project = _validate.text(args.project, "project", origin="argument --project")
    resolve_settings(db=args.db, region=args.region)  # a store URL of another kind, bad text
    if args.region is not None:
        from wattlm.carbon.intensity import resolve_region

        resolve_region(args.region)
    if not args.no_save and not args.from_store and not args.list:
        from wattlm.cli.runs import check_db_for_writing

        check_db_for_writing(args.db)


def _handle(args: argparse.Namespace) -> int:
    from wattlm.tasks.benchmark import run_tasks
    from wattlm.tasks.registry import all_tasks

    _check(args)
    if args.list:
        emit([{"task": t.name, "title": t.title, "metric": t.metric, "fields": list(t.fields)}
              for t in all_tasks()], args.format,
             lambda d: table(["task", "title", "metric", "fields"],
                             [[x["task"], x["title"], x["metric"], ", ".join(x["fields"])]
                              for x in d]))
        return 0
    if args.from_store:
        return _from_store(args)
    spec = _read_spec(args.spec) if args.spec else {"benchmark": {}, "models": {}}
    bench = spec["benchmark"]
    tasks = args.task or bench.get("tasks")
    models = _models(args, tasks, spec["models"])
    templates = None
    if args.templates:
        from wattlm.fairness.templates import load_templates

        templates = load_templates(args.templates)
    results = run_tasks(
        tasks, models=models, inputs=args.inputs, dataset=args.dataset, split=args.split,
        limit=args.limit or bench.get("limit"), device=bench.get("device", args.device),
        save=not args.no_save, db=args.db, batch_size=bench.get("batch_size", args.batch_size),
        warmup=bench.get("warmup", args.warmup), windows=bench.get("windows", args.windows),
        fairness=bench.get("fairness", not args.no_fairness), templates=templates,
        group_field=args.groups,
        project=args.project or bench.get("project", "tasks"),
        region=args.region or bench.get("region"), progress=Progress())
    rows = [r.to_dict() for r in results]
    emit(rows, args.format, _human)
    if args.report:
        from wattlm.cli.report import write_text
        from wattlm.report.tasks import render_tasks

        write_text(render_tasks(rows, args.report), args.output)
    return 1 if rows and all(r["status"] != "ok" for r in rows) else 0
