"""wattlm.store."""
