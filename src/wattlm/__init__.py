"""wattlm: what large language models cost the planet, and how to cut it.

Measure (``track``), estimate (``estimate_training``, ``estimate_inference``), account
(``footprint``) and report. Attributes load lazily so ``import wattlm`` stays fast and imports
nothing optional (no torch, pynvml, matplotlib); nothing is probed at import.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# ``typing`` and ``logging`` cost ~25 ms to import; neither is needed here. mypy treats a
# module-level ``TYPE_CHECKING = False`` like ``typing.TYPE_CHECKING``. The package's NullHandler
# is installed by wattlm.errors, which every module that logs imports first.
TYPE_CHECKING = False

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "track": "wattlm.tracking.tracker",
    "Tracker": "wattlm.tracking.tracker",
    "footprint": "wattlm.carbon.accounting",
    "estimate_training": "wattlm.estimate.training",
    "estimate_inference": "wattlm.estimate.inference",
    "open_store": "wattlm.store",
    "Range": "wattlm.units",
    "Provenance": "wattlm.units",
    "Footprint": "wattlm.records",
    "RunRecord": "wattlm.records",
    "Settings": "wattlm.config",
    "resolve_settings": "wattlm.config",
    "WattlmError": "wattlm.errors",
    "WattlmWarning": "wattlm.errors",
}

__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:  # pragma: no cover
    from wattlm.carbon.accounting import footprint
    from wattlm.config import Settings, resolve_settings
    from wattlm.errors import WattlmError, WattlmWarning
    from wattlm.estimate.inference import estimate_inference
    from wattlm.estimate.training import estimate_training
    from wattlm.records import Footprint, RunRecord
    from wattlm.store import open_store
    from wattlm.tracking.tracker import Tracker, track
    from wattlm.units import Provenance, Range


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wattlm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
