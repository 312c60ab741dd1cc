"""``wattlm validate``: cross-validated figures per group, EcoLogits beside, PASS/FAIL, speed."""

from __future__ import annotations

import json
import time

import pytest

from wattlm.cli.main import main


def test_validate_default_fits_a_screen_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    start = time.monotonic()
    assert main(["validate"]) == 0
    assert time.monotonic() - start < 30  # the goal is 10 s; generous on a loaded machine
    out = capsys.readouterr().out
    assert len(out.splitlines()) <= 70
    assert "leave one model family out" in out
    assert "energy EcoLogits" in out and "time/token wattlm" in out
    for group in ("B200", "fp8", "moe", "vllm-0.5", "vllm-current"):
        assert group in out
    assert "FAIL" not in out


def test_validate_json_has_cross_validated_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--only", "inference", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)["inference"]
    summary = data["summary"]
    assert summary["pass"] is True
    assert summary["all"]["wattlm_energy"]["rows"] == 602
    e, eco = summary["all"]["wattlm_energy"], summary["all"]["ecologits_energy"]
    assert e["median_abs_error"] <= 0.30 and e["within_1_5x"] >= 0.70
    assert e["median_abs_error"] < eco["median_abs_error"]
    assert summary["all"]["wattlm_tpot"]["within_1_5x"] >= 0.60
    row = data["rows"][0]
    assert {"family", "estimated_j_per_token", "ecologits_j_per_token",
            "estimated_tpot_s", "measured_power_w"} <= set(row)


def test_validate_all_prints_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--only", "inference", "--all"]) == 0
    assert len(capsys.readouterr().out.splitlines()) > 600
