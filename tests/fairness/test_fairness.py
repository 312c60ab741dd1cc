"""Counterfactual check, intervals and group metrics against hand-computed values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wattlm.errors import ConfigError, InvalidInputError
from wattlm.fairness import (
    AXES,
    Template,
    bootstrap_interval,
    counterfactual_check,
    group_metrics,
    identity_terms,
    load_templates,
    packaged_templates,
    wilson_interval,
)


def test_wilson_interval_matches_hand_computation() -> None:
    # p = 0.2, n = 10, z = 1.96: centre 0.28336, half-width 0.22665 (Wilson 1927)
    low, high = wilson_interval(2, 10)
    assert low == pytest.approx(0.05668, abs=1e-4)
    assert high == pytest.approx(0.50984, abs=1e-4)
    assert wilson_interval(0, 12)[0] == 0.0 and wilson_interval(12, 12)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_bootstrap_is_seeded_and_brackets_the_statistic() -> None:
    values = [float(v) for v in range(20)]
    first = bootstrap_interval(values, lambda s: sum(s) / len(s), seed=1)
    assert first == bootstrap_interval(values, lambda s: sum(s) / len(s), seed=1)
    assert first[0] < 9.5 < first[1]
    assert 6.0 < first[0] and first[1] < 13.0       # ± ~2 standard errors (1.3) of the mean


def test_packaged_templates_and_terms_cover_every_axis() -> None:
    assert {t.axis for t in identity_terms()} == set(AXES)
    for kind in ("classification", "generation"):
        templates = packaged_templates(kind)
        assert len(templates) >= 8
        assert all(t.text.count("{identity}") == 1 for t in templates)


def test_user_templates_need_exactly_one_slot(tmp_path: Path) -> None:
    good = tmp_path / "t.txt"
    good.write_text("the {identity} liked it.\nI met the {identity}.\n")
    assert [t.fill("nurse") for t in load_templates(str(good))] == ["the nurse liked it.",
                                                                     "I met the nurse."]
    bad = tmp_path / "b.jsonl"
    bad.write_text(json.dumps({"template": "the person liked it."}) + "\n")
    with pytest.raises(ConfigError, match=r"template 1: template 'the person liked it.' has no "
                       r"identity slot; each template needs exactly one \{identity\} slot"):
        load_templates(str(bad))
    with pytest.raises(ConfigError, match="valid kinds: classification, generation"):
        (tmp_path / "k.csv").write_text("template,kind\nthe {identity},poem\n")
        load_templates(str(tmp_path / "k.csv"))


def _biased(texts: list[str], _templates: list[Template]) -> tuple[list[Any], list[float]]:
    """A rule-based classifier that turns negative whenever the text mentions Muslim."""
    labels = [0 if "Muslim" in t else 1 for t in texts]
    return labels, [0.2 if label == 0 else 0.9 for label in labels]


def test_a_biased_rule_flips_on_religion_only() -> None:
    templates = [Template("the {identity} liked it."), Template("I met the {identity}."),
                 Template("the {identity} waved.")]
    report = counterfactual_check(_biased, templates=templates, resamples=200)
    religion = report.axes["religion"]
    assert religion.flips == 3 and religion.flip_rate == 1.0
    assert religion.score_gap == pytest.approx(0.7)
    assert religion.group_scores["Muslim"] == pytest.approx(0.2)
    assert religion.score_gap_ci == (pytest.approx(0.7), pytest.approx(0.7))
    for axis in set(AXES) - {"religion"}:
        assert report.axes[axis].flips == 0 and report.axes[axis].score_gap == 0.0
    assert report.flip_rate == pytest.approx(3 / 18) and report.worst_axis == "religion"
    fair = counterfactual_check(lambda t, _x: ([1] * len(t), [0.9] * len(t)),
                                templates=templates, resamples=200)
    assert report.less_fair_than(fair) and not fair.less_fair_than(report)
    with pytest.raises(InvalidInputError, match="unknown axis 'height'"):
        counterfactual_check(_biased, axes=["height"])


def test_generated_text_is_compared_with_the_identity_term_put_back() -> None:
    def echo(texts: list[str], _t: list[Template]) -> tuple[list[Any], list[float]]:
        return [f"the {t.split('the ', 1)[1]}" for t in texts], [0.0] * len(texts)

    report = counterfactual_check(echo, kind="generation",
                                  templates=[Template("tell me about the {identity}")],
                                  axes=["gender"], resamples=50)
    assert report.axes["gender"].flips == 0       # only the identity term differed


def test_group_metrics_hand_computed() -> None:
    y_true = [1, 0, 1, 0, 1, 0, 1, 0]
    y_pred = [1, 0, 1, 1, 0, 0, 0, 0]
    groups = ["a", "a", "a", "a", "b", "b", "b", "b"]
    metrics = group_metrics(y_true, y_pred, groups)
    # positive rate: a 3/4, b 0/4 -> 0.75; TPR a 1, b 0; FPR a 0.5, b 0 -> max gap 1.0
    assert metrics["demographic_parity_difference"] == pytest.approx(0.75)
    assert metrics["equalized_odds_difference"] == pytest.approx(1.0)
    assert metrics["positive_rate_by_group"] == {"a": 0.75, "b": 0.0}
    with pytest.raises(InvalidInputError, match="at least two groups"):
        group_metrics([1], [1], ["a"])


def test_tasks_group_metrics_from_the_inputs_file(tmp_path: Path) -> None:
    from wattlm.tasks import run_tasks

    rows = [{"text": f"the film was {w}.", "label": lab, "who": g}
            for w, lab, g in (("great", 1, "x"), ("awful", 0, "y"), ("lovely", 1, "y"),
                              ("dull", 0, "x"))]
    file = tmp_path / "g.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ConfigError, match="missing group field 'team'"):
        run_tasks(["classification"], inputs=str(file), group_field="team")
    result = run_tasks(["classification"], inputs=str(file), group_field="who",
                       fairness=False)[0]
    metrics = (result.fairness or {})["group_metrics"]
    assert metrics["groups"] == 2 and metrics["items"] == 4
    assert 0.0 <= metrics["demographic_parity_difference"] <= 1.0
