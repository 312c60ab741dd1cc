import pytest

from wattlm.config import default_db_path, resolve_settings
from wattlm.errors import ConfigError


def test_precedence_defaults_user_project_env_argument(tmp_path, monkeypatch):
    user = tmp_path / "home" / ".config" / "wattlm"
    user.mkdir(parents=True)
    (user / "config.toml").write_text('region = "DE"\nproject = "user"\ninterval_s = 5\n')
    (tmp_path / "wattlm.toml").write_text('[wattlm]\nproject = "proj"\n')
    monkeypatch.setenv("WATTLM_INTERVAL_S", "2.5")
    s = resolve_settings(region="FR")
    assert (s.region, s.project, s.interval_s) == ("FR", "proj", 2.5)
    assert s.sources["region"] == "argument"
    assert s.sources["project"].endswith("wattlm.toml")
    assert s.sources["interval_s"] == "environment"
    assert s.sources["pue"] == "default"


def test_none_arguments_do_not_override(monkeypatch):
    monkeypatch.setenv("WATTLM_REGION", "SE")
    assert resolve_settings(region=None).region == "SE"


def test_unknown_keys_and_bad_values_are_rejected(tmp_path):
    (tmp_path / "wattlm.toml").write_text('regoin = "FR"\n')
    with pytest.raises(ConfigError, match="did you mean region"):
        resolve_settings()
    (tmp_path / "wattlm.toml").write_text("")
    with pytest.raises(ConfigError,
                       match=r"interval_s must be a number of seconds in \[0.001, 86,400\], got 0"):
        resolve_settings(interval_s=0)
    with pytest.raises(ConfigError, match=r"pue must be a number in \[1, 3\]"):
        resolve_settings(pue=0.9)
    with pytest.raises(ConfigError, match="must be a finite number"):
        resolve_settings(interval_s="fast")


def test_db_path_from_env_and_default(tmp_path, monkeypatch):
    assert resolve_settings().db_path == str(tmp_path / "runs.db")  # conftest sets WATTLM_DB
    monkeypatch.delenv("WATTLM_DB")
    assert resolve_settings().db_path == str(default_db_path())
    assert str(default_db_path()).endswith("wattlm/runs.db")
