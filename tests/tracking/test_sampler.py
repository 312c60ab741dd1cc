import threading
import time

import pytest

from wattlm.records import Sample
from wattlm.sensors.fake import FakeSensor
from wattlm.tracking.sampler import Sampler, Timeline, stop_bound_s


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_timeline_thins_but_keeps_first_and_last():
    timeline = Timeline(max_points=8)
    for i in range(100):
        timeline.append(Sample(float(i), (float(i) * 2,)))
    assert len(timeline.samples) <= 8
    assert timeline.samples[0].time_s == 0.0
    assert timeline.samples[-1] == Sample(99.0, (198.0,))


def test_snapshot_reads_each_sensor_and_keeps_peak_power():
    clock = ManualClock()
    gpu = FakeSensor("gpu:0", readings=[0.0, 100.0, 100.0, 400.0])
    sampler = Sampler([gpu], interval_s=60, clock=clock, peak_window_s=1.0)
    sampler.start()  # does not read: first sample is zero
    clock.now += 1
    assert sampler.snapshot().energy_j == (0.0,)
    clock.now += 1
    assert sampler.snapshot().energy_j == (100.0,)
    clock.now += 2
    assert sampler.snapshot().energy_j == (100.0,)
    clock.now += 1
    final = sampler.stop()
    assert final.energy_j == (400.0,)
    # peak: 300 J in 1 s
    assert sampler.peak_power_w == [300.0]
    assert gpu.closed


def test_failing_sensor_is_frozen_warned_once_and_others_continue():
    ok = FakeSensor("cpu", kind="cpu", readings=[10.0, 20.0, 30.0, 40.0, 50.0])
    bad = FakeSensor("gpu:0", readings=[5.0, 6.0], fail_after_reads=2)
    sampler = Sampler([ok, bad], interval_s=60)
    sampler.start()
    values = [sampler.snapshot().energy_j for _ in range(4)]
    final = sampler.stop()
    assert values[0] == (10.0, 5.0)
    assert values[1] == (20.0, 6.0)
    assert values[3] == (40.0, 6.0)  # frozen at the last good value
    assert final.energy_j == (50.0, 6.0)
    assert sampler.degraded and sampler.failed == [False, True]
    assert len([w for w in sampler.warnings if "W101" in w]) == 1


def test_counter_going_backwards_marks_sensor_failed():
    sensor = FakeSensor("gpu:0", readings=[10.0, 5.0, 20.0])
    sampler = Sampler([sensor], interval_s=60)
    sampler.start()
    sampler.snapshot()
    sampler.snapshot()
    final = sampler.stop()
    assert final.energy_j == (10.0,)
    assert sampler.degraded


def test_thread_samples_on_interval_and_flushes_batches():
    flushed: list[list[Sample]] = []
    sensor = FakeSensor("gpu:0", power_w=50.0)
    sampler = Sampler([sensor], interval_s=0.02, on_flush=flushed.append, flush_every_s=0.05)
    sampler.start()
    time.sleep(0.3)
    final = sampler.stop()
    total = sum(len(batch) for batch in flushed)
    assert total == sampler.sample_count
    assert sampler.sample_count >= 5  # ~15 expected at 20 ms; generous for a loaded machine
    assert len(flushed) >= 2
    # 50 W for ~0.3 s
    assert 0.25 * 50 <= final.energy_j[0] <= 0.6 * 50


def test_store_failure_is_warned_once_and_retried():
    calls: list[int] = []

    def flaky(batch: list[Sample]) -> None:
        calls.append(len(batch))
        if len(calls) == 1:
            raise OSError("disk full")

    sampler = Sampler([FakeSensor(power_w=1.0)], interval_s=60, on_flush=flaky, flush_every_s=60)
    sampler.start()
    sampler.snapshot()
    sampler._flush()           # the writer's first write fails and keeps the batch
    deadline = time.monotonic() + 10.0
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    sampler.snapshot()
    sampler.stop()             # retried with everything, start + 2 snapshots + final
    assert calls == [2, 4]
    assert sampler.writer is not None and sampler.writer.written == 4
    assert len([w for w in sampler.writer.warnings if "W301" in w]) == 1


def test_power_integrating_sensors_are_read_between_samples():
    from wattlm.sensors.base import PowerIntegratingSensor

    class Counting(PowerIntegratingSensor):
        preferred_interval_s = 0.01

        def __init__(self) -> None:
            super().__init__()
            self.info = FakeSensor("gpu:0").info
            self.reads = 0

        def read_power_w(self) -> float:
            self.reads += 1
            return 100.0

    sensor = Counting()
    sampler = Sampler([sensor], interval_s=10.0)
    sampler.start()
    time.sleep(0.2)
    final = sampler.stop()
    assert sensor.reads >= 5
    assert 0.15 * 100 <= final.energy_j[0] <= 0.5 * 100


