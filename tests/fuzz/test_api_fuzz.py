"""Python API fuzzing: a bad value in any numeric or text argument of the main entry points
raises a WattlmError naming it, never another exception (OverflowError, ZeroDivisionError,
"Range low must be a finite number" from deep inside) and never a silently absurd result.

CI fuzzes every entry point (``ENABLED``) with a fixed seed; ``WATTLM_FUZZ_PROFILE=long``
tries every case.
"""

from __future__ import annotations

import inspect
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wattlm
from wattlm.errors import WattlmError

LONG = os.environ.get("WATTLM_FUZZ_PROFILE") == "long"
ENABLED = {"estimate_training", "estimate_inference", "footprint", "track"}  # every one

# A valid call of each entry point; the fuzzer replaces one argument with a bad value.
BASES = {
    "estimate_training": (wattlm.estimate_training,
                          {"params": 7e9, "tokens": 2e12, "hardware": "A100-80GB", "devices": 8,
                           "region": "FR"}),
    "estimate_inference": (wattlm.estimate_inference,
                           {"params": 7e9, "hardware": "H100-SXM", "batch_size": 8,
                            "input_tokens": 100, "output_tokens": 50, "region": "FR"}),
    "footprint": (wattlm.footprint, {"energy_kwh": 10.0, "region": "FR", "duration_s": 3600.0,
                                      "hardware": "H100-SXM", "devices": 8}),
    "track": (wattlm.track, {"region": "FR", "interval_s": 0.5}),
}

NUMBERS = [math.nan, math.inf, -math.inf, -1.0, 1e308, 10**400, "abc", True]
TEXTS = ["", "\x1b[31m", "x" * 5000, "🌍"]
SKIP = {"sensors", "distributed", "save", "intensity_series", "energy_timeline", "db",
        "powercap_root", "project", "precision", "year"}


def _cases():
    out = []
    for name, (func, _) in BASES.items():
        for param in inspect.signature(func).parameters.values():
            if param.name in SKIP:
                continue
            annotation = str(param.annotation)
            if "float" in annotation or "int" in annotation:
                out += [(name, param.name, v) for v in NUMBERS]
            elif "str" in annotation:
                out += [(name, param.name, v) for v in TEXTS]
    return out


CASES = _cases()
FUZZED = [c for c in CASES if c[0] in ENABLED]


def test_every_entry_point_is_enabled():
    assert set(BASES) == ENABLED


@settings(max_examples=len(CASES) if LONG else 200, deadline=None, derandomize=not LONG,
          database=None, suppress_health_check=list(HealthCheck))
@given(case=st.sampled_from(FUZZED))
def test_api_bad_values_raise_a_wattlm_error(case):
    name, param, value = case
    func, base = BASES[name]
    kwargs = {**base, param: value}
    with pytest.raises(WattlmError) as info:
        result = func(**kwargs)
        if name == "track":
            result.start()
            result.stop()
    assert "\n" not in str(info.value)
