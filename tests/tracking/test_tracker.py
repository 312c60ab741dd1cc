import asyncio
import json
import threading
import time

import pytest

import wattlm
from wattlm.errors import ConfigError, StoreError, UnknownNameError
from wattlm.sensors.fake import FakeSensor
from wattlm.tracking.tracker import active_tracker
from wattlm.units import Provenance


def fakes(cpu_w=20.0, gpu_w=100.0):
    return [FakeSensor("gpu:0", kind="gpu", power_w=gpu_w),
            FakeSensor("cpu:model", kind="cpu", power_w=cpu_w, provenance=Provenance.MODELLED)]


def test_context_manager_measures_energy_per_device_and_phase():
    with wattlm.track(region="FR", project="p", sensors=fakes(), interval_s=0.05) as run:
        assert active_tracker() is run
        with run.phase("train"):
            time.sleep(0.2)
            with run.phase("epoch"):
                time.sleep(0.1)
        with run.phase("eval"):
            time.sleep(0.1)
    assert active_tracker() is None
    result = run.result
    assert result is not None and result.id is not None
    # 120 W in total; elapsed a bit over 0.4 s
    assert result.energy_j == pytest.approx(120.0 * result.duration_s, rel=0.05)
    gpu = next(d for d in result.devices if d.kind == "gpu")
    assert gpu.energy_j == pytest.approx(100.0 * result.duration_s, rel=0.05)
    assert gpu.mean_power_w == pytest.approx(100.0, rel=0.05)
    phases = {p.name: p for p in result.phases}
    assert set(phases) == {"train", "train/epoch", "eval"}
    assert phases["train"].energy_j == pytest.approx(120.0 * phases["train"].duration_s, rel=0.05)
    assert phases["train/epoch"].duration_s == pytest.approx(0.1, abs=0.05)
    assert phases["train"].duration_s > phases["train/epoch"].duration_s
    assert result.provenance is Provenance.MODELLED  # weakest of measured + modelled
    assert result.region == "FR"
    # operational emissions = energy (kWh) x PUE x intensity
    expected_g = result.energy_kwh * result.pue * result.intensity_g_per_kwh
    assert result.emissions_g == pytest.approx(expected_g, rel=1e-9)
    assert result.emissions_kg == pytest.approx(expected_g / 1000)


def test_result_is_stored_and_round_trips(tmp_path):
    db = str(tmp_path / "a.db")
    with wattlm.track(region="DE", project="store-me", sensors=fakes(), db=db) as run:
        time.sleep(0.05)
    store = wattlm.open_store(str(tmp_path / "a.db"))
    try:
        stored = store.get_run(run.result.id)
    finally:
        store.close()
    assert stored.to_dict()["energy_kwh"] == pytest.approx(run.result.energy_kwh)
    assert stored.project == "store-me"
    assert json.loads(json.dumps(stored.to_dict()))["devices"][0]["provenance"] == "measured"


def test_no_region_uses_world_average_labelled_assumed_with_one_warning():
    with wattlm.track(sensors=fakes(), save=False) as run:
        pass
    result = run.result
    assert result.id is None
    assert result.footprint is not None
    assert result.footprint.emissions_kg.provenance is Provenance.ASSUMED
    assert sum("world" in w.lower() for w in result.warnings) == 1


def test_failing_sensor_degrades_but_never_raises():
    sensors = [FakeSensor("gpu:0", power_w=50.0, fail_after_reads=2), FakeSensor("cpu", kind="cpu")]
    with wattlm.track(region="FR", sensors=sensors, interval_s=0.01, save=False) as run:
        time.sleep(0.1)
    assert run.result.degraded
    assert next(d for d in run.result.devices if d.name == "gpu:0").degraded
    assert any("W101" in w for w in run.result.warnings)


def test_bad_input_raises_before_work_starts(tmp_path):
    with pytest.raises(UnknownNameError, match="did you mean"):
        wattlm.track(region="Frnace", sensors=fakes()).start()
    with pytest.raises(ConfigError, match="interval_s"):
        wattlm.track(interval_s=0)
    with pytest.raises(ConfigError, match="interval_s"):
        wattlm.track(interval_s=-1)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError):
        wattlm.track(region="FR", sensors=fakes(), db=str(blocker / "runs.db")).start()


