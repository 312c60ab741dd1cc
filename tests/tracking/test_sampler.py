import threading
import time

import pytest

from wattlm.records import Sample
from wattlm.sensors.fake import FakeSensor
from wattlm.tracking.sampler import Sampler, Timeline


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

    sampler = Sampler([FakeSensor(power_w=1.0)], interval_s=60, on_flush=flaky, flush_every_s=0)
    sampler.start()
    sampler.snapshot()
    sampler._flush(force=True)  # fails, keeps the batch
    sampler.snapshot()
    sampler.stop()  # retries with everything
    assert calls == [2, 4]
    assert len([w for w in sampler.warnings if "W301" in w]) == 1


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
    names = [t.name for t in threading.enumerate()]
    assert "wattlm-sampler" in names
    sampler.stop()
    time.sleep(0.05)
    assert "wattlm-sampler" not in [t.name for t in threading.enumerate()]


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
