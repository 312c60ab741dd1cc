"""wattlm.cli."""
