"""AMD GPUs through ``amdsmi`` (ROCm's AMD SMI Python package, extra ``wattlm[amd]``).

This is the only module that touches ``amdsmi``, and only inside functions.

**Energy.** ``amdsmi_get_energy_count(handle)`` returns the accumulator and its resolution in uJ
(amdsmi.h: "counter_resolution: resolution of the counter in micro Joules"); energy =
accumulator x resolution. The accumulator's key changed: ``power`` up to amdsmi 6.3 (5.7-6.3),
``energy_accumulator`` from 6.4; both are read. Where the counter is not supported, power is
sampled and integrated (trapezoid): ``amdsmi_get_power_info(handle)`` in W, key
``current_socket_power`` (6.1+, instantaneous, MI300) else ``average_socket_power`` (5.7+,
MI200) else ``socket_power`` (7.0); ``"N/A"`` marks an unsupported field.

**Plausibility.** At probe time the counter is read twice over :data:`PLAUSIBILITY_WINDOW_S`
and compared with the power reading; a counter that does not move while the GPU draws power,
or implies a power off by more than :data:`PLAUSIBLE_RATIO`, is not believed and the GPU is
power-sampled instead (``W143``). During a run, an interval implying more than
:data:`MAX_PLAUSIBLE_W` switches the sensor to power sampling from then on (``W143``). A counter
that goes back (GPU reset, driver reload) restarts from its new value (``W144``).

**Dual-die parts.** An MI250X shows its two GCDs as two devices while its sensors cover the
package. Devices sharing an ``oam_id`` (``amdsmi_get_gpu_asic_info``, 6.1+) form one package
measured once: identical accumulators are one counter seen twice, a die that reports neither
energy nor power has no reading of its own. If only some of a package's dies are visible to
the job, the package's energy is shared in proportion (visible dies / dies), so jobs that
split one package between them do not count it twice.

**Visibility.** ``ROCR_VISIBLE_DEVICES`` then ``HIP_VISIBLE_DEVICES`` (see
:mod:`wattlm.sensors.visible`), by HIP index (``hip_id`` of
``amdsmi_get_gpu_enumeration_info`` where the library has it, else amdsmi's order).
Every ``AmdSmiException`` becomes :class:`~wattlm.errors.SensorError` here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wattlm.errors import SensorError, SensorWarning, warn
from wattlm.records import DeviceInfo
from wattlm.sensors.backend import (
    PRIORITY_COUNTER,
    PRIORITY_INTEGRATED,
    Backend,
    Claim,
    ProbeContext,
    unloadable,
)
from wattlm.sensors.base import ProbeResult, Problem, Sensor
from wattlm.sensors.visible import hip_visible
from wattlm.units import Provenance

__all__ = ["BACKEND", "MAX_PLAUSIBLE_W", "AmdGpuSensor", "energy_uj", "power_w", "probe_amd"]

INSTALL_HINT = "pip install 'wattlm[amd]' and install ROCm's amd-smi-lib (libamd_smi.so)"
DRIVER_HINT = ("load the amdgpu driver (modprobe amdgpu, ROCm installed) and make /dev/kfd and "
               "/dev/dri readable (add the user to the 'render' and 'video' groups)")
#: Probe window for the counter-against-power check (s).
PLAUSIBILITY_WINDOW_S = 0.25
#: The counter is believed when its implied power is within this factor of the power reading.
PLAUSIBLE_RATIO = 3.0
#: Below this power (W) a still counter is not suspicious (an idle GPU, counter granularity).
_IDLE_W = 20.0
#: No single AMD package draws this much (MI355X: 1.4 kW TBP); above it a counter glitched.
MAX_PLAUSIBLE_W = 3000.0
#: Refresh period assumed for the energy accumulator (the SMU updates it about every 1 ms).
AMD_ENERGY_UPDATE_PERIOD_S = 0.001
_POWER_KEYS = ("current_socket_power", "average_socket_power", "socket_power")


def _call(amdsmi: Any, what: str, func: Callable[..., Any], *args: Any) -> Any:
    """Call an amdsmi function, translating its exceptions into SensorError."""
    try:
        return func(*args)
    except amdsmi.AmdSmiException as e:
        raise SensorError(f"{what}: amdsmi error: {' '.join(str(e).split())}") from e


def energy_uj(reading: dict[str, Any]) -> float:
    """Energy in uJ from ``amdsmi_get_energy_count``'s dict (either library generation)."""
    raw = reading.get("energy_accumulator", reading.get("power"))
    resolution = reading.get("counter_resolution")
    if not isinstance(raw, (int, float)) or not isinstance(resolution, (int, float)):
        raise SensorError(f"energy count not available: {reading!r}")
    return float(raw) * float(resolution)