def test_sampler_thread_is_daemon_and_stops():
    sampler = Sampler([FakeSensor()], interval_s=0.01)
    sampler.start()
    thread = sampler._thread
    assert thread is not None and thread.daemon and thread.name == "wattlm-sampler"
    sampler.stop()
    thread.join(timeout=3.0)
    assert not thread.is_alive()


def test_a_lasting_loop_error_is_warned_once_and_sampling_resumes():
    broken = threading.Event()

    def clock() -> float:
        if broken.is_set():
            raise RuntimeError("clock unavailable")
        return time.time()

    sampler = Sampler([FakeSensor("gpu:0", power_w=10.0)], interval_s=0.01, clock=clock)
    sampler.start()
    broken.set()
    deadline = time.monotonic() + 10.0
    while not sampler.warnings and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # about ten more failing intervals
    broken.clear()
    sampler.stop()
    assert [w for w in sampler.warnings if w.startswith("W109")] == [
        "W109: sampler error, continuing: RuntimeError('clock unavailable')"]


def test_peak_power_ignores_windows_shorter_than_the_peak_window():
    """A read 1 ms after another (a phase boundary) must not turn a 1 J step into 1 kW."""
    clock = ManualClock()
    gpu = FakeSensor("gpu:0", readings=[100.0, 101.0, 200.0])
    sampler = Sampler([gpu], interval_s=60, clock=clock, peak_window_s=0.5)
    sampler.start()
    clock.now += 1.0
    sampler.snapshot()          # 100 J over 1 s: 100 W
    clock.now += 0.001
    sampler.snapshot()          # +1 J in 1 ms would be 1,000 W: too short a window
    clock.now += 0.999
    sampler.stop()              # +100 J over the 1 s window since the 100 W sample
    assert sampler.peak_power_w == [pytest.approx(100.0)]
    assert sampler.peak_total_power_w == pytest.approx(100.0)


def test_a_run_shorter_than_the_peak_window_still_has_a_peak():
    clock = ManualClock()
    sampler = Sampler([FakeSensor("gpu:0", readings=[30.0])], interval_s=60, clock=clock)
    sampler.start()
    clock.now += 0.2
    sampler.stop()
    assert sampler.peak_power_w == [pytest.approx(150.0)]


# --- a sampler that cannot block its caller (issue 10) --------------------------------------


