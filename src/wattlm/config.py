"""Settings: one frozen object, resolved once, that records where each value came from.

Precedence (later wins): built-in defaults < ``~/.config/wattlm/config.toml`` <
``./wattlm.toml`` < ``WATTLM_*`` environment variables < explicit arguments.
Unknown keys are rejected with a "did you mean".
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from wattlm import _validate
from wattlm.errors import ConfigError, InvalidInputError, did_you_mean

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


#: Environment variables read by their own module, checked here too so that a bad value stops
#: a command at the door (exit 2) instead of silently dropping a sensor: variable -> bound name.
_ENV_ONLY = {"WATTLM_CPU_TDP_W": "cpu_tdp_w"}

_MIN_INTERVAL_S = 0.001  # a shorter period makes the sampler spin and measure itself


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Convert a raw value to the field's type, with an error that names its origin."""
    annotation = str(_KEYS[name].type)
    if value is None:
        return None
    try:
        if name in ("interval_s", "flush_s"):
            return _validate.bounded(value, name, low=_MIN_INTERVAL_S, origin=origin,
                                     unit="seconds")
        if name in ("distributed_timeout_s",):
            return _validate.positive(value, name, origin=origin, unit="seconds")
        if name in ("baseline_s", "intensity_g_per_kwh"):
            return _validate.bounded(value, name, low=0.0, origin=origin)
        if name == "pue":
            return _validate.pue(value, origin=origin)
        if "bool" in annotation:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{origin}: {name} must be true or false, got {value!r}")
        if name == "project":
            return _validate.text(value, name, origin=origin)
        if name in ("region", "electricitymaps_token"):
            return _validate.text(value, name, origin=origin, max_length=2_000)
        if name == "db":
            return _check_db(value, origin)
        return _validate.text(value, name, origin=origin, max_length=4_096)
    except ConfigError:
        raise
    except InvalidInputError as e:
        raise ConfigError(str(e)) from None


def _check_db(value: Any, origin: str) -> str:
    """A store location: a file path, ``sqlite:///PATH`` or ``postgresql://...``."""
    location = _validate.text(value, "db", origin=origin, max_length=4_096)
    scheme = location.split("://", 1)[0].lower() if "://" in location else ""
    if scheme and scheme.split("+", 1)[0] not in ("sqlite", "postgresql", "postgres"):
        raise ConfigError(
            f"{origin}: db must be a store location (supported: a file path, sqlite:///path, "
            f"postgresql://...), got a URL with scheme {scheme!r}")
    return location


def _toml_origin(path: Path, key: str, lines: list[str]) -> str:
    """``PATH line N`` for the line that sets ``key`` (just ``PATH`` if it cannot be found)."""
    for number, line in enumerate(lines, start=1):
        if line.strip().startswith((f"{key} ", f"{key}=")):
            return f"{path} line {number}"
    return str(path)


def _read_toml(path: Path) -> tuple[dict[str, Any], list[str]]:
    if not path.exists():  # the common case: no file, and no TOML parser to import (~10 ms)
        return {}, []
    try:
        source = _validate.read_text(path, "settings file")
    except InvalidInputError as e:
        raise ConfigError(str(e)) from None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"settings file {path} is not valid TOML: {e}") from None
    table = data.get("wattlm", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: expected a [wattlm] table")
    return table, source.splitlines()


def _layer(values: dict[str, Any], origin: str, merged: dict[str, Any],
           sources: dict[str, str], where: Callable[[str], str] | None = None) -> None:
    for key, raw in values.items():
        place = where(key) if where else origin
        if key not in _KEYS:
            raise ConfigError(f"{place}: {did_you_mean(key, _KEYS, 'setting')}")
        merged[key] = _coerce(key, raw, place)
        sources[key] = origin


def _check_env_only(env: Mapping[str, str]) -> None:
    """Validate the :data:`_ENV_ONLY` variables (``WATTLM_CPU_TDP_W=-5`` is a ConfigError)."""
    for var, name in _ENV_ONLY.items():
        raw = env.get(var, "").strip()
        if not raw:
            continue
        try:
            _validate.bounded(raw, name, low=0.0, low_open=True, origin=f"environment {var}",
                              unit="W per socket")
        except InvalidInputError as e:
            raise ConfigError(str(e)) from None


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
    for path in (Path(user_path), Path(project_config or Path.cwd() / "wattlm.toml")):
        table, lines = _read_toml(path)
        _layer(table, str(path), merged, sources,
               lambda key, p=path, ls=lines: _toml_origin(p, key, ls))  # type: ignore[misc]
    env_values = {}
    for key in _KEYS:
        var = f"WATTLM_{key.upper()}"
        if var in env and env[var] != "":
            env_values[key] = env[var]
    _layer(env_values, "environment", merged, sources,
           lambda key: f"environment WATTLM_{key.upper()}")
    _check_env_only(env)
    _layer({k: v for k, v in arguments.items() if v is not None}, "argument", merged, sources)
    return Settings(**merged, sources=sources)
