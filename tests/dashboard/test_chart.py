"""The server-side SVG chart: tick choice and point positions computed by hand."""

from __future__ import annotations

import re

import pytest

from wattlm.dashboard.chart import nice_ticks, power_svg
from wattlm.records import DeviceInfo, Sample
from wattlm.units import Provenance

GPU = DeviceInfo("gpu0", "gpu", Provenance.MEASURED)
CPU = DeviceInfo("<b>cpu</b>", "cpu", Provenance.MODELLED)


@pytest.mark.parametrize(("high", "expected"), [
    (150.0, [0.0, 50.0, 100.0, 150.0]),  # raw step 30 -> 50
    (0.37, [0.0, 0.1, 0.2, 0.3, 0.4]),  # raw step 0.074 -> 0.1
    (10.0, [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]),
    (0.0, [0.0, 1.0]),
    (float("nan"), [0.0, 1.0]),
])
def test_nice_ticks(high: float, expected: list[float]) -> None:
    assert nice_ticks(high) == pytest.approx(expected)


def _points(svg: str) -> list[list[tuple[float, float]]]:
    lines = re.findall(r'points="([^"]*)"', svg)
    return [[tuple(map(float, p.split(","))) for p in line.split()] for line in lines]


def test_two_constant_devices_and_their_total_land_where_computed() -> None:
    # GPU 100 W, CPU 50 W for 10 s, sampled every 2 s: total 150 W
    samples = [Sample(1000.0 + t, (100.0 * t, 50.0 * t)) for t in range(0, 11, 2)]
    svg = power_svg([GPU, CPU], samples)
    assert svg is not None
    gpu, cpu, total = _points(svg)
    # y ticks 0..150 over 240 px from y=16: y(p) = 256 - p / 150 * 240
    assert {y for _, y in gpu} == {96.0}
    assert {y for _, y in cpu} == {176.0}
    assert {y for _, y in total} == {16.0}
    # x: interval midpoints 1, 3, 5, 7, 9 s; ticks 0..10 over 680 px from x=64
    assert [x for x, _ in gpu] == pytest.approx([64 + t / 10 * 680 for t in (1, 3, 5, 7, 9)])
    assert "&lt;b&gt;cpu&lt;/b&gt;" in svg and "<b>" not in svg
    assert svg.count("<polyline") == 3


def test_single_device_has_no_total_and_too_few_samples_give_none() -> None:
    samples = [Sample(0.0, (0.0,)), Sample(4.0, (80.0,))]
    svg = power_svg([GPU], samples)
    assert svg is not None and svg.count("<polyline") == 1
    assert ">total<" not in svg
    assert power_svg([GPU], samples[:1]) is None
    assert power_svg([GPU], []) is None
