"""The server's own token counters (Prometheus ``/metrics``), as a cross-check of the counts.

vLLM exposes ``vllm:generation_tokens_total``, ``vllm:prompt_tokens_total`` and
``vllm:request_success_total`` (summed over their labels here); TGI exposes the histograms
``tgi_request_generated_tokens`` and ``tgi_request_input_length`` (their ``_sum`` is used).
Parsing uses ``prometheus_client``'s text parser (``wattlm[prometheus]``); without it, or when
the server has no ``/metrics``, there is no cross-check and the report says so.
"""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = ["COUNTERS", "counter_delta", "scrape"]

#: our name -> sample names that carry it, in order of preference
COUNTERS: dict[str, tuple[str, ...]] = {
    "output_tokens": ("vllm:generation_tokens_total", "tgi_request_generated_tokens_sum"),
    "input_tokens": ("vllm:prompt_tokens_total", "tgi_request_input_length_sum"),
    "requests": ("vllm:request_success_total", "tgi_request_success_total"),
}


def _parse(text: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + float(sample.value)
    out: dict[str, float] = {}
    for ours, names in COUNTERS.items():
        for name in names:
            if name in totals:
                out[ours] = totals[name]
                break
    return out


async def scrape(client: Any, base_url: str) -> dict[str, float] | None:
    """The server's counters now, or None (no ``/metrics``, no known counter, no parser)."""
    if importlib.util.find_spec("prometheus_client") is None:
        return None
    try:
        response = await client.get(f"{base_url}/metrics", timeout=5.0)
        if response.status_code != 200:
            return None
        found = _parse(response.text)
    except Exception:  # noqa: BLE001 - the cross-check is optional; never fail the benchmark
        return None
    return found or None


def counter_delta(before: dict[str, float] | None, after: dict[str, float] | None,
                  ) -> dict[str, float] | None:
    """``after - before`` for the counters present in both (None when either is missing)."""
    if not before or not after:
        return None
    delta = {k: after[k] - before[k] for k in before if k in after}
    return delta or None
