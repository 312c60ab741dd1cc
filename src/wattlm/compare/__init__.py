"""Reduce: compare model variants on the same inputs, and ask what-if of a run or estimate."""

from __future__ import annotations

from wattlm.compare.variants import (
    ComparisonResult,
    VariantResult,
    compare,
    half_precision,
    int8_dynamic,
    pareto_front,
    transformers_runner,
    transformers_variants,
)
from wattlm.compare.whatif import WhatIfResult, basis_from_report, whatif

__all__ = ["ComparisonResult", "VariantResult", "WhatIfResult", "basis_from_report", "compare",
           "half_precision", "int8_dynamic", "pareto_front", "transformers_runner",
           "transformers_variants", "whatif"]
