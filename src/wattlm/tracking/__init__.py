"""wattlm.tracking."""
