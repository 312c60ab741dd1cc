import asyncio
import json
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
