from __future__ import annotations

import json
import sqlite3
import sys
import time
import warnings
from pathlib import Path

import pytest

from tests.store._helpers import DEVICES, STARTED_AT, T0, ramp
from wattlm.cli.main import main
from wattlm.records import DeviceEnergy, Footprint, PhaseRecord, RunRecord
from wattlm.store import open_store
from wattlm.units import Provenance, Range

INTERFACE_KEYS = {"id", "project", "started_at", "duration_s", "energy_kwh", "emissions_kg",
                  "region", "degraded", "warnings", "phases", "exit_code", "devices"}


def _seed(db: Path) -> tuple[int, int]:
    """One finished run (project a, 7.2 MJ = 2 kWh, FR) and one still running (project b)."""
    with open_store(db) as store:
        done = store.create_run(project="a", started_at=STARTED_AT, devices=DEVICES)
        store.add_samples(done, ramp(10))
        store.finish_run(RunRecord(
            id=done, project="a", started_at=STARTED_AT, duration_s=3600.0, energy_j=7.2e6,
            devices=[DeviceEnergy("gpu0", "gpu", 6.0e6, Provenance.MEASURED, 1666.7, 1800.0),
                     DeviceEnergy("package-0", "cpu", 1.2e6, Provenance.MODELLED, 333.3, 350.0,
                                  node="n1", rank=0)],
            phases=[PhaseRecord("train", T0, 3000.0, 6.0e6)], region="FR",
            intensity_g_per_kwh=44.18, emissions_g=88.36, provenance=Provenance.MODELLED,
            exit_code=0, command=["python", "train.py"],
            footprint=Footprint(Range.exact(2.0), Range.exact(0.08836), Range.exact(0.01),
                                Range(1.0, 2.0, 3.0)),
            distributed={"world_size": 2, "ranks": [{"rank": 0, "energy_j": 3.6e6},
                                                     {"rank": 1, "energy_j": 3.6e6}]},
        ))
        running = store.create_run(project="b", started_at=STARTED_AT, devices=DEVICES)
        store.add_samples(running, ramp(5))
    return done, running


