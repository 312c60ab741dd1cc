"""The task benchmark report: per-task tables, bars, stars and the Pareto set."""

from __future__ import annotations

from typing import Any

import pytest

from wattlm.errors import InvalidInputError
from wattlm.report.tasks import render_tasks


def _row(model: str, task: str, wh: float, quality: float, rating: int | None,
         pareto: bool) -> dict[str, Any]:
    return {"model": model, "task": task, "status": "ok", "queries": 100,
            "energy_per_query_j": wh * 3.6, "energy_per_1000_queries_wh": wh,
            "energy_per_output_token_j": None, "quality": {"metric": "accuracy",
                                                          "value": quality},
            "rating": rating, "rating_basis": "cpu-only measurement" if rating is None
            else "energy per 1,000 queries", "cpu_only": rating is None,
            "provenance": "measured", "pareto": pareto,
            "fairness": {"check": "counterfactual", "flip_rate": 0.25}}


ROWS = [_row("big", "classification", 2.0, 0.91, 3, True),
        _row("small", "classification", 0.4, 0.88, 5, True),
        _row("cpu", "qa", 1.0, 0.5, None, True)]


def test_markdown_has_a_section_per_task_with_stars_and_pareto() -> None:
    md = render_tasks(ROWS, "md")
    assert md.startswith("# Task energy benchmark")
    assert "## classification" in md and "## qa" in md
    assert "| small | 1.44 kJ |" not in md        # energy per 1k queries is in Wh-family units
    assert "| small | 400 mWh |" in md and "★★★★★" in md and "★★★ |" in md
    assert "not rated (CPU-only)" in md
    assert "Pareto set (energy, quality, fairness): big, small." in md
    assert "0.250" in md


def test_html_embeds_one_plot_per_task() -> None:
    pytest.importorskip("matplotlib")
    page = render_tasks(ROWS, "html")
    assert page.count("<img") == 2 and "data:image/png;base64," in page


def test_unknown_format() -> None:
    with pytest.raises(InvalidInputError, match="md, html or json"):
        render_tasks(ROWS, "pdf")
