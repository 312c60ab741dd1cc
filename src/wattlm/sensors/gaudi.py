"""Intel Gaudi (HPU) through ``pyhlml`` (extra ``wattlm[gaudi]``), else ``hl-smi``.

This is the only module that touches ``pyhlml``, and only inside functions.

* ``pyhlml``: per visible device, ``hlmlDeviceGetTotalEnergyConsumption`` (mJ since the driver
  was loaded; ``measured``) where supported, else ``hlmlDeviceGetPowerUsage`` (mW) sampled and
  integrated (``integrated``). Every ``HLMLError`` becomes
  :class:`~wattlm.errors.SensorError` here.
* ``hl-smi`` (no ``pyhlml``): ``hl-smi -Q index,module_id,uuid,name,power.draw -f
  csv,noheader,nounits`` read on every sample, power integrated (``integrated``; one process
  per read, so it is sampled at most every :data:`HLSMI_INTERVAL_S`).

``HABANA_VISIBLE_MODULES`` (module ids) selects the devices; they are named ``hpu:<i>`` in the
job's order, have kind ``gpu`` (so distributed runs split them per rank like GPUs) and role
``accelerator``. Like NVML, the energy is the whole device's.
"""

from __future__ import annotations

import contextlib
import csv
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from wattlm.errors import SensorError
from wattlm.records import DeviceInfo
from wattlm.sensors.backend import (
    PRIORITY_COMMAND,
    PRIORITY_COUNTER,
    PRIORITY_INTEGRATED,
    Backend,
    Claim,
    CommandResult,
    ProbeContext,
)
from wattlm.sensors.base import PowerIntegratingSensor, ProbeResult, Problem, Sensor
from wattlm.sensors.visible import habana_visible
from wattlm.units import Provenance

__all__ = [
    "BACKEND",
    "HLSMI_QUERY",
    "GaudiEnergySensor",
    "GaudiPowerSensor",
    "HlSmiPowerSensor",
    "parse_hlsmi_csv",
    "probe_gaudi",
]

INSTALL_HINT = "pip install 'wattlm[gaudi]' (pyhlml) or put hl-smi on PATH"
DRIVER_HINT = ("install and load the habanalabs driver (lsmod | grep habanalabs; "
               "/usr/lib/habanalabs/libhlml.so must exist)")
#: The hl-smi query; fields in this order.
HLSMI_QUERY = ("hl-smi", "-Q", "index,module_id,uuid,name,power.draw", "-f",
               "csv,noheader,nounits")
HLSMI_TIMEOUT_S = 5.0
#: hl-smi is a process per read: it is not read more often than this.
HLSMI_INTERVAL_S = 1.0


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _call(hlml: Any, what: str, func: Callable[..., Any], *args: Any) -> Any:
    try:
        return func(*args)
    except hlml.HLMLError as e:
        raise SensorError(f"{what}: HLML error: {e}") from e


class GaudiEnergySensor(Sensor):
    """A Gaudi's total-energy counter (mJ), ``measured``."""

    def __init__(self, hlml: Any, handle: Any, index: int, model: str | None = None) -> None:
        self._hlml = hlml
        self._handle = handle
        self.info = DeviceInfo(name=f"hpu:{index}", kind="gpu", provenance=Provenance.MEASURED,
                               model=model)
        self._last_mj: float | None = None
        self._energy_j = 0.0

    def _counter_mj(self) -> float:
        return float(_call(self._hlml, self.info.name,
                           self._hlml.hlmlDeviceGetTotalEnergyConsumption, self._handle))

    def start(self) -> None:
        """Read the starting counter value."""
        self._last_mj, self._energy_j = self._counter_mj(), 0.0

    def read_j(self) -> float:
        """Joules since :meth:`start`; a counter that went back (driver reload) restarts."""
        now = self._counter_mj()
        last = now if self._last_mj is None else self._last_mj
        self._energy_j += (now - last if now >= last else now) / 1000.0
        self._last_mj = now
        return self._energy_j


class GaudiPowerSensor(PowerIntegratingSensor):
    """A Gaudi without the energy counter: ``hlmlDeviceGetPowerUsage`` (mW), integrated."""

    def __init__(self, hlml: Any, handle: Any, index: int, *, model: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock=clock)
        self._hlml = hlml
        self._handle = handle
        self.info = DeviceInfo(name=f"hpu:{index}", kind="gpu",
                               provenance=Provenance.INTEGRATED, model=model)

    def read_power_w(self) -> float:
        """Device power in W."""
        return float(_call(self._hlml, self.info.name, self._hlml.hlmlDeviceGetPowerUsage,
                           self._handle)) / 1000.0


