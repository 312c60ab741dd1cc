"""wattlm.carbon."""