def power_w(info: dict[str, Any]) -> float:
    """Socket power in W from ``amdsmi_get_power_info``'s dict (first supported key)."""
    for key in _POWER_KEYS:
        value = info.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return float(value)
    raise SensorError(f"no socket power reading: {info!r}")


@dataclass
class _Die:
    handle: Any
    index: int  # the job's index (position in the visible list)
    uuid: str


class AmdGpuSensor(Sensor):
    """One AMD package (a GPU, or the visible dies of a dual-die part) read through amdsmi.

    Args:
        amdsmi: the ``amdsmi`` module (or a fake).
        handles: the handles whose readings are summed (one per distinct counter).
        name: channel name (``gpu:<i>``).
        counter: read the energy accumulator (False: sample power and integrate).
        share: fraction of the package's energy that is this job's (visible dies / dies).
        clock: monotonic clock.
        model: the market name.
    """

    def __init__(self, amdsmi: Any, handles: list[Any], name: str, *, counter: bool,
                 share: float = 1.0, clock: Callable[[], float], model: str | None = None,
                 ) -> None:
        self._amdsmi = amdsmi
        self._handles = handles
        self._share = share
        self._clock = clock
        self.counter = counter
        self.info = DeviceInfo(name=name, kind="gpu",
                               provenance=Provenance.MEASURED if counter else Provenance.INTEGRATED,
                               update_period_s=AMD_ENERGY_UPDATE_PERIOD_S if counter else 0.0,
                               model=model)
        self.preferred_interval_s = 0.0 if counter else 0.1
        self._energy_j = 0.0
        self._last_uj: list[float] = []
        self._last_t = 0.0
        self._last_w = 0.0
        self.resets = 0
        self._warned: set[str] = set()

    def _warn(self, message: str, code: str) -> None:
        if code not in self._warned:
            self._warned.add(code)
            warn(message, SensorWarning, code)

    def _counters_uj(self) -> list[float]:
        return [energy_uj(_call(self._amdsmi, self.info.name,
                                self._amdsmi.amdsmi_get_energy_count, h)) for h in self._handles]

    def _power_w(self) -> float:
        return sum(power_w(_call(self._amdsmi, self.info.name,
                                 self._amdsmi.amdsmi_get_power_info, h)) for h in self._handles)

    def start(self) -> None:
        """Take the starting counter values (or the first power reading)."""
        self._energy_j = 0.0
        self._last_t = self._clock()
        self._last_w = self._power_w() if not self.counter else 0.0
        self._last_uj = self._counters_uj() if self.counter else []

    def read_j(self) -> float:
        """Joules since :meth:`start` (this job's share of the package)."""
        now = self._clock()
        dt = max(now - self._last_t, 0.0)
        if self.counter:
            self._energy_j += self._counter_step(dt) * self._share
        else:
            power = self._power_w()
            self._energy_j += 0.5 * (self._last_w + power) * dt * self._share
            self._last_w = power
        self._last_t = now
        return self._energy_j

    def _counter_step(self, dt: float) -> float:
        """Package energy (J) since the last read, with reset and plausibility handling."""
        values = self._counters_uj()
        step_uj = 0.0
        for i, (before, after) in enumerate(zip(self._last_uj, values, strict=True)):
            if after < before:  # reset (GPU reset, driver reload): counting restarts from 0
                self.resets += 1
                self._warn(f"{self.info.name}: the amdsmi energy counter went back from "
                           f"{before:.0f} to {after:.0f} uJ (GPU reset?); counting restarts "
                           "from its new value", "W144")
                before = 0.0 if after * 1e-6 <= MAX_PLAUSIBLE_W * max(dt, 1.0) else after
            step_uj += after - before
            self._last_uj[i] = after
        step_j = step_uj * 1e-6
        if dt >= 0.05 and step_j / dt > MAX_PLAUSIBLE_W:
            self.counter = False  # believe the power readings from now on
            self.info = dataclasses.replace(self.info, provenance=Provenance.INTEGRATED,
                                            update_period_s=0.0)
            self._last_w = self._power_w()
            self._warn(f"{self.info.name}: the amdsmi energy counter implied "
                       f"{step_j / dt:.0f} W, more than any AMD GPU draws; switched to power "
                       "sampling", "W143")
            return self._last_w * dt
        return step_j


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _optional(amdsmi: Any, name: str, handle: Any) -> dict[str, Any]:
    """A dict-returning amdsmi call that may be missing or unsupported: {} then."""
    func = getattr(amdsmi, name, None)
    if func is None:
        return {}
    try:
        result = func(handle)
    except amdsmi.AmdSmiException:
        return {}
    return result if isinstance(result, dict) else {}