@dataclass(frozen=True)
class HlSmiRow:
    """One device as ``hl-smi`` lists it."""

    index: int
    module_id: int
    uuid: str
    name: str
    power_w: float | None


def _number(text: str) -> float | None:
    cleaned = text.strip().removesuffix("W").strip()
    try:
        value = float(cleaned)
    except ValueError:
        return None  # "N/A"
    return value if value >= 0 else None


def parse_hlsmi_csv(text: str) -> list[HlSmiRow]:
    """Parse :data:`HLSMI_QUERY` output (a unit suffix such as ``95 W`` is tolerated).

    Raises:
        SensorError: a line that does not have the five fields.
    """
    rows = []
    for fields in csv.reader(io.StringIO(text), skipinitialspace=True):
        if not fields or not "".join(fields).strip():
            continue
        if len(fields) != 5 or not fields[0].strip().isdigit():
            raise SensorError(f"unexpected hl-smi output line: {','.join(fields)!r}")
        module = fields[1].strip()
        rows.append(HlSmiRow(int(fields[0]), int(module) if module.isdigit() else int(fields[0]),
                             fields[2].strip(), fields[3].strip(), _number(fields[4])))
    return rows


def _query(run: Callable[[Sequence[str], float], CommandResult]) -> list[HlSmiRow]:
    try:
        done = run(HLSMI_QUERY, HLSMI_TIMEOUT_S)
    except Exception as e:  # noqa: BLE001 - OSError, TimeoutExpired: the command failed
        raise SensorError(f"hl-smi failed: {e}") from e
    if done.returncode != 0:
        said = " ".join((done.stderr or done.stdout).split())[:200]
        raise SensorError(f"hl-smi exited with {done.returncode}: {said}")
    return parse_hlsmi_csv(done.stdout)


class HlSmiPowerSensor(PowerIntegratingSensor):
    """One Gaudi's ``power.draw`` from ``hl-smi``, integrated (one process per read)."""

    preferred_interval_s = HLSMI_INTERVAL_S

    def __init__(self, run: Callable[[Sequence[str], float], CommandResult], row: HlSmiRow,
                 index: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock=clock)
        self._run = run
        self._library_index = row.index
        self.info = DeviceInfo(name=f"hpu:{index}", kind="gpu",
                               provenance=Provenance.INTEGRATED, model=row.name or None)

    def read_power_w(self) -> float:
        """Device power in W, from a fresh ``hl-smi`` query."""
        for row in _query(self._run):
            if row.index == self._library_index:
                if row.power_w is None:
                    raise SensorError(f"{self.info.name}: hl-smi reports no power.draw")
                return row.power_w
        raise SensorError(f"{self.info.name}: device {self._library_index} left hl-smi's list")


def _quiet(func: Callable[..., Any], *args: Any) -> Any:
    """Call ``func`` with its stdout captured (pyhlml prints "Failed to load libhlml")."""
    with contextlib.redirect_stdout(io.StringIO()):
        return func(*args)


def _hlml_sensor(hlml: Any, handle: Any, index: int, clock: Callable[[], float]
                 ) -> tuple[Sensor | None, str]:
    try:
        model: str | None = _text(hlml.hlmlDeviceGetName(handle))
    except hlml.HLMLError:
        model = None
    label = f"hpu:{index} {model or 'Gaudi'}"
    try:
        hlml.hlmlDeviceGetTotalEnergyConsumption(handle)
        return GaudiEnergySensor(hlml, handle, index, model), f"{label} (energy counter)"
    except (hlml.HLMLError, AttributeError):
        pass
    try:
        hlml.hlmlDeviceGetPowerUsage(handle)
    except hlml.HLMLError as e:
        return None, f"{label} skipped: no energy or power reading ({e})"
    return (GaudiPowerSensor(hlml, handle, index, model=model, clock=clock),
            f"{label} (power sampling, no energy counter)")


