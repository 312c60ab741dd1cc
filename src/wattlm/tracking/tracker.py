"""``wattlm.track()``: measure a block, a function (sync or async) or a whole program.

Strict at the door, lenient in the loop: settings, region and store are checked in
:meth:`Tracker.start` and raise :class:`~wattlm.errors.WattlmError` before the user's work
begins; afterwards every failure (sensor, accounting, store) becomes a warning on the record.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, TypeVar, cast

from wattlm.config import Settings, resolve_settings
from wattlm.errors import (
    AccountingWarning,
    SensorWarning,
    StoreWarning,
    WattlmError,
    warn,
)
from wattlm.records import DeviceEnergy, RunRecord, Sample
from wattlm.sensors.base import Sensor
from wattlm.tracking.api_calls import merge_api_calls
from wattlm.tracking.context import (
    active_tracker,
    forked_record,
    install_fork_hook,
    keep_unclosed,
    set_active,
    set_inactive,
)
from wattlm.tracking.phases import PhaseBook, flag_short_window
from wattlm.tracking.sampler import Sampler, measure_baseline, stop_bound_s
from wattlm.tracking.writer import save_run
from wattlm.units import Provenance

__all__ = ["Tracker", "active_tracker", "track"]

F = TypeVar("F", bound=Callable[..., Any])

PARENT_RUN_VARIABLE = "WATTLM_PARENT_RUN"


def _parent_run() -> dict[str, int]:
    """``{"parent_run": id}`` inside ``wattlm run`` (its energy already includes this run's)."""
    raw = os.environ.get(PARENT_RUN_VARIABLE, "")
    return {"parent_run": int(raw)} if raw.isdigit() else {}


class Tracker:
    """Measures energy between :meth:`start` and :meth:`stop`; also a context manager and decorator.

    Args:
        settings: resolved settings (region, project, interval, store, baseline, ...).
        sensors: channels to read; by default probed on this machine
            (:func:`wattlm.sensors.registry.choose`).
        pid: root of the process tree that modelled sensors follow (default: this process).
        command: the command being measured (``wattlm run``), stored with the run.
        distributed: None detects a ``torch.distributed`` job (rank 0 then stores one run for
            the whole job, see :mod:`wattlm.tracking.distributed`); False measures this process
            alone; True requires a job.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sensors: Sequence[Sensor] | None = None,
        pid: int | None = None,
        command: list[str] | None = None,
        distributed: bool | None = None,
    ) -> None:
        self.settings = settings
        self.distributed = distributed
        self._job: Any = None
        self._given_sensors = list(sensors) if sensors is not None else None
        self._pid = pid
        self.command = command
        self.result: RunRecord | None = None
        self.run_id: int | None = None
        self._sampler: Sampler | None = None
        self._store: Any = None
        self._grid: Any = None
        self._start_sample: Sample | None = None
        self._started_at = ""
        self._phases = PhaseBook()
        self._warnings: list[str] = []
        self._baseline_power_w: float | None = None
        self._api_calls: list[Any] = []  # hosted-API calls (add_api_energy)
        self._forked_from: int | None = None
        self._short_phase_flagged = False
        self._writer: Any = None
        self.started_in_thread: int | None = None
        """``threading.get_ident()`` of the thread that started the tracker (None before)."""

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the tracker has started and not yet stopped (in this process)."""
        return self._sampler is not None

    @property
    def grid(self) -> Any:
        """The resolved grid location (``GridIntensity``) once started, else None."""
        return self._grid

    @property
    def sensors(self) -> list[Sensor]:
        """The sensors in use (empty before start)."""
        return self._sampler.sensors if self._sampler else []

    def start(self) -> Tracker:
        """Check inputs, probe sensors, open the store and start sampling."""
        if self.running:
            raise WattlmError("this tracker is already running; use a new wattlm.track()")
        self._warnings, self._forked_from, self._short_phase_flagged = [], None, False
        self.result, self.run_id, self._baseline_power_w = None, None, None
        self._api_calls = []
        from wattlm.carbon.intensity import resolve_region
        from wattlm.tracking.distributed import JobSession

        self._job = JobSession.begin(self.distributed, self.settings)  # strict: bad launcher vars

        self._grid = resolve_region(self.settings.region)  # strict: unknown region raises here
        if self.settings.intensity_series:
            from wattlm.carbon.series import load_series

            load_series(self.settings.intensity_series, allow_gaps=True)  # strict: bad file raises
        if self.settings.save and (self._job is None or self._job.saves):
            from wattlm.store import open_store

            self._store = open_store(self.settings.db_path)  # strict: unwritable store raises
        sensors = self._given_sensors
        if sensors is None:
            from wattlm.sensors.backend import ProbeContext
            from wattlm.sensors.registry import choose

            chosen = choose(ProbeContext.create(
                powercap_root=self.settings.powercap_root,
                pid=self._job.sensor_pid(self._pid) if self._job else self._pid))
            sensors = chosen.sensors  # bad input met while probing: warned, the run goes on
            self._warnings.extend(warn(p.message, SensorWarning, p.code) for p in chosen.problems)
        if self._job is not None:  # this rank's GPUs; shared sensors on one rank per node
            sensors = self._job.assign(sensors)
        if self.settings.baseline_s > 0:
            self._baseline_power_w, notes = measure_baseline(sensors, self.settings.baseline_s)
            self._warnings.extend(notes)
        self._started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._create_run(sensors)
        store, run_id = self._store, self.run_id
        on_flush = None
        if store is not None and run_id is not None:
            def on_flush(samples: list[Sample]) -> None:  # runs on the writer thread
                store.add_samples(run_id, samples)
        self._sampler = Sampler(sensors, self.settings.interval_s, on_flush=on_flush,
                                flush_every_s=self.settings.flush_s)
        self._start_sample = self._sampler.start()
        self._phases.reset(self._start_sample)
        self.started_in_thread = threading.get_ident()
        install_fork_hook()
        set_active(self)
        return self

    def _create_run(self, sensors: Sequence[Sensor]) -> None:
        if self._store is None:
            return
        try:
            self.run_id = self._store.create_run(
                project=self.settings.project, started_at=self._started_at,
                devices=[s.info for s in sensors], host=socket.gethostname(),
                region=self._grid.code if self.settings.region else None,
                command=self.command)
        except Exception as e:  # noqa: BLE001 - the job goes on without a store
            self._warnings.append(warn(f"could not create the run in the store ({e}); "
                                       "measuring without saving", StoreWarning, "W302"))
            self._store = None

    def stop(self, *, exit_code: int | None = None, status: str = "finished") -> RunRecord:
        """Stop sampling, build the :class:`RunRecord`, account for it and save it.

        Returns within :func:`~wattlm.tracking.sampler.stop_bound_s` (1 s plus one interval)
        whatever the sensors and the store do; a store slower than that finishes saving in
        the background (``W313`` on the record).
        """
        if self._forked_from is not None:
            return self._forked_result()
        sampler, start = self._sampler, self._start_sample
        if sampler is None or start is None:
            if self.result is not None:
                return self.result
            raise WattlmError("stop() of a tracker that was never started: call start() "
                              "first, or use it as `with wattlm.track() as run:`")
        begun = time.monotonic()
        final = sampler.stop(drain=False)
        self._sampler = None
        set_inactive(self)
        names = [s.info.name for s in sampler.sensors]
        for phase in self._phases.close_all(final, names):  # left open (an exception, a thread)
            self._flag_short_phase(phase.name, phase.duration_s, sampler.sensors)
        record = self._build_record(sampler, start, final, exit_code, status)
        if self._job is not None:  # gather every rank's measurement to rank 0 (never raises)
            record = self._job.finish(record)
        self._account(record, sampler)
        if self._api_calls:
            try:
                merge_api_calls(record, self._api_calls)
            except Exception as e:  # noqa: BLE001 - API estimates must not fail the user's job
                record.warnings.append(warn(f"could not add the API calls to the run ({e})",
                                            AccountingWarning, "W210"))
        self._save(record, sampler, begun + stop_bound_s(self.settings.interval_s))
        self.result = record
        return record

    def _save(self, record: RunRecord, sampler: Sampler, until: float) -> None:
        """Queue the finished run behind the samples; wait for the writer until ``until``."""
        store, self._store, self._writer = self._store, None, sampler.writer
        if store is not None and record.id is not None and sampler.writer is not None:
            save_run(sampler.writer, store, record, until)

    def add_warning(self, text: str) -> None:
        """Record an emitted warning (``"W131: ..."``) on the run this tracker returns."""
        if text not in self._warnings:
            self._warnings.append(text)

    def wait_saved(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the stopped run to be written to the store.

        ``stop()`` returns before a slow store has finished (``W313``); this waits for it.
        True when everything is written (or there is nothing to write).
        """
        writer = self._writer
        return writer is None or bool(writer.close(timeout_s))

    def read(self) -> Sample:
        """Read every sensor now: cumulative joules per device since the run started."""
        if self._forked_from is not None:
            return Sample(time.time(), ())
        if self._sampler is None:
            raise WattlmError("read() needs a running tracker: call it between start() and "
                              "stop(), or inside `with wattlm.track() as run:`")
        return self._sampler.snapshot()

    def elapsed_s(self, sample: Sample | None = None) -> float:
        """Seconds since the run started (up to ``sample`` when given)."""
        if self._start_sample is None:
            return 0.0
        end = sample.time_s if sample is not None else time.time()
        return end - self._start_sample.time_s

    def _detach_after_fork(self) -> None:
        """In a forked child: stop measuring; leave the parent's run and store alone."""
        self._forked_from = os.getppid()
        keep_unclosed(self._sampler, self._store)
        self._sampler, self._store, self._job = None, None, None

    def _forked_result(self) -> RunRecord:
        if self.result is None:
            self.result = forked_record(self.settings.project, self._started_at,
                                        self._forked_from, self.run_id)
        return self.result

    # -- phases ----------------------------------------------------------------------------
    def begin_phase(self, name: str) -> None:
        """Open a named phase, nested inside this thread's or task's innermost open one.

        Phases of other threads and tasks are separate. In a forked child this does nothing.
        """
        if not name or "/" in name:
            raise WattlmError(f"phase name must be non-empty and without '/', got {name!r}")
        if self._forked_from is not None:
            return
        sampler = self._sampler
        if sampler is None:
            raise WattlmError("phase() needs a running tracker: use it inside wattlm.track()")
        self._phases.begin(name, sampler.snapshot())

    def end_phase(self) -> None:
        """Close this context's innermost open phase (no-op when none, or the run stopped)."""
        sampler = self._sampler
        if sampler is not None and self._phases.has_open():
            phase = self._phases.end(sampler.snapshot(), [s.info.name for s in sampler.sensors])
            if phase is not None:
                self._flag_short_phase(phase.name, phase.duration_s, sampler.sensors)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[Tracker]:
        """Attribute the energy of a block to a named phase; phases nest (``train/epoch-1``)."""
        self.begin_phase(name)
        try:
            yield self
        finally:
            self.end_phase()

    def _flag_short_phase(self, name: str, duration_s: float, sensors: Sequence[Sensor]) -> None:
        if not self._short_phase_flagged:  # once per run: a job may open thousands of phases
            self._short_phase_flagged = flag_short_window(
                self._warnings, f"phase {name!r}", duration_s, sensors)


    # -- result ----------------------------------------------------------------------------
    def _build_record(self, sampler: Sampler, start: Sample, final: Sample,
                      exit_code: int | None, status: str) -> RunRecord:
        duration = max(final.time_s - start.time_s, 0.0)
        flag_short_window(self._warnings, "the run", duration, sampler.sensors)
        degraded = sampler.device_degraded
        devices = []
        for i, sensor in enumerate(sampler.sensors):
            info, energy = sensor.info, final.energy_j[i]
            devices.append(DeviceEnergy(
                name=info.name, kind=info.kind, energy_j=energy, provenance=info.provenance,
                mean_power_w=energy / duration if duration > 0 else 0.0,
                peak_power_w=sampler.peak_power_w[i], node=info.node, rank=info.rank,
                degraded=degraded[i], model=info.model))
        total = sum(d.energy_j for d in devices)
        warnings = self._warnings + sampler.warnings + self._phases.warnings
        net = None
        if self._baseline_power_w is not None:
            net = max(total - self._baseline_power_w * duration, 0.0)
        return RunRecord(
            id=self.run_id, project=self.settings.project, started_at=self._started_at,
            duration_s=duration, energy_j=total, devices=devices,
            phases=self._phases.records(),
            region=self._grid.code if self._grid is not None and self.settings.region else None,
            provenance=Provenance.weakest(*(d.provenance for d in devices)),
            degraded=sampler.degraded, warnings=warnings, status=status, exit_code=exit_code,
            command=self.command, host=socket.gethostname(),
            mean_power_w=total / duration if duration > 0 else 0.0,
            peak_power_w=sampler.peak_total_power_w,
            baseline_power_w=self._baseline_power_w, net_energy_j=net,
            extra={**_parent_run(), "interval_s": self.settings.interval_s,
                   "sensor_readings": sampler.sample_count})

    def _account(self, record: RunRecord, sampler: Sampler) -> None:
        try:
            from wattlm.carbon.accounting import settle_run

            settle_run(record, sampler.timeline.samples, settings=self.settings)
        except Exception as e:  # noqa: BLE001 - accounting must not fail the user's job
            record.warnings.append(warn(f"could not account emissions ({e})",
                                        AccountingWarning, "W210"))

    # -- hosted-API calls (wattlm.integrations.llm_api) ------------------------------------
    def add_api_energy(self, impacts: Any) -> None:
        """Count one hosted-API call in this run; it appears as an ``api`` device at stop.

        ``impacts`` is a :class:`wattlm.integrations.llm_api.Impacts`: Ranges ``energy`` (J,
        at the provider, PUE included), ``emissions`` and ``embodied`` (g), ``water`` (L), and
        ``assumptions["pue"]``, ``provider``, ``model``.
        """
        self._api_calls.append(impacts)

    # -- context manager and decorator -----------------------------------------------------
    def __enter__(self) -> Tracker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        status = "finished" if exc_type is None else (
            "interrupted" if issubclass(exc_type, KeyboardInterrupt) else "failed")
        try:
            self.stop(status=status)
        except Exception as e:  # noqa: BLE001 - never mask the user's exception or fail them
            warn(f"tracker stop failed: {e!r}", StoreWarning, "W304")

    def _fresh(self) -> Tracker:
        return Tracker(self.settings, sensors=self._given_sensors, pid=self._pid,
                       command=self.command, distributed=self.distributed)

    def __call__(self, func: F) -> F:
        """Decorate a function (sync or async): each call is measured as its own run."""
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                tracker = self._fresh()
                with tracker:
                    value = await func(*args, **kwargs)
                self.result = tracker.result
                return value
            return cast(F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            tracker = self._fresh()
            try:
                with tracker:
                    return func(*args, **kwargs)
            finally:
                self.result = tracker.result
        return cast(F, wrapper)


def track(
    *,
    region: str | None = None,
    project: str | None = None,
    interval_s: float | None = None,
    flush_s: float | None = None,
    db: str | None = None,
    save: bool | None = None,
    baseline_s: float | None = None,
    pue: float | None = None,
    intensity_g_per_kwh: float | None = None,
    intensity_series: str | None = None,
    powercap_root: str | None = None,
    sensors: Sequence[Sensor] | None = None,
    pid: int | None = None,
    distributed: bool | None = None,
) -> Tracker:
    """Measure the energy, emissions and power of a block or function.

    Use as ``with wattlm.track(region="FR") as run: ...`` (``run.result`` afterwards), as a
    decorator ``@wattlm.track(project="x")``, or with ``start()``/``stop()``. Arguments override
    the settings files and ``WATTLM_*`` variables. Invalid settings raise
    :class:`~wattlm.errors.ConfigError` here, before any work. In a ``torch.distributed``
    job (torchrun, Accelerate, DeepSpeed) every rank calls ``track()`` and rank 0 stores one
    run for the whole job; ``distributed=False`` turns this off.
    """
    if pid is not None:  # strict at the door: a dead pid would measure 0 J silently
        from wattlm.sensors.proctree import check_pid

        check_pid(pid, "track(pid=...)")
    settings = resolve_settings(
        region=region, project=project, interval_s=interval_s, flush_s=flush_s, db=db, save=save,
        baseline_s=baseline_s, pue=pue, intensity_g_per_kwh=intensity_g_per_kwh,
        intensity_series=intensity_series, powercap_root=powercap_root)
    return Tracker(settings, sensors=sensors, pid=pid if pid is not None else os.getpid(),
                   distributed=distributed)
