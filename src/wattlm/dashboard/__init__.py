"""wattlm.dashboard: a local, read-only web page over the run store (``wattlm dashboard``).

:mod:`~wattlm.dashboard.server` serves it (standard library only), :mod:`~wattlm.dashboard.pages`
renders the pages from the report's blocks, :mod:`~wattlm.dashboard.chart` draws the power
chart as inline SVG. See ``docs/dashboard.md``.
"""
