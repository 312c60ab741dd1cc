"""Apple Silicon: CPU, GPU and Neural Engine (ANE) energy, without sudo where the OS allows.

Two methods, tried in order:

1. **IOReport** (:mod:`wattlm.sensors.ioreport`): the ``Energy Model`` counters, readable by
   any user on macOS; ``measured`` (from the SoC's energy model).
2. **powermetrics** (needs root): ``powermetrics --samplers cpu_power,gpu_power,ane_power -f
   plist -i 500`` runs beside the job; each plist sample (NUL-separated) gives the energy of
   the last interval per part (``cpu_energy`` / ``gpu_energy`` / ``ane_energy`` in mJ, else
   ``*_power`` in mW x ``elapsed_ns``). Run wattlm as root, or allow ``sudo -n powermetrics``.

Parts become sensors ``apple:cpu`` (role ``cpu-package``), ``apple:gpu`` (``gpu``),
``apple:ane`` (``accelerator``) and, with IOReport, ``apple:dram`` (``memory``). On other
platforms the backend is unavailable with the reason.
"""

from __future__ import annotations

import plistlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from wattlm.errors import SensorError
from wattlm.records import DeviceInfo
from wattlm.sensors.backend import (
    PRIORITY_COUNTER,
    PRIORITY_SAMPLED_TOOL,
    PRIORITY_SUBDOMAIN,
    Backend,
    Claim,
    ProbeContext,
)
from wattlm.sensors.base import ProbeResult, Problem, Sensor
from wattlm.units import Provenance

__all__ = ["BACKEND", "POWERMETRICS_ARGS", "AppleSensor", "PowermetricsStream",
           "parse_powermetrics_sample", "probe_apple"]

POWERMETRICS_INTERVAL_MS = 500
POWERMETRICS_ARGS = ("powermetrics", "--samplers", "cpu_power,gpu_power,ane_power", "-f",
                     "plist", "-i", str(POWERMETRICS_INTERVAL_MS))
SUDO_HINT = ("IOReport could not be read, so powermetrics (root only) is needed: run the job "
             "with sudo, or allow it without a password: 'sudo visudo -f "
             "/etc/sudoers.d/wattlm' and add '<user> ALL=(root) NOPASSWD: /usr/bin/powermetrics'")
_PARTS = {"cpu": ("cpu", "cpu-package"), "gpu": ("gpu", "gpu"), "ane": ("other", "accelerator"),
          "dram": ("memory", "memory")}


class _Shared:
    """A reader shared by the part sensors: opened on first start, closed with the last."""

    def __init__(self, open_reader: Callable[[], Any]) -> None:
        self._open = open_reader
        self._reader: Any = None
        self._users = 0
        self._lock = threading.Lock()

    def acquire(self) -> Any:
        with self._lock:
            if self._reader is None:
                self._reader = self._open()
            self._users += 1
            return self._reader

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users <= 0 and self._reader is not None:
                reader, self._reader = self._reader, None
                try:
                    reader.close()
                except Exception:  # noqa: BLE001, S110 - close never raises
                    pass


class AppleSensor(Sensor):
    """One SoC part's cumulative energy from a shared reader (IOReport or powermetrics)."""

    def __init__(self, shared: _Shared, part: str, method: str, update_period_s: float) -> None:
        self._shared = shared
        self.part = part
        self.method = method
        provenance = Provenance.MEASURED
        self.info = DeviceInfo(name=f"apple:{part}", kind=_PARTS[part][0],
                               provenance=provenance, update_period_s=update_period_s)
        self._reader: Any = None
        self._base_j = 0.0

    def _total_j(self) -> float:
        try:
            return float(self._reader.energy_j().get(self.part, 0.0))
        except SensorError:
            raise
        except Exception as e:  # noqa: BLE001 - OSError from ctypes, a dead powermetrics
            raise SensorError(f"{self.info.name}: {e}") from e

    def start(self) -> None:
        """Open (or join) the reader and take the starting value."""
        if self._reader is None:
            try:
                self._reader = self._shared.acquire()
            except Exception as e:  # noqa: BLE001 - cannot open: the sampler drops us
                raise SensorError(f"{self.info.name}: {e}") from e
        self._base_j = self._total_j()

    def read_j(self) -> float:
        """Joules since :meth:`start`."""
        if self._reader is None:
            self.start()
        return max(self._total_j() - self._base_j, 0.0)

    def close(self) -> None:
        """Leave the shared reader. Never raises."""
        if self._reader is not None:
            self._reader = None
            self._shared.release()