def _counter_check(amdsmi: Any, handles: list[Any], context: ProbeContext) -> str:
    """'' when the counters move as the power says, else why they are not believed."""
    def total_uj() -> float:
        return sum(energy_uj(amdsmi.amdsmi_get_energy_count(h)) for h in handles)

    try:
        t0, e0 = context.clock(), total_uj()
        context.sleep(PLAUSIBILITY_WINDOW_S)
        t1, e1 = context.clock(), total_uj()
    except (amdsmi.AmdSmiException, SensorError) as e:
        return f"energy counter unreadable ({' '.join(str(e).split())})"
    try:
        watts: float | None = sum(power_w(amdsmi.amdsmi_get_power_info(h)) for h in handles)
    except (amdsmi.AmdSmiException, SensorError):
        watts = None  # nothing to compare with: the counter is believed
    implied = (e1 - e0) * 1e-6 / (t1 - t0) if t1 > t0 else 0.0
    if e1 < e0 or implied > MAX_PLAUSIBLE_W:
        return f"energy counter implausible ({implied:.0f} W over {t1 - t0:.2f} s)"
    if watts is None or watts <= _IDLE_W:
        return ""
    if implied == 0.0 or not watts / PLAUSIBLE_RATIO <= implied <= watts * PLAUSIBLE_RATIO:
        return (f"energy counter implies {implied:.0f} W while the power reading is "
                f"{watts:.0f} W")
    return ""


def _dies(amdsmi: Any, context: ProbeContext) -> tuple[list[_Die], list[Problem], str]:
    """Every die in HIP order; ``index`` is the job's index, -1 for a die the job does not see."""
    handles = list(amdsmi.amdsmi_get_processor_handles())
    hip_ids = [_optional(amdsmi, "amdsmi_get_gpu_enumeration_info", h).get("hip_id")
               for h in handles]
    ids = [i for i in hip_ids if isinstance(i, int)]
    if len(ids) == len(handles) and len(set(ids)) == len(ids):
        handles = [h for _, h in sorted(zip(ids, handles, strict=True), key=lambda p: p[0])]
    uuids = []
    for h in handles:
        try:
            uuids.append(_text(amdsmi.amdsmi_get_gpu_device_uuid(h)))
        except amdsmi.AmdSmiException:
            uuids.append("")
    mask = hip_visible(context.environ, uuids)
    problems = [Problem("W140", mask.note)] if mask.problem else []
    seen = {library: job for job, library in enumerate(mask.indices)}
    dies = [_Die(h, seen.get(i, -1), uuids[i]) for i, h in enumerate(handles)]
    return dies, problems, mask.note


def _package_key(amdsmi: Any, die: _Die) -> str:
    oam = _optional(amdsmi, "amdsmi_get_gpu_asic_info", die.handle).get("oam_id")
    return f"oam:{oam}" if isinstance(oam, int) and not isinstance(oam, bool) \
        else f"uuid:{die.uuid or id(die)}"


def _read(amdsmi: Any, die: _Die, counter: bool) -> float:
    if counter:
        return energy_uj(amdsmi.amdsmi_get_energy_count(die.handle))
    return power_w(amdsmi.amdsmi_get_power_info(die.handle))


def _same_counter(amdsmi: Any, kept: _Die, die: _Die) -> bool:
    """Whether ``die`` reports ``kept``'s counter: its value lies between two reads of it."""
    first = _read(amdsmi, kept, True)
    value = _read(amdsmi, die, True)
    last = _read(amdsmi, kept, True)
    return min(first, last) <= value <= max(first, last)


def _reporting(amdsmi: Any, dies: list[_Die], counter: bool) -> list[_Die]:
    """The dies of one package with a reading of their own (a counter seen twice, once).

    A die whose reading is 0 has none of its own (the second GCD of an MI250X). A die whose
    counter reads between two reads of an already kept die's counter is that counter again
    (the counter may move between calls, so equality alone would miss it).
    """
    keep: list[_Die] = []
    for die in dies:
        try:
            value = _read(amdsmi, die, counter)
            if value == 0.0:
                continue
            if counter and any(_same_counter(amdsmi, k, die) for k in keep):
                continue
            if not counter and any(_read(amdsmi, k, False) == value for k in keep):
                continue  # the package power reported on both dies
        except (amdsmi.AmdSmiException, SensorError):
            continue
        keep.append(die)
    return keep


