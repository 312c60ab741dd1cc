"""wattlm.compare."""