def test_decorator_sync_and_async():
    tracker = wattlm.track(region="FR", sensors=fakes(), save=False)

    @tracker
    def work(x):
        time.sleep(0.02)
        return x * 2

    @tracker
    async def awork(x):
        await asyncio.sleep(0.02)
        return x + 1

    assert work(21) == 42
    first = tracker.result
    assert first is not None and first.duration_s >= 0.02
    assert asyncio.run(awork(1)) == 2
    assert tracker.result is not first and tracker.result.duration_s >= 0.02


def test_decorator_records_failed_status_and_reraises():
    tracker = wattlm.track(region="FR", sensors=fakes(), save=False)

    @tracker
    def boom():
        raise RuntimeError("user bug")

    with pytest.raises(RuntimeError, match="user bug"):
        boom()
    assert tracker.result.status == "failed"


def test_baseline_reports_net_energy():
    gpu = FakeSensor("gpu:0", power_w=100.0)
    with wattlm.track(region="FR", sensors=[gpu], baseline_s=0.1, save=False) as run:
        time.sleep(0.1)
    result = run.result
    # constant 100 W: the idle baseline is the same 100 W, so net energy is ~0
    assert result.baseline_power_w == pytest.approx(100.0, rel=0.05)
    assert result.net_energy_j == pytest.approx(0.0, abs=0.05 * result.energy_j + 1e-9)


def test_start_stop_api_and_double_start():
    tracker = wattlm.track(region="FR", sensors=fakes(), save=False)
    tracker.start()
    with pytest.raises(wattlm.WattlmError):
        tracker.start()
    sample = tracker.read()
    assert len(sample.energy_j) == 2
    record = tracker.stop()
    assert tracker.stop() is record


def test_short_run_is_flagged_against_counter_update_period():
    slow = FakeSensor("gpu:0", update_period_s=10.0)
    with wattlm.track(region="FR", sensors=[slow], save=False) as run:
        pass
    assert any("W401" in w for w in run.result.warnings)


def test_intensity_series_is_energy_weighted_over_the_run(tmp_path):
    from datetime import datetime, timedelta, timezone

    hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    rows = ["timestamp,g_per_kwh"]
    for offset, value in ((-1, 900.0), (0, 123.0), (1, 123.0), (2, 900.0)):
        rows.append(f"{(hour + timedelta(hours=offset)).isoformat()},{value}")
    series = tmp_path / "series.csv"
    series.write_text("\n".join(rows) + "\n")
    with wattlm.track(region="FR", sensors=fakes(), interval_s=0.02, save=False,
                      intensity_series=str(series)) as run:
        time.sleep(0.1)
    # the run lies within hours 0..1, both at 123 g/kWh
    assert run.result.intensity_g_per_kwh == pytest.approx(123.0)
    assert run.result.emissions_g == pytest.approx(run.result.energy_kwh * run.result.pue * 123.0)