def _package_sensor(amdsmi: Any, package: list[_Die], context: ProbeContext,
                    notes: list[str], problems: list[Problem]) -> Sensor | None:
    """One sensor for a package with visible dies: its counter if plausible, else its power.

    The package's readings may sit on a die the job does not see (the other GCD of an
    MI250X); they are read there and shared by the fraction of dies the job sees.
    """
    visible = [d for d in package if d.index >= 0]
    first = visible[0]
    label = _optional(amdsmi, "amdsmi_get_gpu_asic_info", first.handle).get("market_name")
    model = str(label) if label else None
    name = f"gpu:{first.index}"
    share = len(visible) / len(package)
    what = f"{name} {model or 'AMD GPU'}"
    if len(package) > 1:
        dies = ", ".join(f"gpu:{d.index}" for d in visible)
        what += f" ({dies}: {len(visible)} of the package's {len(package)} dies)"
    reporting = _reporting(amdsmi, package, counter=True)
    doubt = ""
    if reporting:
        doubt = _counter_check(amdsmi, [d.handle for d in reporting], context)
        if not doubt:
            notes.append(f"{what} (energy counter)")
            return AmdGpuSensor(amdsmi, [d.handle for d in reporting], name, counter=True,
                                share=share, clock=context.clock, model=model)
        problems.append(Problem("W143", f"{name}: {doubt}; power sampling is used instead"))
    reporting = _reporting(amdsmi, package, counter=False)
    if not reporting:
        notes.append(f"{what} skipped: no energy or power reading")
        return None
    notes.append(f"{what} (power sampling, {'counter not believed' if doubt else 'no counter'})")
    return AmdGpuSensor(amdsmi, [d.handle for d in reporting], name, counter=False,
                        share=share, clock=context.clock, model=model)


def probe_amd(amdsmi: Any, context: ProbeContext) -> ProbeResult:
    """Initialise amdsmi and build one sensor per package with a die visible to the job.

    Never raises for a missing driver or GPU.

    Args:
        amdsmi: the ``amdsmi`` module or a fake.
        context: where visible-devices variables, the clock and the sleep come from.
    """
    try:
        amdsmi.amdsmi_init()
    except amdsmi.AmdSmiException as e:
        why = " ".join(str(e).split())
        return ProbeResult("amdsmi", False, f"amdsmi could not be initialised: {why}",
                           hint=DRIVER_HINT, problems=[Problem(
                               "W141", f"amdsmi is installed but could not be initialised "
                               f"({why}): {DRIVER_HINT}")])
    try:
        dies, problems, mask_note = _dies(amdsmi, context)
    except amdsmi.AmdSmiException as e:
        _shutdown(amdsmi)
        return ProbeResult("amdsmi", False, f"amdsmi could not list the GPUs: {e}")
    packages: dict[str, list[_Die]] = {}
    for die in dies:
        packages.setdefault(_package_key(amdsmi, die), []).append(die)
    ordered = sorted((p for p in packages.values() if any(d.index >= 0 for d in p)),
                     key=lambda p: min(d.index for d in p if d.index >= 0))
    sensors: list[Sensor] = []
    notes: list[str] = []
    for package in ordered:
        sensor = _package_sensor(amdsmi, package, context, notes, problems)
        if sensor is not None:
            sensors.append(sensor)
    reason = "; ".join(filter(None, [", ".join(notes), mask_note]))
    if not sensors:
        _shutdown(amdsmi)
        why = f"{len(dies)} AMD GPU(s) found, none usable" if dies else "amdsmi found no GPU"
        return ProbeResult("amdsmi", False, f"{why}{'; ' + reason if reason else ''}",
                           problems=problems)
    return ProbeResult("amdsmi", True, f"{len(sensors)} AMD GPU package(s): {reason}",
                       sensors=sensors, problems=problems)


def _shutdown(amdsmi: Any) -> None:
    try:
        amdsmi.amdsmi_shut_down()
    except Exception:  # noqa: BLE001, S110 - best effort
        pass


def _probe(context: ProbeContext) -> ProbeResult:
    amdsmi, why = context.load("amdsmi")
    if amdsmi is None:
        return unloadable("amdsmi", why, INSTALL_HINT)
    return probe_amd(amdsmi, context)


def _claim(sensor: Sensor) -> Claim:
    measured = sensor.info.provenance is Provenance.MEASURED
    return Claim("gpu", PRIORITY_COUNTER if measured else PRIORITY_INTEGRATED,
                 scope=f"amd/{sensor.info.name}")


#: The AMD backend: one sensor per visible GPU package.
BACKEND = Backend("amdsmi", _probe, _claim, method="amdsmi energy accumulator x counter "
                  "resolution (uJ) per visible GPU package, checked against socket power; "
                  "else socket power (W) sampled and integrated")
