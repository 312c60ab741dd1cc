"""Job detection, validation, the who-measures-what rule and the merge, in one process."""

from __future__ import annotations

import pytest

import wattlm
from wattlm.errors import DistributedError
from wattlm.records import DeviceEnergy, PhaseRecord, RunRecord
from wattlm.sensors.fake import FakeSensor
from wattlm.tracking.distributed import (
    JobInfo,
    JobSession,
    detect_job,
    detect_launcher,
    merge_summaries,
    select_gpus,
    summarize,
)
from wattlm.units import Provenance

TORCHRUN = {"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4",
            "GROUP_RANK": "1", "TORCHELASTIC_RUN_ID": "abc"}


def test_no_job_without_variables_or_process_group() -> None:
    assert detect_job(environ={}) is None
    assert detect_job(environ={"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}) is None


def test_torchrun_variables_describe_the_job() -> None:
    job = detect_job(environ=TORCHRUN)
    assert job is not None
    assert (job.rank, job.world_size, job.local_rank, job.local_world_size) == (5, 8, 1, 4)
    assert job.node == "1" and job.launcher == "torchrun" and not job.initialized


def test_node_is_the_host_name_without_a_node_rank() -> None:
    job = detect_job(environ={"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    assert job is not None and job.node == job.host != ""


@pytest.mark.parametrize(("environ", "message"), [
    ({"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, "RANK=2 is not a rank"),
    ({"RANK": "1", "WORLD_SIZE": "2"}, "LOCAL_RANK is missing"),
    ({"RANK": "one", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, "RANK='one' is not an integer"),
    ({"RANK": "0"}, "WORLD_SIZE is not"),
    ({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "2", "LOCAL_WORLD_SIZE": "2"},
     "LOCAL_RANK=2 is not below"),
])
def test_inconsistent_variables_raise_before_work(environ: dict[str, str], message: str) -> None:
    with pytest.raises(DistributedError, match=message):
        detect_job(environ=environ)


def test_inside_a_job_bad_variables_warn_and_measure_alone() -> None:
    with pytest.warns(UserWarning, match="W501: RANK=2 is not a rank"):
        job = detect_job(environ={"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0"},
                         strict=False)
    assert job is None


def test_forced_without_a_job_is_an_error_and_false_turns_it_off() -> None:
    with pytest.raises(DistributedError, match="not initialised"):
        detect_job(True, environ={})
    assert detect_job(False, environ={"RANK": "9", "WORLD_SIZE": "2"}) is None


def test_track_rejects_bad_launcher_variables_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    sensor = FakeSensor()
    with pytest.raises(DistributedError, match="RANK=3"):
        with wattlm.track(sensors=[sensor], region="FR"):
            raise AssertionError("the block must not run")
    with wattlm.track(sensors=[sensor], region="FR", distributed=False) as run:
        pass
    assert run.result is not None and run.result.distributed is None


@pytest.mark.parametrize(("launcher", "environ"), [
    ("torchrun", {"TORCHELASTIC_RUN_ID": "x"}),
    ("accelerate", {"TORCHELASTIC_RUN_ID": "x", "ACCELERATE_MIXED_PRECISION": "bf16"}),
    ("deepspeed", {"CROSS_RANK": "0", "CROSS_SIZE": "2", "LOCAL_SIZE": "8"}),
    ("unknown", {}),
])
def test_launcher_detection(launcher: str, environ: dict[str, str]) -> None:
    assert detect_launcher(environ) == launcher


def _gpus(n: int) -> list[FakeSensor]:
    return [FakeSensor(f"gpu:{i}", "gpu") for i in range(n)]


def test_gpu_rule() -> None:
    eight = _gpus(8)
    assert select_gpus(eight, 3, 8) == [eight[3]]            # all visible: cuda:LOCAL_RANK
    assert select_gpus(eight, 1, 4) == eight[2:4]            # two GPUs per rank
    one = _gpus(1)
    assert select_gpus(one, 5, 8) == one                     # own CUDA_VISIBLE_DEVICES
    assert select_gpus(eight, 3, None) == [eight[3]]
    assert select_gpus(_gpus(3), 4, None) == []


def _job(rank: int, local_rank: int, node: str = "0") -> JobInfo:
    return JobInfo(rank=rank, world_size=4, local_rank=local_rank, local_world_size=2,
                   node=node, host="h", launcher="torchrun", initialized=False)


def test_assign_keeps_own_gpu_and_shared_sensors_only_on_lowest_local_rank() -> None:
    for local_rank, expect in ((0, ["gpu:0", "rapl:package-0"]), (1, ["gpu:1"])):
        session = JobSession(_job(2 + local_rank, local_rank, node="1"), timeout_s=1.0,
                             save_requested=False)
        sensors = [*_gpus(2), FakeSensor("rapl:package-0", "cpu")]
        kept = session.assign(sensors)
        assert [s.info.name for s in kept] == expect
        assert all(s.info.node == "1" and s.info.rank == 2 + local_rank for s in kept)
        assert all(s.closed for s in sensors if s not in kept)
        assert session.saves is False


def _record(devices: list[DeviceEnergy], phase_j: float) -> RunRecord:
    total = sum(d.energy_j for d in devices)
    return RunRecord(id=1, project="p", started_at="t", duration_s=10.0, energy_j=total,
                     devices=devices, phases=[PhaseRecord("train", 1.0, 5.0, phase_j,
                                                          {devices[0].name: phase_j})],
                     provenance=Provenance.MEASURED)


def _summary(rank: int, local_rank: int, node: str, devices: list[DeviceEnergy],
             phase_j: float) -> dict[str, object]:
    job = JobInfo(rank=rank, world_size=3, local_rank=local_rank, local_world_size=None,
                  node=node, host=f"host{node}", launcher="torchrun", initialized=True)
    return summarize(_record(devices, phase_j), job, shared=local_rank == 0)


def test_merge_sums_ranks_per_node_and_reports_missing() -> None:
    gpu = Provenance.MEASURED
    s0 = _summary(0, 0, "0", [DeviceEnergy("gpu:0", "gpu", 100.0, gpu),
                              DeviceEnergy("rapl:package-0", "cpu", 1000.0, Provenance.MEASURED)],
                  60.0)
    s2 = _summary(2, 0, "1", [DeviceEnergy("gpu:0", "gpu", 200.0, gpu),
                              DeviceEnergy("cpu:model", "cpu", 300.0, Provenance.MODELLED)], 80.0)
    base = _record([DeviceEnergy("gpu:0", "gpu", 100.0, gpu)], 60.0)
    with pytest.warns(UserWarning, match="W502: rank 1 of 3 is missing") as caught:
        merged = merge_summaries(base, {0: s0, 2: s2}, world_size=3, launcher="torchrun",
                                 shared_by={"0": 0, "1": 2}, missing_reasons={1: "timed out"})
    assert len(caught) == 1
    assert merged.energy_j == pytest.approx(1600.0)          # 100 + 1000 + 200 + 300
    assert merged.mean_power_w == pytest.approx(160.0)       # 1600 J / 10 s
    info = merged.distributed
    assert info is not None
    assert info["missing_ranks"] == [1]
    assert info["nodes"]["0"]["energy_j"] == pytest.approx(1100.0)
    assert info["nodes"]["1"] == {"energy_j": pytest.approx(500.0), "ranks": [2],
                                  "host": "host1", "measured_shared_by": 2}
    assert merged.provenance is Provenance.MODELLED and merged.degraded
    (phase,) = merged.phases
    assert phase.energy_j == pytest.approx(140.0)
    assert set(phase.device_energy_j) == {"gpu:0@0", "gpu:0@2"}
    assert any("timed out" in w for w in merged.warnings)


def test_merge_warns_when_a_nodes_measurer_is_missing() -> None:
    s1 = _summary(1, 1, "0", [DeviceEnergy("gpu:1", "gpu", 50.0, Provenance.MEASURED)], 10.0)
    base = _record([DeviceEnergy("gpu:1", "gpu", 50.0, Provenance.MEASURED)], 10.0)
    with pytest.warns(UserWarning) as caught:
        merged = merge_summaries(base, {1: s1}, world_size=2, launcher="unknown",
                                 shared_by={"0": 0})
    codes = sorted(str(w.message)[:4] for w in caught)
    assert codes == ["W502", "W503"]
    assert merged.energy_j == pytest.approx(50.0)


def test_env_job_without_process_group_measures_own_share(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # rank 1 of a job whose process group is not (yet) initialised: measures its GPU only,
    # stores nothing, and says at stop that nothing could be gathered
    for key, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1",
                       "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(key, value)
    sensors = [FakeSensor("gpu:0", "gpu", readings=[10.0]),
               FakeSensor("gpu:1", "gpu", readings=[20.0]),
               FakeSensor("rapl:package-0", "cpu", readings=[99.0])]
    with pytest.warns(UserWarning, match="W506"):
        with wattlm.track(sensors=sensors, region="FR", interval_s=60) as run:
            assert run.run_id is None                     # rank 1 does not store
    record = run.result
    assert record is not None
    assert [d.name for d in record.devices] == ["gpu:1"] and record.energy_j == 20.0
    assert record.distributed == {"world_size": 2, "launcher": "unknown", "rank": 1,
                                  "node": record.devices[0].node, "measured_shared": False,
                                  "sent_to_rank0": False}


@pytest.mark.parametrize(("variable", "launcher"), [("NODE_RANK", "unknown"),
                                                    ("CROSS_RANK", "deepspeed")])
def test_other_launchers_node_rank_names_the_node(variable: str, launcher: str) -> None:
    job = detect_job(environ={"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", variable: "1"})
    assert job is not None and (job.node, job.launcher) == ("1", launcher)


def test_only_rank0_stores_unless_a_rank_is_asked_to() -> None:
    from wattlm.config import resolve_settings

    rank1 = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}
    for settings, saves in ((resolve_settings(), False), (resolve_settings(save=True), True)):
        session = JobSession.begin(None, settings, environ=rank1)
        assert session is not None and session.saves is saves
    rank0 = JobSession.begin(None, resolve_settings(), environ={**rank1, "RANK": "0",
                                                                "LOCAL_RANK": "0"})
    assert rank0 is not None and rank0.saves


def test_gloo_error_text_loses_its_source_location() -> None:
    from wattlm.tracking.gather import short_error as _short

    error = RuntimeError("[/x/gloo/transport/tcp/pair.cc:553] Connection closed by peer\nmore")
    assert _short(error) == "Connection closed by peer"


def _callback_run(distributed: bool | None, sensors: list[FakeSensor]) -> RunRecord | None:
    from types import SimpleNamespace

    from wattlm.integrations.transformers import WattlmCallback

    callback = WattlmCallback(sensors=sensors, region="FR", model_card=False, save=False,
                              interval_s=60, distributed=distributed)
    args, control = SimpleNamespace(output_dir="."), SimpleNamespace()
    state = SimpleNamespace(max_steps=1, global_step=1, log_history=[],
                            is_world_process_zero=False)
    callback.on_train_begin(args, state, control)
    callback.on_train_end(args, state, control)
    return callback.result


def test_callback_distributed_false_measures_this_process_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("transformers")
    for key, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}.items():
        monkeypatch.setenv(key, value)
    sensors = [FakeSensor("gpu:0", "gpu", readings=[10.0]),
               FakeSensor("gpu:1", "gpu", readings=[20.0])]
    with pytest.warns(UserWarning, match="W451"):  # max_steps=1: too short to project
        record = _callback_run(False, sensors)
    assert record is not None and record.distributed is None
    assert record.energy_j == pytest.approx(30.0)  # both GPUs: no job, no selection
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key)
    with pytest.raises(DistributedError, match="not initialised"):  # in the constructor
        _callback_run(True, sensors)