def parse_powermetrics_sample(document: bytes) -> dict[str, float]:
    """Energy (J) per part in one powermetrics plist sample.

    ``processor`` holds ``cpu_energy`` / ``gpu_energy`` / ``ane_energy`` (mJ over the sample)
    where macOS reports them, else ``cpu_power`` / ``gpu_power`` / ``ane_power`` (mW) which are
    multiplied by ``elapsed_ns``; a ``gpu`` dictionary's ``gpu_energy`` is read as well.

    Raises:
        SensorError: the document is not a plist dictionary with a ``processor`` entry.
    """
    try:
        sample = plistlib.loads(document.strip(b"\x00\n "))
    except Exception as e:  # noqa: BLE001 - InvalidFileException, ExpatError, ValueError
        raise SensorError(f"powermetrics printed something that is not a plist: {e}") from e
    processor = sample.get("processor") if isinstance(sample, dict) else None
    if not isinstance(processor, dict):
        raise SensorError("powermetrics sample has no 'processor' dictionary")
    elapsed_s = float(sample.get("elapsed_ns", 0)) / 1e9
    gpu = sample.get("gpu") if isinstance(sample.get("gpu"), dict) else {}
    out: dict[str, float] = {}
    for part in ("cpu", "gpu", "ane"):
        energy = processor.get(f"{part}_energy", gpu.get(f"{part}_energy"))
        power = processor.get(f"{part}_power")
        if isinstance(energy, (int, float)):
            out[part] = float(energy) / 1000.0
        elif isinstance(power, (int, float)) and elapsed_s > 0:
            out[part] = float(power) / 1000.0 * elapsed_s
    return out


