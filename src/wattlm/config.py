"""Settings: one frozen object, resolved once, that records where each value came from.

Precedence (later wins): built-in defaults < ``~/.config/wattlm/config.toml`` <
``./wattlm.toml`` < ``WATTLM_*`` environment variables < explicit arguments.
Unknown keys are rejected with a "did you mean".
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from wattlm.errors import ConfigError, did_you_mean

__all__ = ["Settings", "default_db_path", "resolve_settings"]


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/wattlm/runs.db`` (``~/.local/share/wattlm/runs.db`` by default)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "wattlm" / "runs.db"


@dataclass(frozen=True)
class Settings:
    """Every setting wattlm reads, with ``sources[name]`` saying where its value came from."""

    region: str | None = None
    project: str = "default"
    interval_s: float = 1.0
    flush_s: float = 10.0
    db: str | None = None
    powercap_root: str = "/sys/class/powercap"
    pue: float | None = None
    intensity_g_per_kwh: float | None = None
    intensity_series: str | None = None
    electricitymaps_token: str | None = None
    baseline_s: float = 0.0
    save: bool = True
    distributed_timeout_s: float = 30.0
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def db_path(self) -> str:
        """The store location: the ``db`` setting or :func:`default_db_path`."""
        return self.db or str(default_db_path())


_KEYS = {f.name: f for f in fields(Settings) if f.name != "sources"}


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Convert a raw value to the field's type, with an error that names its origin."""
    annotation = str(_KEYS[name].type)
    if value is None:
        return None
    try:
        if "float" in annotation:
            number = float(value)
            if name in ("interval_s", "flush_s") and number <= 0:
                raise ConfigError(f"{origin}: {name} must be > 0 seconds, got {value!r}")
            if name in ("baseline_s", "intensity_g_per_kwh") and number < 0:
                raise ConfigError(f"{origin}: {name} must be >= 0, got {value!r}")
            if name == "pue" and number < 1.0:
                raise ConfigError(f"{origin}: pue must be >= 1.0, got {value!r}")
            return number
        if "bool" in annotation:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{origin}: {name} must be true or false, got {value!r}")
        return str(value)
    except ValueError as e:
        raise ConfigError(f"{origin}: {name} must be a number, got {value!r}") from e


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():  # the common case: no file, and no TOML parser to import (~10 ms)
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from e
    table = data.get("wattlm", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: expected a [wattlm] table")
    return table


def _layer(values: dict[str, Any], origin: str, merged: dict[str, Any],
           sources: dict[str, str]) -> None:
    for key, raw in values.items():
        if key not in _KEYS:
            raise ConfigError(f"{origin}: {did_you_mean(key, _KEYS, 'setting')}")
        merged[key] = _coerce(key, raw, origin)
        sources[key] = origin


def resolve_settings(
    *,
    user_config: Path | None = None,
    project_config: Path | None = None,
    environ: dict[str, str] | None = None,
    **arguments: Any,
) -> Settings:
    """Resolve settings from every layer; arguments that are ``None`` do not override."""
    env = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    sources = {name: "default" for name in _KEYS}
    user_path = user_config or Path(
        env.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "wattlm" / "config.toml"
    _layer(_read_toml(Path(user_path)), str(user_path), merged, sources)
    proj_path = project_config or Path.cwd() / "wattlm.toml"
    _layer(_read_toml(Path(proj_path)), str(proj_path), merged, sources)
    env_values = {}
    for key in _KEYS:
        var = f"WATTLM_{key.upper()}"
        if var in env and env[var] != "":
            env_values[key] = env[var]
    _layer(env_values, "environment", merged, sources)
    _layer({k: v for k, v in arguments.items() if v is not None}, "argument", merged, sources)
    return Settings(**merged, sources=sources)