def probe_gaudi(hlml: Any, context: ProbeContext) -> ProbeResult:
    """Initialise HLML and build one sensor per Gaudi visible to the job.

    Never raises for a missing driver or device.

    Args:
        hlml: the ``pyhlml`` module or a fake.
        context: visible-devices variables and the clock.
    """
    try:
        _quiet(hlml.hlmlInit)
    except hlml.HLMLError as e:
        return ProbeResult("gaudi", False, f"HLML could not be initialised: {e}",
                           hint=DRIVER_HINT, problems=[Problem(
                               "W141", f"pyhlml is installed but HLML could not be "
                               f"initialised ({e}): {DRIVER_HINT}")])
    try:
        count = int(hlml.hlmlDeviceGetCount())
        handles = [hlml.hlmlDeviceGetHandleByIndex(i) for i in range(count)]
        get_module = getattr(hlml, "hlmlDeviceGetModuleID", None)  # pyhlml 1.7+
        modules = [int(get_module(h)) if get_module else i for i, h in enumerate(handles)]
    except hlml.HLMLError as e:
        return ProbeResult("gaudi", False, f"HLML could not list the devices: {e}")
    mask = habana_visible(context.environ, modules)
    problems = [Problem("W140", mask.note)] if mask.problem else []
    sensors: list[Sensor] = []
    notes: list[str] = []
    for seen, library in enumerate(mask.indices):
        sensor, note = _hlml_sensor(hlml, handles[library], seen, context.clock)
        notes.append(note)
        if sensor is not None:
            sensors.append(sensor)
    reason = "; ".join(filter(None, [", ".join(notes), mask.note]))
    if not sensors:
        why = f"{count} Gaudi device(s) found, none usable" if count else "HLML found no device"
        return ProbeResult("gaudi", False, f"{why}{'; ' + reason if reason else ''}",
                           problems=problems)
    return ProbeResult("gaudi", True, f"{len(sensors)} Gaudi device(s) via pyhlml: {reason}",
                       sensors=sensors, problems=problems)


def probe_hlsmi(context: ProbeContext) -> ProbeResult:
    """Build one ``hl-smi`` power sensor per visible Gaudi (when ``pyhlml`` is absent)."""
    try:
        rows = _query(context.run)
    except SensorError as e:
        return ProbeResult("gaudi", False, f"hl-smi is on PATH but {e}", hint=DRIVER_HINT,
                           problems=[Problem("W141", f"hl-smi is installed but failed ({e}): "
                                             f"{DRIVER_HINT}")])
    mask = habana_visible(context.environ, [r.module_id for r in rows])
    problems = [Problem("W140", mask.note)] if mask.problem else []
    sensors: list[Sensor] = [HlSmiPowerSensor(context.run, rows[i], seen, clock=context.clock)
                             for seen, i in enumerate(mask.indices) if rows[i].power_w is not None]
    listed = ", ".join(f"{s.info.name} {s.info.model or 'Gaudi'}" for s in sensors)
    reason = "; ".join(filter(None, [listed, mask.note]))
    if not sensors:
        return ProbeResult("gaudi", False, f"hl-smi lists {len(rows)} device(s), none with a "
                           f"power reading{'; ' + reason if reason else ''}", problems=problems)
    return ProbeResult("gaudi", True, f"{len(sensors)} Gaudi device(s) via hl-smi power.draw "
                       f"(sampled; pyhlml would read the energy counter): {reason}",
                       sensors=sensors, problems=problems,
                       hint="pip install 'wattlm[gaudi]' to read the energy counter")


def _probe(context: ProbeContext) -> ProbeResult:
    hlml, why = context.load("pyhlml")
    if hlml is not None:
        return probe_gaudi(hlml, context)
    if context.which("hl-smi"):
        result = probe_hlsmi(context)
        if "installed but" in why:
            result.problems.append(Problem("W141", f"gaudi: {why}; {DRIVER_HINT}"))
        return result
    problems = [Problem("W141", f"gaudi: {why}; {DRIVER_HINT}")] if "installed but" in why else []
    return ProbeResult("gaudi", False, f"{why}; no hl-smi on PATH", hint=INSTALL_HINT,
                       problems=problems)


def _claim(sensor: Sensor) -> Claim:
    if sensor.info.provenance is Provenance.MEASURED:
        priority = PRIORITY_COUNTER
    else:
        priority = PRIORITY_COMMAND if isinstance(sensor, HlSmiPowerSensor) \
            else PRIORITY_INTEGRATED
    return Claim("accelerator", priority, scope=f"gaudi/{sensor.info.name}")


#: The Intel Gaudi backend: one sensor per visible HPU.
BACKEND = Backend("gaudi", _probe, _claim, method="pyhlml total-energy counter (mJ) per "
                  "visible Gaudi, else its power (mW) sampled; without pyhlml, hl-smi's "
                  "power.draw (W) sampled and integrated")
