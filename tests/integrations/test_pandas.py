"""pandas frames of the store: totals of FakeSensor runs and hand-built samples, checked by hand."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

import wattlm
from wattlm.errors import InvalidInputError, MissingExtraError, UnknownNameError
from wattlm.records import DeviceInfo, Sample
from wattlm.sensors.fake import FakeSensor
from wattlm.store import open_store
from wattlm.units import Provenance

pd = pytest.importorskip("pandas")

from wattlm.integrations.pandas import (  # noqa: E402 - after the skip
    RUN_COLUMNS,
    device_labels,
    runs_frame,
    samples_frame,
)


def _two_runs(db: str) -> tuple[int, int]:
    """Run a: GPU 1 kWh + CPU 0.5 kWh, PUE 1.5, 100 g/kWh -> 225 g.

    Run b: GPU 2 kWh, PUE 1.0, 100 g/kWh -> 200 g.
    """
    with wattlm.track(sensors=[FakeSensor("gpu0", readings=[3.6e6]),
                               FakeSensor("cpu", "cpu", readings=[1.8e6])],
                      db=db, region="FR", project="a", pue=1.5, intensity_g_per_kwh=100.0,
                      interval_s=0.02) as first:
        time.sleep(0.05)
    with wattlm.track(sensors=[FakeSensor("gpu0", readings=[7.2e6])], db=db, region="FR",
                      project="b", pue=1.0, intensity_g_per_kwh=100.0,
                      interval_s=0.02) as second:
        time.sleep(0.05)
    assert first.result is not None and second.result is not None
    assert first.result.id is not None and second.result.id is not None
    return first.result.id, second.result.id


def test_runs_frame_has_one_row_per_run_with_the_hand_computed_totals(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    a, b = _two_runs(db)
    frame = runs_frame(db)
    assert list(frame.index) == [b, a]  # newest first
    assert frame.index.name == "id"
    assert tuple(frame.columns) == RUN_COLUMNS
    assert frame.loc[a, "energy_j"] == pytest.approx(5.4e6)
    assert frame.loc[a, "energy_kwh"] == pytest.approx(1.5)
    assert frame.loc[a, "emissions_g"] == pytest.approx(225.0)
    assert frame.loc[a, "emissions_kg"] == pytest.approx(0.225)
    assert frame.loc[a, "n_devices"] == 2
    assert frame.loc[b, "energy_kwh"] == pytest.approx(2.0)
    assert frame.loc[b, "emissions_kg"] == pytest.approx(0.2)
    assert frame["energy_kwh"].sum() == pytest.approx(3.5)
    assert frame.loc[a, "provenance"] == "measured"
    assert frame.loc[a, "pue"] == pytest.approx(1.5)
    assert str(frame["started_at"].dt.tz) == "UTC"
    assert frame["started_at"].notna().all()
    assert frame.loc[a, "mean_power_w"] == pytest.approx(5.4e6 / frame.loc[a, "duration_s"])


def test_runs_frame_filters_limits_and_accepts_an_open_store(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    a, b = _two_runs(db)
    assert list(runs_frame(db, project="a").index) == [a]
    assert list(runs_frame(db, limit=1).index) == [b]
    assert runs_frame(db, project="nobody").empty
    with open_store(db) as store:
        assert list(runs_frame(store).index) == [b, a]
        assert store.list_runs(limit=1)  # still open
    with pytest.raises(InvalidInputError, match="limit must be a positive whole number"):
        runs_frame(db, limit=0)


def test_runs_frame_uses_the_configured_store(tmp_path: Path) -> None:
    _two_runs(str(tmp_path / "runs.db"))  # WATTLM_DB points here (conftest)
    assert len(runs_frame()) == 2


def test_samples_frame_of_a_tracked_run_ends_at_the_device_totals(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    a, _ = _two_runs(db)
    frame = samples_frame(a, store=db)
    assert list(frame.columns.names) == ["quantity", "device"]
    assert list(frame["energy_j"].columns) == ["gpu0", "cpu"]
    assert frame["energy_j"].iloc[-1].tolist() == pytest.approx([3.6e6, 1.8e6])
    assert isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "UTC"
    # power x interval sums back to the energy between the first and last sample
    dt_s = frame.index.to_series().diff().dt.total_seconds()
    for device in ("gpu0", "cpu"):
        energy = frame["energy_j"][device]
        integrated = (frame["power_w"][device] * dt_s).iloc[1:].sum()
        # (the index holds nanosecond timestamps: ~1e-7 s rounding per interval)
        assert integrated == pytest.approx(energy.iloc[-1] - energy.iloc[0], rel=1e-6)


def test_samples_frame_power_is_energy_over_time_between_samples(tmp_path: Path) -> None:
    db = str(tmp_path / "hand.db")
    t0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z
    with open_store(db) as store:
        run_id = store.create_run(
            project="hand", started_at="2024-05-01T12:00:00+00:00",
            devices=[DeviceInfo("gpu0", "gpu", Provenance.MEASURED),
                     DeviceInfo("gpu0", "gpu", Provenance.MEASURED)])
        store.add_samples(run_id, [Sample(t0, (0.0, 0.0)), Sample(t0 + 2, (200.0, 50.0)),
                                   Sample(t0 + 5, (500.0, 125.0))])
    frame = samples_frame(run_id, store=db)
    assert list(frame["energy_j"].columns) == ["gpu0", "gpu0#2"]  # duplicate names kept apart
    assert frame["energy_j"]["gpu0"].tolist() == [0.0, 200.0, 500.0]
    power = frame["power_w"]
    assert pd.isna(power["gpu0"].iloc[0])
    assert power["gpu0"].iloc[1:].tolist() == pytest.approx([100.0, 100.0])  # 200/2, 300/3
    assert power["gpu0#2"].iloc[1:].tolist() == pytest.approx([25.0, 25.0])  # 50/2, 75/3
    assert frame.index[0] == pd.Timestamp("2024-05-01T12:00:00Z")
    assert (frame.index[-1] - frame.index[0]).total_seconds() == pytest.approx(5.0)


def test_samples_frame_unknown_run(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError):
        samples_frame(42, store=str(tmp_path / "empty.db"))
    with pytest.raises(InvalidInputError, match="run_id must be a whole number"):
        samples_frame("1", store=str(tmp_path / "empty.db"))  # type: ignore[arg-type]


def test_device_labels_in_multi_node_runs() -> None:
    devices = [DeviceInfo("gpu0", "gpu", Provenance.MEASURED, node="n1"),
               DeviceInfo("gpu0", "gpu", Provenance.MEASURED, node="n2"),
               DeviceInfo("cpu", "cpu", Provenance.MODELLED, node="n1")]
    assert device_labels(devices) == ["n1/gpu0", "n2/gpu0", "n1/cpu"]
    single = [DeviceInfo("gpu0", "gpu", Provenance.MEASURED, node="n1")]
    assert device_labels(single) == ["gpu0"]


def test_missing_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'wattlm\[pandas\]'"):
        runs_frame(str(tmp_path / "x.db"))
    with pytest.raises(MissingExtraError, match="pandas"):
        samples_frame(1, store=str(tmp_path / "x.db"))


def test_samples_frame_merges_reads_closer_than_half_an_interval(tmp_path: Path) -> None:
    """A phase boundary read 0.3 ms after a sample made a 333 W spike on a 100 W device."""
    db = str(tmp_path / "spike.db")
    t0 = 1_714_564_800.0
    with open_store(db) as store:
        run_id = store.create_run(project="spike", started_at="2024-05-01T12:00:00+00:00",
                                  devices=[DeviceInfo("cpu", "cpu", Provenance.MODELLED)])
        # 100 W, but the counter ticks in 0.1 J steps: 0.1 J between reads 0.3 ms apart
        store.add_samples(run_id, [Sample(t0, (0.0,)), Sample(t0 + 1.0, (100.0,)),
                                   Sample(t0 + 1.0003, (100.1,)), Sample(t0 + 2.0, (200.0,)),
                                   Sample(t0 + 3.0, (300.0,))])
    power = samples_frame(run_id, store=db)["power_w"]["cpu"]
    assert len(power) == 4  # the read 0.3 ms later is merged into its neighbours
    assert power.iloc[1:].tolist() == pytest.approx([100.0, 100.0, 100.0], rel=1e-3)


def test_a_running_run_has_the_emissions_measured_so_far_and_unknown_is_nan(
        tmp_path: Path) -> None:
    from wattlm.carbon.intensity import resolve_region

    db = str(tmp_path / "running.db")
    t0 = 1_714_564_800.0
    with open_store(db) as store:
        running = store.create_run(project="live", started_at="2024-05-01T12:00:00+00:00",
                                   devices=[DeviceInfo("gpu0", "gpu", Provenance.MEASURED)],
                                   region="FR")
        store.add_samples(running, [Sample(t0, (0.0,)), Sample(t0 + 10, (3.6e6,))])
    frame = runs_frame(db)
    row = frame.loc[running]
    assert row["status"] in ("running", "interrupted")
    # 1 kWh measured so far, at France's annual intensity and PUE 1.0: not 0 g
    assert row["emissions_g"] == pytest.approx(resolve_region("FR").intensity_g_per_kwh,
                                               rel=1e-9)
    from wattlm.integrations.pandas import _row
    from wattlm.records import RunRecord

    failed = RunRecord(id=9, project="x", started_at="", duration_s=1.0, energy_j=1.0,
                       region="FR", warnings=["W210: could not account emissions (bug)"])
    assert pd.isna(_row(failed)["emissions_g"])  # never 0 for "unknown"
    lost = RunRecord(id=10, project="x", started_at="", duration_s=1.0, energy_j=1.0,
                     region="not-a-region", status="interrupted")
    assert pd.isna(_row(lost)["emissions_g"])


def test_devices_frame_has_rank_and_node(tmp_path: Path) -> None:
    from wattlm.integrations.pandas import devices_frame

    db = str(tmp_path / "ranks.db")
    with wattlm.track(sensors=[FakeSensor("gpu0", readings=[3.6e6])], db=db, region="FR",
                      interval_s=0.02, distributed=False) as run:
        time.sleep(0.05)
    assert run.result is not None and run.result.id is not None
    frame = devices_frame(run.result.id, store=db)
    assert list(frame["device"]) == ["gpu0"]
    assert frame["energy_kwh"].tolist() == pytest.approx([1.0])
    assert {"node", "rank"} <= set(frame.columns)
