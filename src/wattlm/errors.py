"""Exceptions and warnings of wattlm.

Every error wattlm raises on purpose derives from :class:`WattlmError`; the command line turns
one into a single line on stderr and exit code 2. Warnings carry a stable code, documented in
``docs/warnings.md``::

    WattlmError
    ├── ConfigError          bad settings file, environment variable or argument
    ├── UnknownNameError     an unknown hardware, model, region or run ("did you mean")
    ├── InvalidInputError    a value out of range (negative energy, interval <= 0, MFU > 1, ...)
    ├── SensorError          a sensor that cannot be read (handled by the sampler)
    ├── StoreError           the run store cannot be opened, read or written
    ├── DataError            a packaged or user-supplied data file is malformed
    ├── DistributedError     inconsistent launcher variables or process-group state
    └── MissingExtraError    an optional dependency is not installed (names the extra)

    WattlmWarning (UserWarning)
    ├── SensorWarning        a sensor failed or was dropped during a run (W1xx)
    ├── AccountingWarning    an assumed default was used: world intensity, PUE (W2xx)
    ├── StoreWarning         a run could not be saved (W3xx)
    ├── MeasurementWarning   a window shorter than a counter's update period, etc. (W4xx)
    ├── ServingWarning       serve-bench: a level's figures are less reliable (W600-W619)
    ├── ApiImpactWarning     hosted-API impacts: unknown model, missing usage (W620-W629)
    ├── ComparisonWarning    a variant or benchmark result to read with care (W7xx)
    └── EstimateWarning      an estimate's assumption: batch capped, shape guessed (W8xx)
"""

from __future__ import annotations

import difflib
import logging
import warnings
from collections.abc import Iterable

__all__ = [
    "AccountingWarning",
    "ApiImpactWarning",
    "ComparisonWarning",
    "ConfigError",
    "DataError",
    "DistributedError",
    "InvalidInputError",
    "MeasurementWarning",
    "EstimateWarning",
    "MissingExtraError",
    "SensorError",
    "SensorWarning",
    "ServingWarning",
    "StoreError",
    "StoreWarning",
    "UnknownNameError",
    "WattlmError",
    "WattlmWarning",
    "did_you_mean",
    "warn",
]

logging.getLogger("wattlm").addHandler(logging.NullHandler())
_log = logging.getLogger(__name__)


class WattlmError(Exception):
    """Root of every error wattlm raises on purpose."""


class ConfigError(WattlmError):
    """A setting (file, environment variable or argument) is invalid."""


class UnknownNameError(WattlmError):
    """A name (hardware, model, region, run id) is not known."""


class InvalidInputError(WattlmError, ValueError):
    """A value is outside its valid range."""


class SensorError(WattlmError):
    """A sensor could not be read."""


class StoreError(WattlmError):
    """The run store could not be opened, read or written."""


class DataError(WattlmError):
    """A data file (packaged or supplied by the user) is malformed."""


class DistributedError(WattlmError):
    """The distributed job's description is inconsistent."""


class MissingExtraError(WattlmError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str, feature: str = "") -> None:
        what = f" for {feature}" if feature else ""
        super().__init__(
            f"{package} is needed{what} but is not installed: pip install 'wattlm[{extra}]'"
        )
        self.package = package
        self.extra = extra


class WattlmWarning(UserWarning):
    """Root of wattlm's warnings; ``code`` is stable and documented in docs/warnings.md."""

    code = "W000"


class SensorWarning(WattlmWarning):
    """A sensor failed or was dropped during a run."""

    code = "W100"


class AccountingWarning(WattlmWarning):
    """An assumed default (world-average intensity, PUE) was used."""

    code = "W200"


class StoreWarning(WattlmWarning):
    """A run could not be saved or read back completely."""

    code = "W300"


class MeasurementWarning(WattlmWarning):
    """A measurement is less reliable than usual (window shorter than a counter's update)."""

    code = "W400"


class EstimateWarning(WattlmWarning):
    """An estimate rests on an assumption the user should know about (W8xx)."""

    code = "W800"


class ServingWarning(WattlmWarning):
    """A serve-bench level is less reliable than usual (failed requests, no usage, ...)."""

    code = "W600"


class ApiImpactWarning(WattlmWarning):
    """The impacts of a hosted-API call are uncertain or missing (unknown model, no usage)."""

    code = "W620"


class ComparisonWarning(WattlmWarning):
    """A comparison or task benchmark result to read with care (less fair, not stored)."""

    code = "W700"


def warn(message: str, category: type[WattlmWarning] = WattlmWarning, code: str = "") -> str:
    """Emit a warning that can never raise into the caller.

    With ``-W error`` (or pytest's ``filterwarnings = error``) ``warnings.warn`` raises; in the
    measuring loop that must not reach the user's code, so the exception is swallowed and the
    message is logged instead. Returns the formatted message (``"W101: ..."``) for the run record.
    """
    from wattlm._secrets import mask_text  # no credential in a stored or printed warning

    text = mask_text(f"{code or category.code}: {message}")
    try:
        warnings.warn(text, category, stacklevel=3)
    except Exception:  # noqa: BLE001 - a warnings filter set to "error" must not break the run
        _log.warning("%s", text)
    return text


def did_you_mean(name: str, choices: Iterable[str], what: str) -> UnknownNameError:
    """Build an :class:`UnknownNameError` that suggests the closest known names."""
    pool = list(choices)
    lowered = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)
    if close:
        hint = " or ".join(lowered[c] for c in close)
        return UnknownNameError(f"unknown {what} {name!r}: did you mean {hint}?")
    known = ", ".join(pool[:8])
    return UnknownNameError(f"unknown {what} {name!r}; known {what}s include: {known}")
