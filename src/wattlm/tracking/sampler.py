"""The background sampler: reads every sensor on a timer, survives failures, hands samples on.

Sensors are cumulative counters, so a long interval loses nothing for counters; sensors that
integrate power themselves (``preferred_interval_s``) are read more often between samples.
A sensor that raises is warned about once, marked failed, and frozen at its last value: the
run goes on and nothing ever raises into the user's code from this thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from wattlm.errors import SensorWarning, StoreWarning, warn
from wattlm.records import Sample
from wattlm.sensors.base import Sensor

__all__ = ["Sampler", "Timeline"]

_log = logging.getLogger(__name__)

FLUSH_EVERY_S = 10.0
TIMELINE_POINTS = 4096


class Timeline:
    """A bounded in-memory series of samples; halves its resolution when full.

    Samples are cumulative, so dropping every other one never changes totals: the first and
    the last sample are always kept.
    """

    def __init__(self, max_points: int = TIMELINE_POINTS) -> None:
        self.max_points = max(max_points, 4)
        self.samples: list[Sample] = []

    def append(self, sample: Sample) -> None:
        """Add a sample, thinning the older ones when the series is full."""
        self.samples.append(sample)
        if len(self.samples) > self.max_points:
            last = self.samples[-1]
            self.samples = self.samples[:-1:2] + [last]


class Sampler:
    """Reads ``sensors`` every ``interval_s`` on a daemon thread.

    Args:
        sensors: the channels, in the run's device order.
        interval_s: seconds between recorded samples.
        on_flush: called from the thread with the samples recorded since the last call, at
            least every ``flush_every_s``; failures are warned about once and retried later.
        clock: wall clock for sample timestamps (Unix seconds).
        peak_window_s: shortest window over which peak power is taken (default: half an
            interval, or a counter's update period if longer).
    """

    def __init__(
        self,
        sensors: Sequence[Sensor],
        interval_s: float,
        *,
        on_flush: Callable[[list[Sample]], None] | None = None,
        flush_every_s: float = FLUSH_EVERY_S,
        clock: Callable[[], float] = time.time,
        peak_window_s: float | None = None,
    ) -> None:
        self.sensors = list(sensors)
        self.interval_s = interval_s
        self.flush_every_s = flush_every_s
        self._on_flush = on_flush
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._values = [0.0] * len(self.sensors)
        self._failed = [False] * len(self.sensors)
        self._pending: list[Sample] = []
        self._last_flush = 0.0
        self._store_failed = False
        self._loop_failed = False
        self.timeline = Timeline()
        self.peak_power_w = [0.0] * len(self.sensors)
        self.peak_total_power_w = 0.0
        # Peak power is taken over windows of at least half an interval (and a counter's update
        # period): a phase boundary read milliseconds after a sample would otherwise turn
        # counter granularity into spurious peaks.
        self._peak_window_s = peak_window_s if peak_window_s is not None else max(
            0.5 * interval_s, max((s.info.update_period_s for s in self.sensors), default=0.0))
        self._window_start: Sample | None = None
        self._windows = 0
        self.warnings: list[str] = []
        self.sample_count = 0
        fast = [getattr(s, "preferred_interval_s", 0.0) or 0.0 for s in self.sensors]
        self._fast_indices = [i for i, f in enumerate(fast) if 0 < f < interval_s]
        self._fast_interval_s = min((fast[i] for i in self._fast_indices), default=interval_s)

    @property
    def degraded(self) -> bool:
        """Whether any sensor failed during the run."""
        return any(self._failed)

    @property
    def failed(self) -> list[bool]:
        """Per sensor: whether it failed and was frozen."""
        return list(self._failed)

    def start(self) -> Sample:
        """Start every sensor, record the first sample and start the thread."""
        for i, sensor in enumerate(self.sensors):
            try:
                sensor.start()
            except Exception as e:  # noqa: BLE001 - a sensor must never break the run
                self._fail(i, e)
        first = Sample(self._clock(), tuple(0.0 for _ in self.sensors))
        with self._lock:
            self._record(first)
        self._last_flush = first.time_s
        self._thread = threading.Thread(target=self._loop, name="wattlm-sampler", daemon=True)
        self._thread.start()
        return first

    def snapshot(self) -> Sample:
        """Read every sensor now (from any thread) and record the sample."""
        with self._lock:
            sample = self._read_all()
            self._record(sample)
            return sample

    def stop(self, *, close: bool = True) -> Sample:
        """Stop the thread, take the final sample, flush, and close the sensors (if ``close``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, 2 * self.interval_s))
        with self._lock:
            final = self._read_all()
            self._record(final, last=True)
        self._flush(force=True)
        for sensor in self.sensors if close else ():
            try:
                sensor.close()
            except Exception:  # noqa: BLE001, S110 - closing is best effort
                _log.debug("closing %s failed", sensor.info.name, exc_info=True)
        return final

    # -- thread ---------------------------------------------------------------------------
    def _loop(self) -> None:
        next_sample = time.monotonic() + self.interval_s
        while True:
            wait = next_sample - time.monotonic()
            if self._fast_indices:
                wait = min(wait, self._fast_interval_s)
            if self._stop.wait(max(wait, 0.0)):
                return
            try:
                if time.monotonic() >= next_sample:
                    next_sample += self.interval_s
                    if next_sample < time.monotonic():  # fell behind (suspend): skip ahead
                        next_sample = time.monotonic() + self.interval_s
                    self.snapshot()
                    self._flush(force=False)
                else:
                    with self._lock:
                        for i in self._fast_indices:
                            self._read_one(i)
            except Exception as e:  # noqa: BLE001 - last line of defence for the user's job
                if not self._loop_failed:  # once: a lasting fault would repeat every interval
                    self._loop_failed = True
                    self.warnings.append(warn(f"sampler error, continuing: {e!r}",
                                              SensorWarning, "W109"))

    # -- helpers (called with the lock held) ---------------------------------------------
    def _read_one(self, i: int) -> None:
        if self._failed[i]:
            return
        try:
            value = float(self.sensors[i].read_j())
        except Exception as e:  # noqa: BLE001 - any sensor failure is handled the same way
            self._fail(i, e)
            return
        if value != value or value < self._values[i]:  # NaN, or a counter going backwards
            self._fail(i, ValueError(f"bad reading {value!r} after {self._values[i]!r} J"))
            return
        self._values[i] = value

    def _read_all(self) -> Sample:
        for i in range(len(self.sensors)):
            self._read_one(i)
        return Sample(self._clock(), tuple(self._values))

    def _record(self, sample: Sample, *, last: bool = False) -> None:
        self._track_peak(sample, last=last)
        self.timeline.append(sample)
        self._pending.append(sample)
        self.sample_count += 1
        if len(self._pending) > 100_000:  # store unreachable for a long time: keep memory bounded
            self._pending = self._pending[::2]

    def _track_peak(self, sample: Sample, *, last: bool) -> None:
        start = self._window_start
        if start is None:
            self._window_start = sample
            return
        dt = sample.time_s - start.time_s
        # the last sample closes a window only if no full one was seen (a very short run)
        if dt <= 0 or (dt < self._peak_window_s and not (last and self._windows == 0)):
            return
        powers = [(b - a) / dt for a, b in zip(start.energy_j, sample.energy_j)]
        self.peak_power_w = [max(p, q) for p, q in zip(self.peak_power_w, powers)]
        self.peak_total_power_w = max(self.peak_total_power_w, sum(powers))
        self._window_start = sample
        self._windows += 1

    def _fail(self, i: int, error: BaseException) -> None:
        self._failed[i] = True
        name = self.sensors[i].info.name
        self.warnings.append(warn(
            f"sensor {name} failed ({error}); dropped, its energy is counted up to its last "
            f"reading", SensorWarning, "W101"))

    def _flush(self, *, force: bool) -> None:
        if self._on_flush is None:
            self._pending.clear()
            return
        with self._lock:
            now = self._clock()
            if not force and now - self._last_flush < self.flush_every_s:
                return
            batch, self._pending = self._pending, []
            self._last_flush = now
        if not batch:
            return
        try:
            self._on_flush(batch)
        except Exception as e:  # noqa: BLE001 - the store must not break the run
            with self._lock:
                self._pending = batch + self._pending
            if not self._store_failed:
                self._store_failed = True
                self.warnings.append(warn(f"could not write samples to the store ({e}); "
                                          "will retry", StoreWarning, "W301"))
