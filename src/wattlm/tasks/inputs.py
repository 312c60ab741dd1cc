"""Task inputs: the shipped sets, a user's JSONL or CSV file, or a ``datasets`` dataset on disk.

Every source is checked for the task's fields before any model is loaded.
"""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path
from typing import Any

from wattlm.errors import ConfigError, MissingExtraError
from wattlm.tasks.base import Item, Task

__all__ = ["check_items", "load_dataset_dir", "load_file", "load_items", "shipped_items"]


def shipped_items(task: Task) -> list[Item]:
    """The task set shipped with wattlm (``wattlm/tasks/data/<task>.csv``)."""
    text = resources.files("wattlm.tasks").joinpath("data", f"{task.name}.csv").read_text(
        encoding="utf-8")
    return [dict(row) for row in csv.DictReader(text.splitlines(keepends=True))]


def load_file(path: str) -> list[Item]:
    """Items from a ``.jsonl`` (one JSON object a line) or ``.csv`` (a header row) file.

    Raises:
        ConfigError: unreadable file, an unknown suffix, a bad JSON line, no items.
    """
    from wattlm import _validate
    from wattlm.errors import InvalidInputError

    file = Path(path).expanduser()
    try:
        text = _validate.read_text(file, "--inputs file")
    except InvalidInputError as e:  # missing, directory, binary, not UTF-8: one line
        raise ConfigError(str(e)) from None
    suffix = file.suffix.lower()
    items: list[Item] = []
    if suffix in (".jsonl", ".json"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ConfigError(f"--inputs {file}, line {number}: invalid JSON ({e.msg})") from e
            if not isinstance(row, dict):
                raise ConfigError(f"--inputs {file}, line {number}: each line must be a JSON "
                                  "object with the task's fields")
            items.append(row)
    elif suffix == ".csv":
        items = [dict(r) for r in csv.DictReader(text.splitlines(keepends=True))]
    else:
        raise ConfigError(f"--inputs {file}: unknown file type {suffix or '(none)'!r}; valid "
                          "types: .jsonl, .csv")
    if not items:
        raise ConfigError(f"--inputs {file} holds no items: give at least one")
    return items


def load_dataset_dir(path: str, split: str | None = None) -> list[Item]:
    """Items of a Hugging Face ``datasets`` dataset saved with ``save_to_disk`` (no hub).

    Raises:
        MissingExtraError: ``datasets`` is not installed.
        ConfigError: the folder is not a saved dataset, or ``split`` is not one of its splits.
    """
    try:
        import datasets
    except ImportError as e:
        raise MissingExtraError("datasets", "tasks", "--dataset DIR") from e
    try:
        loaded: Any = datasets.load_from_disk(str(Path(path).expanduser()))
    except (FileNotFoundError, ValueError, OSError) as e:
        raise ConfigError(f"--dataset {path}: not a dataset saved with save_to_disk ({e})") from e
    if isinstance(loaded, datasets.DatasetDict):
        names = list(loaded)
        chosen = split or ("test" if "test" in names else names[0])
        if chosen not in names:
            raise ConfigError(f"--split: unknown split {chosen!r} of {path}; valid splits: "
                              f"{', '.join(names)}")
        loaded = loaded[chosen]
    return [dict(row) for row in loaded]


def check_items(task: Task, items: list[Item], where: str) -> list[Item]:
    """Converted items; every one must have the task's fields.

    Raises:
        ConfigError: an item misses a field (the message names it and the task's fields).
    """
    out = []
    for number, raw in enumerate(items, start=1):
        item = task.convert(raw) if task.convert else raw
        missing = [f for f in task.fields if item.get(f) in (None, "")]
        if missing:
            raise ConfigError(f"{where}, item {number}: missing field {missing[0]!r} for task "
                              f"{task.name}; its items need the fields {', '.join(task.fields)}")
        out.append(item)
    return out


def load_items(task: Task, *, inputs: str | None = None, dataset: str | None = None,
               split: str | None = None, limit: int | None = None) -> list[Item]:
    """The items for ``task``: a file, a dataset on disk, or the shipped set; checked."""
    if inputs is not None:
        items, where = load_file(inputs), f"--inputs {inputs}"
    elif dataset is not None:
        items, where = load_dataset_dir(dataset, split), f"--dataset {dataset}"
    else:
        items, where = shipped_items(task), f"the shipped {task.name} set"
    if limit is not None:
        items = items[:limit]
    return check_items(task, items, where)
