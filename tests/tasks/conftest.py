"""Offline Transformers for the task tests; a sensor whose counter is exact."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from wattlm.sensors.fake import FakeSensor


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def stepping_sensor(joules_per_read: float, kind: str = "gpu") -> FakeSensor:
    """A sensor whose clock advances 1 s per read: each read adds exactly ``joules_per_read``."""
    ticks = itertools.count()
    return FakeSensor(f"fake-{kind}", kind=kind, power_w=joules_per_read,
                      clock=lambda: float(next(ticks)))


@pytest.fixture
def exact_sensors() -> Callable[[Any], list[FakeSensor]]:
    """``sensors(job)`` for run_tasks: a fresh stepping GPU sensor of 100 J per read."""
    return lambda _job: [stepping_sensor(100.0)]
