"""wattlm.report."""
