"""``python -m wattlm`` runs the command line."""

from wattlm.cli.main import entry

entry()
