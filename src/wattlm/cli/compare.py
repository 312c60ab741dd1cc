"""``wattlm compare SPEC.toml``: measure model variants on the same inputs, energy vs quality.

The TOML file::

    [compare]
    inputs = "texts.jsonl"      # .txt: one text per line; .jsonl: objects with text (+ label)
    text_key = "text"
    label_key = "label"
    quality = "accuracy"        # "accuracy" (needs labels) or "none"
    warmup = 1
    limit = 200                 # first N inputs only
    baseline = "base"
    region = "FR"
    max_length = 128

    [variants.base]
    model = "./models/my-bert"  # local directory, loaded with local_files_only=True
    batch_size = 8

    [variants.int8]
    model = "./models/my-bert"
    quantize = "int8"           # dynamic int8 (CPU)

    [variants.half]
    model = "./models/my-bert"
    dtype = "float16"           # float32, float16 or bfloat16
    device = "cpu"

Unknown keys are errors, found before anything is loaded or measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from wattlm.cli._output import add_format_option, emit, table

_COMPARE_KEYS = {"inputs", "text_key", "label_key", "quality", "warmup", "limit", "baseline",
                 "region", "max_length", "batch_size"}
_VARIANT_KEYS = {"model", "batch_size", "quantize", "dtype", "device", "max_length"}


def register(subparsers: Any) -> None:
    """Add the ``compare`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "compare", help="measure model variants on the same inputs: energy vs quality, Pareto",
        description="Run each variant named in a TOML file (local model directories, int8, "
        "half precision, batch sizes) on the same inputs after a warm-up, measure each with "
        "wattlm, and print energy per item and token, latency, quality, the Pareto set and "
        "recommendations. J/token counts input tokens (the baseline's tokenizer, truncated "
        "to max_length); latency is per call (one batch).")
    parser.add_argument("spec", help="TOML file naming the inputs and the variants")
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


_INT_MIN = {"warmup": 0, "limit": 1, "max_length": 1, "batch_size": 1}
_STR_KEYS = {"inputs", "text_key", "label_key", "quality", "baseline", "region", "model",
             "quantize", "dtype", "device"}


def _check_types(values: dict[str, Any], where: str) -> None:
    from wattlm.errors import ConfigError

    for key, value in values.items():
        if key in _INT_MIN and (isinstance(value, bool) or not isinstance(value, int)
                                or value < _INT_MIN[key]):
            raise ConfigError(f"{where}: {key} must be an integer >= {_INT_MIN[key]}, got "
                              f"{value!r}")
        if key in _STR_KEYS and not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be a string, got {value!r}")


def load_spec(path: str) -> dict[str, Any]:
    """Read and check a comparison spec; every problem raises before anything runs.

    Raises:
        ConfigError: unreadable or invalid TOML, unknown keys, missing model directories or
            inputs, bad values.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    from pathlib import Path

    from wattlm.errors import ConfigError

    file = Path(path)
    try:
        spec = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read {file}: {e.strerror or e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{file}: invalid TOML: {e}") from e
    _unknown(set(spec), {"compare", "variants"}, str(file))
    settings = spec.get("compare", {})
    variants = spec.get("variants", {})
    if not isinstance(settings, dict) or not isinstance(variants, dict):
        raise ConfigError(f"{file}: [compare] and [variants.NAME] must be tables")
    _unknown(set(settings), _COMPARE_KEYS, f"{file} [compare]")
    _check_types(settings, f"{file} [compare]")
    if not variants:
        raise ConfigError(f"{file}: no variants: add at least one [variants.NAME] with model=")
    base_dir = file.parent
    for name, options in variants.items():
        if not isinstance(options, dict):
            raise ConfigError(f"{file}: [variants.{name}] must be a table")
        _unknown(set(options), _VARIANT_KEYS, f"{file} [variants.{name}]")
        _check_types(options, f"{file} [variants.{name}]")
        if "model" not in options:
            raise ConfigError(f"{file} [variants.{name}]: model = \"path/to/model\" is required")
        model_dir = (base_dir / str(options["model"])).resolve()
        if not model_dir.is_dir():
            raise ConfigError(f"{file} [variants.{name}]: model directory {model_dir} does "
                              "not exist (only local models are loaded)")
        options["model"] = str(model_dir)
        if options.get("quantize") not in (None, "int8"):
            raise ConfigError(f"{file} [variants.{name}]: quantize must be \"int8\", got "
                              f"{options['quantize']!r}")
        if options.get("dtype") not in (None, "float32", "float16", "bfloat16"):
            raise ConfigError(f"{file} [variants.{name}]: dtype must be float32, float16 or "
                              f"bfloat16, got {options['dtype']!r}")
    if "inputs" not in settings:
        raise ConfigError(f"{file} [compare]: inputs = \"texts.txt\" (or .jsonl) is required")
    settings["inputs"] = str((base_dir / str(settings["inputs"])).resolve())
    if settings.get("quality", "accuracy") not in ("accuracy", "none"):
        raise ConfigError(f"{file} [compare]: quality must be \"accuracy\" or \"none\"")
    if "baseline" in settings and settings["baseline"] not in variants:
        raise ConfigError(f"{file} [compare]: baseline {settings['baseline']!r} is not a variant; "
                          f"variants are {', '.join(variants)}")
    return {"compare": settings, "variants": variants}


def load_inputs(settings: dict[str, Any]) -> tuple[list[str], list[Any] | None]:
    """Texts and labels (None when the file has none).

    Raises:
        ConfigError: unreadable file, bad JSON line, missing text key.
    """
    from pathlib import Path

    from wattlm.errors import ConfigError

    path = Path(settings["inputs"])
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ConfigError(f"cannot read inputs {path}: {e.strerror or e}") from e
    texts: list[str] = []
    labels: list[Any] = []
    text_key, label_key = settings.get("text_key", "text"), settings.get("label_key", "label")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if path.suffix == ".jsonl":
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}, line {number}: invalid JSON ({e.msg})") from e
            if not isinstance(row, dict) or text_key not in row:
                raise ConfigError(f"{path}, line {number}: needs a {text_key!r} field")
            texts.append(str(row[text_key]))
            if label_key in row:
                labels.append(row[label_key])
        else:
            texts.append(line)
    limit = settings.get("limit")
    if isinstance(limit, int) and limit > 0:
        texts, labels = texts[:limit], labels[:limit]
    if not texts:
        raise ConfigError(f"inputs {path} holds no texts (empty file or blank lines only): "
                          "give at least one")
    has_labels = bool(labels) and len(labels) == len(texts)
    return texts, labels if has_labels else None


def _lazy_variant(options: dict[str, Any], max_length: int) -> Any:
    """A variant that loads its model on first call (so a load failure fails only it)."""
    state: dict[str, Any] = {}

    def run(texts: list[Any]) -> list[Any]:
        if "runner" not in state:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
            from transformers.utils import logging as hf_logging

            from wattlm.compare.variants import int8_dynamic, transformers_runner

            path = options["model"]
            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(
                path, local_files_only=True).eval()
            device = options.get("device", "cpu")
            if options.get("dtype") in ("float16", "bfloat16"):
                model = model.to(getattr(torch, options["dtype"]))
            if options.get("quantize") == "int8":
                model, device = int8_dynamic(model), "cpu"
            else:
                model = model.to(device)
            state["runner"] = transformers_runner(
                model, tokenizer, batch_size=int(options.get("batch_size", 8)),
                max_length=int(options.get("max_length", max_length)), device=device)
            state["labels"] = getattr(model.config, "id2label", None) or {}
        outputs: list[Any] = state["runner"](texts)
        names = state["labels"]
        return [names.get(o, o) if isinstance(o, int) else o for o in outputs]

    return run


def _token_counter(model_dir: str, max_length: int) -> Any:
    """``count_tokens(text, output)``: input tokens of ``text`` with the baseline's tokenizer.

    Raises:
        ConfigError: the tokenizer cannot be loaded from ``model_dir`` (before measuring).
    """
    from wattlm.errors import ConfigError

    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    except Exception as e:  # noqa: BLE001 - any load failure is a spec problem
        raise ConfigError(f"cannot load a tokenizer from {model_dir} ({type(e).__name__}: "
                          f"{e}); the model directory needs its tokenizer files") from e

    def count(text: Any, _output: Any) -> int:
        return len(tokenizer(str(text), truncation=True, max_length=max_length)["input_ids"])

    return count


def _accuracy(labels: list[Any]) -> Any:
    def quality(outputs: list[Any]) -> float:
        hits = sum(1 for o, y in zip(outputs, labels, strict=True)
                   if o == y or str(o) == str(y))
        return hits / len(labels)

    return quality


def _human(data: dict[str, Any]) -> str:
    rows = [[v["name"], v["status"], _n(v["energy_per_item_j"]), _n(v["energy_per_token_j"]),
             _n(v["throughput_items_per_s"]), _n(v["latency_s"]), _n(v["quality"]),
             v["provenance"] or "-", "yes" if v["name"] in data["pareto"] else ""]
            for v in data["variants"]]
    body = table(["variant", "status", "J/item", "J/token", "items/s", "latency (s)",
                  data["quality_name"], "provenance", "pareto"], rows)
    return body + "\n\n" + "\n".join(f"- {r}" for r in data["recommendations"])


def _n(value: float | None) -> str:
    from wattlm._format import format_number

    return format_number(value)


def _handle(args: argparse.Namespace) -> int:
    from wattlm.compare.variants import compare

    spec = load_spec(args.spec)
    settings = spec["compare"]
    texts, labels = load_inputs(settings)
    wants_quality = settings.get("quality", "accuracy") == "accuracy"
    if wants_quality and labels is None and settings.get("quality") == "accuracy":
        from wattlm.errors import ConfigError

        raise ConfigError(f"{args.spec}: quality = \"accuracy\" needs a label for every input "
                          "(a .jsonl file with a label field)")
    max_length = int(settings.get("max_length", 128))
    variants = {name: _lazy_variant(options, max_length)
                for name, options in spec["variants"].items()}
    baseline = settings.get("baseline") or next(iter(variants))
    count_tokens = _token_counter(spec["variants"][baseline]["model"], max_length)
    result = compare(variants, texts, quality=_accuracy(labels) if wants_quality and labels
                     else None, warmup=int(settings.get("warmup", 1)),
                     batch_size=settings.get("batch_size"), baseline=settings.get("baseline"),
                     quality_name="accuracy" if wants_quality and labels else "quality",
                     region=settings.get("region"), count_tokens=count_tokens)
    emit(result.to_dict(), args.format, _human)
    if args.report:
        from wattlm.cli.report import write_text
        from wattlm.report import render

        write_text(render(result, args.report), args.output)
    failed = [v for v in result.variants if not v.ok]
    if len(failed) == len(result.variants):
        print("wattlm: every variant failed", file=sys.stderr)
        return 1
    return 0
