"""Reports of a run or an estimate: Markdown, self-contained HTML, JSON, model card, disclosure.

``render(subject, fmt)`` is the one entry point; ``subject`` is a
:class:`~wattlm.records.RunRecord` (pass ``devices`` and ``samples`` from the store for the
power plot), a training or inference estimate, or a comparison result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from wattlm.errors import InvalidInputError
from wattlm.records import DeviceInfo, Sample

__all__ = ["FORMATS", "render"]

FORMATS = ("md", "html", "json", "model-card", "disclosure")
_OPTIONS = {"model-card": ("training_type", "source", "geographical_location", "hardware_used"),
            "disclosure": ("model_name", "provider")}
_ALIASES = {"markdown": "md", "modelcard": "model-card", "model_card": "model-card"}


def render(subject: Any, fmt: str = "md", *, devices: Sequence[DeviceInfo] | None = None,
           samples: Sequence[Sample] | None = None, units: Mapping[str, Any] | None = None,
           **options: Any) -> str:
    """Render a run, an estimate or a comparison as a document.

    Args:
        subject: ``RunRecord``, estimate (``estimate_training``/``estimate_inference``) or
            :class:`~wattlm.compare.variants.ComparisonResult`.
        fmt: one of :data:`FORMATS` (``markdown`` is accepted for ``md``).
        devices: the run's channels (``store.samples(id)[0]``) for the power plot.
        samples: the run's samples (``store.samples(id)[1]``) for the power plot.
        units: functional units the work served, for the SCI table: ``{"tokens": N}``,
            ``requests``, ``samples`` (the one way to give ``samples``, whose keyword is the
            power samples above).
        **options: for every format: ``tokens``, ``requests`` (as in ``units``); for
            ``model-card``: ``training_type``,
            ``source``, ``geographical_location``, ``hardware_used``; for ``disclosure``:
            ``model_name``, ``provider``.

    Returns:
        The document as text (HTML pages are self-contained: plots inline).

    Raises:
        InvalidInputError: unknown format, a subject that is not a run or an estimate, an
            option the format does not take, or a unit count that is not > 0.
    """
    key = _ALIASES.get(str(fmt).lower(), str(fmt).lower())
    if key not in FORMATS:
        raise InvalidInputError(f"unknown report format {fmt!r}; choose one of "
                                f"{', '.join(FORMATS)}")
    if all(hasattr(subject, a) for a in ("pareto", "recommendations", "to_markdown")):
        return _render_comparison(subject, key)  # a wattlm.compare ComparisonResult
    from wattlm.report._data import UNITS, build_report_data

    units = {**(units or {}), **{k: options.pop(k) for k in UNITS if k in options}}
    allowed = _OPTIONS.get(key, ())
    unknown = [k for k in options if k not in allowed]
    if unknown:
        extra = f" and {', '.join(allowed)}" if allowed else ""
        raise InvalidInputError(f"format {key!r} does not take {', '.join(unknown)}; it takes "
                                f"{', '.join(UNITS)}{extra}")
    data = build_report_data(subject, devices=list(devices or []), samples=list(samples or []),
                             units=units)
    if key == "md":
        from wattlm.report.markdown import render_markdown

        return render_markdown(data)
    if key == "html":
        from wattlm.report.html import render_html

        return render_html(data)
    if key == "json":
        return json.dumps(data.to_dict(), indent=2, default=_json_default) + "\n"
    if key == "model-card":
        from wattlm.report.model_card import model_card_yaml

        return model_card_yaml(data, **options)
    from wattlm.report.disclosure import render_disclosure

    return render_disclosure(data, **options)


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _render_comparison(result: Any, key: str) -> str:
    if key == "md":
        return str(result.to_markdown())
    if key == "html":
        return str(result.to_html())
    if key == "json":
        return json.dumps(result.to_dict(), indent=2, default=_json_default) + "\n"
    raise InvalidInputError(f"a comparison renders as md, html or json, not {key!r}")