class PowermetricsStream:
    """A running powermetrics whose samples a thread adds up; cumulative J per part.

    Args:
        spawn: starts the command (``ProbeContext.spawn``); its ``stdout`` is a binary stream.
        argv: the command (with ``sudo -n`` in front when not root).
    """

    def __init__(self, spawn: Callable[[Sequence[str]], Any], argv: Sequence[str]) -> None:
        self._process = spawn(argv)
        self._lock = threading.Lock()
        self._total_j: dict[str, float] = {}
        self.samples = 0
        self.ended = ""
        self._thread = threading.Thread(target=self._pump, name="wattlm-powermetrics",
                                        daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        buffer = b""
        stream = self._process.stdout
        try:
            while True:
                chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
                if not chunk:
                    break
                buffer += chunk
                *documents, buffer = buffer.split(b"\x00")
                for document in documents:
                    if document.strip():
                        self._add(parse_powermetrics_sample(document))
        except Exception as e:  # noqa: BLE001 - reported on the next read
            self.ended = f"powermetrics output unreadable: {e}"
        else:
            self.ended = "powermetrics stopped (not root, or it was killed)"
        finally:
            try:
                stream.close()
            except Exception:  # noqa: BLE001, S110 - best effort
                pass

    def _add(self, energies: dict[str, float]) -> None:
        with self._lock:
            for part, joules in energies.items():
                self._total_j[part] = self._total_j.get(part, 0.0) + joules
            self.samples += 1

    def energy_j(self) -> dict[str, float]:
        """Cumulative J per part up to the last complete sample."""
        with self._lock:
            if self.ended:
                raise SensorError(self.ended)
            return dict(self._total_j)

    def close(self) -> None:
        """Stop powermetrics. Never raises."""
        try:
            self._process.terminate()
            self._process.wait(timeout=2.0)
        except Exception:  # noqa: BLE001, S110 - best effort
            pass


def _open_ioreport() -> Any:
    from wattlm.sensors.ioreport import IOReportReader

    return IOReportReader()


def _part_sensors(shared: _Shared, parts: Sequence[str], method: str,
                  period_s: float) -> list[Sensor]:
    return [AppleSensor(shared, part, method, period_s) for part in _PARTS if part in parts]


def _try_ioreport(context: ProbeContext) -> tuple[list[Sensor], str]:
    """IOReport sensors, or ([], why not)."""
    factory = context.ioreport or _open_ioreport
    try:
        reader = factory()
        parts = sorted(reader.energy_j())
        reader.close()
    except Exception as e:  # noqa: BLE001 - OSError from ctypes or the shim: unreadable
        return [], f"IOReport unreadable ({e})"
    if not parts:
        return [], "IOReport has no CPU, GPU or ANE energy channel"
    return _part_sensors(_Shared(factory), parts, "ioreport", 0.0), ""


def _powermetrics_argv(context: ProbeContext) -> tuple[list[str] | None, str]:
    """The powermetrics command to run (with ``sudo -n`` when needed), or (None, why not)."""
    path = context.which("powermetrics")
    if not path:
        return None, "powermetrics is not on PATH"
    if context.euid == 0:
        return list(POWERMETRICS_ARGS), ""
    try:  # `sudo -n -l CMD` succeeds, without running it, only if sudo allows it passwordless
        done = context.run(["sudo", "-n", "-l", path], 5.0)
    except Exception as e:  # noqa: BLE001 - no sudo, or it hung
        return None, f"powermetrics needs root and sudo failed ({e})"
    if done.returncode != 0:
        return None, "powermetrics needs root and 'sudo -n powermetrics' asks for a password"
    return ["sudo", "-n", *POWERMETRICS_ARGS], ""


def probe_apple(context: ProbeContext) -> ProbeResult:
    """Apple Silicon sensors: IOReport if readable, else powermetrics if root is allowed."""
    if context.platform != "darwin":
        return ProbeResult("apple", False, f"not macOS (this is {context.platform}): IOReport "
                           "and powermetrics exist only on Apple Silicon Macs")
    if context.machine != "arm64":
        return ProbeResult("apple", False, f"an Intel Mac ({context.machine}): IOReport's "
                           "energy model and powermetrics' power samplers need Apple Silicon")
    sensors, why = _try_ioreport(context)
    if sensors:
        names = ", ".join(s.info.name for s in sensors)
        return ProbeResult("apple", True, f"IOReport energy counters, no sudo needed: {names}",
                           sensors=sensors)
    problems = [Problem("W142", f"apple: {why}; CPU/GPU/ANE energy falls back to powermetrics "
                        "(root) or the models")]
    argv, why_not = _powermetrics_argv(context)
    if argv is None:
        return ProbeResult("apple", False, f"{why}; {why_not}", hint=SUDO_HINT,
                           problems=problems)
    period_s = POWERMETRICS_INTERVAL_MS / 1000.0
    shared = _Shared(lambda: PowermetricsStream(context.spawn, argv))
    sensors = _part_sensors(shared, ("cpu", "gpu", "ane"), "powermetrics", period_s)
    how = "as root" if argv[0] != "sudo" else "through sudo -n"
    return ProbeResult("apple", True, f"{why}; powermetrics {how}, sampled every "
                       f"{POWERMETRICS_INTERVAL_MS} ms: apple:cpu, apple:gpu, apple:ane",
                       sensors=sensors, problems=problems)


def _claim(sensor: Sensor) -> Claim | None:
    part = getattr(sensor, "part", "")
    if part not in _PARTS:
        return None
    counter = getattr(sensor, "method", "") == "ioreport"
    if part == "dram":
        return Claim("memory", PRIORITY_SUBDOMAIN)
    priority = PRIORITY_COUNTER if counter else PRIORITY_SAMPLED_TOOL
    scope = "host" if part == "cpu" else f"apple/{part}"
    return Claim(_PARTS[part][1], priority, scope=scope)


#: The Apple Silicon backend: CPU, GPU, ANE (and DRAM) of the SoC.
BACKEND = Backend("apple", probe_apple, _claim, method="IOReport 'Energy Model' counters "
                  "(no sudo), else powermetrics plist samples (root) of CPU, GPU and ANE")
