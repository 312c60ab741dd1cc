"""``wattlm report RUN``: Markdown, self-contained HTML, JSON, model-card or disclosure document."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from wattlm.cli.runs import add_db_option

FORMATS = ("md", "html", "json", "model-card", "disclosure")


def register(subparsers: Any) -> None:
    """Add the ``report`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="turn a stored run into a document: md, html, json, model card, disclosure",
        description="Write a report of a stored run: Markdown (papers, READMEs), a "
        "self-contained HTML page with plots, JSON, the Hugging Face model-card "
        "co2_eq_emissions block (grams), or an energy disclosure after EU AI Act Annex XI.")
    parser.add_argument("run", help="run id (see `wattlm runs`), or 'last'")
    parser.add_argument("--format", choices=FORMATS, default="md",
                        help="document format (default: md)")
    parser.add_argument("-o", "--output", default=None, metavar="FILE",
                        help="write to FILE instead of standard output")
    add_db_option(parser)
    parser.add_argument("--training-type", choices=("pre-training", "fine-tuning"), default=None,
                        help="model card: training_type")
    parser.add_argument("--model-name", default=None, help="disclosure: the model's name")
    parser.add_argument("--provider", default=None, help="disclosure: the model's provider")
    units = parser.add_mutually_exclusive_group()
    units.add_argument("--tokens", type=float, default=None, metavar="N",
                       help="tokens the run processed: adds SCI per 1000 tokens")
    units.add_argument("--requests", type=float, default=None, metavar="N",
                       help="requests the run served: adds SCI per request")
    units.add_argument("--samples", type=float, default=None, metavar="N",
                       help="training/evaluation samples the run processed: adds SCI per sample")
    parser.set_defaults(handler=_handle)


def load_run(ref: str, db: str | None) -> tuple[Any, list[Any], list[Any]]:
    """The record, devices and samples of run ``ref`` (an id or ``last``).

    Raises:
        InvalidInputError: ``ref`` is neither an integer nor ``last``.
        UnknownNameError: no such run in the store.
    """
    from wattlm.cli.runs import open_for_reading, resolve_run_id

    with open_for_reading(db) as store:
        run_id = resolve_run_id(store, ref)
        record = store.get_run(run_id)
        devices, samples = store.samples(run_id)
    return record, devices, samples


def write_text(text: str, output: str | None) -> None:
    """Write ``text`` to ``output`` (a file) or standard output.

    Raises:
        InvalidInputError: the file cannot be written.
    """
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    from wattlm.errors import InvalidInputError

    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as e:
        raise InvalidInputError(f"cannot write {output}: {e.strerror or e}") from e
    print(f"wrote {output}", file=sys.stderr)


def _check(args: argparse.Namespace) -> dict[str, float]:
    """The free-text and count options, one line each, before the store is read."""
    from wattlm import _validate
    from wattlm.report._data import MAX_UNITS

    for dest in ("model_name", "provider"):
        if (value := getattr(args, dest)) is not None:
            option = "--" + dest.replace("_", "-")
            setattr(args, dest, _validate.text(value, dest, origin=f"argument {option}"))
    return {unit: _validate.positive(count, unit, origin=f"argument --{unit}", high=MAX_UNITS)
            for unit in ("tokens", "requests", "samples")
            if (count := getattr(args, unit)) is not None}


def _handle(args: argparse.Namespace) -> int:
    from wattlm.report import render

    units = _check(args)
    if args.output not in (None, "-"):
        from wattlm import _validate

        _validate.path_for_writing(args.output, "-o")
    record, devices, samples = load_run(args.run, args.db)
    options: dict[str, Any] = {}
    if args.format == "model-card" and args.training_type:
        options["training_type"] = args.training_type
    if args.format == "disclosure":
        options.update({k: v for k, v in (("model_name", args.model_name),
                                          ("provider", args.provider)) if v})
    # the functional units go in ``units``: ``samples=`` is the run's power samples
    text = render(record, args.format, devices=devices, samples=samples, units=units,
                  **options)
    write_text(text, args.output)
    return 0
