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
    (["--batch-size", "0"], "batch_size must be a finite number > 0"),
    (["--precision", "fp12"], "precision: unknown 'fp12'; valid choices"),
    (["--devices", "1"], "use more devices"),
    (["--output-tokens", "-3"], "output_tokens must be a finite number > 0"),
    (["--engine", "tgi"], "engine: unknown serving engine 'tgi'; valid choices"),
    (["--devices", "8", "--tensor-parallel", "2"], "does not match devices=8"),
    (["--devices", "4", "--expert-parallel", "3"], "expert_parallel=3 must divide"),
])
def test_bad_input_exit_2(argv: list[str], fragment: str,
                          capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([*BASE, *argv]) == 2
    assert fragment in capsys.readouterr().err


def test_config_that_is_not_a_model_config_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"architectures": ["Foo"]}', "utf-8")
    assert _run(["--config", str(path), "--hardware", "H100"]) == 2
    err = capsys.readouterr().err
    assert "not a model config" in err and len(err.strip().splitlines()) == 1
