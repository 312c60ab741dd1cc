"""Counterfactual templates and identity terms: the packaged set and the user's own.

A template is a sentence with one ``{identity}`` slot; the packaged identity terms cover six
axes. User templates come from a ``.txt`` file (one template a line), ``.csv`` or ``.jsonl``
(a ``template`` field, optional ``kind`` and ``continuation``).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from wattlm._caches import cached
from wattlm.errors import ConfigError

__all__ = ["AXES", "SLOT", "IdentityTerm", "Template", "identity_terms", "load_templates",
           "packaged_templates"]

SLOT = "{identity}"
AXES = ("gender", "ethnicity", "religion", "age", "nationality", "disability")
KINDS = ("classification", "generation")


@dataclass(frozen=True)
class IdentityTerm:
    """One group's term on one axis (``religion``, ``Muslim``, ``Muslim``)."""

    axis: str
    group: str
    term: str


@dataclass(frozen=True)
class Template:
    """A sentence with one ``{identity}`` slot; generators also score ``continuation``."""

    text: str
    kind: str = "classification"
    continuation: str = ""

    def fill(self, term: str) -> str:
        """The template with ``term`` in its slot."""
        return self.text.replace(SLOT, term)


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("wattlm.fairness").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines(keepends=True)))


@cached
def identity_terms() -> tuple[IdentityTerm, ...]:
    """The packaged identity terms (``data/identity_terms.csv``)."""
    rows = _read("identity_terms.csv")
    return tuple(IdentityTerm(r["axis"], r["group"], r["term"]) for r in rows)


@cached
def _packaged() -> tuple[Template, ...]:
    return tuple(Template(r["template"].replace("\\n", "\n"), r["kind"], r["continuation"])
                 for r in _read("templates.csv"))


def packaged_templates(kind: str) -> list[Template]:
    """The packaged templates of one kind (``classification`` or ``generation``)."""
    return [t for t in _packaged() if t.kind == kind]


def _check(text: str, where: str) -> str:
    count = text.count(SLOT)
    if count != 1:
        what = "no identity slot" if count == 0 else f"{count} identity slots"
        raise ConfigError(f"{where}: template {text!r} has {what}; each template needs exactly "
                          f"one {SLOT} slot where the identity term goes")
    return text


def load_templates(path: str, kind: str = "classification") -> list[Template]:
    """User templates from ``path`` (``.txt``, ``.csv`` or ``.jsonl``), checked.

    Raises:
        ConfigError: unreadable file, unknown type, a template without exactly one
            ``{identity}`` slot, an unknown kind, or no templates.
    """
    from wattlm import _validate
    from wattlm.errors import InvalidInputError

    file = Path(path).expanduser()
    try:
        text = _validate.read_text(file, "--templates file")
    except InvalidInputError as e:  # missing, directory, binary, not UTF-8: one line
        raise ConfigError(str(e)) from None
    rows: list[dict[str, str]]
    suffix = file.suffix.lower()
    if suffix == ".txt":
        rows = [{"template": line} for line in text.splitlines() if line.strip()]
    elif suffix == ".csv":
        rows = list(csv.DictReader(text.splitlines(keepends=True)))
    elif suffix == ".jsonl":
        try:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as e:
            raise ConfigError(f"--templates {file}: invalid JSON ({e.msg})") from e
    else:
        raise ConfigError(f"--templates {file}: unknown file type {suffix or '(none)'!r}; valid "
                          "types: .txt, .csv, .jsonl")
    templates = []
    for number, row in enumerate(rows, start=1):
        where = f"--templates {file}, template {number}"
        if not isinstance(row, dict) or not str(row.get("template") or "").strip():
            raise ConfigError(f"{where}: missing field 'template'")
        row_kind = str(row.get("kind") or kind)
        if row_kind not in KINDS:
            raise ConfigError(f"{where}: unknown kind {row_kind!r}; valid kinds: "
                              f"{', '.join(KINDS)}")
        templates.append(Template(_check(str(row["template"]), where), row_kind,
                                  str(row.get("continuation") or "")))
    if not templates:
        raise ConfigError(f"--templates {file} holds no templates")
    return templates
