"""NVIDIA GPUs through NVML (``nvidia-ml-py``, extra ``wattlm[nvidia]``).

This is the only module that touches ``pynvml``, and only inside functions: importing it
initialises nothing. :func:`probe_nvml` calls ``nvmlInit``; the sensors of one probe share a
reference-counted session and the last one closed calls ``nvmlShutdown`` (sensors never closed
leave NVML initialised until the process exits, which is harmless).

Per visible GPU, the probe prefers the total-energy counter
(``nvmlDeviceGetTotalEnergyConsumption``, mJ since the driver was loaded, Volta and newer;
``measured``) and falls back to sampling ``nvmlDeviceGetPowerUsage`` (mW) with trapezoid
integration (``integrated``). Both are checked against the GPU's power bound
(:func:`gpu_power_bound_w`): a counter step that would need more power, or goes backwards (a
GPU reset or driver reload), is not counted and marks the GPU degraded; a power reading above
the bound is not integrated. Every ``NVMLError`` is translated into
:class:`~wattlm.errors.SensorError` at this boundary; the sampler then warns once and drops
the GPU from the rest of the run.

``CUDA_VISIBLE_DEVICES`` is honoured as the CUDA runtime reads it (parsed by
:mod:`wattlm.sensors.visible`, shared with the other GPU backends): a comma-separated list of
indices or ``GPU-<uuid>`` prefixes, read up to the first invalid entry; ``""``, ``-1`` or
``NoDevFiles`` hide every GPU. Sensors are named ``gpu:<i>`` with ``i`` the index the job sees.
Indices are NVML (PCI bus) order, i.e. they match CUDA when ``CUDA_DEVICE_ORDER=PCI_BUS_ID``
(the usual setting on multi-GPU servers). MIG instances (``MIG-...``) are not supported.

GPU energy is that of the whole device: NVML has no per-process energy, so other jobs on the
same GPU are counted too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from wattlm.errors import SensorError
from wattlm.records import DeviceInfo
from wattlm.sensors.backend import (
    PRIORITY_COUNTER,
    PRIORITY_INTEGRATED,
    Backend,
    Claim,
    ProbeContext,
    unloadable,
)
from wattlm.sensors.base import PowerIntegratingSensor, ProbeResult, Problem, Sensor, SensorNote
from wattlm.sensors.counters import CounterJudge
from wattlm.sensors.visible import cuda_visible, parse_visible_devices
from wattlm.units import Provenance

__all__ = [
    "BACKEND",
    "DEFAULT_GPU_MAX_POWER_W",
    "NVML_ENERGY_UPDATE_PERIOD_S",
    "NvmlGpuSensor",
    "NvmlPowerSensor",
    "gpu_power_bound_w",
    "parse_visible_devices",
    "probe_nvml",
]

#: Refresh period assumed for the NVML energy counter. An estimate: NVIDIA does not document it;
#: the board power it integrates is commonly reported to refresh every ~20-100 ms.
NVML_ENERGY_UPDATE_PERIOD_S = 0.1

INSTALL_HINT = "pip install 'wattlm[nvidia]'"

#: Plausibility bound of a GPU whose power limits NVML does not report (W). Our assumption:
#: no single GPU board draws 2 kW.
DEFAULT_GPU_MAX_POWER_W = 2000.0

#: The bound is this many times the GPU's maximum power limit (transients exceed the limit).
GPU_POWER_MARGIN = 2.0


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _Session:
    """nvmlInit/nvmlShutdown shared by the sensors of one probe (reference counted)."""

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml
        self.users = 0
        self.open = True

    def acquire(self) -> None:
        self.users += 1

    def join(self) -> Callable[[], None]:
        """Acquire; the function returned releases, once however often it is called."""
        self.acquire()
        left = False

        def leave() -> None:
            nonlocal left
            if not left:
                left = True
                self.release()

        return leave

    def release(self) -> None:
        self.users -= 1
        if self.users <= 0 and self.open:
            self.open = False
            try:
                self.nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001 - close never raises
                pass


def _no_session() -> None:
    """Stands in for leaving a session when a sensor was built without one."""


def _call(nvml: Any, what: str, func: Callable[..., Any], *args: Any) -> Any:
    """Call an NVML function, translating its errors into SensorError."""
    try:
        return func(*args)
    except nvml.NVMLError as e:
        raise SensorError(f"{what}: NVML error: {e}") from e


def gpu_power_bound_w(nvml: Any, handle: Any) -> float:
    """The plausibility bound of a GPU (W).

    Rule: :data:`GPU_POWER_MARGIN` × the highest power limit the board accepts
    (``nvmlDeviceGetPowerManagementLimitConstraints``, mW), else × the enforced limit
    (``nvmlDeviceGetEnforcedPowerLimit``), else :data:`DEFAULT_GPU_MAX_POWER_W`.
    """
    for name in ("nvmlDeviceGetPowerManagementLimitConstraints", "nvmlDeviceGetEnforcedPowerLimit"):
        func = getattr(nvml, name, None)
        if func is None:
            continue
        try:
            value = func(handle)
        except nvml.NVMLError:
            continue
        limit_mw = float(max(value) if isinstance(value, (list, tuple)) else value)
        if limit_mw > 0:
            return GPU_POWER_MARGIN * limit_mw / 1000.0
    return DEFAULT_GPU_MAX_POWER_W


class NvmlGpuSensor(Sensor):
    """A GPU's total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``, mJ), ``measured``.

    The 64-bit counter does not wrap in practice; a backwards step is a reset (``W111``) and a
    step above the power bound is impossible (``W112``): neither is counted.

    Args:
        nvml_module: the ``pynvml`` module (or a fake with the same functions).
        handle: the device handle.
        index: the index the job sees (after ``CUDA_VISIBLE_DEVICES``); names it ``gpu:<index>``.
        session: shared NVML session closed with the last sensor (set by :func:`probe_nvml`).
        max_power_w: plausibility bound (W); by default :func:`gpu_power_bound_w`.
        clock: monotonic clock for the time between reads (injectable for tests).
    """

    def __init__(self, nvml_module: Any, handle: Any, index: int, *,
                 session: _Session | None = None, model: str | None = None,
                 max_power_w: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._nvml = nvml_module
        self._handle = handle
        self.info = DeviceInfo(name=f"gpu:{index}", kind="gpu", provenance=Provenance.MEASURED,
                               update_period_s=NVML_ENERGY_UPDATE_PERIOD_S, model=model)
        self.max_power_w = (max_power_w if max_power_w is not None
                            else gpu_power_bound_w(nvml_module, handle))
        self._clock = clock
        self._judge = self._new_judge()
        self._total_mj = 0.0
        self._leave_session = session.join() if session is not None else _no_session

    def _new_judge(self) -> CounterJudge:
        return CounterJudge(self.info.name, unit_j=1e-3, max_power_w=self.max_power_w,
                            update_period_s=NVML_ENERGY_UPDATE_PERIOD_S, clock=self._clock)

    def _counter_mj(self) -> float:
        return float(_call(self._nvml, self.info.name,
                           self._nvml.nvmlDeviceGetTotalEnergyConsumption, self._handle))

    def start(self) -> None:
        """Read the starting counter value."""
        self._judge = self._new_judge()
        self._judge.first(self._counter_mj())
        self._total_mj = 0.0

    def read_j(self) -> float:
        """Joules since :meth:`start` (resets and impossible steps are not counted)."""
        self._total_mj += float(self._judge.step(self._counter_mj()))
        return self._total_mj / 1000.0

    def drain_notes(self) -> list[SensorNote]:
        """Resets and impossible steps seen since the last call."""
        return self._judge.drain()

    def close(self) -> None:
        """Release the NVML session (shutdown with the last sensor). Never raises."""
        self._leave_session()


class NvmlPowerSensor(PowerIntegratingSensor):
    """A GPU without an energy counter: ``nvmlDeviceGetPowerUsage`` (mW), integrated.

    Args:
        nvml_module: the ``pynvml`` module (or a fake).
        handle: the device handle.
        index: the index the job sees; names it ``gpu:<index>``.
        session: shared NVML session (set by :func:`probe_nvml`).
        clock: injectable clock for the trapezoid integration.
    """

    def __init__(self, nvml_module: Any, handle: Any, index: int, *,
                 session: _Session | None = None,
                 clock: Callable[[], float] = time.monotonic, model: str | None = None) -> None:
        super().__init__(clock=clock)
        self._nvml = nvml_module
        self._handle = handle
        self.info = DeviceInfo(name=f"gpu:{index}", kind="gpu", provenance=Provenance.INTEGRATED,
                               update_period_s=0.0, model=model)
        self.max_power_w = gpu_power_bound_w(nvml_module, handle)  # readings above: not integrated
        self._leave_session = session.join() if session is not None else _no_session

    def read_power_w(self) -> float:
        """Board power in W."""
        return float(_call(self._nvml, self.info.name, self._nvml.nvmlDeviceGetPowerUsage,
                           self._handle)) / 1000.0

    def close(self) -> None:
        """Release the NVML session. Never raises."""
        self._leave_session()


def _import_pynvml() -> Any | None:
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def probe_nvml(nvml_module: Any | None = None,
               environ: Mapping[str, str] | None = None) -> ProbeResult:
    """Initialise NVML and build one sensor per GPU visible to the job.

    Never raises for a missing package, driver or GPU.

    Args:
        nvml_module: ``pynvml`` or a fake; None imports ``pynvml`` lazily.
        environ: where ``CUDA_VISIBLE_DEVICES`` is read (default ``os.environ``).

    Returns:
        A :class:`ProbeResult` for backend ``nvml``.
    """
    env = os.environ if environ is None else environ
    nvml = nvml_module if nvml_module is not None else _import_pynvml()
    if nvml is None:
        return ProbeResult("nvml", False, "nvidia-ml-py not installed", hint=INSTALL_HINT)
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as e:
        fix = "install the NVIDIA driver (libnvidia-ml.so) or run on a GPU host"
        return ProbeResult("nvml", False, f"NVML could not be initialised: {e}", hint=fix,
                           problems=[Problem("W141", f"nvidia-ml-py is installed but NVML could "
                                             f"not be initialised ({e}): {fix}")])
    session = _Session(nvml)
    try:
        count = int(nvml.nvmlDeviceGetCount())
        handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        uuids = [_text(nvml.nvmlDeviceGetUUID(h)) for h in handles]
    except nvml.NVMLError as e:
        session.release()
        return ProbeResult("nvml", False, f"NVML could not list the GPUs: {e}")
    mask = cuda_visible(env, uuids)
    visible, note = mask.indices, mask.note
    problems = [Problem("W140", note)] if mask.problem else []
    sensors: list[Sensor] = []
    details: list[str] = []
    session.acquire()  # hold the session while building sensors
    for seen_index, nvml_index in enumerate(visible):
        handle = handles[nvml_index]
        model: str | None
        try:
            model = label = _text(nvml.nvmlDeviceGetName(handle))
        except nvml.NVMLError:
            model, label = None, "unknown GPU"
        try:
            nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            sensors.append(NvmlGpuSensor(nvml, handle, seen_index, session=session, model=model))
            details.append(f"gpu:{seen_index} {label} (energy counter)")
            continue
        except nvml.NVMLError:
            pass
        try:
            nvml.nvmlDeviceGetPowerUsage(handle)
        except nvml.NVMLError as e:
            details.append(f"gpu:{seen_index} {label} skipped: no energy or power reading ({e})")
            continue
        sensors.append(NvmlPowerSensor(nvml, handle, seen_index, session=session, model=model))
        details.append(f"gpu:{seen_index} {label} (power sampling, no energy counter)")
    session.release()  # shuts NVML down now if no sensor holds it
    notes = "; ".join(filter(None, [", ".join(details), note]))
    if not sensors:
        why = f"{count} GPU(s) found, none usable" if count else "NVML found no GPU"
        return ProbeResult("nvml", False, f"{why}{'; ' + notes if notes else ''}",
                           problems=problems)
    return ProbeResult("nvml", True, f"{len(sensors)} GPU(s): {notes}", sensors=sensors,
                       problems=problems)


def _probe(context: ProbeContext) -> ProbeResult:
    nvml, why = context.load("pynvml")
    if nvml is None:
        return unloadable("nvml", why.replace("pynvml", "nvidia-ml-py"), INSTALL_HINT)
    return probe_nvml(nvml, context.environ)


def _claim(sensor: Sensor) -> Claim:
    measured = sensor.info.provenance is Provenance.MEASURED
    return Claim("gpu", PRIORITY_COUNTER if measured else PRIORITY_INTEGRATED,
                 scope=f"nvidia/{sensor.info.name}")


#: The NVML backend: one sensor per visible NVIDIA GPU.
BACKEND = Backend("nvml", _probe, _claim, method="NVML total-energy counter (mJ) per visible "
                  "GPU, else board power (mW) sampled and integrated")
