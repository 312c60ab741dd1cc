"""CLI: estimate train, validate, hardware, models (through main() and its error handling)."""

from __future__ import annotations

import json

import pytest

from wattlm.cli.main import main


def _main(argv: list[str]) -> int:
    """Run the real ``wattlm`` entry point (WattlmError -> one line, exit 2)."""
    return main(argv)


def test_train_json_given_hours(capsys: pytest.CaptureFixture[str]) -> None:
    code = _main(["estimate", "train", "--params", "7e9", "--tokens", "2e12", "--hardware",
                  "A100-80GB", "--device-hours", "184320", "--power-w", "400", "--pue", "1.1",
                  "--intensity", "385", "--format", "json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["emissions_kg"]["central"] == pytest.approx(31220, rel=0.002)
    assert set(data["energy_kwh"]) >= {"low", "central", "high"}


def test_train_human_shows_range_and_assumptions(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["estimate", "train", "--model", "gpt-3", "--hardware", "V100",
                  "--devices", "10000", "--intensity", "429"]) == 0
    out = capsys.readouterr().out
    assert "GPT-3 on V100" in out and "[" in out and "Assumptions:" in out and "mfu" in out


def test_train_human_equivalents_and_embodied_not_counted(
        capsys: pytest.CaptureFixture[str]) -> None:
    # 1000 device-hours x 400 W = 400 kWh; x 500 g/kWh = 200 kg operational; V100 has no
    # embodied figure, so embodied is said to be not counted rather than shown as 0.
    assert _main(["estimate", "train", "--hardware", "V100", "--device-hours", "1000",
                  "--power-w", "400", "--intensity", "500"]) == 0
    out = capsys.readouterr().out
    assert "not counted: the catalogue has no embodied figure for V100" in out
    # EPA 244.2 g/km: 200,000 g / 244.2 = 819 km; EIA 29.564 kWh/day: 400 / 29.564 = 13.5 days
    assert "819 km of driving" in out and "13.5 days of electricity" in out
    assert "charges of smartphone" not in out


def test_hardware_and_models_suggest_on_no_match(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["hardware", "h10o"]) == 2
    assert "did you mean H100-SXM" in capsys.readouterr().err
    assert _main(["models", "lama-9"]) == 2
    assert "did you mean LLaMA-7B" in capsys.readouterr().err


def test_validate_exit_status_follows_the_targets() -> None:
    from wattlm.cli.validate import _passed

    assert _passed({"summary": {"pass": True}}) and _passed({"error": "not available"})
    assert not _passed({"summary": {"pass": False}})


@pytest.mark.parametrize(("argv", "message"), [
    (["--params=-7e9", "--tokens", "1e12", "--hardware", "h100"], "params must be > 0"),
    (["--params", "7e9", "--tokens", "1e12", "--hardware", "h100", "--mfu", "2"], "mfu"),
    (["--model", "gpt3", "--hardware", "H10"], "did you mean H100-SXM"),
])
def test_train_bad_input_exit_2(argv: list[str], message: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["estimate", "train", "--intensity", "0", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_validate_training_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["validate", "--only", "training", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["training"]) == {"given_hours", "from_params", "summary"}
    assert data["training"]["summary"]["pass"] is True


def test_validate_training_human(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["validate", "--only", "training"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 4 and "P21-T4-GPT3" in out
    assert "measured 100 %" in out and "<=2 %" in out


def test_hardware_and_models_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["hardware", "h100"]) == 0
    out = capsys.readouterr().out
    assert "H100-SXM" in out and "H100-PCIe" in out and "A100" not in out
    assert _main(["models", "llama", "--format", "json"]) == 0
    names = [m["name"] for m in json.loads(capsys.readouterr().out)]
    assert "Llama-2-70B" in names and "GPT-3" not in names
    assert _main(["models", "zzzz"]) == 2
