"""WattlmCallback on a real Trainer: a tiny config-built BERT on CPU, a few dozen steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from transformers import Trainer, TrainerCallback, TrainingArguments  # noqa: E402

import wattlm  # noqa: E402
from wattlm.errors import InvalidInputError, UnknownNameError  # noqa: E402
from wattlm.integrations.model_card import read_front_matter  # noqa: E402
from wattlm.integrations.transformers import WattlmCallback  # noqa: E402
from wattlm.records import DeviceInfo  # noqa: E402
from wattlm.sensors.base import Sensor  # noqa: E402
from wattlm.sensors.fake import FakeSensor  # noqa: E402
from wattlm.store import open_store  # noqa: E402
from wattlm.units import Provenance  # noqa: E402

KEYS = ("energy_kwh", "emissions_kg", "power_w")
PROJECTED = ("projected_energy_kwh", "projected_energy_kwh_low", "projected_energy_kwh_high",
             "projected_emissions_kg", "projected_emissions_kg_low",
             "projected_emissions_kg_high", "projected_duration_s", "projected_duration_s_low",
             "projected_duration_s_high")


class Recorder(TrainerCallback):  # type: ignore[misc]
    """A stand-in for a reporting integration (TensorBoard, W&B): keeps what it was given."""

    def __init__(self) -> None:
        self.logs: list[dict[str, Any]] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        self.logs.append(dict(logs or {}))


def make_args(out: Path, max_steps: int = 40, **kwargs: Any) -> TrainingArguments:
    base: dict[str, Any] = dict(
        output_dir=str(out), max_steps=max_steps, per_device_train_batch_size=8,
        per_device_eval_batch_size=16, logging_steps=5, save_strategy="no", report_to=[],
        use_cpu=True, disable_tqdm=True, seed=0, learning_rate=1e-3)
    base.update(kwargs)
    return TrainingArguments(**base)


def test_default_sensors_logs_store_and_model_card(tmp_path: Path, model: Any,
                                                   dataset: Any) -> None:
    out = tmp_path / "out"
    callback = WattlmCallback(region="FR", project="hf-test")
    recorder = Recorder()
    trainer = Trainer(model=model, args=make_args(out, eval_strategy="steps", eval_steps=20),
                      train_dataset=dataset, eval_dataset=dataset,
                      callbacks=[recorder])
    callback.attach(trainer)  # ahead of the reporting callbacks, through the public API
    trainer.train()

    record = callback.result
    assert record is not None and record.id is not None
    logged = [h for h in trainer.state.log_history if "energy_kwh" in h]
    evals = [h for h in trainer.state.log_history if "eval_loss" in h]
    assert len(evals) == 2 and not any("energy_kwh" in h for h in evals)  # results stay results
    assert len(logged) == len(trainer.state.log_history) - 2 == 8 + 1  # train logs, summary
    energies = [h["energy_kwh"] for h in logged]
    assert all(b >= a for a, b in zip(energies, energies[1:])), energies
    assert energies[0] > 0
    emissions = [h["emissions_kg"] for h in logged]
    assert all(b >= a for a, b in zip(emissions, emissions[1:]))

    with open_store() as store:
        stored = store.get_run(record.id)
    # The summary log carries the stored totals exactly.
    assert energies[-1] == pytest.approx(stored.energy_kwh, rel=1e-12)
    assert logged[-1]["emissions_kg"] == pytest.approx(stored.emissions_kg, rel=1e-9)
    assert stored.project == "hf-test" and stored.region == "FR"
    if stored.intensity_g_per_kwh is not None:  # operational = energy x PUE x intensity
        assert stored.emissions_g == pytest.approx(
            stored.energy_kwh * stored.pue * stored.intensity_g_per_kwh, rel=1e-6)
    # Phases: the whole training, and two evaluations inside it.
    names = [p.name for p in stored.phases]
    assert names.count("train") == 1 and names.count("train/eval") == 2
    train = next(p for p in stored.phases if p.name == "train")
    evals = sum(p.energy_j for p in stored.phases if p.name == "train/eval")
    assert 0 < evals < train.energy_j <= stored.energy_j
    # A projection was logged once enough steps had run, and power is a positive figure.
    assert all(k in logged[-1] for k in PROJECTED)
    assert all(h["power_w"] >= 0 for h in logged)
    # Reporting callbacks that come before wattlm's in the list still see its keys.
    assert sum("energy_kwh" in r for r in recorder.logs) == len(recorder.logs) - 2 == 9
    # Model card: emissions in grams, the stored run's operational emissions.
    co2 = read_front_matter(out / "README.md")["co2_eq_emissions"]
    assert co2["emissions"] == pytest.approx(stored.emissions_g, rel=1e-6, abs=1e-6)
    assert co2["source"] == "wattlm" and co2["training_type"] == "fine-tuning"
    assert "FR" in co2["geographical_location"]
    assert "cpu" in co2["hardware_used"]


class StepSensor(Sensor):
    """A steady workload made exact: each optimiser step costs 4 J (odd steps) or 6 J (even).

    Wall-clock time on a shared CI machine is not steady (other jobs steal the CPU), so the
    energy is tied to the steps, which the ``Counter`` callback below counts.
    """

    def __init__(self) -> None:
        self.info = DeviceInfo(name="steps", kind="gpu", provenance=Provenance.MEASURED)
        self.steps = 0

    def read_j(self) -> float:
        return sum(4.0 if k % 2 else 6.0 for k in range(1, self.steps + 1))


class Counter(TrainerCallback):  # type: ignore[misc]
    def __init__(self, sensor: StepSensor) -> None:
        self.sensor = sensor

    def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.sensor.steps += 1


def test_projection_at_a_quarter_lands_in_its_range(tmp_path: Path, model: Any,
                                                    dataset: Any) -> None:
    sensor = StepSensor()
    callback = WattlmCallback(region="FR", sensors=[sensor], projection_fraction=0.25,
                              warmup_steps=2)
    trainer = Trainer(model=model, args=make_args(tmp_path / "out", logging_steps=10),
                      train_dataset=dataset, callbacks=[Counter(sensor), callback])
    trainer.train()
    record = callback.result
    assert record is not None
    assert record.energy_j == pytest.approx(200.0)  # 20 x 4 J + 20 x 6 J
    first = callback.projections[0]
    assert first.step == 10 and first.max_steps == 40  # 25 % of 40 steps
    # At step 10: 50 J so far; rates of steps 3..10 are 4 and 6 J (mean 5): 30 steps remain.
    assert first.energy_j.central == pytest.approx(50.0 + 5.0 * 30)
    assert first.energy_j.low == pytest.approx(50.0 + 4.0 * 30)
    assert first.energy_j.high == pytest.approx(50.0 + 6.0 * 30)
    assert first.energy_j.contains(record.energy_j)
    assert first.duration_s.low <= first.duration_s.central <= first.duration_s.high
    logged = [h for h in trainer.state.log_history if "projected_energy_kwh" in h]
    assert logged[0]["step"] == 10
    assert logged[0]["projected_energy_kwh"] == pytest.approx(200.0 / 3.6e6)
    assert logged[0]["projected_energy_kwh_low"] == pytest.approx(170.0 / 3.6e6)
    assert logged[0]["projected_energy_kwh_high"] == pytest.approx(230.0 / 3.6e6)
    # Emissions follow the same grid figures as the run's accounting.
    g_per_kwh = record.emissions_g / record.energy_kwh
    assert logged[0]["projected_emissions_kg"] == pytest.approx(
        200.0 / 3.6e6 * g_per_kwh / 1000.0, rel=1e-6)
    assert logged[0]["projected_emissions_kg_low"] == pytest.approx(
        170.0 / 3.6e6 * g_per_kwh / 1000.0, rel=1e-6)
    assert logged[0]["projected_emissions_kg_high"] == pytest.approx(
        230.0 / 3.6e6 * g_per_kwh / 1000.0, rel=1e-6)
    assert (logged[0]["projected_duration_s_low"] <= logged[0]["projected_duration_s"]
            <= logged[0]["projected_duration_s_high"])


def test_constant_power_is_logged_as_power(tmp_path: Path, model: Any, dataset: Any) -> None:
    callback = WattlmCallback(region="FR", sensors=[FakeSensor("gpu0", power_w=50.0)])
    trainer = Trainer(model=model, args=make_args(tmp_path / "out", max_steps=8,
                                                  logging_steps=4),
                      train_dataset=dataset, callbacks=[callback])
    trainer.train()
    record = callback.result
    assert record is not None
    assert record.energy_j == pytest.approx(50.0 * record.duration_s, rel=0.01)
    for entry in trainer.state.log_history[:-1]:
        assert entry["power_w"] == pytest.approx(50.0, rel=0.02)


def test_too_short_to_project_still_trains_and_measures(tmp_path: Path, model: Any,
                                                        dataset: Any) -> None:
    callback = WattlmCallback(region="FR", sensors=[FakeSensor(power_w=10.0)], warmup_steps=5)
    trainer = Trainer(model=model, args=make_args(tmp_path / "out", max_steps=6, logging_steps=2),
                      train_dataset=dataset, callbacks=[callback])
    trainer.train()
    assert callback.projection_note is not None and "max_steps=6" in callback.projection_note
    assert callback.projections == []
    logged = trainer.state.log_history
    assert all("energy_kwh" in h and "projected_energy_kwh" not in h for h in logged)
    assert callback.result is not None and callback.result.energy_j > 0


def test_joins_a_running_tracker_and_does_not_stop_it(tmp_path: Path, model: Any,
                                                      dataset: Any) -> None:
    callback = WattlmCallback(region="FR")
    with wattlm.track(region="FR", sensors=[FakeSensor(power_w=20.0)]) as run:
        trainer = Trainer(model=model, args=make_args(tmp_path / "out", max_steps=10),
                          train_dataset=dataset, callbacks=[callback])
        trainer.train()
        assert run.running
    assert callback.result is None  # the outer tracker owns the run
    outer = run.result
    assert outer is not None
    train = next(p for p in outer.phases if p.name == "train")
    logged = [h["energy_kwh"] for h in trainer.state.log_history]
    assert logged[-1] * 3.6e6 == pytest.approx(train.energy_j, rel=0.05)
    assert logged[-1] * 3.6e6 <= outer.energy_j


def test_registered_twice_counts_once(tmp_path: Path, model: Any, dataset: Any) -> None:
    callback = WattlmCallback(region="FR", sensors=[FakeSensor(power_w=10.0)])
    trainer = Trainer(model=model, args=make_args(tmp_path / "out", max_steps=20),
                      train_dataset=dataset, callbacks=[callback, callback])
    trainer.train()
    assert callback.result is not None
    steps = [p.step for p in callback.projections]
    assert steps == sorted(set(steps))  # one projection per step, not two
    with open_store() as store:
        assert len(store.list_runs()) == 1


def test_bad_arguments_fail_before_training() -> None:
    with pytest.raises(UnknownNameError):
        WattlmCallback(region="Atlantis")
    with pytest.raises(InvalidInputError):
        WattlmCallback(projection_fraction=0.0)
    with pytest.raises(InvalidInputError, match="fine-tuning"):
        WattlmCallback(training_type="finetune")


def test_energy_shows_in_the_progress_bar(tmp_path: Path, model: Any, dataset: Any) -> None:
    from transformers.trainer_callback import ProgressCallback

    seen: list[str] = []

    class Peek(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            bar = next(c for c in trainer.callback_handler.callbacks
                       if isinstance(c, ProgressCallback)).training_bar
            if bar is not None:
                seen.append(str(bar.postfix))

    callback = WattlmCallback(region="FR", sensors=[FakeSensor(power_w=36.0)], warmup_steps=0)
    trainer = Trainer(model=model, args=make_args(tmp_path / "out", max_steps=12,
                                                  logging_steps=4, disable_tqdm=False),
                      train_dataset=dataset)
    callback.attach(trainer)
    trainer.add_callback(Peek())
    trainer.train()
    assert len(seen) >= 3
    assert all("energy=" in p and "power=36.0 W" in p for p in seen), seen
    assert "total~=" in seen[-1]


def test_a_store_that_cannot_open_never_fails_training(tmp_path: Path, model: Any,
                                                       dataset: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    callback = WattlmCallback(region="FR", db=str(blocker / "runs.db"),
                              sensors=[FakeSensor(power_w=10.0)])
    trainer = Trainer(model=model, args=make_args(tmp_path / "out", max_steps=4, logging_steps=2),
                      train_dataset=dataset, callbacks=[callback])
    trainer.train()
    assert trainer.state.global_step == 4
    assert callback.result is None and callback.not_measuring is not None
    assert str(blocker) in callback.not_measuring
    assert all("energy_kwh" not in h for h in trainer.state.log_history)


def test_eval_phase_covers_the_whole_evaluation(tmp_path: Path, model: Any, dataset: Any) -> None:
    # One evaluation batch: a phase opened at the first prediction step would miss all of it.
    from torch.utils.data import Subset

    callback = WattlmCallback(region="FR", sensors=[FakeSensor("gpu0", power_w=50.0)])
    trainer = Trainer(model=model, args=make_args(tmp_path / "out", max_steps=4, logging_steps=4,
                                                  eval_strategy="steps", eval_steps=2),
                      train_dataset=dataset, eval_dataset=Subset(dataset, range(16)),
                      callbacks=[callback])
    trainer.train()
    record = callback.result
    assert record is not None
    runtimes = [h["eval_runtime"] for h in trainer.state.log_history if "eval_runtime" in h]
    evals = [p for p in record.phases if p.name == "train/eval"]
    assert len(evals) == len(runtimes) == 2
    for phase, runtime_s in zip(evals, runtimes):
        assert phase.duration_s >= runtime_s  # opened before the loop, closed after it
        assert phase.energy_j == pytest.approx(50.0 * phase.duration_s, rel=0.05, abs=0.05)


def test_one_callback_measures_two_trainings_separately(tmp_path: Path, model: Any,
                                                         dataset: Any) -> None:
    callback = WattlmCallback(region="FR", sensors=[FakeSensor(power_w=10.0)])
    totals = []
    for name in ("first", "second"):
        trainer = Trainer(model=model, args=make_args(tmp_path / name, max_steps=4,
                                                      logging_steps=2),
                          train_dataset=dataset, callbacks=[callback])
        trainer.train()
        assert callback.result is not None
        first_log = trainer.state.log_history[0]["energy_kwh"] * 3.6e6
        assert first_log <= callback.result.energy_j  # counted from this training's start
        totals.append(callback.result.energy_j)
    with open_store() as store:
        runs = store.list_runs()
    assert len(runs) == 2
    assert sorted(r.energy_j for r in runs) == pytest.approx(sorted(totals))


def test_unknown_max_steps_says_it_cannot_project(tmp_path: Path) -> None:
    from types import SimpleNamespace

    # The Trainer's events with the attributes the callback reads, max_steps unknown (0).
    callback = WattlmCallback(region="FR", sensors=[FakeSensor(power_w=10.0)], model_card=False)
    args = SimpleNamespace(output_dir=str(tmp_path / "out"))
    state = SimpleNamespace(max_steps=0, global_step=0, log_history=[])
    control = SimpleNamespace(should_evaluate=False)
    callback.on_train_begin(args, state, control)
    for step in range(1, 13):
        state.global_step = step
        callback.on_step_end(args, state, control)
    logs: dict[str, float] = {"loss": 1.0}
    callback.on_log(args, state, control, logs=logs)
    callback.on_train_end(args, state, control)
    assert callback.projection_note is not None
    note = callback.projection_note
    assert "max_steps" in note and "num_train_epochs" in note
    assert "energy_kwh" in logs and "projected_energy_kwh" not in logs
    assert callback.result is not None and callback.result.energy_j > 0


def test_tracker_of_another_thread_is_not_joined(
        tmp_path: Path, model: Any, dataset: Any) -> None:
    import threading

    ready, done = threading.Event(), threading.Event()
    outer: list[Any] = []

    def other_thread() -> None:
        with wattlm.track(region="FR", sensors=[FakeSensor(power_w=30.0)]) as run:
            outer.append(run)
            ready.set()
            done.wait(timeout=120)

    thread = threading.Thread(target=other_thread)
    thread.start()
    try:
        assert ready.wait(timeout=30)
        callback = WattlmCallback(region="FR", model_card=False)
        trainer = Trainer(model=model, args=make_args(tmp_path / "out", max_steps=16,
                                                      logging_steps=4),
                          train_dataset=dataset, callbacks=[callback])
        trainer.train()
        assert trainer.state.global_step == 16  # training is never stopped by wattlm
        assert outer[0].running  # the other thread's tracker is left running
    finally:
        done.set()
        thread.join(timeout=30)
    # active_tracker() is per thread and task (issue 10): another thread's run is not this
    # training's, so the callback measures its own run and leaves the other one alone
    assert callback.result is not None and callback.result.id != outer[0].result.id
    assert "train" in {p.name for p in callback.result.phases}
    record = outer[0].result
    assert record is not None and record.phases == []  # nothing nested into its phase stack


def test_co2_block_survives_create_model_card(tmp_path: Path, model: Any, dataset: Any) -> None:
    """The Trainer rewrites README.md in create_model_card() (push_to_hub calls it)."""
    out = tmp_path / "out"
    callback = WattlmCallback(region="FR", sensors=[FakeSensor(power_w=0.01)], save=False)
    trainer = Trainer(model=model, args=make_args(out, max_steps=6, logging_steps=2,
                                                  eval_strategy="steps", eval_steps=3),
                      train_dataset=dataset, eval_dataset=dataset)
    callback.attach(trainer)
    trainer.train()
    trainer.create_model_card(model_name="tiny")
    text = (out / "README.md").read_text(encoding="utf-8")
    meta = read_front_matter(out / "README.md")
    co2 = meta["co2_eq_emissions"]
    assert callback.result is not None
    # a tiny figure, written as a plain decimal number the Hub's filter reads
    assert isinstance(co2["emissions"], float)
    assert co2["emissions"] == pytest.approx(callback.result.emissions_g, rel=1e-5)
    assert co2["emissions"] < 1e-3
    assert "e-" not in text.split("co2_eq_emissions:", 1)[1].split("\n", 2)[1]
    assert meta["library_name"] == "transformers" and "generated_from_trainer" in meta["tags"]
    # no wattlm log key became a "result" column of the card
    for fake in ("Energy Kwh", "Kwh", "Kg", "Power W", "Duration S"):
        assert f"| {fake} " not in text and f"- {fake}:" not in text
    assert "Validation Loss" in text
