"""``wattlm estimate infer``: human and JSON output, exit code 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wattlm.cli.main import main

BASE = ["--model", "llama-2-70b", "--hardware", "H100-SXM", "--devices", "4", "--batch-size",
        "32", "--input-tokens", "800", "--output-tokens", "300", "--intensity", "400"]


def _run(argv: list[str]) -> int:
    """``wattlm estimate infer ARGV`` through the real entry point."""
    return main(["estimate", "infer", *argv])


def test_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(BASE) == 0
    out = capsys.readouterr().out
    assert "Llama-2-70B on 4 x H100-SXM" in out
    assert "energy per output token" in out and "accelerators" in out
    # one formatter: SI prefix per value, the range in the central value's unit
    line = next(x for x in out.splitlines() if "time per output token" in x)
    assert " ms (" in line and "e+" not in out and "e-0" not in out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([*BASE, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("energy_per_request_j", "energy_per_output_token_j",
                "accelerators_energy_per_output_token_j", "time_per_request_s",
                "time_per_output_token_s", "devices"):
        assert set(data[key]) >= {"low", "central", "high"}
        assert data[key]["low"] <= data[key]["central"] <= data[key]["high"]
    assert data["devices"]["central"] == 4
    assert data["assumptions"]["batch_size"] == 32


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--batch-size", "0"], "batch_size must be a whole number in [1, 1,000,000], got 0"),
    (["--precision", "fp12"], "precision: unknown 'fp12'; valid choices"),
    (["--devices", "1"], "use more devices"),
    (["--output-tokens", "-3"], "output_tokens must be a whole number in [1, "),
    # issue 13: fractional counts, beyond the context, absurd magnitudes, empty names
    (["--input-tokens", "2.5"], "input_tokens must be a whole number"),
    (["--input-tokens", "4000"], "= 4,300 tokens exceed the 4,096-token context of Llama-2-70B"),
    (["--devices", "9" * 30], "devices must be a whole number in [1, 1,000,000]"),
    (["--tensor-parallel", "9" * 30], "tensor_parallel must be a whole number in [1, "),
    (["--intensity", "1e308"], "2,000 g/kWh (coal plants are near 1,000) is surely a mistake"),
    (["--pue", "nan"], "pue must be a finite number, got nan"),
    (["--hardware", ""], "hardware must be a non-empty line of text"),
    (["--region", "🌍"], "unknown region"),
    # conflicting options: an error with a hint, not one silently ignored
    (["--arrival-rate", "2"], "--batch-size would be ignored: give one of them"),
    (["--engine", "tgi"], "engine: unknown serving engine 'tgi'; valid choices"),
    (["--devices", "8", "--tensor-parallel", "2"], "does not match devices=8"),
    (["--devices", "4", "--expert-parallel", "3"], "expert_parallel=3 must divide"),
])
def test_bad_input_exit_2(argv: list[str], fragment: str,
                          capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([*BASE, *argv]) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert len(err.strip().splitlines()) == 1, err  # no warning before the error


def test_params_with_model_wins_with_a_one_line_note(capsys: pytest.CaptureFixture[str]) -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _run([*BASE, "--params", "13e9", "--format", "json"]) == 0
    captured = capsys.readouterr()
    # main() prints wattlm warnings as one stderr line; a recording harness may keep them
    shown = captured.err.splitlines() + [str(w.message) for w in caught]
    notes = [line for line in shown if "W900" in line]
    assert len(notes) == 1
    assert "params 13.0 billion replaces 69.0 billion of Llama-2-70B (catalogue)" in notes[0]
    assert json.loads(captured.out)["assumptions"]["params"] == 13e9


def test_config_that_is_not_a_model_config_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"architectures": ["Foo"]}', "utf-8")
    assert _run(["--config", str(path), "--hardware", "H100"]) == 2
    err = capsys.readouterr().err
    assert "not a model config" in err and len(err.strip().splitlines()) == 1
