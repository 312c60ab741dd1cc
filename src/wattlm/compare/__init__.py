"""Reduce: compare model variants on the same inputs, and ask what-if of a run or estimate."""

from __future__ import annotations

from wattlm.compare.variants import ComparisonResult, VariantResult, compare
from wattlm.compare.whatif import WhatIfResult, whatif

__all__ = ["ComparisonResult", "VariantResult", "WhatIfResult", "compare", "whatif"]
