from __future__ import annotations

from collections.abc import Sequence

import pytest

from tests.fakes.context import fake_context
from tests.fakes.pyhlml import HLSMI_CSV, FakeHlml, fake_hlml
from wattlm.errors import SensorError
from wattlm.sensors.backend import CommandResult, ProbeContext
from wattlm.sensors.base import ProbeResult
from wattlm.sensors.gaudi import HLSMI_QUERY, parse_hlsmi_csv
from wattlm.sensors.registry import choose, probe_all
from wattlm.units import Provenance


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _gaudi(context: ProbeContext) -> ProbeResult:
    return next(r for r in probe_all(context) if r.backend == "gaudi")


def _hlml_context(hlml: FakeHlml, environ: dict[str, str] | None = None,
                  clock: Clock | None = None) -> ProbeContext:
    return fake_context(modules={"pyhlml": hlml}, environ=environ, clock=clock or Clock())


def test_energy_counter_per_device() -> None:
    hlml = fake_hlml(2)
    result = _gaudi(_hlml_context(hlml))
    assert result.available and "via pyhlml" in result.reason
    assert [s.info.name for s in result.sensors] == ["hpu:0", "hpu:1"]
    assert [s.info.model for s in result.sensors] == ["HL-225", "HL-225"]
    assert all(s.info.provenance is Provenance.MEASURED for s in result.sensors)
    first = result.sensors[0]
    first.start()
    hlml.hpus[0].energy_mj += 123_456.0
    assert first.read_j() == pytest.approx(123.456)


def test_a_counter_that_resets_restarts_from_its_new_value() -> None:
    hlml = fake_hlml(1)
    (sensor,) = _gaudi(_hlml_context(hlml)).sensors
    sensor.start()
    hlml.hpus[0].energy_mj += 5_000.0
    assert sensor.read_j() == pytest.approx(5.0)
    hlml.hpus[0].energy_mj = 2_000.0  # driver reloaded: counting from 0 again
    assert sensor.read_j() == pytest.approx(7.0)


def test_no_counter_and_old_library_means_power_sampling_by_index() -> None:
    hlml = fake_hlml(2, version="1.6", energy_supported=False)
    clock = Clock()
    result = _gaudi(_hlml_context(hlml, {"HABANA_VISIBLE_MODULES": "1"}, clock))
    (sensor,) = result.sensors  # 1.6 has no module ids: the index stands in
    assert sensor.info.provenance is Provenance.INTEGRATED
    assert "power sampling, no energy counter" in result.reason
    sensor.start()
    clock.now += 2.0
    assert sensor.read_j() == pytest.approx(700.0)  # 350 W x 2 s


def test_habana_visible_modules_select_by_module_id() -> None:
    hlml = fake_hlml(4, first_module=4)
    for i, hpu in enumerate(hlml.hpus):
        hpu.name = f"dev{i}"
    result = _gaudi(_hlml_context(hlml, {"HABANA_VISIBLE_MODULES": "7,5"}))
    assert [s.info.model for s in result.sensors] == ["dev3", "dev1"]
    assert [s.info.name for s in result.sensors] == ["hpu:0", "hpu:1"]


def test_modules_that_do_not_exist_warn_and_the_rest_are_used() -> None:
    hlml = fake_hlml(2, first_module=4)
    selection = choose(_hlml_context(hlml, {"HABANA_VISIBLE_MODULES": "4,0"}))
    assert [s.info.name for s in selection.sensors][:1] == ["hpu:0"]
    assert [p.code for p in selection.problems] == ["W140"]
    assert "'0' are not module ids here (modules: 4, 5)" in selection.problems[0].message


def test_driver_missing_is_explained_and_nothing_is_printed(
        capsys: pytest.CaptureFixture[str]) -> None:
    hlml = fake_hlml(1)
    hlml.lib_missing = True
    result = _gaudi(_hlml_context(hlml))
    assert not result.available
    assert result.reason == "HLML could not be initialised: HLML Error with code 1"
    assert "habanalabs driver" in result.hint
    assert [p.code for p in result.problems] == ["W141"]
    assert capsys.readouterr().out == ""  # `wattlm env --format json` stays valid JSON


def test_a_device_lost_mid_run_raises_a_sensor_error() -> None:
    hlml = fake_hlml(1)
    (sensor,) = _gaudi(_hlml_context(hlml)).sensors
    sensor.start()
    hlml.hpus[0].lost = True
    with pytest.raises(SensorError, match="hpu:0: HLML error: HLML Error with code 15"):
        sensor.read_j()


# -- hl-smi ------------------------------------------------------------------------------------

class HlSmi:
    """Runs "hl-smi" by answering with recorded output; counts the calls."""

    def __init__(self, stdout: str = HLSMI_CSV, returncode: int = 0, stderr: str = "") -> None:
        self.stdout, self.returncode, self.stderr = stdout, returncode, stderr
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], timeout_s: float) -> CommandResult:
        assert timeout_s <= 10
        self.calls.append(list(argv))
        return CommandResult(self.returncode, self.stdout, self.stderr)


def _hlsmi_context(runner: HlSmi, clock: Clock | None = None,
                   environ: dict[str, str] | None = None) -> ProbeContext:
    return fake_context(run=runner, which=lambda name: f"/usr/bin/{name}",
                        clock=clock or Clock(), environ=environ)


def test_parse_recorded_hlsmi_output() -> None:
    rows = parse_hlsmi_csv(HLSMI_CSV)
    assert [(r.index, r.module_id, r.name, r.power_w) for r in rows] == [
        (0, 4, "HL-225", 97.0), (1, 5, "HL-225", 102.0), (2, 6, "HL-225", 421.0),
        (3, 7, "HL-225", None)]
    assert parse_hlsmi_csv("0, 0, abc, HL-325L, 95 W\n")[0].power_w == 95.0
    with pytest.raises(SensorError, match="unexpected hl-smi output line"):
        parse_hlsmi_csv("hl-smi: command not supported\n")


def test_hlsmi_power_is_sampled_without_pyhlml() -> None:
    runner, clock = HlSmi(), Clock()
    result = _gaudi(_hlsmi_context(runner, clock, {"HABANA_VISIBLE_MODULES": "6,5,7"}))
    assert runner.calls[0] == list(HLSMI_QUERY)
    assert result.available and "via hl-smi" in result.reason
    # module 7 has no power reading: left out
    assert [s.info.name for s in result.sensors] == ["hpu:0", "hpu:1"]
    sensor = result.sensors[0]
    sensor.start()
    clock.now += 10.0
    runner.stdout = HLSMI_CSV.replace("421", "221")
    assert sensor.read_j() == pytest.approx((421.0 + 221.0) / 2 * 10.0)
    assert choose(_hlsmi_context(HlSmi())).claims[0].role == "accelerator"


def test_hlsmi_failing_is_explained() -> None:
    runner = HlSmi(stdout="", returncode=1, stderr="habanalabs driver is not loaded")
    result = _gaudi(_hlsmi_context(runner))
    assert not result.available
    assert "hl-smi exited with 1: habanalabs driver is not loaded" in result.reason
    assert [p.code for p in result.problems] == ["W141"]


def test_nothing_gaudi_here() -> None:
    result = _gaudi(fake_context())
    assert result.reason == "pyhlml not installed; no hl-smi on PATH"
    assert result.problems == []
