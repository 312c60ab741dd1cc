"""Reports of a run with two devices and two phases, in every format (numbers known)."""

from __future__ import annotations

import base64
import json
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

import wattlm
from wattlm.errors import InvalidInputError
from wattlm.report import FORMATS, render
from wattlm.report.plots import MISSING_NOTE
from wattlm.sensors.fake import FakeSensor
from wattlm.store import open_store

EVIL = "<script>alert(1)</script>"


def _run(tmp_path: Path, project: str = EVIL) -> tuple[wattlm.RunRecord, list, list]:
    """GPU 1 kWh + CPU 0.5 kWh (counters), PUE 1.5, 100 g/kWh: 225 g operational."""
    db = str(tmp_path / "runs.db")
    gpu = FakeSensor("gpu0", "gpu", readings=[3.6e6])
    cpu = FakeSensor("cpu-package-0", "cpu", readings=[1.8e6])
    with wattlm.track(sensors=[gpu, cpu], db=db, region="FR", project=project, pue=1.5,
                      intensity_g_per_kwh=100.0, interval_s=0.02) as run:
        with run.phase("train"):
            time.sleep(0.05)
        with run.phase("eval"):
            time.sleep(0.05)
    assert run.result is not None and run.result.id is not None
    store = open_store(db)
    try:
        record = store.get_run(run.result.id)
        devices, samples = store.samples(run.result.id)
    finally:
        store.close()
    return record, list(devices), list(samples)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))
        elif tag not in ("meta", "br", "img"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"unbalanced </{tag}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_run_has_the_constructed_numbers(tmp_path: Path) -> None:
    record, _, _ = _run(tmp_path)
    assert record.energy_j == pytest.approx(5.4e6)
    assert record.emissions_g == pytest.approx(1.5 * 1.5 * 100.0)
    assert [p.name for p in record.phases] == ["train", "eval"]


def test_markdown_states_figures_devices_phases_and_sources(tmp_path: Path) -> None:
    record, devices, samples = _run(tmp_path)
    text = render(record, "md", devices=devices, samples=samples)
    assert "| Energy, IT equipment | 1.50 kWh | measured |" in text
    assert "| Energy incl. facility (PUE 1.50) | 2.25 kWh |" in text
    assert "| Operational emissions | 225 g CO2e |" in text
    assert "| gpu0 | gpu | 1.00 kWh | 66.7 % |" in text   # 1 of 1.5 kWh
    assert "| cpu-package-0 | cpu | 500 Wh | 33.3 % |" in text
    assert "## Energy by phase" in text and "| train |" in text and "| eval |" in text
    assert "## Method" in text and "## Assumptions" in text
    assert "\\<script>" in text  # the project name cannot become raw HTML in Markdown


def test_html_parses_has_plots_and_escapes_user_strings(tmp_path: Path) -> None:
    record, devices, samples = _run(tmp_path)
    page = render(record, "html", devices=devices, samples=samples)
    parser = _Collector()
    parser.feed(page)
    parser.close()
    assert "script" not in parser.tags
    assert EVIL in "".join(parser.text)          # shown as text
    assert EVIL not in page                       # never raw
    assert len(parser.images) == 3               # power, energy breakdown, emissions
    for image in parser.images:
        src = image["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in page.replace("http://www.w3.org", "")  # nothing fetched


def test_html_without_matplotlib_has_tables_and_a_note(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    record, devices, samples = _run(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    page = render(record, "html", devices=devices, samples=samples)
    assert "<img" not in page
    assert page.count(MISSING_NOTE.split(":")[0]) == 1
    assert "<table>" in page


def test_model_card_is_grams_and_round_trips_through_yaml(tmp_path: Path) -> None:
    record, _, _ = _run(tmp_path, project="bert-finetune")
    text = render(record, "model-card", training_type="fine-tuning")
    block = yaml.safe_load(text)["co2_eq_emissions"]
    assert block["emissions"] == pytest.approx(225.0)       # grams, not 0.225 kg
    assert block["training_type"] == "fine-tuning"
    assert block["geographical_location"] == "France (FR)"
    assert block["hardware_used"] == "gpu0, cpu-package-0"
    assert block["source"].startswith("wattlm ")


def test_model_card_rejects_an_unknown_training_type(tmp_path: Path) -> None:
    record, _, _ = _run(tmp_path)
    with pytest.raises(InvalidInputError, match="pre-training, fine-tuning"):
        render(record, "model-card", training_type="pretraining")


def test_disclosure_cites_annex_xi_and_states_known_energy(tmp_path: Path) -> None:
    record, _, _ = _run(tmp_path)
    text = render(record, "disclosure", model_name="tiny-bert", provider="ACME")
    assert "Regulation (EU) 2024/1689" in text and "Article 53(1), point (a)" in text
    assert "Annex XI, Section 1, point 2(e)" in text and "point 2(d)" in text
    assert "known (measured" in text
    assert "| Energy of the computing equipment | 1.50 kWh | measured |" in text
    assert "## 4. Assumptions and sources" in text and "Provider: ACME" in text


def test_json_report_round_trips(tmp_path: Path) -> None:
    record, _, _ = _run(tmp_path)
    data = json.loads(render(record, "json"))
    assert data["kind"] == "measured run"
    assert data["energy_kwh"]["central"] == pytest.approx(1.5)
    assert data["emissions_g"]["central"] == pytest.approx(225.0)
    assert data["subject"]["project"] == EVIL


def test_every_format_renders_a_training_estimate() -> None:
    est = wattlm.estimate_training(model="llama-2-70b", hardware="A100-80GB", region="FR")
    for fmt in FORMATS:
        assert render(est, fmt)
    block = yaml.safe_load(render(est, "model-card"))["co2_eq_emissions"]
    assert block["emissions"] == pytest.approx(est.emissions_kg.central * 1000.0, rel=1e-5)
    assert "estimated (analytic" in render(est, "disclosure")


def test_bad_format_and_subject_are_precise_errors(tmp_path: Path) -> None:
    record, _, _ = _run(tmp_path)
    with pytest.raises(InvalidInputError, match="md, html, json, model-card, disclosure"):
        render(record, "pdf")
    with pytest.raises(InvalidInputError, match="RunRecord"):
        render(42, "md")


def test_sci_uses_given_units_never_the_sampler_count(tmp_path: Path) -> None:
    record, _, _ = _run(tmp_path, project="p")
    assert record.extra["sensor_readings"] > 0                 # the sampler's reading count
    assert "Per functional unit" not in render(record, "md")
    data = json.loads(render(record, "json", requests=100))
    (row,) = data["per_unit"]
    # (E x PUE x I + M) / R = (1.5 kWh x 1.5 x 100 g/kWh + 0) / 100 = 2.25 g per request
    assert row["unit"] == "request"
    assert row["sci_g"]["central"] == pytest.approx(2.25)
    assert row["energy_j"]["central"] == pytest.approx(5.4e6 / 100)
    with pytest.raises(InvalidInputError, match=r"requests must be a number in \(0, "):
        render(record, "md", requests=0)
    with pytest.raises(InvalidInputError, match="does not take provider"):
        render(record, "md", provider="ACME")


def test_inference_estimate_report_has_location_components_and_per_request_sci() -> None:
    est = wattlm.estimate_inference(model="llama-2-70b", hardware="H100-SXM", region="FR",
                                    input_tokens=800, output_tokens=300, batch_size=16)
    data = json.loads(render(est, "json"))
    assert data["region"] == "FR"
    per = {r["unit"]: r for r in data["per_unit"]}
    # one request: the estimate's own energy; 1000 output tokens: x 1000 / 300
    assert per["request"]["energy_j"]["central"] == pytest.approx(
        est.energy_per_request_j.central, rel=1e-6)
    assert per["1000 output tokens"]["energy_j"]["central"] == pytest.approx(
        est.energy_per_request_j.central * 1000 / 300, rel=1e-6)
    parts = {c["name"]: c["energy_kwh"] for c in data["components"]}
    assert parts["accelerators"] == pytest.approx(
        est.accelerators_energy_per_request_j.central / 3.6e6, rel=1e-6)
    assert sum(parts.values()) == pytest.approx(data["facility_energy_kwh"]["central"], rel=1e-6)
    page = render(est, "html")
    assert page.count("data:image/png;base64,") == 2  # energy by component, emissions
    assert "| Location | FR | estimate input |" in render(est, "md")


def test_assumptions_show_units_and_unaccounted_embodied_says_so(tmp_path: Path) -> None:
    record, _, _ = _run(tmp_path, project="p")
    text = render(record, "md")
    assert "| intensity | 100 g/kWh |" in text
    assert "| Embodied emissions (share) | not counted" in text   # not a bare "0 g CO2e"
    assert "embodied share not counted" in render(record, "model-card")


def test_power_series_merges_reads_closer_than_half_the_spacing():
    """A phase-boundary read 1 ms after a sample must not show as a 1 kW spike."""
    from wattlm.records import DeviceInfo, Sample
    from wattlm.report.plots import power_series
    from wattlm.units import Provenance

    gpu = DeviceInfo("gpu:0", "gpu", Provenance.MEASURED)
    samples = [Sample(0.0, (0.0,)), Sample(1.0, (100.0,)), Sample(1.001, (101.0,)),
               Sample(2.0, (200.0,)), Sample(3.0, (300.0,))]
    ((name, times, power),) = power_series([gpu], samples)
    assert name == "gpu:0"
    assert power == [pytest.approx(100.0)] * 3
    assert times == [pytest.approx(0.5), pytest.approx(1.5), pytest.approx(2.5)]


def test_an_estimate_report_carries_the_accounting_warnings() -> None:
    """The CLI printed W201 (no region) and the report said "Warnings: None"."""
    est = wattlm.estimate_training(model="gpt-3", hardware="V100", devices=10_000)
    text = render(est, "md")
    warnings = text.split("## Warnings", 1)[1]
    assert "W201" in warnings and "None." not in warnings.split("_Generated")[0]


def test_no_e_notation_in_human_reports() -> None:
    import re

    big = wattlm.estimate_training(model="gpt-3", hardware="V100", devices=10_000, region="US")
    for fmt in ("md", "disclosure"):
        text = render(big, fmt)
        assert not re.search(r"\d[eE][+-]?\d", text), fmt
    # 394 t, not 3.94e+05 kgCO2e: the mass prints in tonnes with a range in one unit
    assert re.search(r"\d t \(\d[\d.,]*–\d[\d.,]* t\) CO2e", render(big, "md"))


def test_a_running_run_is_shown_as_running_with_what_was_measured_so_far() -> None:
    """The dashboard showed healthy running runs as "degraded / sensor failed / emitted 0 g"."""
    from wattlm.carbon.intensity import resolve_region
    from wattlm.records import DeviceEnergy, RunRecord
    from wattlm.units import Provenance

    record = RunRecord(id=3, project="live", started_at="", duration_s=60.0, energy_j=3.6e6,
                       devices=[DeviceEnergy("gpu0", "gpu", 3.6e6, Provenance.MEASURED)],
                       region="FR", status="running", degraded=True,
                       warnings=["W305: a stored run was never finished"])
    text = render(record, "md")
    assert "running: the figures are those of what was measured so far" in text
    assert "sensor failed" not in text
    grams = resolve_region("FR").intensity_g_per_kwh  # 1 kWh x PUE 1.0
    from wattlm._format import format_mass

    assert f"| Operational emissions | {format_mass(grams)} CO2e |" in text


def test_a_distributed_run_shows_node_and_rank_per_device_and_energy_by_node() -> None:
    from wattlm.records import DeviceEnergy, RunRecord
    from wattlm.units import Provenance

    devices = [DeviceEnergy(f"gpu:{r % 2}", "gpu", 3.6e6 * (r + 1), Provenance.MEASURED,
                            node=str(r // 2), rank=r) for r in range(4)]
    record = RunRecord(id=5, project="ddp", started_at="", duration_s=60.0,
                       energy_j=3.6e6 * 10, devices=devices, region="FR")
    text = render(record, "md")
    assert ("| device | kind | energy | share | mean power | peak power | provenance "
            "| node | rank |") in text
    assert "| gpu:1 | gpu | 4.00 kWh | 40.0 % |" in text and "| 1 | 3 |" in text
    # node 0: ranks 0 and 1, 1 + 2 kWh; node 1: 3 + 4 kWh
    assert "| 0 | 2 | 3.00 kWh | 30.0 % |" in text
    assert "| 1 | 2 | 7.00 kWh | 70.0 % |" in text