def test_runs_empty_store_is_friendly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no store at") and "no runs yet" in out
    assert main(["runs", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_runs_human_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs.db"  # the WATTLM_DB of conftest
    done, running = _seed(db)
    assert main(["runs"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["id", "started", "project"]
    assert out[2].split()[0] == str(running) and "running" in out[2]
    assert out[3].split()[0] == str(done) and "2.00" in out[3] and "finished" in out[3]
    assert main(["runs", "--format", "json", "--project", "a"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in data] == [done]
    assert INTERFACE_KEYS <= set(data[0])
    assert data[0]["energy_kwh"] == pytest.approx(2.0)
    assert {"name", "kind", "energy_kwh", "provenance"} <= set(data[0]["devices"][0])
    assert main(["runs", "--limit", "0"]) == 2
    assert "--limit" in capsys.readouterr().err


def test_runs_and_show_take_db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "elsewhere" / "x.db"
    done, _ = _seed(other)
    assert main(["runs", "--db", str(other), "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["show", str(done), "--db", str(other), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == done


def test_show_json_shares_the_store_id(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    done, running = _seed(tmp_path / "runs.db")
    assert main(["show", str(done), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert INTERFACE_KEYS <= set(data)
    assert data["id"] == done and data["exit_code"] == 0
    assert data["emissions_kg"] == pytest.approx(0.08836)
    assert [d["kind"] for d in data["devices"]] == ["gpu", "cpu"]
    assert main(["show", str(running), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "running" and data["degraded"] is True
    assert data["devices"][0]["energy_j"] == 300.0 * 4


def test_show_human(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    done, _ = _seed(tmp_path / "runs.db")
    assert main(["show", str(done)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"run {done} · a · finished")
    for needle in ("gpu0", "package-0", "measured", "modelled", "train", "footprint:",
                   "operational", "water", "world_size: 2", "python train.py", "n1"):
        assert needle in out, needle


def test_show_unknown_and_bad_ids(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    done, running = _seed(tmp_path / "runs.db")
    assert main(["show", "42"]) == 2
    assert f"no run 42 in {tmp_path / 'runs.db'}; newest is {running}" in capsys.readouterr().err
    assert main(["show", "abc"]) == 2
    assert "whole number" in capsys.readouterr().err
    assert main(["show", "0"]) == 2


def test_show_region_reaccounts_without_changing_the_store(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from wattlm.carbon.intensity import resolve_region

    done, _ = _seed(tmp_path / "runs.db")
    sweden_g_per_kwh = resolve_region("SE").intensity_g_per_kwh
    assert main(["show", str(done), "--region", "SE", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # 2 kWh x PUE 1.0 (default outside a cloud region) x Sweden's packaged intensity
    assert data["emissions_kg"] == pytest.approx(2.0 * sweden_g_per_kwh / 1000.0, rel=1e-9)
    assert data["region"] == "SE" and data["intensity_g_per_kwh"] == sweden_g_per_kwh
    assert data["whatif"]["stored"]["region"] == "FR"
    assert data["whatif"]["stored"]["emissions_kg"] == pytest.approx(0.08836)
    assert main(["show", str(done), "--region", "SE"]) == 0
    assert "what-if: re-accounted for region SE (stored: region FR" in capsys.readouterr().out
    with open_store(tmp_path / "runs.db") as store:
        assert store.get_run(done).region == "FR"  # unchanged
    assert main(["show", str(done), "--region", "Atlantis"]) == 2
    assert "Atlantis" in capsys.readouterr().err


def test_unwritable_store_is_one_error_line(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    assert main(["runs", "--db", str(tmp_path / "file" / "runs.db")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wattlm: error: no store at") and err.count("\n") == 1
    assert not (tmp_path / "file").read_text()  # nothing written


def test_a_failed_command_is_listed_failed_with_its_exit_code(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--quiet", "--", sys.executable, "-c", "raise SystemExit(3)"]) == 3
    capsys.readouterr()
    assert main(["runs"]) == 0
    row = capsys.readouterr().out.splitlines()[2].split()
    assert row[-2:] == ["failed", "3"] or row[-3:-1] == ["failed", "3"]
    assert main(["runs", "--format", "json"]) == 0
    [data] = json.loads(capsys.readouterr().out)
    assert (data["status"], data["exit_code"]) == ("failed", 3)


def test_an_unknown_project_names_the_others(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _seed(tmp_path / "runs.db")
    assert main(["runs", "--project", "nope"]) == 0
    assert capsys.readouterr().out.strip() == (
        "no runs in project 'nope' (2 runs in other projects: 'a', 'b')")


@pytest.mark.parametrize("argv", [
    ["show", "99999999999999999999999"], ["show", "9223372036854775808"],
    ["runs", "--limit", "99999999999999999999999"], ["runs", "--limit", "0"],
    ["report", "123456789012345678901234567890"],
])
def test_huge_ids_and_limits_are_one_clear_line(tmp_path: Path, argv: list[str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _seed(tmp_path / "runs.db")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "9223372036854775807" in err


def test_other_urls_and_mistyped_paths_are_refused_without_creating_anything(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--db", "mysql://me:pw@db/runs"]) == 2
    err = capsys.readouterr().err
    assert "supported: a file path, sqlite:///path, postgresql://" in err and "pw" not in err
    typo = tmp_path / "tpyo" / "runs.db"
    for argv in (["runs", "--db", str(typo)], ["show", "1", "--db", str(typo)],
                 ["report", "1", "--db", str(typo)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"wattlm: error: no store at {typo}") and err.count("\n") == 1
    assert not (tmp_path / "tpyo").exists() and not Path("mysql:").exists()


def test_a_damaged_row_is_skipped_with_a_warning(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs.db"
    done, running = _seed(db)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE runs SET record = 'not json' WHERE id = ?", (done,))
        conn.execute("UPDATE samples SET data = x'0102' WHERE run_id = ?", (running,))
    conn.close()
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # as outside pytest: shown by the CLI, one line each
        assert main(["runs", "--format", "json"]) == 0
        captured = capsys.readouterr()
        assert json.loads(captured.out) == []
        assert main(["runs"]) == 0
        table = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 2 and all(line.startswith("wattlm: warning: W322: run ") for line in lines)
    assert {line.split()[4] for line in lines} == {str(done), str(running)}
    assert f"W322: run {running} " in table.err and "Traceback" not in table.err
    assert f"\n{done} " in table.out  # its indexed columns are intact: listed
    assert main(["show", str(done)]) == 2
    assert f"run {done} in {db} is damaged" in capsys.readouterr().err


def test_readers_do_not_wait_for_a_writer(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs.db"
    done, _ = _seed(db)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        started = time.monotonic()
        assert main(["runs"]) == 0
        assert main(["show", str(done)]) == 0
        assert time.monotonic() - started < 5.0  # the busy timeout is 30 s
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert str(done) in capsys.readouterr().out
