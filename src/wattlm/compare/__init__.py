"""Reduce: compare model variants on the same inputs, and ask what-if of a run or estimate.

The Transformers variant makers live in :mod:`wattlm.integrations.hf_variants` and
:mod:`wattlm.integrations.compression`.
"""

from __future__ import annotations

from wattlm.compare.payback import break_even, distinguishable
from wattlm.compare.variants import (
    ComparisonResult,
    VariantResult,
    compare,
    pareto_front,
)
from wattlm.compare.whatif import WhatIfResult, basis_from_report, whatif

__all__ = ["ComparisonResult", "VariantResult", "WhatIfResult", "basis_from_report",
           "break_even", "compare", "distinguishable", "pareto_front", "whatif"]
