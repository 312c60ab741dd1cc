"""Fairness beside energy: counterfactual identity checks and group metrics.

:func:`counterfactual_check` fills templates with identity terms (gender, ethnicity, religion,
age, nationality, disability) and reports how often the prediction flips and the gap in scores
between groups, with confidence intervals; :func:`group_metrics` computes demographic parity
and equalised odds differences through ``fairlearn`` when group labels are known.
"""

from __future__ import annotations

from wattlm.fairness.counterfactual import FairnessReport, counterfactual_check
from wattlm.fairness.group import group_metrics
from wattlm.fairness.stats import bootstrap_interval, wilson_interval
from wattlm.fairness.templates import (
    AXES,
    IdentityTerm,
    Template,
    identity_terms,
    load_templates,
    packaged_templates,
)

__all__ = ["AXES", "FairnessReport", "IdentityTerm", "Template", "bootstrap_interval",
           "counterfactual_check", "group_metrics", "identity_terms", "load_templates",
           "packaged_templates", "wilson_interval"]
