"""wattlm.catalog."""
