"""The packaged training validation meets the issue's targets, row by row."""

from __future__ import annotations

import pytest

from wattlm.estimate.validation import training_rows, validate_training


def test_targets_met() -> None:
    result = validate_training()
    summary = result["summary"]
    assert summary["given_hours_max_abs_error_pct"] <= 2.0
    assert summary["from_params_median_abs_error_pct"] <= 25.0
    assert summary["from_params_inside_fraction"] >= 0.8
    assert summary["from_params_median_spread"] <= 3.0
    assert summary["pass"] is True
    assert summary["given_hours_rows"] >= 25 and summary["from_params_rows"] >= 10


def test_every_given_hours_row_within_2_pct() -> None:
    for row in validate_training()["given_hours"]:
        assert row["max_abs_error_pct"] <= 2.0, row["row_id"]


def test_rows_keep_sources_and_conventions() -> None:
    rows = training_rows()
    assert all(r.source.strip() and r.note.strip() for r in rows)
    bloom = next(r for r in rows if r.row_id == "LB-BLOOM-final")
    assert bloom.pue == 1.0  # BLOOM's 433 MWh excludes PUE
    gpt3 = next(r for r in rows if r.row_id == "P21-T4-GPT3")
    assert (gpt3.power_w, gpt3.pue, gpt3.intensity_g_per_kwh) == (330, 1.1, 429)


def test_llama_1_7b_reproduces_by_hand() -> None:
    row = next(r for r in validate_training()["given_hours"] if r["row_id"] == "L1-7B")
    assert row["estimated_energy_kwh"] == pytest.approx(82432 * 0.4 * 1.1)
