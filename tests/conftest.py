"""Shared fixtures: every test gets its own store, config dirs and fresh caches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wattlm._caches import clear_all


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private store, no user or project config, no powercap, fresh caches."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("WATTLM_DB", str(tmp_path / "runs.db"))
    monkeypatch.setenv("WATTLM_POWERCAP_ROOT", str(tmp_path / "no-powercap"))
    for var in ("WATTLM_REGION", "WATTLM_PROJECT", "WATTLM_INTERVAL_S", "WATTLM_PUE",
                "WATTLM_ELECTRICITYMAPS_TOKEN", "CUDA_VISIBLE_DEVICES", "RANK", "LOCAL_RANK",
                "WORLD_SIZE", "GROUP_RANK", "NODE_RANK", "WATTLM_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    clear_all()
    yield tmp_path
    clear_all()
