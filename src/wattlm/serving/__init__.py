"""Energy of LLM serving: ``wattlm serve-bench`` against an OpenAI-compatible server.

:mod:`~wattlm.serving.workload` (what is sent), :mod:`~wattlm.serving.client` (preflight and
one streamed request), :mod:`~wattlm.serving.loadgen` (rate or concurrency, ramp-up, window,
drain), :mod:`~wattlm.serving.stats` (window figures, percentiles, knee),
:mod:`~wattlm.serving.bench` (one measured run per level), :mod:`~wattlm.serving.server`
(``--start CMD``), :mod:`~wattlm.serving.metrics` (Prometheus cross-check),
:mod:`~wattlm.serving.report` (Markdown/HTML with plots). Method: ``docs/serving.md``.
"""
