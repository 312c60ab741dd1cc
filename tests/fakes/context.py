"""A :class:`~wattlm.sensors.backend.ProbeContext` that reads nothing from this machine.

Every vendor module is absent, no command exists, the platform is plain Linux and the powercap
root is whatever the test gives; tests override the parts they exercise.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from wattlm.sensors.backend import CommandResult, ProbeContext

NO_MODULES: dict[str, Any] = {"pynvml": None, "amdsmi": None, "pyhlml": None}


def no_command(argv: Sequence[str], timeout_s: float) -> CommandResult:
    """Stands in for a missing binary: raises as ``subprocess.run`` would."""
    raise FileNotFoundError(2, "No such file or directory", argv[0])


def no_spawn(argv: Sequence[str]) -> Any:
    raise FileNotFoundError(2, "No such file or directory", argv[0])


def fake_context(powercap_root: str | os.PathLike[str] | None = None, *,
                 modules: dict[str, Any] | None = None, environ: dict[str, str] | None = None,
                 **overrides: Any) -> ProbeContext:
    """A context with no hardware except what the arguments inject."""
    fields: dict[str, Any] = {
        "modules": {**NO_MODULES, **(modules or {})},
        "run": no_command, "spawn": no_spawn, "which": lambda name: None,
        "platform": "linux", "machine": "x86_64", "euid": 1000,
    }
    fields.update(overrides)
    return ProbeContext.create(powercap_root=powercap_root if powercap_root is not None
                               else "/nonexistent-powercap", environ=environ or {}, **fields)
