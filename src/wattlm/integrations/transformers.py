"""Hugging Face Transformers: a ``Trainer`` callback and inference measurement.

One line in a Trainer::

    trainer = Trainer(...)
    WattlmCallback(region="FR").attach(trainer)   # or Trainer(..., callbacks=[WattlmCallback()])

adds ``energy_kwh``, ``emissions_kg``, ``power_w`` and, after the first part of training, a
projection of the whole run (``projected_energy_kwh``, ``projected_emissions_kg`` and
``projected_duration_s``, each with ``_low``/``_high``) to every log, so they reach the progress
bar and whatever ``report_to`` names; at the end the run is saved to the wattlm store and the
model card in ``output_dir`` gets ``co2_eq_emissions`` (grams). :func:`measure_inference`
measures a pipeline or a model with its tokenizer.

``attach(trainer)`` puts the callback ahead of the Trainer's reporting integrations (through the
public ``add_callback``/``pop_callback``), so they log its keys, and keeps ``co2_eq_emissions``
in the card ``trainer.create_model_card()`` and ``push_to_hub()`` write. Evaluation logs get no
wattlm keys (they would become fake result columns in the card).

Training never fails because of wattlm: problems after the constructor become warnings recorded
on the run (``W450`` not measured, ``W451`` cannot project, ``W452`` model card not written,
``W461`` a phase could not open or close, ``W462`` the tracker could not stop after an error).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wattlm.errors import InvalidInputError, MeasurementWarning, MissingExtraError, warn

try:
    from transformers import TrainerCallback
except ImportError as _error:  # pragma: no cover - exercised in a subprocess test
    raise MissingExtraError("transformers", "hf", "the Hugging Face integration") from _error

from wattlm._format import format_energy, format_power
from wattlm.carbon.accounting import Accountant
from wattlm.integrations.hf_inference import InferenceReport, measure_inference
from wattlm.integrations.model_card import TRAINING_TYPES, write_co2_metadata
from wattlm.integrations.projection import MIN_POINTS, Projection, StepProjector
from wattlm.records import RunRecord
from wattlm.sensors.base import Sensor
from wattlm.tracking.tracker import Tracker, active_tracker, track
from wattlm.units import Provenance, g_to_kg, j_to_kwh, kwh_to_j

__all__ = ["InferenceReport", "Projection", "WattlmCallback", "measure_inference",
           "measures_node_devices"]


def measures_node_devices() -> tuple[bool, str]:
    """Whether this process measures, and why: in every case it does.

    In a ``torch.distributed`` job (``torchrun``, ``accelerate launch``, DeepSpeed) every rank
    runs the tracker: each keeps its own GPU(s), one process per node measures the node's
    shared sensors, and rank 0 gathers and stores one run for the job
    (``wattlm.tracking.distributed``), so nothing is counted twice and no rank is left out.
    """
    rank = os.environ.get("RANK", "").strip()
    if rank:
        return True, (f"rank {rank}: measures its own GPU(s); rank 0 gathers and stores the "
                      "job's run")
    return True, "single process"


class WattlmCallback(TrainerCallback):
    """Measures a ``Trainer`` run: energy in the logs, a projection, the store, the model card.

    Args:
        region: grid region for emissions (``"FR"``, ``"aws:eu-west-3"``); settings apply.
        project: project name in the store.
        db: store location (path or URL); default from the settings.
        save: whether to save the run to the store (default: the settings, normally yes).
        interval_s: background sampling interval.
        pue: data-centre PUE override; ``intensity_g_per_kwh``: grid intensity override.
        sensors: sensors to read instead of probing this machine (tests, demos).
        projection_fraction: share of ``max_steps`` done before the first projection.
        warmup_steps: first steps left out of the per-step rates.
        window_steps: recent steps the per-step rates come from.
        training_type: ``fine-tuning`` or ``pre-training`` (model card).
        model_card: write ``co2_eq_emissions`` into ``output_dir/README.md`` at train end.
        hardware_used: model-card text for the hardware (default: the measured devices).
        geographical_location: model-card location (default: the grid region's name).
        distributed: None detects a ``torch.distributed`` job (every rank measures its share,
            rank 0 stores one run); False measures this process alone; True requires a job.

    Raises:
        InvalidInputError, ConfigError, UnknownNameError: bad arguments or region, here in the
            constructor, before training starts.
        DistributedError: ``distributed=True`` outside a job, or inconsistent launcher
            variables with ``distributed=True``.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        project: str | None = None,
        db: str | None = None,
        save: bool | None = None,
        interval_s: float | None = None,
        pue: float | None = None,
        intensity_g_per_kwh: float | None = None,
        sensors: Sequence[Sensor] | None = None,
        projection_fraction: float = 0.1,
        warmup_steps: int = 5,
        window_steps: int = 50,
        training_type: str = "fine-tuning",
        model_card: bool = True,
        hardware_used: str | None = None,
        geographical_location: str | None = None,
        distributed: bool | None = None,
    ) -> None:
        if training_type not in TRAINING_TYPES:
            raise InvalidInputError(f"training_type must be one of {', '.join(TRAINING_TYPES)}, "
                                    f"got {training_type!r}")
        StepProjector(1, warmup_steps=warmup_steps, fraction=projection_fraction,
                      window_steps=window_steps)  # validates the projection arguments
        self._track_args: dict[str, Any] = dict(
            region=region, project=project, db=db, save=save, interval_s=interval_s, pue=pue,
            intensity_g_per_kwh=intensity_g_per_kwh)
        probe = track(**self._track_args)  # strict at the door: settings checked now
        if distributed:
            from wattlm.tracking.distributed import detect_job

            detect_job(True)  # strict at the door: a forced job must exist
        self._distributed = distributed
        from wattlm.carbon.intensity import resolve_region

        self._grid = resolve_region(probe.settings.region)  # unknown region raises now
        self._sensors = list(sensors) if sensors is not None else None
        self.projection_fraction = projection_fraction
        self.warmup_steps = warmup_steps
        self.window_steps = window_steps
        self.training_type = training_type
        self.model_card = model_card
        self.hardware_used = hardware_used
        self.geographical_location = geographical_location
        self.tracker: Tracker | None = None
        self.result: RunRecord | None = None
        self.projection: Projection | None = None
        self.projections: list[Projection] = []
        self.projection_note: str | None = None
        self.not_measuring: str | None = None
        self.model_card_path: Path | None = None
        self.energy_j = 0.0
        self.emissions_g = 0.0
        self._owns = False
        self._active = False
        self._projector: StepProjector | None = None
        self._base_j = 0.0
        self._base_s = 0.0
        self._last_log: tuple[float, float] | None = None
        self._accountant: Accountant | None = None
        self._start_time_s = 0.0
        self._phases_open = 0
        self._in_eval = False
        self._callbacks: list[Any] = []  # the Trainer's callbacks, after attach()
        self.warnings: list[str] = []
        self._other_thread = False  # joined a tracker that another thread started

    # -- ordering and the model card -------------------------------------------------------
    def attach(self, trainer: Any) -> WattlmCallback:
        """Add this callback to ``trainer`` so that every reporting callback sees its keys.

        A callback adds keys to the logs of the callbacks that come *after* it, and the Trainer
        puts its own reporting integrations (``report_to``: TensorBoard, W&B...) and progress
        bar before the callbacks given to it. ``attach`` uses the Trainer's public
        ``add_callback``/``pop_callback`` to put this callback right after
        ``DefaultFlowCallback`` and the others after it, in their order. It also wraps
        ``trainer.create_model_card`` (called by ``push_to_hub``) so the card it writes keeps
        ``co2_eq_emissions``. Without ``attach``, list this callback first in ``callbacks=``.

        Returns:
            This callback.
        """
        from transformers.trainer_callback import DefaultFlowCallback

        handler = trainer.callback_handler
        if not any(c is self for c in handler.callbacks):
            trainer.add_callback(self)
        for callback in list(handler.callbacks):
            if callback is not self and not isinstance(callback, DefaultFlowCallback):
                trainer.pop_callback(callback)
                trainer.add_callback(callback)
        self._callbacks = handler.callbacks
        original = trainer.create_model_card

        def create_model_card(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            if self.model_card and self._measured():
                self._write_card(getattr(trainer.args, "output_dir", None))
            return result

        create_model_card.__doc__ = original.__doc__
        trainer.create_model_card = create_model_card
        return self

    def _measured(self) -> bool:
        return self.result is not None or self.energy_j > 0

    def _note(self, code: str, message: str) -> str:
        """Warn with ``code`` and record it on the run (tracker and result)."""
        text = warn(message, MeasurementWarning, code)
        if text not in self.warnings:
            self.warnings.append(text)
        tracker = self.tracker
        if tracker is not None and tracker.running and self._owns:
            tracker.add_warning(text)
        elif self.result is not None and text not in self.result.warnings:
            self.result.warnings.append(text)
        return text

    # -- training --------------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Start (or join) the tracker and the projector."""
        if self._active:
            return  # the same callback registered twice: ignore the repeated event
        measures, why = measures_node_devices()
        if not measures:
            self.not_measuring = why
            return
        try:
            self._start(state)
        except Exception as e:  # noqa: BLE001 - training never fails because of wattlm
            self.not_measuring = str(e)
            self._note("W450", f"wattlm could not measure this training run ({e}); training "
                       "goes on")
            self._active = False

    def _start(self, state: Any) -> None:
        self.result, self.projection, self.projections = None, None, []
        self.warnings = []
        self.projection_note, self.not_measuring, self.model_card_path = None, None, None
        self._phases_open, self._in_eval, self._last_log = 0, False, None
        existing = active_tracker()
        self._other_thread = (existing is not None and existing.started_in_thread
                              not in (None, threading.get_ident()))
        if existing is not None:
            tracker, self._owns = existing, False
        else:
            from wattlm.tracking.distributed import detect_job

            # a job: every rank tracks and rank 0 stores; bad launcher variables: warn (W501)
            # and measure this process alone
            job = detect_job(self._distributed, strict=False)
            tracker = track(**self._track_args, sensors=self._sensors,
                            distributed=None if job is not None else False)
            tracker.start()
            self._owns = True
        self.tracker = tracker
        self._active = True
        self._accountant = self._accountant_of(tracker)
        first = tracker.read()
        self._base_j = 0.0 if self._owns else sum(first.energy_j)
        self._base_s = 0.0 if self._owns else tracker.elapsed_s(first)
        self._start_time_s = first.time_s - tracker.elapsed_s(first) + self._base_s
        self._begin_phase("train")
        if self._other_thread:
            self._cannot_project(
                "the running wattlm tracker was started in another thread, whose work goes on "
                "alongside training and would be extrapolated as training's (start the Trainer "
                "in the tracker's thread, or let the callback start its own tracker); the logged "
                "energy is that tracker's energy since training began, and no phases are added "
                "to it")
            return
        max_steps = int(getattr(state, "max_steps", 0) or 0)
        if max_steps <= 0:
            self._cannot_project("the Trainer does not know max_steps (set max_steps, or "
                                 "num_train_epochs with a dataset of known length)")
            return
        provenance = Provenance.weakest(*(s.info.provenance for s in tracker.sensors))
        self._projector = StepProjector(
            max_steps, warmup_steps=self.warmup_steps, fraction=self.projection_fraction,
            window_steps=self.window_steps, provenance=provenance)
        if max_steps < self._projector.first_step:
            self._cannot_project(
                f"max_steps={max_steps} is too short: the projection needs more than "
                f"warmup_steps={self.warmup_steps} + {MIN_POINTS} measured steps")
            self._projector = None

    def _accountant_of(self, tracker: Tracker) -> Accountant:
        """The run's accountant: the same intensity (series, live) and PUE as the stored run."""
        from wattlm.carbon.intensity import resolve_region

        self._grid = resolve_region(tracker.settings.region)
        return Accountant.from_settings(tracker.settings)

    def _grams(self, energy_j: float) -> float:
        """Operational grams CO2e of ``energy_j`` since training began, from the accountant."""
        if self._accountant is None or self.tracker is None:
            return 0.0
        now_s = self._start_time_s + self.tracker.elapsed_s() - self._base_s
        return self._accountant.emissions_so_far_g(energy_j, self._start_time_s, now_s)

    def _cannot_project(self, reason: str) -> None:
        self.projection_note = f"cannot project this run's total: {reason}"
        self._note("W451", self.projection_note)

    def _begin_phase(self, name: str) -> None:
        tracker = self.tracker
        if tracker is None or self._other_thread:
            return  # another thread's phase stack is not ours to nest into
        try:
            tracker.begin_phase(name)
            self._phases_open += 1
        except Exception as e:  # noqa: BLE001 - a phase is a detail; the totals still count
            self._note("W461", f"could not open the {name!r} phase ({e!r}); the run's totals "
                       "still count")

    def _end_phase(self) -> None:
        if self.tracker is not None and self._phases_open > 0:
            self._phases_open -= 1
            try:
                self.tracker.end_phase()
            except Exception as e:  # noqa: BLE001 - the run's totals still count
                self._note("W461", f"could not close a phase ({e!r}); the run's totals still "
                           "count")

    def _energy_now(self) -> tuple[float, float]:
        """(J since training began, s since training began)."""
        assert self.tracker is not None
        sample = self.tracker.read()
        return sum(sample.energy_j) - self._base_j, self.tracker.elapsed_s(sample) - self._base_s

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Read the energy at the end of each optimiser step and update the projection."""
        if not self._active or self.tracker is None or not self.tracker.running:
            return
        try:
            energy_j, elapsed_s = self._energy_now()
            if self._projector is not None:
                projection = self._projector.add(int(state.global_step), energy_j, elapsed_s)
                if projection is not None:
                    self.projection = projection
                    self.projections.append(projection)
        except Exception as e:  # noqa: BLE001
            self._fail(e)
        self._open_eval_if_due(control)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Open the ``eval`` phase when an evaluation follows the epoch."""
        self._open_eval_if_due(control)

    def _open_eval_if_due(self, control: Any) -> None:
        """Open the ``eval`` phase before the Trainer evaluates, so it covers every batch.

        ``DefaultFlowCallback`` (which this callback follows) sets ``control.should_evaluate``
        at the end of the step or epoch after which the Trainer runs its evaluation.
        """
        if getattr(control, "should_evaluate", False):
            self._open_eval()

    def _open_eval(self) -> None:
        if self._active and not self._in_eval:
            self._in_eval = True
            self._begin_phase("eval")

    def on_prediction_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Open the ``eval`` phase at the first evaluation batch, if not already open."""
        self._open_eval()

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Close the ``eval`` phase."""
        if self._active and self._in_eval:
            self._in_eval = False
            self._end_phase()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        """Add the energy, emissions, power and projection to the log."""
        if not self._active or logs is None or self.tracker is None:
            return
        try:
            if "train_runtime" in logs and self._owns:
                self._finish()  # the run's summary log carries the stored totals exactly
            values = self.metrics()
            self._show_in_progress_bar(values)
            if any(str(k).startswith("eval_") for k in logs):
                return  # evaluation results stay results: the model card tabulates them
            logs.update(values)
            history = getattr(state, "log_history", None)
            if history and history[-1].get("step") == state.global_step:
                history[-1].update(values)
        except Exception as e:  # noqa: BLE001
            self._fail(e)

    def _show_in_progress_bar(self, values: dict[str, float]) -> None:
        """Put energy and power (and the projection) in the Trainer's tqdm bar, if it has one."""
        for callback in self._callbacks:
            bar = getattr(callback, "training_bar", None)
            if type(callback).__name__ == "ProgressCallback" and bar is not None:
                postfix = {"energy": format_energy(kwh_to_j(values["energy_kwh"])),
                           "power": format_power(values["power_w"])}
                if "projected_energy_kwh" in values:
                    postfix["total~"] = format_energy(kwh_to_j(values["projected_energy_kwh"]))
                bar.set_postfix(postfix, refresh=False)

    def metrics(self) -> dict[str, float]:
        """Return the figures this callback adds to a log, as of now."""
        tracker = self.tracker
        if tracker is not None and tracker.running:
            energy_j, elapsed_s = self._energy_now()
            self.energy_j, self.emissions_g = energy_j, self._grams(energy_j)
        else:
            elapsed_s = self.result.duration_s if self.result is not None else 0.0
        # Power since the last log, but over at least half a sampling interval: logs a few ms
        # apart (the end-of-training summary) would turn counter granularity into noise.
        previous = self._last_log or (0.0, 0.0)
        span = elapsed_s - previous[1]
        power_w = (self.energy_j - previous[0]) / span if span > 0 else 0.0
        min_span = 0.5 * (tracker.settings.interval_s if tracker is not None else 1.0)
        if span >= min_span:
            self._last_log = (self.energy_j, elapsed_s)
        out = {"energy_kwh": j_to_kwh(self.energy_j),
               "emissions_kg": g_to_kg(self.emissions_g), "power_w": power_w}
        projection = self.projection
        if projection is not None:
            energy = projection.energy_j
            grams = self._grams
            out.update({
                "projected_energy_kwh": j_to_kwh(energy.central),
                "projected_energy_kwh_low": j_to_kwh(energy.low),
                "projected_energy_kwh_high": j_to_kwh(energy.high),
                "projected_emissions_kg": g_to_kg(grams(energy.central)),
                "projected_emissions_kg_low": g_to_kg(grams(energy.low)),
                "projected_emissions_kg_high": g_to_kg(grams(energy.high)),
                "projected_duration_s": projection.duration_s.central,
                "projected_duration_s_low": projection.duration_s.low,
                "projected_duration_s_high": projection.duration_s.high,
            })
        return out

    def _finish(self) -> None:
        """Close phases; stop the tracker if this callback started it."""
        tracker = self.tracker
        if tracker is None or not tracker.running:
            return
        while self._phases_open:
            self._end_phase()
        energy_j, _ = self._energy_now()
        if self._owns:
            record = tracker.stop()
            self.result = record
            self.energy_j = record.energy_j
            self.emissions_g = (record.emissions_g if record.footprint is not None
                                else self._grams(record.energy_j))
        else:
            self.energy_j, self.emissions_g = energy_j, self._grams(energy_j)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Stop measuring, save the run, write the model card."""
        if not self._active:
            return
        try:
            self._finish()
        except Exception as e:  # noqa: BLE001
            self._fail(e)
            return
        finally:
            self._active = False
        if self.model_card and getattr(state, "is_world_process_zero", True):
            self._write_card(getattr(args, "output_dir", None))

    def _write_card(self, output_dir: str | None) -> None:
        if not output_dir:
            return
        try:
            self.model_card_path = write_co2_metadata(
                output_dir, self.emissions_g, training_type=self.training_type,
                geographical_location=self.geographical_location or self._location(),
                hardware_used=self.hardware_used or self._hardware())
        except Exception as e:  # noqa: BLE001 - training never fails because of wattlm
            self._note("W452", f"could not write co2_eq_emissions to the model card in "
                       f"{output_dir} ({e})")

    def _location(self) -> str | None:
        region = self.result.region if self.result is not None else self._grid.code
        name = getattr(self._grid, "name", None)
        if region and region != self._grid.code:
            return region
        return f"{name} ({region})" if name and region and name != region else (name or region)

    def _hardware(self) -> str | None:
        tracker = self.tracker
        if self.result is not None:
            parts = [f"{d.name} ({d.provenance.value})" for d in self.result.devices]
        elif tracker is not None:
            parts = [f"{s.info.name} ({s.info.provenance.value})" for s in tracker.sensors]
        else:
            parts = []
        return ", ".join(parts) or None

    def _fail(self, error: BaseException) -> None:
        """Stop measuring after an unexpected error, without failing training."""
        self._note("W450", f"wattlm stopped measuring this training run ({error!r}); "
                   "training goes on")
        self._active = False
        tracker = self.tracker
        if self._owns and tracker is not None and tracker.running:
            try:
                self.result = tracker.stop(status="failed")
            except Exception as e:  # noqa: BLE001 - training goes on
                self._note("W462", f"could not stop the tracker after an error ({e!r}); the "
                           "run is not stored")
