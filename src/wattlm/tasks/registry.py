"""The known tasks, name lookup with aliases, and the model-capability check.

Adding a task is one module defining ``TASK`` plus its name in :data:`_MODULES`.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from wattlm.errors import ConfigError, InvalidInputError
from wattlm.tasks.base import Task

__all__ = ["TASK_NAMES", "all_tasks", "check_model_dir", "get_task"]

_MODULES = ("classification", "qa", "summarisation", "translation", "generation", "similarity")
TASK_NAMES = _MODULES


def all_tasks() -> list[Task]:
    """Every task, in benchmark order."""
    return [importlib.import_module(f"wattlm.tasks.{m}").TASK for m in _MODULES]


def get_task(name: str, *, where: str = "task") -> Task:
    """The task called ``name`` (or one of its aliases, any case, ``_`` or ``-``).

    Raises:
        InvalidInputError: an unknown task; the message lists the valid names.
    """
    key = str(name).strip().lower().replace("_", "-")
    for task in all_tasks():
        if key == task.name or key in task.aliases:
            return task
    raise InvalidInputError(f"{where}: unknown task {name!r}; valid tasks: "
                            f"{', '.join(_MODULES)}")


def check_model_dir(task: Task, path: str, *, where: str = "--model") -> str:
    """Check, from ``config.json`` alone, that the model in ``path`` can do ``task``.

    Nothing is loaded: the architecture names in ``config.json`` are matched with the task's
    accepted suffixes. Returns the resolved directory.

    Raises:
        ConfigError: no such directory, no ``config.json``, or an architecture that cannot do
            the task (the message says what the task needs).
    """
    from wattlm import _validate
    from wattlm.errors import InvalidInputError

    folder = Path(path).expanduser()
    try:
        is_dir = folder.is_dir()
    except (OSError, ValueError):  # a name too long, a NUL byte
        is_dir = False
    if not is_dir:
        raise ConfigError(f"{where}: model directory {_validate.shown(str(folder))} does not "
                          "exist (only local model directories are loaded; no hub download)")
    config_file = folder / "config.json"
    try:
        config = json.loads(_validate.read_text(config_file, "config.json"))
    except InvalidInputError as e:
        raise ConfigError(f"{where}: {folder} has no readable config.json ({e}); "
                          "give the folder save_pretrained() wrote") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}: {config_file} is not valid JSON ({e.msg})") from e
    architectures = [str(a) for a in config.get("architectures") or []]
    fits = any(a.endswith(s) for a in architectures for s in task.architectures)
    if task.name == "similarity" and config.get("is_encoder_decoder"):
        fits = False
    if not fits:
        found = ", ".join(architectures) or "no architectures listed"
        raise ConfigError(f"{where}: the model in {folder} ({found}) cannot do task "
                          f"{task.name}: it needs {task.needs}")
    return str(folder.resolve())
