"""The list of backends, and the one rule that picks the sensors a run uses.

A backend is one module ending with ``BACKEND = Backend(...)`` (see
:mod:`wattlm.sensors.backend`); adding one means writing that module and adding one line to
:data:`REGISTRY`. Probing follows the list's order, never raises for absent or unreadable
hardware (each backend answers with a :class:`~wattlm.sensors.base.ProbeResult`: available or
not, why, how to fix it, and any :class:`~wattlm.sensors.base.Problem`) and happens only when
asked, never at import.

**Selection rule.** Every sensor of an available backend makes a claim: a role, a scope (the
physical thing measured), a priority, and the roles it also covers. Claims of one backend with
the same role, scope, priority and coverage form a group (RAPL's two packages, say). Groups are
taken from the highest priority down (ties: registry order); a group is taken only if none of
the (role, scope) pairs it fills -- its role and the roles it covers -- is filled already.
So a device's energy counter beats power sampling, which beats a model; a platform domain
(RAPL ``psys``, covering ``cpu-package`` and ``memory``) is used only where no better CPU
source exists, and then nothing else is added for what it includes; RAPL ``core``/``uncore``
subdomains never claim anything.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from wattlm.errors import WattlmError
from wattlm.sensors.backend import (
    DEFAULT_POWERCAP_ROOT,
    Backend,
    Claim,
    ProbeContext,
    resolve_powercap_root,
)
from wattlm.sensors.base import ProbeResult, Problem, Sensor

__all__ = [
    "DEFAULT_POWERCAP_ROOT",
    "REGISTRY",
    "Selection",
    "backend_names",
    "choose",
    "load_backends",
    "probe_all",
    "resolve_powercap_root",
    "select",
    "select_sensors",
]

#: Every backend, in probe order, as ``"module:attribute"``. A new backend is one line here.
REGISTRY: tuple[str, ...] = (
    "wattlm.sensors.nvml:BACKEND",
    "wattlm.sensors.amd:BACKEND",
    "wattlm.sensors.gaudi:BACKEND",
    "wattlm.sensors.apple:BACKEND",
    "wattlm.sensors.rapl:BACKEND",
    "wattlm.sensors.modelled:CPU_BACKEND",
    "wattlm.sensors.modelled:MEMORY_BACKEND",
)


def load_backends(entries: Sequence[str] = REGISTRY) -> list[Backend]:
    """Import the backend declarations named ``"module:attribute"`` (in order).

    Raises:
        WattlmError: an entry does not name a :class:`Backend` (a programming error).
    """
    backends: list[Backend] = []
    for entry in entries:
        module_name, _, attribute = entry.partition(":")
        backend = getattr(importlib.import_module(module_name), attribute or "BACKEND", None)
        if not isinstance(backend, Backend):
            raise WattlmError(f"sensor registry entry {entry!r} is not a Backend declaration")
        backends.append(backend)
    return backends


def backend_names(backends: Sequence[Backend] | None = None) -> list[str]:
    """Names of the registered backends, in probe order."""
    return [b.name for b in (load_backends() if backends is None else backends)]


def probe_all(context: ProbeContext | None = None, *,
              backends: Sequence[Backend] | None = None) -> list[ProbeResult]:
    """Probe every backend in registry order.

    Args:
        context: what the probes read (None: this machine, :meth:`ProbeContext.create`).
        backends: the backends to probe (None: :data:`REGISTRY`).

    Returns:
        One :class:`ProbeResult` per backend, with NEW sensor objects on every call (sensors
        are stateful). A probe that raises (an OS error, or a vendor library of an unexpected
        version) becomes an unavailable result ("probe failed", problem ``W149``).
    """
    ctx = ProbeContext.create() if context is None else context
    results: list[ProbeResult] = []
    for backend in load_backends() if backends is None else backends:
        try:
            result = backend.probe(ctx)
        except Exception as e:  # noqa: BLE001 - a vendor library's surprise must not stop the job
            why = str(e) if isinstance(e, (OSError, WattlmError)) else f"{type(e).__name__}: {e}"
            result = ProbeResult(backend.name, False, f"probe failed: {why}",
                                 problems=[Problem("W149", f"{backend.name}: probe failed: "
                                                   f"{why}")])
        results.append(result)
    return results


@dataclass
class Selection:
    """The sensors a run uses, their claims, and the problems the probes met."""

    sensors: list[Sensor] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def select(results: Sequence[ProbeResult],
           backends: Sequence[Backend] | None = None) -> Selection:
    """Apply the selection rule (module docstring) to probe results.

    Args:
        results: the output of :func:`probe_all`.
        backends: the declarations that produced them (None: :data:`REGISTRY`).

    Returns:
        The chosen sensors in the order taken (highest priority first, registry order within),
        with their claims, and every problem of every result.
    """
    by_name = {b.name: b for b in (load_backends() if backends is None else backends)}
    groups: dict[tuple[str, Claim], list[Sensor]] = {}
    for result in results:
        backend = by_name.get(result.backend)
        if not result.available or backend is None:
            continue
        for sensor in result.sensors:
            claim = backend.claim(sensor)
            if claim is not None:
                groups.setdefault((result.backend, claim), []).append(sensor)
    order = {name: i for i, name in enumerate(r.backend for r in results)}
    ranked = sorted(groups.items(), key=lambda g: (-g[0][1].priority, order[g[0][0]]))
    filled: set[tuple[str, str]] = set()
    chosen = Selection(problems=[p for r in results for p in r.problems])
    for (_, claim), sensors in ranked:
        keys = claim.keys()
        if any(key in filled for key in keys):
            continue
        filled.update(keys)
        chosen.sensors.extend(sensors)
        chosen.claims.extend(claim for _ in sensors)
    return chosen


def select_sensors(results: Sequence[ProbeResult],
                   backends: Sequence[Backend] | None = None) -> list[Sensor]:
    """The sensors :func:`select` chooses (see the module docstring for the rule)."""
    return select(results, backends).sensors


def choose(context: ProbeContext | None = None, *,
           backends: Sequence[Backend] | None = None) -> Selection:
    """Probe, select, and close every sensor that was not selected.

    Args:
        context: what the probes read (None: this machine).
        backends: the backends (None: :data:`REGISTRY`).
    """
    declared = load_backends() if backends is None else list(backends)
    results = probe_all(context, backends=declared)
    selection = select(results, declared)
    kept = {id(s) for s in selection.sensors}
    for result in results:
        for sensor in result.sensors:
            if id(sensor) not in kept:
                try:
                    sensor.close()
                except Exception:  # noqa: BLE001, S110 - closing is best effort
                    pass
    return selection

