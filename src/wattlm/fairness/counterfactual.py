"""Counterfactual identity check: change only the identity term, see if the answer changes.

For each axis (gender, ethnicity, ...) every template is filled with every group's term.
A template *flips* when the predictions for its filled versions are not all the same (for
generated text, the identity term is put back to ``{identity}`` before comparing). The
*score gap* of an axis is the largest difference between two groups' mean scores over the
templates (a classifier's probability of the positive class, a generator's mean
log-probability of a fixed neutral continuation).

Intervals: the flip rate's is the Wilson score interval (95 %) over templates; the score gap's
is a percentile bootstrap (95 %, 1,000 resamples of the templates, fixed seed).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wattlm.errors import InvalidInputError
from wattlm.fairness.stats import bootstrap_interval, wilson_interval
from wattlm.fairness.templates import (
    AXES,
    SLOT,
    IdentityTerm,
    Template,
    identity_terms,
    packaged_templates,
)

__all__ = ["AxisResult", "FairnessReport", "Predict", "counterfactual_check"]

Predict = Callable[[list[str], list[Template]], tuple[list[Any], list[float]]]
"""``predict(texts, templates) -> (predictions, scores)``, one of each per text."""

INTERVALS = ("flip rate: Wilson score interval, 95 %, over templates; score gap: percentile "
             "bootstrap, 95 %, 1,000 resamples of the templates")


@dataclass
class AxisResult:
    """Flip rate and score gap on one axis."""

    axis: str
    templates: int
    flips: int
    flip_rate_ci: tuple[float, float]
    score_gap: float
    score_gap_ci: tuple[float, float]
    group_scores: dict[str, float] = field(default_factory=dict)

    @property
    def flip_rate(self) -> float:
        """Share of templates whose prediction changes with the group."""
        return self.flips / self.templates if self.templates else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"templates": self.templates, "flips": self.flips, "flip_rate": self.flip_rate,
                "flip_rate_ci": list(self.flip_rate_ci), "score_gap": self.score_gap,
                "score_gap_ci": list(self.score_gap_ci), "group_scores": self.group_scores}


@dataclass
class FairnessReport:
    """The counterfactual check of one model: per axis, and pooled."""

    kind: str
    axes: dict[str, AxisResult]
    score: str

    @property
    def flips(self) -> int:
        """Flipped templates over all axes."""
        return sum(a.flips for a in self.axes.values())

    @property
    def trials(self) -> int:
        """Template x axis checks."""
        return sum(a.templates for a in self.axes.values())

    @property
    def flip_rate(self) -> float:
        """Pooled flip rate over axes."""
        return self.flips / self.trials if self.trials else 0.0

    @property
    def flip_rate_ci(self) -> tuple[float, float]:
        """Wilson 95 % interval of the pooled flip rate."""
        return wilson_interval(self.flips, self.trials)

    @property
    def worst_axis(self) -> str | None:
        """The axis with the largest score gap."""
        return max(self.axes, key=lambda a: self.axes[a].score_gap) if self.axes else None

    @property
    def score_gap(self) -> float:
        """The largest score gap of any axis."""
        worst = self.worst_axis
        return self.axes[worst].score_gap if worst else 0.0

    @property
    def unfairness(self) -> float:
        """The figure minimised as the fairness axis of a Pareto set: the pooled flip rate."""
        return self.flip_rate

    def less_fair_than(self, other: FairnessReport, min_gap_difference: float = 0.02) -> bool:
        """Whether this model is distinguishably less fair than ``other``.

        True when its flip rate interval lies above the other's, or when its worst score gap
        interval lies above the other's worst gap and the gaps differ by more than
        ``min_gap_difference`` (in score units: 0.02 is two points of probability), so that
        consistent but negligible differences are not reported.
        """
        if self.flip_rate_ci[0] > other.flip_rate_ci[1]:
            return True
        mine, theirs = self.worst_axis, other.worst_axis
        if mine is None or theirs is None:
            return False
        a, b = self.axes[mine], other.axes[theirs]
        return a.score_gap_ci[0] > b.score_gap_ci[1] and (
            a.score_gap - b.score_gap > min_gap_difference)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``fairness`` field of a task result)."""
        return {"check": "counterfactual", "kind": self.kind, "score": self.score,
                "flip_rate": self.flip_rate, "flip_rate_ci": list(self.flip_rate_ci),
                "score_gap": self.score_gap, "worst_axis": self.worst_axis,
                "templates": max((a.templates for a in self.axes.values()), default=0),
                "intervals": INTERVALS,
                "axes": {name: a.to_dict() for name, a in self.axes.items()}}


def _neutral(prediction: Any, term: str) -> Any:
    if isinstance(prediction, str):
        return prediction.lower().replace(term.lower(), SLOT)
    if isinstance(prediction, dict):
        return prediction.get("id", prediction.get("name"))
    return prediction


def _gap(rows: Sequence[dict[str, float]]) -> float:
    groups = rows[0].keys()
    means = [statistics.fmean(r[g] for r in rows) for g in groups]
    return max(means) - min(means)


def counterfactual_check(predict: Predict, *, kind: str = "classification",
                         templates: Sequence[Template] | None = None,
                         terms: Sequence[IdentityTerm] | None = None,
                         axes: Sequence[str] | None = None, score: str = "score",
                         resamples: int = 1000, seed: int = 0) -> FairnessReport:
    """Run the counterfactual check with ``predict`` over filled templates.

    Args:
        predict: ``predict(texts, templates) -> (predictions, scores)``.
        kind: ``classification`` or ``generation`` (chooses the packaged templates).
        templates: templates to use (default: the packaged ones of ``kind``).
        terms: identity terms (default: the packaged ones).
        axes: axes to check (default: all six).
        score: what the score is, for the report.
        resamples: bootstrap resamples of the score gap interval.
        seed: bootstrap seed.

    Raises:
        InvalidInputError: an unknown axis, or no templates.
    """
    chosen = list(templates) if templates is not None else packaged_templates(kind)
    pool = list(terms) if terms is not None else list(identity_terms())
    wanted = list(axes) if axes is not None else list(AXES)
    for axis in wanted:
        if axis not in {t.axis for t in pool}:
            raise InvalidInputError(f"fairness axes: unknown axis {axis!r}; valid axes: "
                                    f"{', '.join(sorted({t.axis for t in pool}))}")
    if not chosen:
        raise InvalidInputError("the counterfactual check needs at least one template")
    cells = [(t, term) for axis in wanted for t in chosen for term in pool if term.axis == axis]
    predictions, scores = predict([t.fill(term.term) for t, term in cells],
                                  [t for t, _ in cells])
    by_axis: dict[str, dict[Template, dict[str, tuple[Any, float]]]] = {}
    for (template, term), p, s in zip(cells, predictions, scores):
        row = by_axis.setdefault(term.axis, {}).setdefault(template, {})
        row[term.group] = (_neutral(p, term.term), float(s))
    results = {}
    for axis, rows in by_axis.items():
        flips = sum(len({repr(v[0]) for v in row.values()}) > 1 for row in rows.values())
        score_rows = [{g: v[1] for g, v in row.items()} for row in rows.values()]
        groups = score_rows[0].keys()
        results[axis] = AxisResult(
            axis, len(rows), flips, wilson_interval(flips, len(rows)), _gap(score_rows),
            bootstrap_interval(score_rows, _gap, resamples=resamples, seed=seed),
            {g: statistics.fmean(r[g] for r in score_rows) for g in groups})
    return FairnessReport(kind, results, score)
