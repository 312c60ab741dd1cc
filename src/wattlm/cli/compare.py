"""``wattlm compare SPEC.toml``: model variants on one task's inputs: energy, quality, payback.

The spec format is documented in ``docs/compression.md``; ``examples/compare_tiny.toml`` runs
offline. Every key and value is checked (unknown keys, a sparsity outside [0, 1), a GPU
variant without a GPU, a model that cannot do the task, missing input fields) before anything
is loaded or measured.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from wattlm.cli._output import add_format_option, emit, table

_COMPARE_KEYS = {"task", "inputs", "text_key", "label_key", "quality", "warmup", "windows",
                 "limit", "baseline", "region", "max_length", "batch_size", "max_quality_loss",
                 "fairness"}
_VARIANT_KEYS = {"model", "batch_size", "quantize", "dtype", "device", "max_length", "prune",
                 "prune_method", "distil_steps", "student_layers"}
_INT_MIN = {"warmup": 0, "windows": 1, "limit": 1, "max_length": 1, "batch_size": 1,
            "distil_steps": 1, "student_layers": 1}
_STR_KEYS = {"task", "inputs", "text_key", "label_key", "quality", "baseline", "region",
             "model", "quantize", "dtype", "device", "prune_method"}
_CHOICES = {"quantize": ("int8", "int8-weight", "int4-weight"),
            "dtype": ("float32", "float16", "bfloat16"),
            "prune_method": ("unstructured", "structured"), "quality": ("task", "accuracy", "none")}
_MAKERS = ("quantize", "prune", "distil_steps", "dtype")


def register(subparsers: Any) -> None:
    """Add the ``compare`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "compare", help="measure model variants on one task: energy vs quality, break-even",
        description="Run each variant named in a TOML file (local model directories or the "
        "task's tiny model; dynamic int8, weight-only int8/int4, pruning, distillation, half "
        "precision) on the same task inputs after a warm-up, measure each with wattlm over "
        "repeated windows, and print energy per item (with its spread), latency of one batch, "
        "quality, fairness, the energy making each variant cost and its break-even, the "
        "Pareto set and recommendations. Spec format: docs/compression.md.")
    parser.add_argument("spec", help="TOML file naming the task, inputs and variants")
    parser.add_argument("--report", choices=("md", "html", "json"), default=None,
                        help="also write a report in this format (with -o)")
    parser.add_argument("-o", "--output", default=None, metavar="FILE",
                        help="file for --report (default: standard output)")
    add_format_option(parser)
    parser.set_defaults(handler=_handle)


def _unknown(found: set[str], allowed: set[str], where: str) -> None:
    from wattlm.errors import ConfigError, did_you_mean

    for key in sorted(found - allowed):
        hint = str(did_you_mean(key, sorted(allowed), "key"))
        raise ConfigError(f"{where}: {hint}; allowed keys: {', '.join(sorted(allowed))}")


def _check_values(values: dict[str, Any], where: str) -> None:
    from wattlm.errors import ConfigError
    from wattlm.integrations.compression import check_sparsity

    for key, value in values.items():
        if key in _INT_MIN and (isinstance(value, bool) or not isinstance(value, int)
                                or value < _INT_MIN[key]):
            raise ConfigError(f"{where}: {key} must be an integer >= {_INT_MIN[key]}, got "
                              f"{value!r}")
        if key in _STR_KEYS and not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be a string, got {value!r}")
        if key in _CHOICES and value not in _CHOICES[key]:
            raise ConfigError(f"{where}: {key} must be one of {', '.join(_CHOICES[key])}, got "
                              f"{value!r}")
    if "prune" in values:
        try:
            check_sparsity(values["prune"], f"{where}: prune")
        except Exception as e:
            raise ConfigError(str(e)) from e
    if "max_quality_loss" in values and (isinstance(values["max_quality_loss"], bool) or
                                         not isinstance(values["max_quality_loss"], (int, float))
                                         or values["max_quality_loss"] < 0):
        raise ConfigError(f"{where}: max_quality_loss must be a number >= 0, got "
                          f"{values['max_quality_loss']!r}")
    makers = [k for k in _MAKERS if k in values and values[k] not in ("float32",)]
    if len(makers) > 1:
        raise ConfigError(f"{where}: one maker per variant; got {', '.join(makers)}")


def _read(path: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    from wattlm import _validate
    from wattlm.errors import ConfigError, InvalidInputError

    try:
        source = _validate.read_text(path, "compare spec")
    except InvalidInputError as e:  # missing, directory, binary, not UTF-8: one line
        raise ConfigError(str(e)) from None
    try:
        return tomllib.loads(source)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from e


def load_spec(path: str) -> dict[str, Any]:
    """Read and check a comparison spec; every problem raises before anything runs.

    Raises:
        ConfigError: unreadable or invalid TOML, unknown keys or values, missing or unsuitable
            model directories, a GPU variant without a GPU, a baseline that is not a variant.
        InvalidInputError: an unknown task.
    """
    from wattlm.errors import ConfigError
    from wattlm.tasks.benchmark import check_device
    from wattlm.tasks.registry import check_model_dir, get_task

    file = Path(path)
    spec = _read(path)
    _unknown(set(spec), {"compare", "variants"}, str(file))
    settings, variants = spec.get("compare", {}), spec.get("variants", {})
    if not isinstance(settings, dict) or not isinstance(variants, dict):
        raise ConfigError(f"{file}: [compare] and [variants.NAME] must be tables")
    _unknown(set(settings), _COMPARE_KEYS, f"{file} [compare]")
    _check_values(settings, f"{file} [compare]")
    task = get_task(settings.get("task", "classification"), where=f"{file} [compare] task")
    settings["task"] = task.name
    if not variants:
        raise ConfigError(f"{file}: no variants: add at least one [variants.NAME] with model=")
    if "baseline" in settings and settings["baseline"] not in variants:
        raise ConfigError(f"{file} [compare]: baseline {settings['baseline']!r} is not a "
                          f"variant; variants are {', '.join(variants)}")
    for name, options in variants.items():
        where = f"{file} [variants.{name}]"
        if not isinstance(options, dict):
            raise ConfigError(f"{where} must be a table")
        _unknown(set(options), _VARIANT_KEYS, where)
        _check_values(options, where)
        if "model" not in options:
            raise ConfigError(f"{where}: model = \"path/to/model\" (or \"tiny\") is required")
        folder = file.parent / str(options["model"])
        if (options["model"] != "tiny" or folder.is_dir()) and not folder.is_dir():
            raise ConfigError(f"{where}: model directory {folder.resolve()} does not exist "
                              "(only local models are loaded; \"tiny\" is the task's tiny model)")
    if "inputs" in settings:
        settings["inputs"] = str((file.parent / str(settings["inputs"])).resolve())
    items = load_inputs(settings)
    for name, options in variants.items():
        where = f"{file} [variants.{name}]"
        if options["model"] != "tiny" or (file.parent / "tiny").is_dir():
            options["model"] = check_model_dir(task, str(file.parent / options["model"]),
                                               where=f"{where} model")
        try:
            options["device"] = check_device(options.get("device", "cpu"))
        except ConfigError as e:
            raise ConfigError(f"{where} {e}") from e
        if "distil_steps" in options and task.name not in ("classification", "generation"):
            raise ConfigError(f"{where}: distil_steps works for tasks classification and "
                              f"generation (models with logits), not {task.name}")
    return {"compare": settings, "variants": variants, "items": items}


def load_inputs(settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The task items of a checked spec.

    From ``.jsonl``/``.csv`` with the task's fields, the shipped set, or (classification
    without quality) a ``.txt`` file of one text a line.

    Raises:
        ConfigError: unreadable file, bad JSON line, missing fields.
    """
    from wattlm.errors import ConfigError
    from wattlm.tasks.inputs import check_items, load_file, shipped_items
    from wattlm.tasks.registry import get_task

    task = get_task(settings["task"])
    path = settings.get("inputs")
    if path is None:
        items = shipped_items(task)
    elif path.endswith(".txt"):
        from wattlm import _validate
        from wattlm.errors import InvalidInputError

        try:
            lines = _validate.read_text(path, "inputs").splitlines()
        except InvalidInputError as e:
            raise ConfigError(str(e)) from None
        items = [{"text": t, "label": "0"} for t in lines if t.strip()]
        if not items:
            raise ConfigError(f"inputs {path} holds no texts (empty file or blank lines only): "
                              "give at least one")
        if task.name != "classification" or settings.get("quality", "task") != "none":
            raise ConfigError(f"inputs {path}: quality needs a label for every input (a .jsonl "
                              f"or .csv file with the fields {', '.join(task.fields)}), or set "
                              "quality = \"none\"")
    else:
        items = load_file(path)
        text_key, label_key = settings.get("text_key"), settings.get("label_key")
        if task.name == "classification" and (text_key or label_key):
            items = [{**i, "text": i.get(text_key or "text"), "label": i.get(label_key or "label")}
                     for i in items]
    items = items[:settings["limit"]] if settings.get("limit") else items
    return check_items(task, items, f"inputs {path or 'shipped ' + task.name + ' set'}")


def _human(data: dict[str, Any], result: Any) -> str:
    headers, rows = result.text_table()
    return table(headers, rows) + "\n\n" + "\n".join(f"- {r}" for r in data["recommendations"])


def _token_counter(task: Any, built: Any, settings: dict[str, Any]) -> Any:
    """Output tokens for generating tasks; else input tokens (the baseline's tokenizer)."""
    if task.generates:
        return lambda _item, output: int(getattr(output, "tokens", 0))
    baseline = settings.get("baseline") or next(iter(built.runners))
    bundle = built.bundles.get(baseline) or next(iter(built.bundles.values()), None)
    if bundle is None:
        return None
    length = int(settings.get("max_length", 128))

    def count(item: Any, _output: Any) -> int:
        ids = bundle.tokenizer(str(item[task.text_field]), truncation=True, max_length=length)
        return len(ids["input_ids"])

    return count


def _handle(args: argparse.Namespace) -> int:
    from wattlm.compare.variants import compare
    from wattlm.integrations.compare_spec import build_variants
    from wattlm.tasks.registry import get_task

    spec = load_spec(args.spec)
    settings = spec["compare"]
    task = get_task(settings["task"])
    items = spec["items"]
    built = build_variants(task, items, spec["variants"],
                           default_batch_size=int(settings.get("batch_size", 8)),
                           track_options={"region": settings.get("region")})
    wants_quality = settings.get("quality", "task") != "none"
    fairness = None
    if settings.get("fairness", True) and task.fairness:
        from wattlm.tasks.probe import fairness_report

        def fairness(name: str, runner: Any) -> Any:
            return fairness_report(task, built.bundles.get(name), runner,
                                   built.batch_sizes[name])
    result = compare(built.runners, items, count_tokens=_token_counter(task, built, settings),
                     quality=(lambda outs: task.score(outs, items).value) if wants_quality
                     else None, warmup=int(settings.get("warmup", 1)),
                     windows=int(settings.get("windows", 3)), batch_size=built.batch_sizes,
                     baseline=settings.get("baseline"),
                     quality_name=task.metric if wants_quality else "quality",
                     region=settings.get("region"), make_cost=built.costs, fairness=fairness,
                     max_quality_loss=settings.get("max_quality_loss"))
    data = result.to_dict()
    emit(data, args.format, lambda d: _human(d, result))
    if args.report:
        from wattlm.cli.report import write_text
        from wattlm.report import render

        write_text(render(result, args.report), args.output)
    if all(not v.ok for v in result.variants):
        print("wattlm: every variant failed", file=sys.stderr)
        return 1
    return 0
