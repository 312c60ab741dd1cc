"""Group metrics from user-supplied group labels, through ``fairlearn`` (an extra)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wattlm.errors import InvalidInputError, MissingExtraError

__all__ = ["group_metrics"]


def group_metrics(y_true: Sequence[Any], y_pred: Sequence[Any], groups: Sequence[Any], *,
                  positive: Any = 1) -> dict[str, Any]:
    """Demographic parity and equalised odds differences between groups (fairlearn).

    Args:
        y_true: gold labels.
        y_pred: predicted labels (same form as ``y_true``).
        groups: the group of each item (the sensitive feature).
        positive: the label counted as the positive outcome.

    Returns:
        ``demographic_parity_difference`` (largest gap in positive-prediction rate),
        ``equalized_odds_difference`` (largest gap in true- or false-positive rate),
        and the positive rate per group.

    Raises:
        InvalidInputError: lengths differ, or fewer than two groups.
        MissingExtraError: fairlearn is not installed.
    """
    if not (len(y_true) == len(y_pred) == len(groups)):
        raise InvalidInputError(f"group metrics need one gold label, prediction and group per "
                                f"item; got {len(y_true)}, {len(y_pred)} and {len(groups)}")
    if len(set(map(str, groups))) < 2:
        raise InvalidInputError("group metrics need at least two groups in the group field")
    try:
        from fairlearn.metrics import (
            demographic_parity_difference,
            equalized_odds_difference,
            selection_rate,
        )
    except ImportError as e:
        raise MissingExtraError("fairlearn", "tasks", "group fairness metrics") from e
    truth = [int(str(y) == str(positive)) for y in y_true]
    pred = [int(str(y) == str(positive)) for y in y_pred]
    sensitive = [str(g) for g in groups]
    rates: dict[str, float] = {}
    for group in sorted(set(sensitive)):
        idx = [i for i, g in enumerate(sensitive) if g == group]
        rates[group] = float(selection_rate([truth[i] for i in idx], [pred[i] for i in idx]))
    return {
        "demographic_parity_difference": float(demographic_parity_difference(
            truth, pred, sensitive_features=sensitive)),
        "equalized_odds_difference": float(equalized_odds_difference(
            truth, pred, sensitive_features=sensitive)),
        "positive_rate_by_group": rates,
        "groups": len(rates), "items": len(truth),
    }
