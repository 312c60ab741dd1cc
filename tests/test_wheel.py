"""The built wheel ships every packaged data file (CSV tables and their SOURCES.md)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_every_data_file(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(tmp_path)],
                   check=True, capture_output=True)
    wheel = next(tmp_path.glob("wattlm-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    data_files = [p for p in (ROOT / "src").rglob("*") if p.suffix in (".csv", ".md")
                  and "data" in p.parts]
    assert data_files, "no packaged data found"
    missing = [str(p.relative_to(ROOT / "src")) for p in data_files
               if str(p.relative_to(ROOT / "src")) not in names]
    assert not missing
    assert "wattlm/py.typed" in names