def _wait_for(predicate, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def test_a_read_that_blocks_forever_is_abandoned_and_stop_is_bounded():
    stuck = FakeSensor("gpu:0", power_w=300.0, block_after_reads=2)   # hangs from its 3rd read
    fine = FakeSensor("cpu", kind="cpu", power_w=50.0)
    sampler = Sampler([stuck, fine], interval_s=0.05)
    try:
        sampler.start()
        time.sleep(0.8)
        t0 = time.monotonic()
        final = sampler.stop()
        took = time.monotonic() - t0
    finally:
        stuck.release()
    assert took < 3 * stop_bound_s(0.05)          # bound: 1 s + one interval; generous here
    assert sampler.degraded and sampler.device_degraded == [True, False]
    assert sampler.failed == [False, False]        # late, not broken
    assert len([w for w in sampler.warnings if w.startswith("W110")]) == 1
    assert "gpu:0" in next(w for w in sampler.warnings if w.startswith("W110"))
    # the other sensor kept being read: ~0.8 s at 50 W
    assert final.energy_j[1] == pytest.approx(50.0 * (final.time_s
                                                      - sampler.timeline.samples[0].time_s),
                                              rel=0.1)
    assert sampler.sample_count >= 5               # readings went on after the hang
    assert final.energy_j[0] < 300.0 * 0.8         # held at the value before the hang


def test_stop_stamps_the_final_sample_when_it_is_called():
    stuck = FakeSensor("gpu:0", block_after_reads=1)
    sampler = Sampler([stuck], interval_s=30.0, read_deadline_s=0.5)
    try:
        sampler.start()
        t_stop = time.time()
        final = sampler.stop()                     # the final read hangs: abandoned after 0.5 s
    finally:
        stuck.release()
    assert final.time_s == pytest.approx(t_stop, abs=0.2)   # not 0.5 s (or 5 s) later


def test_a_store_that_blocks_delays_writing_never_reading():
    gate = threading.Event()
    written: list[Sample] = []

    def slow_store(batch: list[Sample]) -> None:
        gate.wait(30.0)                            # a store locked by another process
        written.extend(batch)

    sensor = FakeSensor("gpu:0", power_w=100.0)
    sampler = Sampler([sensor], interval_s=0.05, on_flush=slow_store, flush_every_s=0.1,
                      first_flush_s=0.1)
    first = sampler.start()
    time.sleep(1.5)                                # the store blocks for all of it
    t0 = time.monotonic()
    final = sampler.stop()
    took = time.monotonic() - t0
    duration = final.time_s - first.time_s
    assert took < 3 * stop_bound_s(0.05)
    assert duration == pytest.approx(1.5, abs=0.4)           # not 1.5 s + a join timeout
    assert final.energy_j[0] == pytest.approx(100.0 * duration, rel=0.05)
    assert sampler.sample_count >= 10              # ~30 readings at 50 ms while it blocked
    assert sampler.writer is not None and not sampler.writer.done
    gate.set()
    assert sampler.writer.close(10.0)
    assert len(written) == sampler.sample_count and written[-1] == final


def test_first_flush_comes_within_a_second_of_the_start():
    flushed: list[list[Sample]] = []
    sampler = Sampler([FakeSensor(power_w=10.0)], interval_s=5.0, on_flush=flushed.append)
    sampler.start()
    try:
        assert _wait_for(lambda: bool(flushed), 3.0)   # the old sampler waited 10 s
        assert sum(len(b) for b in flushed) == 2       # the start and one reading
        assert flushed[0][-1].energy_j[0] > 0
    finally:
        sampler.stop()


def test_a_counter_that_can_wrap_is_read_more_often_with_a_note():
    sensor = FakeSensor("rapl:package-0", kind="cpu", power_w=100.0)
    sensor.max_read_interval_s = 0.4               # e.g. 4.3 kJ range at a 10.7 kW bound
    sampler = Sampler([sensor], interval_s=5.0)
    assert sampler.read_periods_s == [pytest.approx(0.2)]
    (note,) = sampler.warnings
    assert note.startswith("W115") and "read every 0.2 s" in note
    sampler.start()
    time.sleep(1.1)
    reads = sensor.reads
    sampler.stop()
    assert reads >= 3                              # ~5 at 0.2 s; none at the 5 s interval
    assert not sampler.degraded                    # a note, not a fault


def test_counter_notes_become_warnings_and_degrade_without_freezing(tmp_path):
    from tests.fakes.sysfs import FakePowercap
    from wattlm.sensors.rapl import RaplDomainSensor

    tree = FakePowercap(tmp_path)
    tree.add_zone("intel-rapl:0", "package-0", energy_uj=2_000_000_000,
                  max_energy_range_uj=2**32 - 1, max_power_uw=125_000_000)
    mono = ManualClock()
    rapl = RaplDomainSensor(tree.zones["intel-rapl:0"], name="rapl:package-0", clock=mono)
    clock = ManualClock()
    # the thread stays out of the way: no reading or hand-over within the test
    sampler = Sampler([rapl], interval_s=60, clock=clock, first_flush_s=60)
    sampler.start()
    tree.advance("intel-rapl:0", 10_000_000)
    mono.now += 1.0
    clock.now += 1.0
    assert sampler.snapshot().energy_j == (pytest.approx(10.0),)
    tree.set_energy("intel-rapl:0", 2_000_000_000)      # steps back 10 J: a reset
    mono.now += 1.0
    assert sampler.snapshot().energy_j == (pytest.approx(10.0),)
    tree.advance("intel-rapl:0", 3_000_000_000)          # 3 kJ in 20 s: a stall
    mono.now += 20.0
    final = sampler.stop()
    assert final.energy_j == (pytest.approx(3010.0),)    # still counting after the reset
    # W115: at 2 x 125 W the 4.3 kJ range wraps in 17.2 s, so it is read every 8.6 s, not 60 s
    assert [w[:4] for w in sampler.warnings] == ["W115", "W111", "W113"]
    assert sampler.degraded and sampler.failed == [False]


def test_the_writer_backlog_is_bounded_and_keeps_the_totals():
    from wattlm.tracking.writer import SampleWriter

    gate = threading.Event()
    written: list[Sample] = []

    def blocked(batch: list[Sample]) -> None:
        gate.wait(30.0)
        written.extend(batch)

    writer = SampleWriter(blocked, max_backlog=10)
    writer.add([Sample(0.0, (0.0,))])
    assert _wait_for(lambda: writer.pending == 0)   # the first batch is now stuck in write
    for i in range(1, 101):
        writer.add([Sample(float(i), (10.0 * i,))])  # returns at once although the store blocks
    assert writer.pending <= 11
    assert [w[:4] for w in writer.warnings] == ["W310"]
    gate.set()
    assert writer.close(10.0)
    assert written[0] == Sample(0.0, (0.0,)) and written[-1] == Sample(100.0, (1000.0,))
    assert [s.time_s for s in written] == sorted(s.time_s for s in written)
