"""Write ``co2_eq_emissions`` into a model card's YAML metadata (Hugging Face Hub convention).

The Hub reads a model card (``README.md``) whose YAML front matter, between two ``---`` lines at
the top, may hold::

    co2_eq_emissions:
      emissions: 123.4            # grams CO2e
      source: wattlm
      training_type: fine-tuning  # or pre-training
      geographical_location: France
      hardware_used: 1 x NVIDIA H100

:func:`write_co2_metadata` creates the card or updates it in place, keeping every other key and
the text below the metadata. With PyYAML installed the front matter is parsed and re-written by
PyYAML (keys keep their order; comments inside the front matter are lost). Without PyYAML a
minimal line-based writer rewrites only the ``co2_eq_emissions`` block and leaves every other line
as it was (other fields of an existing ``co2_eq_emissions`` block are kept too).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from wattlm.report.model_card import TRAINING_TYPES, co2_block, yaml_number, yaml_scalar

__all__ = ["TRAINING_TYPES", "read_front_matter", "write_co2_metadata"]

_FENCE = "---"


def _split(text: str) -> tuple[str | None, str]:
    """``(front matter or None, body)`` of a model card."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != _FENCE:
        return None, text
    for i in range(1, len(lines)):
        if lines[i].strip() == _FENCE:
            return "".join(lines[1:i]), "".join(lines[i + 1:])
    return None, text  # an opening fence without a closing one is body text


def read_front_matter(path: str | Path) -> dict[str, Any]:
    """Read the YAML metadata of a model card (``{}`` when it has none). Needs PyYAML."""
    import yaml

    front, _ = _split(Path(path).read_text(encoding="utf-8"))
    if front is None:
        return {}
    data = yaml.safe_load(front)
    return data if isinstance(data, dict) else {}


def _with_yaml(front: str | None, meta: dict[str, Any]) -> str:
    import yaml

    data = yaml.safe_load(front) if front else None
    if not isinstance(data, dict):
        data = {}
    existing = data.get("co2_eq_emissions")
    merged = dict(existing) if isinstance(existing, dict) else {}
    merged.update(meta)
    data["co2_eq_emissions"] = merged

    class _Dumper(yaml.SafeDumper):  # type: ignore[misc]  # PyYAML ships no types here
        """Floats in fixed point (the Hub filter reads ``0.00000032``, not ``3.2e-07``)."""

    def _float(dumper: Any, value: float) -> Any:
        return dumper.represent_scalar("tag:yaml.org,2002:float", yaml_number(value))

    _Dumper.add_representer(float, _float)
    dumped: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    return dumped


def _without_yaml(front: str | None, meta: dict[str, Any]) -> str:
    """Rewrite the top-level ``co2_eq_emissions`` block line by line; keep everything else.

    Fields of an existing block that ``meta`` does not set are kept, with their sub-lines.
    """
    kept: list[str] = []
    old_fields: list[list[str]] = []
    in_block = False
    child_indent: int | None = None
    for line in (front or "").splitlines(keepends=True):
        top_level = bool(line.strip()) and not line[0].isspace()
        if top_level:
            in_block = line.split(":", 1)[0].strip() == "co2_eq_emissions"
            if in_block:
                continue
        if not in_block:
            kept.append(line)
            continue
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if child_indent is None:
            child_indent = indent
        if indent <= child_indent or not old_fields:
            old_fields.append([line])
        else:
            old_fields[-1].append(line)
    if kept and not kept[-1].endswith("\n"):
        kept[-1] += "\n"
    block = ["co2_eq_emissions:\n"] + [f"  {k}: {yaml_scalar(v)}\n" for k, v in meta.items()]
    for group in old_fields:
        key = group[0].strip().split(":", 1)[0].strip()
        if key not in meta:
            block.extend(g if g.endswith("\n") else g + "\n" for g in group)
    return "".join(kept + block)


def write_co2_metadata(
    output_dir: str | Path,
    emissions_g: float,
    *,
    training_type: str = "fine-tuning",
    geographical_location: str | None = None,
    hardware_used: str | None = None,
    use_yaml: bool | None = None,
) -> Path:
    """Create or update ``output_dir/README.md`` with ``co2_eq_emissions`` in its metadata.

    Args:
        output_dir: the model's directory (created if missing).
        emissions_g: operational emissions of training, grams CO2e.
        training_type: ``fine-tuning`` or ``pre-training``.
        geographical_location: where it ran (a region name or code).
        hardware_used: what it ran on.
        use_yaml: force PyYAML (``True``) or the minimal writer (``False``); default: PyYAML
            when installed.

    Returns:
        The model card's path. Other metadata keys, other ``co2_eq_emissions`` fields and the
        card's text are kept.
    """
    meta = co2_block(emissions_g, source="wattlm", training_type=training_type,
                     geographical_location=geographical_location, hardware_used=hardware_used)
    if use_yaml is None:
        use_yaml = importlib.util.find_spec("yaml") is not None
    directory = Path(output_dir)
    directory.mkdir(parents=True, exist_ok=True)
    card = directory / "README.md"
    text = card.read_text(encoding="utf-8") if card.exists() else ""
    front, body = _split(text)
    if front is None and text.strip() == "":
        body = "\n# Model card\n\nEnergy and emissions measured with wattlm.\n"
    new_front = _with_yaml(front, meta) if use_yaml else _without_yaml(front, meta)
    if body and not body.startswith("\n"):
        body = "\n" + body
    card.write_text(f"{_FENCE}\n{new_front}{_FENCE}\n{body}", encoding="utf-8")
    return card
