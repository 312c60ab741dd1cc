"""The background sampler: reads every sensor on a timer and can never block its caller.

* Every sensor call runs on that sensor's worker thread (:mod:`wattlm.tracking.deadline`) and
  is waited for at most ``read_deadline_s``; a late sensor is warned about (``W110``), marked
  degraded and held at its last value, and is not waited for again while its call is running.
* Samples are handed to a writer thread (:mod:`wattlm.tracking.writer`): a slow store delays
  persistence, never readings. The first hand-over comes :data:`FIRST_FLUSH_S` after the
  start, then one every ``flush_every_s``.
* :meth:`Sampler.stop` reads at once and stamps the final sample when the reads are back, at
  most :data:`FINAL_STAMP_SLACK_S` after it was called; it returns within
  :func:`stop_bound_s` (1 s plus one interval) whatever the sensors and the store do.
* Counters that can wrap are read at least twice per ``max_read_interval_s`` (``W115`` when that
  is more often than ``interval_s``); sensors' own notes (resets, stalls, implausible readings)
  become warnings and mark that sensor degraded. A sensor that raises, returns NaN or goes
  backwards is warned about once (``W101``) and frozen at its last value.

Nothing raises from the thread into the user's code.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Sequence

from wattlm.errors import SensorWarning, warn
from wattlm.records import Sample
from wattlm.sensors.base import Sensor, SensorNote
from wattlm.tracking.deadline import Call, caller_for
from wattlm.tracking.writer import SampleWriter

__all__ = ["READ_DEADLINE_S", "Sampler", "Timeline", "measure_baseline", "stop_bound_s"]

FLUSH_EVERY_S = 10.0
FIRST_FLUSH_S = 1.0
READ_DEADLINE_S = 0.5
MIN_READ_PERIOD_S = 0.05
#: The final sample is stamped when its reads are back (energy and time agree), but never
#: later than this after ``stop()`` was called (a late sensor must not lengthen the run).
FINAL_STAMP_SLACK_S = 0.05
TIMELINE_POINTS = 4096


def stop_bound_s(interval_s: float) -> float:
    """The longest :meth:`Sampler.stop` (and ``Tracker.stop``) takes: 1 s plus one interval.

    At most two reads of ``READ_DEADLINE_S`` (one already in flight, then the final one), the
    rest waiting for the store; what the store has not written by then is written in the
    background (before the interpreter exits, see :mod:`wattlm.tracking.writer`).
    """
    return 2 * READ_DEADLINE_S + interval_s


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


def _read_with_notes(sensor: Sensor, clock: Callable[[], float]
                     ) -> tuple[float, list[SensorNote], float]:
    """Runs on the sensor's worker: the reading, its notes, and when it was taken."""
    value = float(sensor.read_j())
    taken_at = clock()
    return value, sensor.drain_notes(), taken_at


def _start_stamped(sensor: Sensor, clock: Callable[[], float]) -> float:
    """Runs on the sensor's worker: start the sensor and say when its counting began."""
    sensor.start()
    return clock()


