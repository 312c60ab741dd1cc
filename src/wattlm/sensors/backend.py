"""What a backend declares (:class:`Backend`, :class:`Claim`) and what its probe reads.

A backend is one module that ends with ``BACKEND = Backend(name, probe, claim)``:

* ``probe(context) -> ProbeResult`` finds its sensors; it never raises for absent hardware;
* ``claim(sensor) -> Claim | None`` says, per sensor, which **role** it fills (``gpu``,
  ``cpu-package``, ``cpu-platform``, ``memory``, ``accelerator``), for which **scope** (the
  physical thing: ``host`` for the machine's CPUs and memory, ``nvidia/gpu:0`` for one GPU),
  with which **priority**, and which other roles it **covers** (a platform domain such as RAPL
  ``psys`` covers ``cpu-package`` and ``memory``). ``None``: never used (a subdomain).

The registry (:mod:`wattlm.sensors.registry`) applies one selection rule to every claim.
Everything a probe reads from the system goes through one :class:`ProbeContext`, so tests inject
fake modules, sysfs roots, command runners and platform facts in one place.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import platform as _platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from wattlm.sensors.base import ProbeResult, Problem, Sensor

__all__ = [
    "DEFAULT_POWERCAP_ROOT",
    "PRIORITY_COMMAND",
    "PRIORITY_COUNTER",
    "PRIORITY_INTEGRATED",
    "PRIORITY_MODELLED",
    "PRIORITY_PLATFORM",
    "PRIORITY_SAMPLED_TOOL",
    "PRIORITY_SUBDOMAIN",
    "ROLES",
    "Backend",
    "Claim",
    "CommandResult",
    "ProbeContext",
    "resolve_powercap_root",
    "unloadable",
]

#: The roles a sensor can fill.
ROLES = ("gpu", "cpu-package", "cpu-platform", "memory", "accelerator")

#: A device's own hardware energy counter.
PRIORITY_COUNTER = 100
#: A counter of a whole platform domain that covers several roles (RAPL psys).
PRIORITY_PLATFORM = 90
#: A counter of a part that a platform domain also includes (RAPL dram).
PRIORITY_SUBDOMAIN = 80
#: Energy reported per interval by a vendor tool run alongside the job (powermetrics).
PRIORITY_SAMPLED_TOOL = 70
#: Power read through a library and integrated (trapezoid).
PRIORITY_INTEGRATED = 60
#: Power read by parsing a vendor command's output (hl-smi), integrated.
PRIORITY_COMMAND = 50
#: A model (utilisation x TDP, resident memory x W/GB).
PRIORITY_MODELLED = 10

DEFAULT_POWERCAP_ROOT = "/sys/class/powercap"


@dataclass(frozen=True)
class Claim:
    """Which role a sensor fills, for which scope, how good it is and what else it covers."""

    role: str
    priority: int
    scope: str = "host"
    covers: tuple[str, ...] = ()

    def keys(self) -> list[tuple[str, str]]:
        """The (role, scope) pairs this claim fills: its role and every role it covers."""
        return [(self.role, self.scope)] + [(r, self.scope) for r in self.covers]


@dataclass(frozen=True)
class Backend:
    """One backend: its name, its probe, and the claim of each sensor it builds.

    Attributes:
        name: shown by ``wattlm env`` and stored as ``ProbeResult.backend``.
        probe: builds the sensors from a :class:`ProbeContext`; never raises for absence.
        claim: role, scope and priority of one of its sensors (None: never selected).
        method: one line for ``wattlm env`` and the docs: how it measures, from what.
    """

    name: str
    probe: Callable[[ProbeContext], ProbeResult]
    claim: Callable[[Sensor], Claim | None]
    method: str = ""


@dataclass(frozen=True)
class CommandResult:
    """What a command printed: exit status, stdout and stderr (text)."""

    returncode: int
    stdout: str
    stderr: str = ""


def _run_command(argv: Sequence[str], timeout_s: float) -> CommandResult:
    """Run a short command with a deadline (raises OSError / TimeoutExpired)."""
    done = subprocess.run(list(argv), capture_output=True, text=True,  # noqa: S603 - fixed argv
                          timeout=timeout_s, check=False)
    return CommandResult(done.returncode, done.stdout, done.stderr)


def _spawn(argv: Sequence[str]) -> Any:
    """Start a long-running command whose binary stdout is read as a stream."""
    return subprocess.Popen(list(argv), stdout=subprocess.PIPE,  # noqa: S603 - fixed argv
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def _euid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else -1


def resolve_powercap_root(powercap_root: str | os.PathLike[str] | None = None,
                          environ: Mapping[str, str] | None = None) -> str:
    """Return the powercap root: argument, else ``WATTLM_POWERCAP_ROOT``, else sysfs."""
    if powercap_root is not None:
        return os.fspath(powercap_root)
    env = os.environ if environ is None else environ
    return env.get("WATTLM_POWERCAP_ROOT") or DEFAULT_POWERCAP_ROOT


@dataclass(frozen=True)
class ProbeContext:
    """Everything a probe may read from the system, in one injectable object.

    Build it with :meth:`create`; tests replace any field (``modules={"amdsmi": fake}``).

    Attributes:
        environ: environment (visible-devices variables, ``WATTLM_*``).
        powercap_root: the powercap sysfs directory.
        pid: root of the tracked process tree (for the models).
        modules: vendor modules by import name (``pynvml``, ``amdsmi``, ``pyhlml``); a name
            mapped to None is treated as not installed; names not given are imported.
        run: runs a short command with a timeout (``hl-smi``, ``sudo -n``).
        spawn: starts a long-running command with a binary stdout stream (``powermetrics``).
        which: finds a command on ``PATH``.
        platform: ``sys.platform``; machine: ``platform.machine()``; euid: effective uid.
        ioreport: factory of the Apple IOReport reader (None: the real one, through ctypes).
        clock: monotonic clock for sensors that integrate power.
        sleep: waits (the AMD probe's short plausibility window).
    """

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    powercap_root: str = DEFAULT_POWERCAP_ROOT
    pid: int = field(default_factory=os.getpid)
    modules: Mapping[str, Any] = field(default_factory=dict)
    run: Callable[[Sequence[str], float], CommandResult] = _run_command
    spawn: Callable[[Sequence[str]], Any] = _spawn
    which: Callable[[str], str | None] = shutil.which
    platform: str = sys.platform
    machine: str = field(default_factory=_platform.machine)
    euid: int = field(default_factory=_euid)
    ioreport: Callable[[], Any] | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def create(cls, *, powercap_root: str | os.PathLike[str] | None = None,
               pid: int | None = None, environ: Mapping[str, str] | None = None,
               **overrides: Any) -> ProbeContext:
        """A context for this machine; ``powercap_root`` falls back to the environment.

        Args:
            powercap_root: powercap directory (None: ``WATTLM_POWERCAP_ROOT``, else sysfs).
            pid: tracked process (None: this one).
            environ: environment (None: a copy of ``os.environ``).
            **overrides: any other field (``modules``, ``run``, ``platform``, ...).
        """
        env = dict(os.environ if environ is None else environ)
        context = cls(environ=env, powercap_root=resolve_powercap_root(powercap_root, env),
                      pid=os.getpid() if pid is None else pid)
        return replace(context, **overrides) if overrides else context

    def load(self, name: str) -> tuple[Any | None, str]:
        """Import a vendor module (or take the injected one).

        Returns:
            ``(module, "")``, or ``(None, why)``: ``"<name> not installed"`` or, when the package
            is there but its native library is not, ``"<name> is installed but could not be
            loaded (...)"``. Whatever the import prints is captured into the reason.
        """
        if name in self.modules:
            module = self.modules[name]
            return (module, "") if module is not None else (None, f"{name} not installed")
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                return importlib.import_module(name), ""
        except ModuleNotFoundError as e:
            if e.name == name:
                return None, f"{name} not installed"
            why = f"{type(e).__name__}: {e}"
        except Exception as e:  # noqa: BLE001 - amdsmi raises KeyError/OSError without its .so
            why = f"{type(e).__name__}: {e}"
        said = " ".join(printed.getvalue().split())
        said = f"; {said}" if said else ""
        return None, f"{name} is installed but could not be loaded ({why}{said})"


def unloadable(backend: str, why: str, hint: str) -> ProbeResult:
    """The result of a backend whose vendor module :meth:`ProbeContext.load` could not give.

    A module that is not installed is plain absence; one that is installed but cannot load its
    native library (driver missing) is a :class:`Problem` (``W141``): the user meant to use it.
    """
    problems = [Problem("W141", f"{backend}: {why}; {hint}")] if "installed but" in why else []
    return ProbeResult(backend, False, why, hint=hint, problems=problems)
