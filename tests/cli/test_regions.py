"""``wattlm regions``: search output in human and JSON form, errors for bad providers."""

from __future__ import annotations

import argparse
import json

import pytest

from wattlm.cli import regions
from wattlm.errors import UnknownNameError


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="wattlm")
    regions.register(parser.add_subparsers())
    args = parser.parse_args(["regions", *argv])
    return int(args.handler(args))


def test_regions_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["france", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    first = rows[0]
    assert {"code", "name", "intensity_g_per_kwh", "year", "source"} <= set(first)
    assert first["code"] == "FR" and first["intensity_g_per_kwh"] == pytest.approx(44.18)
    assert "aws:eu-west-3" in [r["code"] for r in rows]


def test_regions_provider_human(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--provider", "gcp", "europe-west1"]) == 0
    out = capsys.readouterr().out
    assert "gcp:europe-west1" in out and "1.09" in out and "gCO2e/kWh" in out
    assert "aws:" not in out


def test_regions_no_match_is_an_error() -> None:
    with pytest.raises(UnknownNameError, match="unknown region .atlantis.: did you mean"):
        _run(["atlantis"])


def test_regions_misspelled_suggests() -> None:
    with pytest.raises(UnknownNameError, match="did you mean France"):
        _run(["fracne"])


def test_regions_no_match_for_a_provider() -> None:
    with pytest.raises(UnknownNameError, match="no gcp region matches 'paris-x'.*--provider gcp"):
        _run(["--provider", "gcp", "paris-x"])


def test_bare_cloud_region_suggests_the_provider_prefix() -> None:
    from wattlm.carbon.intensity import resolve_region

    with pytest.raises(UnknownNameError, match="provider prefix; did you mean aws:eu-west-3"):
        resolve_region("eu-west-3")


def test_unknown_provider_is_a_wattlm_error() -> None:
    with pytest.raises(UnknownNameError, match="did you mean aws"):
        _run(["--provider", "awz"])


def test_regions_is_registered_in_main() -> None:
    from wattlm.cli import main

    assert "regions" in main.COMMANDS
