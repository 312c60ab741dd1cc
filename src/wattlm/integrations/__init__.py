"""wattlm.integrations."""