class Sampler:
    """Reads ``sensors`` every ``interval_s`` on a daemon thread.

    Args:
        sensors: the channels, in the run's device order.
        interval_s: seconds between recorded samples.
        on_flush: stores a batch of samples; runs on the writer thread (may block or raise:
            failures are warned about once and retried).
        flush_every_s: seconds between hand-overs to the writer after the first one.
        first_flush_s: seconds from the start to the first hand-over.
        clock: wall clock for sample timestamps (Unix seconds).
        peak_window_s: shortest window over which peak power is taken (default: half an
            interval, or a counter's update period if longer).
        read_deadline_s: how long one sensor call is waited for.
    """

    def __init__(
        self,
        sensors: Sequence[Sensor],
        interval_s: float,
        *,
        on_flush: Callable[[list[Sample]], None] | None = None,
        flush_every_s: float = FLUSH_EVERY_S,
        first_flush_s: float = FIRST_FLUSH_S,
        clock: Callable[[], float] = time.time,
        peak_window_s: float | None = None,
        read_deadline_s: float = READ_DEADLINE_S,
    ) -> None:
        self.sensors = list(sensors)
        self.interval_s = interval_s
        self.flush_every_s = flush_every_s
        self.first_flush_s = min(first_flush_s, flush_every_s)
        self.read_deadline_s = read_deadline_s
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._callers = [caller_for(s, s.info.name) for s in self.sensors]
        self.writer = SampleWriter(on_flush) if on_flush is not None else None
        n = len(self.sensors)
        self._values = [0.0] * n
        self._failed = [False] * n
        self._noted = [False] * n
        self._warned: set[tuple[int, str]] = set()
        self._pending: list[Sample] = []
        self._final: Sample | None = None
        self._loop_failed = False
        self.timeline = Timeline()
        self.peak_power_w = [0.0] * n
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
        self.read_periods_s = [self._read_period(i) for i in range(n)]

    # -- state ---------------------------------------------------------------------------------
    @property
    def degraded(self) -> bool:
        """Whether any sensor failed, was late or reported an untrustworthy reading."""
        return any(self.device_degraded)

    @property
    def failed(self) -> list[bool]:
        """Per sensor: whether it failed and was frozen."""
        return list(self._failed)

    @property
    def device_degraded(self) -> list[bool]:
        """Per sensor: failed, late, or flagged by its own plausibility checks."""
        return [f or d for f, d in zip(self._failed, self._noted)]

    def _read_period(self, i: int) -> float:
        sensor = self.sensors[i]
        period = self.interval_s
        preferred = float(getattr(sensor, "preferred_interval_s", 0.0) or 0.0)
        if 0 < preferred < period:
            period = preferred
        limit = sensor.max_read_interval_s
        if limit is not None and 0 < limit / 2 < period:
            period = max(limit / 2, MIN_READ_PERIOD_S)
            if period < self.interval_s:
                self._warn(i, "W115", f"sensor {sensor.info.name} can wrap within {limit:.3g} s "
                           f"at its power bound: it is read every {period:.3g} s, more often "
                           f"than the {self.interval_s:g} s interval", degraded=False)
        return period

    # -- public API ----------------------------------------------------------------------------
    def start(self) -> Sample:
        """Start every sensor (each waited for at most the deadline), record the first sample."""
        calls = [c.submit(functools.partial(_start_stamped, s, self._clock))
                 for c, s in zip(self._callers, self.sensors)]
        stamps = [self._settle(i, call, "start") for i, call in enumerate(calls)]
        # stamped when the sensors' counting began (on their workers), not when we woke up
        when = max((t for t in stamps if t is not None), default=None)
        first = Sample(self._clock() if when is None else when, tuple(0.0 for _ in self.sensors))
        with self._lock:
            self._record(first)
        self._thread = threading.Thread(target=self._loop, name="wattlm-sampler", daemon=True)
        self._thread.start()
        return first

    def snapshot(self) -> Sample:
        """Read every sensor now (from any thread) and record the sample."""
        return self._take(None)

    def stop(self, *, close: bool = True, drain: bool = True) -> Sample:
        """Take the final sample (stamped now), hand it to the writer, close the sensors.

        Returns within :func:`stop_bound_s`. With ``drain`` it waits for the writer for the
        rest of that time; without, the caller closes :attr:`writer` itself.
        """
        begun = time.monotonic()
        end_s = self._clock()
        self._stop.set()
        final = self._take(end_s, last=True)
        self._flush()
        if close:
            self._close_sensors(begun + stop_bound_s(self.interval_s))
        if self._thread is not None:
            self._thread.join(timeout=0.1)
        if drain and self.writer is not None:
            self.writer.close(begun + stop_bound_s(self.interval_s) - time.monotonic())
        return final

    def _close_sensors(self, until: float) -> None:
        """Close every sensor on its worker; wait (bounded) for those that are not stuck."""
        calls = []
        for caller, sensor in zip(self._callers, self.sensors):
            stuck = caller.busy_s > self.read_deadline_s
            calls.append((stuck, caller.submit(sensor.close)))
            caller.shutdown()
        for stuck, call in calls:
            if not stuck:
                call.done.wait(max(min(self.read_deadline_s, until - time.monotonic()), 0.0))

    # -- reading -------------------------------------------------------------------------------
    def _take(self, stamp: float | None, *, last: bool = False,
              indices: Sequence[int] | None = None) -> Sample:
        """Read ``indices`` (all by default) under the lock and record the sample."""
        if not self._lock.acquire(timeout=self.read_deadline_s * 2 + 1.0):
            self._warn(-1, "W109", "the sampler's lock was not free in time; a reading was "
                       "skipped", degraded=False)
            return Sample(self._clock() if stamp is None else stamp, tuple(self._values))
        try:
            if self._final is not None:  # stopped: later reads change nothing
                return self._final
            read_at = self._read(range(len(self.sensors)) if indices is None else indices)
            newest = self.timeline.samples[-1].time_s if self.timeline.samples else -math.inf
            when = self._clock() if read_at is None else read_at
            if stamp is not None:  # the final sample: when the reads ended, unless they were late
                when = min(when, stamp + FINAL_STAMP_SLACK_S)
            # a read racing stop() may have recorded a sample stamped after stop's own stamp
            sample = Sample(when if when > newest else newest + 1e-6, tuple(self._values))
            if indices is None:
                self._record(sample, last=last)
            if last:
                self._final = sample
            return sample
        finally:
            self._lock.release()

    def _read(self, indices: Sequence[int] | range) -> float | None:
        """Read ``indices`` on their workers; when the latest reading was taken (None: none)."""
        calls: list[tuple[int, Call]] = []
        for i in indices:
            if not self._failed[i]:
                read = functools.partial(_read_with_notes, self.sensors[i], self._clock)
                calls.append((i, self._callers[i].read(read)))
        stamps = [self._settle(i, call, "read") for i, call in calls]
        return max((t for t in stamps if t is not None), default=None)

    def _settle(self, i: int, call: Call, what: str) -> float | None:
        """Use a call's outcome (its time stamp), or mark the sensor late if it is not back."""
        name = self.sensors[i].info.name
        if not call.wait(self.read_deadline_s):
            self._warn(i, "W110", f"sensor {name} did not answer a {what} within "
                       f"{self.read_deadline_s:g} s; it is held at its last value and not "
                       "waited for while that call runs")
            return None
        if call.error is not None:
            self._fail(i, call.error)
            return None
        if what != "read":
            return float(call.value)
        value, notes, taken_at = call.value
        for note in notes:
            self._warn(i, note.code, note.message, degraded=note.degraded)
        if math.isnan(value) or math.isinf(value) or value < self._values[i]:
            self._fail(i, ValueError(f"bad reading {value!r} after {self._values[i]!r} J"))
            return None
        self._values[i] = value
        return float(taken_at)

    def _warn(self, i: int, code: str, message: str, *, degraded: bool = True) -> None:
        if degraded and i >= 0:
            self._noted[i] = True
        if (i, code) not in self._warned:  # once per sensor and code
            self._warned.add((i, code))
            self.warnings.append(warn(message, SensorWarning, code))

    def _fail(self, i: int, error: BaseException) -> None:
        self._failed[i] = True
        self._warn(i, "W101", f"sensor {self.sensors[i].info.name} failed ({error}); dropped, "
                   "its energy is counted up to its last reading")

    # -- recording (lock held) -----------------------------------------------------------------
    def _record(self, sample: Sample, *, last: bool = False) -> None:
        self._track_peak(sample, last=last)
        self.timeline.append(sample)
        self._pending.append(sample)
        self.sample_count += 1

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

    def _flush(self) -> None:
        """Hand the pending samples to the writer (never blocks on the store)."""
        if not self._lock.acquire(timeout=self.read_deadline_s * 2 + 1.0):
            return
        try:
            batch, self._pending = self._pending, []
            if self.writer is not None:
                self.writer.add(batch)
        finally:
            self._lock.release()

    # -- thread --------------------------------------------------------------------------------
    def _loop(self) -> None:
        now = time.monotonic()
        next_sample = now + self.interval_s
        next_flush = now + self.first_flush_s
        fast = {i: p for i, p in enumerate(self.read_periods_s) if p < self.interval_s}
        next_read = {i: now + p for i, p in fast.items()}
        first_flush = True
        while True:
            due = min([next_sample, next_flush, *next_read.values()])
            if self._stop.wait(max(due - time.monotonic(), 0.0)):
                return
            try:
                now = time.monotonic()
                if now >= next_sample:
                    next_sample += self.interval_s
                    if next_sample < now:  # fell behind (suspend): skip ahead
                        next_sample = now + self.interval_s
                    self.snapshot()
                    next_read = {i: now + p for i, p in fast.items()}
                elif due_now := [i for i, t in next_read.items() if t <= now]:
                    self._take(None, indices=due_now)
                    next_read.update({i: now + fast[i] for i in due_now})
                if now >= next_flush:
                    if first_flush and self.sample_count == 1:
                        self.snapshot()  # the first hand-over carries a reading, not just 0 J
                    first_flush = False
                    next_flush = now + self.flush_every_s
                    self._flush()
            except Exception as e:  # noqa: BLE001 - last line of defence for the user's job
                self._loop_error(e)

    def _loop_error(self, e: Exception) -> None:
        if not self._loop_failed:  # once: a lasting fault would repeat every interval
            self._loop_failed = True
            self.warnings.append(warn(f"sampler error, continuing: {e!r}", SensorWarning, "W109"))


def measure_baseline(sensors: Sequence[Sensor], seconds: float) -> tuple[float, list[str]]:
    """Idle power (W, all channels together) over ``seconds``, and the warnings raised.

    The sensors are left open: the run reads the same sensors next.
    """
    probe = Sampler(sensors, seconds)
    first = probe.start()
    time.sleep(seconds)
    last = probe.stop(close=False)
    elapsed = last.time_s - first.time_s
    return (sum(last.energy_j) / elapsed if elapsed > 0 else 0.0), probe.warnings
