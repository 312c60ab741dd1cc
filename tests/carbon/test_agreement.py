"""One run, every place that shows its emissions: the same grams, to the last digit.

The tracker (stored run), the store, the Trainer callback's running figure, Prometheus,
what-if's baseline, ``wattlm show --region`` (same region), reports and pandas all go through
the one accountant (:class:`wattlm.carbon.accounting.Accountant`). A frozen sensor clock makes
every reader see the same energy. 0 g/kWh is a real intensity, not "unset".
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import wattlm
from wattlm.carbon.accounting import Accountant
from wattlm.carbon.intensity import resolve_region
from wattlm.records import RunRecord
from wattlm.sensors.fake import FakeSensor
from wattlm.store import open_store
from wattlm.units import j_to_kwh

PUE = 1.37
POWER_W = 123.456
SECONDS = 3600.7


def _prometheus_grams(run: object) -> float:
    prometheus_client = pytest.importorskip("prometheus_client")
    from wattlm.integrations.prometheus import serve_metrics

    server = serve_metrics(run, port=-1)  # type: ignore[arg-type]
    text = prometheus_client.generate_latest(server.registry).decode()
    server.stop()
    line = next(x for x in text.splitlines() if x.startswith("wattlm_emissions_grams_total{"))
    return float(line.rsplit(" ", 1)[1])


@pytest.mark.parametrize("intensity", [None, 0.0, 57.3])
def test_every_path_gives_the_same_grams(tmp_path: Path, intensity: float | None) -> None:
    db = str(tmp_path / "runs.db")
    clock = [1000.0]
    gpu = FakeSensor("gpu:0", power_w=POWER_W, clock=lambda: clock[0])
    with wattlm.track(region="FR", project="agree", sensors=[gpu], db=db, pue=PUE,
                      intensity_g_per_kwh=intensity) as run:
        clock[0] += SECONDS  # frozen from here: every read sees the same energy
        prometheus_g = _prometheus_grams(run)
    record = run.result
    used = resolve_region("FR").intensity_g_per_kwh if intensity is None else intensity
    # hand-computed: 123.456 W x 3600.7 s = 444,527.98 J; x PUE 1.37 x intensity
    assert record.energy_j == pytest.approx(POWER_W * SECONDS, rel=1e-12)
    expected = j_to_kwh(record.energy_j) * PUE * used
    assert record.emissions_g == expected
    assert record.emissions.central == expected
    assert prometheus_g == expected

    with open_store(db) as store:
        stored = store.get_run(record.id)
    assert stored.emissions_g == expected
    assert stored.footprint is not None and stored.footprint.emissions.central == expected

    accountant = Accountant.from_settings(run.settings)
    assert accountant.emissions_g(stored.energy_j) == expected

    from wattlm.compare.whatif import basis_of
    assert basis_of(stored).emissions_g == expected

    from wattlm.report._data import build_report_data
    data = build_report_data(stored)
    assert data.emissions_g is not None and data.emissions_g.central == expected

    pd = pytest.importorskip("pandas")
    from wattlm.integrations.pandas import runs_frame
    frame = runs_frame(db)
    assert isinstance(frame, pd.DataFrame)
    assert frame.loc[record.id, "emissions_g"] == expected

    from wattlm._format import format_mass
    from wattlm.dashboard.pages import runs_page
    page = runs_page([stored], project=None, projects=["agree"], location=db, limit=10)
    assert f'<td class="num">{format_mass(expected)}</td>' in page  # the dashboard's figure

    if intensity is None:  # show --region with the run's own region re-accounts to the same
        from wattlm.cli.show import reaccount

        again = RunRecord.from_dict(stored.to_dict())
        reaccount(again, "FR", pue=PUE)
        assert again.emissions_g == expected
        assert again.footprint is not None
        assert again.footprint.embodied == stored.footprint.embodied


def test_callback_running_figure_matches_its_stored_run(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from wattlm.integrations.transformers import WattlmCallback

    clock = [50.0]
    gpu = FakeSensor("gpu:0", power_w=POWER_W, clock=lambda: clock[0])
    callback = WattlmCallback(region="FR", sensors=[gpu], pue=PUE, intensity_g_per_kwh=0.0,
                              db=str(tmp_path / "runs.db"), model_card=False)
    args = SimpleNamespace(output_dir=None)
    state = SimpleNamespace(max_steps=100, global_step=1, log_history=[],
                            is_world_process_zero=True)
    control = SimpleNamespace(should_evaluate=False)
    callback.on_train_begin(args, state, control)
    clock[0] += SECONDS
    running = callback.metrics()
    callback.on_train_end(args, state, control)
    assert callback.result is not None
    assert running["emissions_kg"] == 0.0 and callback.result.emissions_g == 0.0
    assert callback.emissions_g == callback.result.emissions_g


def test_show_region_keeps_the_stored_embodied_emissions() -> None:
    from wattlm.carbon.accounting import settle_run
    from wattlm.cli.show import reaccount
    from wattlm.config import resolve_settings
    from wattlm.records import DeviceEnergy
    from wattlm.units import Provenance

    record = RunRecord(id=1, project="p", started_at="", duration_s=3600.0, energy_j=3.6e6,
                       devices=[DeviceEnergy("gpu:0", "gpu", 3.6e6, Provenance.MEASURED,
                                             model="NVIDIA H100 80GB HBM3")], region="FR")
    settle_run(record, settings=resolve_settings(region="FR"))
    assert record.footprint is not None and record.footprint.embodied.central > 0
    embodied = record.footprint.embodied
    reaccount(record, "DE")
    assert record.region == "DE"
    assert record.footprint.embodied == embodied  # the old code dropped it to 0
    assert record.emissions_g == pytest.approx(resolve_region("DE").intensity_g_per_kwh, rel=1e-12)
