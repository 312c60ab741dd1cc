"""CLI: estimate train, validate, hardware, models (through main() and its error handling)."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert "GPT-3 on V100" in out and "Assumptions:" in out and "mfu" in out
    assert "315 ZFLOP" in out and " GWh (" in out and " t (" in out and "e+" not in out.split(
        "Assumptions:")[0]


def test_train_model_only_uses_catalogue_hardware(capsys: pytest.CaptureFixture[str]) -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _main(["estimate", "train", "--model", "gpt-3", "--intensity", "429"]) == 0
    captured = capsys.readouterr()
    assert "GPT-3 on V100" in captured.out
    # main() prints wattlm warnings as one stderr line; a recording harness may keep them
    shown = captured.err + " ".join(str(w.message) for w in caught)
    assert "W804" in shown and "V100" in shown and "assumed" in shown


def test_train_bad_scope_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["estimate", "train", "--model", "gpt-3", "--scope", "forever"]) == 2
    assert "published" in capsys.readouterr().err


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
    (["--params=-7e9", "--tokens", "1e12", "--hardware", "h100"], "params must be a number in [1,"),
    # issue 13: absurd magnitudes, fractional counts, beyond the context, -o checked first
    (["--params", "7e9", "--tokens", "1e12", "--hardware", "h100", "--seq-len", "9" * 30],
     "seq_len must be a whole number in [1, 10,000,000]"),
    (["--params", "7e9", "--tokens", "2.5", "--hardware", "h100"], "tokens must be a whole number"),
    (["--model", "llama-2-7b", "--hardware", "h100", "--seq-len", "8192"],
     "seq_len = 8,192 tokens exceed the 4,096-token context of Llama-2-7B"),
    (["--params", "7e9", "--tokens", "1e12", "--hardware", "h100", "--report", "md", "-o", "."],
     "-o/--output . is a directory, expected a file name"),
    (["--params", "7e9", "--tokens", "1e12", "--hardware", "h100", "-o", "x.md"],
     "-o/--output is the file for --report"),
    (["--params", "7e9", "--tokens", "1e12", "--hardware", "h100", "--mfu", "2"], "mfu"),
    (["--model", "gpt3", "--hardware", "H10"], "did you mean H100-SXM"),
])
def test_train_bad_input_exit_2(argv: list[str], message: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["estimate", "train", "--intensity", "0", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_train_unwritable_output_fails_before_the_work(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing" / "report.md"
    assert _main(["estimate", "train", "--params", "7e9", "--tokens", "1e12", "--hardware",
                  "h100", "--intensity", "0", "--report", "md", "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"folder {target.parent} does not exist" in err and not target.parent.exists()
    good = tmp_path / "report.md"
    assert _main(["estimate", "train", "--params", "7e9", "--tokens", "1e12", "--hardware",
                  "h100", "--intensity", "0", "--report", "md", "-o", str(good)]) == 0
    assert good.read_text("utf-8").strip()


def test_validate_training_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["validate", "--only", "training", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["training"]) == {"given_hours", "from_params", "summary"}
    assert data["training"]["summary"]["pass"] is True


def test_validate_training_human(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["validate", "--only", "training"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 4 and "P21-T4-GPT3" in out
    assert "given hours: every |error| <= 2 %: 1.6 %" in out
    assert "leave one model family out" in out
    assert _main(["validate", "--only", "training", "--all"]) == 0
    assert "<=2 %" in capsys.readouterr().out


def test_hardware_and_models_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["hardware", "h100"]) == 0
    out = capsys.readouterr().out
    assert "H100-SXM" in out and "H100-PCIe" in out and "A100" not in out
    assert _main(["models", "llama", "--format", "json"]) == 0
    names = [m["name"] for m in json.loads(capsys.readouterr().out)]
    assert "Llama-2-70B" in names and "GPT-3" not in names
    assert _main(["models", "zzzz"]) == 2
