"""The step projector: exact arithmetic on scripted steps."""

from __future__ import annotations

import pytest

from wattlm.errors import InvalidInputError
from wattlm.integrations.projection import MIN_POINTS, StepProjector, percentile
from wattlm.units import Provenance


def test_percentile_matches_hand_values() -> None:
    values = [4.0, 1.0, 3.0, 2.0, 5.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 100) == 5.0
    assert percentile(values, 10) == pytest.approx(1.4)  # 1 + 0.4 * (2 - 1)
    assert percentile([7.0], 90) == 7.0


def test_constant_steps_project_exactly() -> None:
    # 10 J and 0.5 s per step, 100 steps: total 1000 J and 50 s, whatever the step.
    projector = StepProjector(100, warmup_steps=2, fraction=0.1)
    made = [projector.add(step, 10.0 * step, 0.5 * step) for step in range(1, 101)]
    first = next(p for p in made if p is not None)
    assert first.step == projector.first_step == 10  # max(ceil(0.1*100), 2 + MIN_POINTS + 1)
    assert first.fraction_done == pytest.approx(0.1)
    assert first.energy_j.low == pytest.approx(1000.0)
    assert first.energy_j.central == pytest.approx(1000.0)
    assert first.energy_j.high == pytest.approx(1000.0)
    assert first.duration_s.central == pytest.approx(50.0)
    assert first.energy_j.provenance is Provenance.ESTIMATED


def test_warmup_is_left_out_and_spread_gives_the_range() -> None:
    # Warm-up steps cost 100 J; afterwards steps alternate 8 and 12 J (mean 10).
    projector = StepProjector(20, warmup_steps=3, fraction=0.5, window_steps=50)
    energy = 0.0
    projection = None
    for step in range(1, 11):
        energy += 100.0 if step <= 3 else (8.0 if step % 2 else 12.0)
        projection = projector.add(step, energy, float(step))
    assert projection is not None and projection.step == 10
    # Rates come from steps 4..10: 12, 8, 12, 8, 12, 8, 12 -> mean 72/7.
    rates = [12.0, 8.0, 12.0, 8.0, 12.0, 8.0, 12.0]
    remaining = 10
    assert projection.energy_j.central == pytest.approx(energy + sum(rates) / 7 * remaining)
    assert projection.energy_j.low == pytest.approx(energy + 8.0 * remaining)
    assert projection.energy_j.high == pytest.approx(energy + 12.0 * remaining)
    assert projection.energy_j.contains(energy + 10.0 * remaining)


def test_repeated_steps_are_ignored() -> None:
    projector = StepProjector(50, warmup_steps=0, fraction=0.01)
    for step in range(1, MIN_POINTS + 2):
        projector.add(step, 2.0 * step, float(step))
        assert projector.add(step, 999.0, 999.0) is None  # the same step again (twice registered)
    projection = projector.project()
    assert projection is not None
    assert projection.energy_j.central == pytest.approx(100.0)


@pytest.mark.parametrize("kwargs", [dict(max_steps=0), dict(max_steps=10, fraction=0.0),
                                    dict(max_steps=10, fraction=1.5),
                                    dict(max_steps=10, warmup_steps=-1),
                                    dict(max_steps=10, window_steps=1)])
def test_bad_arguments_are_refused(kwargs: dict[str, float]) -> None:
    max_steps = int(kwargs.pop("max_steps"))
    with pytest.raises(InvalidInputError):
        StepProjector(max_steps, **kwargs)  # type: ignore[arg-type]
