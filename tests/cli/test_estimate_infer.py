"""``wattlm estimate infer``: human and JSON output, exit code 2 on bad input."""

from __future__ import annotations

import json

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
    assert "energy per output token" in out and "accelerators" in out and "[" in out
    assert "time per output token" in out and " ms [" in out


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
    (["--batch-size", "0"], "batch_size must be > 0"),
    (["--precision", "fp12"], "unknown precision"),
    (["--devices", "1"], "use at least"),
    (["--output-tokens", "-3"], "output_tokens must be > 0"),
])
def test_bad_input_exit_2(argv: list[str], fragment: str,
                          capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([*BASE, *argv]) == 2
    assert fragment in capsys.readouterr().err
