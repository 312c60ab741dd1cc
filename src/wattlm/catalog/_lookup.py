"""Forgiving name matching shared by the catalogues.

A name is normalised by lower-casing it and dropping every character that is not a letter or a
digit, so ``"GPT-3"``, ``"gpt3"`` and ``"gpt_3"`` are the same key. Organisation prefixes of
Hugging Face repository ids (``"meta-llama/"``) are tried both with and without.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from typing import Generic, TypeVar

from wattlm._validate import shown
from wattlm.errors import DataError, InvalidInputError, UnknownNameError

__all__ = ["NameIndex", "aliases", "normalise", "optional_float", "read_rows"]

T = TypeVar("T")
_NON_ALNUM = re.compile(r"[^a-z0-9+]")


def normalise(name: str) -> str:
    """Lower-case ``name`` and drop everything but letters, digits and ``+``."""
    return _NON_ALNUM.sub("", name.lower())


def read_rows(filename: str) -> list[dict[str, str]]:
    """Read a packaged CSV from ``wattlm/catalog/data`` as a list of dicts."""
    try:
        text = resources.files("wattlm.catalog").joinpath("data", filename).read_text("utf-8")
    except (FileNotFoundError, OSError) as e:  # pragma: no cover - broken installation
        raise DataError(f"packaged table {filename} is missing: {e}") from e
    return list(csv.DictReader(text.splitlines()))


def optional_float(row: dict[str, str], key: str, filename: str) -> float | None:
    """Read column ``key`` of a catalogue row as a float; a blank cell is ``None``.

    Raises:
        DataError: the cell holds text that is not a number (names the table, row and column).
    """
    text = (row.get(key) or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError as e:
        raise DataError(
            f"{filename}: {row.get('name')!r} has a non-numeric {key}: {text!r}") from e


def aliases(row: dict[str, str]) -> tuple[str, ...]:
    """The ``;``-separated ``aliases`` column of a catalogue row, blanks dropped."""
    return tuple(a.strip() for a in row.get("aliases", "").split(";") if a.strip())


class NameIndex(Generic[T]):
    """Look items up by canonical name or alias, forgivingly, with "did you mean" on a miss."""

    def __init__(self, items: Sequence[T], names: Callable[[T], Iterable[str]],
                 canonical: Callable[[T], str], what: str) -> None:
        """Index ``items``; ``names(item)`` yields every name the item answers to."""
        self._items = list(items)
        self._canonical = canonical
        self._what = what
        self._keys: dict[str, T] = {}
        for item in self._items:
            for name in names(item):
                for key in self._variants(name):
                    self._keys.setdefault(key, item)
        # canonical names win over aliases of other items
        for item in self._items:
            self._keys[normalise(canonical(item))] = item

    @staticmethod
    def _variants(name: str) -> list[str]:
        keys = [normalise(name)]
        if "/" in name:
            keys.append(normalise(name.rsplit("/", 1)[1]))
        return [k for k in keys if k]

    def get(self, name: str) -> T:
        """Return the item called ``name``; raise ``UnknownNameError`` if none."""
        if isinstance(name, str) and name.strip():
            for key in self._variants(name.strip()):
                if key in self._keys:
                    return self._keys[key]
        raise self._unknown(name if isinstance(name, str) else repr(name))

    def _unknown(self, name: str) -> UnknownNameError:
        key = normalise(name)[:200]  # difflib on a huge string is slow and never matches
        close = difflib.get_close_matches(key, list(self._keys), n=12, cutoff=0.6)
        hints: list[str] = []
        for key in close:
            canonical = self._canonical(self._keys[key])
            if canonical not in hints:
                hints.append(canonical)
        if hints:
            return UnknownNameError(
                f"unknown {self._what} {shown(name)}: did you mean {' or '.join(hints[:3])}?")
        known = ", ".join(self._canonical(i) for i in self._items[:10])
        plural = self._what if self._what == "hardware" else f"{self._what}s"
        return UnknownNameError(
            f"unknown {self._what} {shown(name)}; known {plural} include {known}, ... "
            f"(list them with `wattlm {'hardware' if self._what == 'hardware' else 'models'}`)")

    def search(self, query: str | None) -> list[T]:
        """Items whose canonical name or an alias contains ``query`` (normalised); all if None."""
        if query is None:
            return list(self._items)
        listing = "hardware" if self._what == "hardware" else "models"
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError(f"{self._what} query must be a non-empty part of a name; run "
                                    f"`wattlm {listing}` without one to list all")
        needle = normalise(query)
        if not needle:  # matched literally: punctuation and symbols are ignored, so nothing left
            raise UnknownNameError(
                f"no {self._what} matches {shown(query)}: names are matched literally on their "
                f"letters and digits (no patterns), and it has none; run `wattlm {listing}` to "
                "list all")
        found = {id(item): item for key, item in self._keys.items() if needle in key}
        return [item for item in self._items if id(item) in found]
