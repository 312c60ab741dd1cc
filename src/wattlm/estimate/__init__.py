"""wattlm.estimate."""
