"""``wattlm validate --only inference``: energy and TPOT per ML.ENERGY row, with summaries."""

from __future__ import annotations

import json

import pytest

from wattlm.cli.main import main


def _main(argv: list[str]) -> int:
    """Run the real ``wattlm`` entry point (WattlmError -> one line, exit 2)."""
    return main(argv)


def test_validate_inference_human_shows_tpot(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["validate", "--only", "inference"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("task"))
    assert "TPOT meas" in header and "TPOT est" in header and "TPOT err" in header
    tpot_lines = [line for line in out.splitlines() if line.lstrip().startswith("TPOT")]
    # all rows, held-out models and the two GPUs, each meeting the thresholds
    assert len(tpot_lines) == 4
    assert all(line.rstrip().endswith("PASS") for line in tpot_lines)
    assert "inference targets (energy and TPOT): PASS" in out


def test_validate_inference_json_has_time(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["validate", "--only", "inference", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)["inference"]
    row = data["rows"][0]
    assert {"measured_tpot_s", "estimated_tpot_s", "tpot_error", "tpot_within_1_5x"} <= set(row)
    assert set(row["estimated_tpot_s"]) >= {"low", "central", "high"}
    summary = data["summary"]
    assert summary["pass_tpot"] is True and summary["pass_energy"] is True
    assert summary["all"]["tpot"]["rows"] == 314
