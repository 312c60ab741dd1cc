"""wattlm.dashboard."""