def test_bad_intensity_series_is_rejected_before_work(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time,value\n")
    with pytest.raises(wattlm.WattlmError):
        wattlm.track(region="FR", sensors=fakes(), intensity_series=str(bad)).start()


def test_baseline_does_not_close_the_sensors_the_run_reads():
    from wattlm.errors import SensorError

    class Strict(FakeSensor):
        def read_j(self):
            if self.closed:
                raise SensorError("read after close (an NVML session shut down)")
            return super().read_j()

    sensor = Strict("gpu:0", power_w=100.0)
    with wattlm.track(region="FR", sensors=[sensor], baseline_s=0.05, save=False) as run:
        time.sleep(0.05)
    assert not run.result.degraded
    assert sensor.closed  # closed once, at the end of the run


def test_phase_left_open_at_stop_counts_the_probed_sensors(tmp_path):
    # sensors probed on this machine (no RAPL under an empty powercap root: modelled CPU and
    # memory), not given: the phase still open at stop() must carry every device's energy
    with wattlm.track(region="FR", save=False, interval_s=0.02,
                      powercap_root=str(tmp_path)) as run:
        run.begin_phase("left-open")
        time.sleep(0.1)
    result = run.result
    (phase,) = result.phases
    assert set(phase.device_energy_j) == {d.name for d in result.devices} != set()
    assert phase.energy_j == pytest.approx(sum(phase.device_energy_j.values()), rel=1e-12)
    assert phase.energy_j <= result.energy_j


def test_stop_or_read_before_start_say_how_to_start():
    tracker = wattlm.track(region="FR", sensors=fakes(), save=False)
    with pytest.raises(wattlm.WattlmError, match=r"never started: call start\(\) first"):
        tracker.stop()
    with pytest.raises(wattlm.WattlmError, match=r"between start\(\) and stop\(\)"):
        tracker.read()


def test_a_stopped_tracker_can_start_again_as_a_new_run():
    tracker = wattlm.track(region="FR", sensors=fakes())
    tracker.start()
    with tracker.phase("one"):
        pass
    first = tracker.stop()
    tracker.start()
    second = tracker.stop()
    assert second.id != first.id
    assert [p.name for p in first.phases] == ["one"] and second.phases == []


# --- never blocks the job, safe under threads, tasks and fork (issue 10) ---------------------


def test_with_block_exits_in_time_when_a_sensor_blocks_forever(tmp_path):
    stuck = FakeSensor("gpu:0", power_w=300.0, block_after_reads=1)
    db = str(tmp_path / "runs.db")
    try:
        with wattlm.track(region="FR", sensors=[stuck, FakeSensor("cpu", kind="cpu")],
                          interval_s=0.05, db=db) as run:
            time.sleep(0.3)
            t0 = time.monotonic()
        took = time.monotonic() - t0
    finally:
        stuck.release()
    assert took < 3.0         # bound 1 s + one interval (stop_bound_s); the old one never returned
    result = run.result
    assert result.degraded and any(w.startswith("W110") for w in result.warnings)
    assert [d.degraded for d in result.devices] == [True, False]
    assert run.wait_saved(10.0)
    store = wattlm.open_store(db)
    try:
        assert store.get_run(result.id).status == "finished"
    finally:
        store.close()


def _lock_store(path: str, hold_s: float) -> threading.Thread:
    """Hold an exclusive SQLite lock on ``path`` from another connection for ``hold_s``."""
    import sqlite3

    locked = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(hold_s)
        conn.execute("ROLLBACK")
        conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert locked.wait(10.0)
    return thread


def test_a_locked_store_delays_saving_never_measuring(tmp_path):
    db = str(tmp_path / "runs.db")
    gpu = FakeSensor("gpu:0", power_w=100.0)
    with wattlm.track(region="FR", sensors=[gpu], interval_s=0.05, flush_s=0.2, db=db) as run:
        holder = _lock_store(db, hold_s=6.0)       # flushes now wait for the lock
        time.sleep(2.0)                            # the user's 2 s of work
        t0 = time.monotonic()
    took = time.monotonic() - t0
    result = run.result
    # the old sampler flushed on its own thread: stop() joined it for 5 s, then took the final
    # reading, and this 2 s block was recorded as ~7 s with 3.5 times the energy
    assert took < 3.0
    assert result.duration_s == pytest.approx(2.0, abs=0.5)
    assert result.energy_j == pytest.approx(100.0 * result.duration_s, rel=0.05)
    assert result.extra["sensor_readings"] >= 15   # ~40 readings at 50 ms while locked
    assert any(w.startswith("W313") for w in result.warnings)
    holder.join(15.0)
    assert run.wait_saved(30.0)
    store = wattlm.open_store(db)
    try:
        stored = store.get_run(result.id)
        _, samples = store.samples(result.id)
    finally:
        store.close()
    assert stored.status == "finished"
    assert stored.energy_j == pytest.approx(result.energy_j)
    assert samples[-1].energy_j[0] == pytest.approx(result.energy_j)


def test_first_samples_reach_the_store_within_a_second(tmp_path):
    db = str(tmp_path / "runs.db")
    with wattlm.track(region="FR", sensors=fakes(), interval_s=0.1, db=db) as run:
        time.sleep(1.8)                            # default flush period 10 s
        store = wattlm.open_store(db)
        try:
            _, samples = store.samples(run.run_id)
        finally:
            store.close()
    # a run killed now would keep these; the old sampler's first flush came only at 10 s
    assert len(samples) >= 3
    assert samples[-1].energy_j[0] > 0


def test_fork_inside_track_leaves_the_parents_run_alone(tmp_path):
    import os

    db = str(tmp_path / "runs.db")
    read_fd, write_fd = os.pipe()
    with wattlm.track(region="FR", sensors=fakes(), interval_s=0.02, flush_s=0.05,
                      db=db) as run:
        time.sleep(0.1)
        pid = os.fork()
        if pid == 0:                               # the child: stop as `with` exit would
            try:
                with run.phase("in-child"):
                    pass
                record = run.stop()
                payload = {"status": record.status, "id": record.id,
                           "active": active_tracker() is not None,
                           "warnings": record.warnings}
            except BaseException as e:  # noqa: BLE001 - report to the parent
                payload = {"error": repr(e)}
            os.write(write_fd, json.dumps(payload).encode())
            os._exit(0)
        os.close(write_fd)
        deadline = time.monotonic() + 20.0
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:        # the old child could hang on a held lock
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                pytest.fail("the forked child did not finish")
            time.sleep(0.02)
        with os.fdopen(read_fd, "rb") as handle:
            child = json.loads(handle.read().decode() or "{}")
        store = wattlm.open_store(db)
        try:
            during = store.get_run(run.run_id)
        finally:
            store.close()
        time.sleep(0.1)
    assert "error" not in child, child.get("error")
    assert child["status"] == "forked" and child["id"] is None and not child["active"]
    assert child["warnings"][0].startswith("W412")
    assert during.status == "running"              # the child did not finish the parent's run
    result = run.result
    assert result.status == "finished" and result.duration_s > 0.2
    assert "in-child" not in {p.name for p in result.phases}
    assert run.wait_saved(10.0)
    store = wattlm.open_store(db)
    try:
        assert store.get_run(run.run_id).duration_s == pytest.approx(result.duration_s)
    finally:
        store.close()


def test_two_threads_have_their_own_phases_on_one_tracker():
    both_open = threading.Barrier(2, timeout=10)

    def work(run, name):
        with run.phase(name):
            both_open.wait()                       # both phases open at once
            with run.phase("inner"):
                both_open.wait()
                time.sleep(0.05)

    with wattlm.track(region="FR", sensors=fakes(), save=False, interval_s=0.02) as run:
        threads = [threading.Thread(target=work, args=(run, n)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        seen_elsewhere: list[object] = []
        probe = threading.Thread(target=lambda: seen_elsewhere.append(active_tracker()))
        probe.start()
        probe.join(10)
    names = sorted(p.name for p in run.result.phases)
    assert names == ["a", "a/inner", "b", "b/inner"]   # the old code nested "b" into "a"
    assert seen_elsewhere == [None]                # active_tracker() is per thread


def test_asyncio_tasks_have_their_own_phases():
    async def step(run, name):
        assert active_tracker() is run             # a task sees its creator's tracker
        with run.phase(name):
            await asyncio.sleep(0.05)              # the other task runs meanwhile
            with run.phase("decode"):
                await asyncio.sleep(0.05)

    async def main(run):
        await asyncio.gather(step(run, "request-1"), step(run, "request-2"))

    with wattlm.track(region="FR", sensors=fakes(), save=False, interval_s=0.02) as run:
        asyncio.run(main(run))
    names = sorted(p.name for p in run.result.phases)
    assert names == ["request-1", "request-1/decode", "request-2", "request-2/decode"]


def test_many_phases_are_aggregated_with_bounded_memory():
    from wattlm.tracking.phases import MAX_PHASE_NAMES, MAX_PHASE_RECORDS, OTHER_PHASES

    n = 5000
    counter = FakeSensor("gpu:0", readings=[float(i) for i in range(2 * n + 10)])
    with wattlm.track(region="FR", sensors=[counter], save=False, interval_s=60) as run:
        for i in range(n):
            with run.phase(f"step-{i % 3000}"):    # 3000 distinct names, 5000 phases
                pass
    phases = run.result.phases
    assert len(phases) <= MAX_PHASE_RECORDS + MAX_PHASE_NAMES + 1
    # every read adds exactly 1 J and each phase spans one read: all 5000 J are kept
    assert sum(p.energy_j for p in phases) == pytest.approx(float(n))
    assert sum(1 for p in phases if p.name == OTHER_PHASES) == 1
    assert len([w for w in run.result.warnings if w.startswith("W410")]) == 1
    assert len([w for w in run.result.warnings if w.startswith("W401")]) <= 1
