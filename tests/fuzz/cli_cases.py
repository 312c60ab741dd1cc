"""What the CLI fuzzer knows: a valid command line per command, and the kind of each option.

The fuzzer takes a valid base command line, puts one bad value into one option or argument,
and checks the answer. Every leaf command of ``wattlm`` must have a base here (a test keeps
it so); options not named in :data:`KINDS` get their kind from argparse (type, choices).
"""

from __future__ import annotations

import sys

# A valid invocation of each leaf command. RUN is replaced by a stored run id, SPEC by a valid
# compare spec. For ``run``, options go before ``--``.
BASES: dict[str, list[str]] = {
    "run": ["run", "--", sys.executable, "-c", "pass"],
    "runs": ["runs"],
    "show": ["show", "RUN"],
    "env": ["env"],
    "config": ["config", "show"],
    "regions": ["regions", "france"],
    "estimate train": ["estimate", "train", "--params", "7e9", "--tokens", "2e12",
                       "--hardware", "A100-80GB", "--devices", "8"],
    "estimate infer": ["estimate", "infer", "--params", "7e9", "--hardware", "H100-SXM",
                       "--batch-size", "8", "--input-tokens", "100", "--output-tokens", "50"],
    "validate": ["validate"],
    "hardware": ["hardware", "h100"],
    "models": ["models", "llama"],
    "report": ["report", "RUN"],
    "compare": ["compare", "SPEC"],
    "whatif": ["whatif", "RUN"],
    "dashboard": ["dashboard"],
    # one tiny model on two items: a few seconds when valid; bad values fail before loading
    "tasks": ["tasks", "--task", "classification", "--limit", "2", "--no-fairness",
              "--region", "FR"],
    # nothing listens on port 9: the valid base itself ends in exit 2 (unreachable), after
    # every option is checked, so each bad option still gets its own one-line error
    "serve-bench": ["serve-bench", "http://127.0.0.1:9", "--duration", "1", "--idle", "0"],
}

# Commands that may start long work or a server when a bad value is wrongly accepted: they
# run in a subprocess with a timeout instead of in-process.
SUBPROCESS = {"run", "dashboard", "compare", "tasks", "serve-bench"}

# Kinds by option destination (``dest``), or by "COMMAND dest" for one command, overriding
# what argparse says.
KINDS: dict[str, str] = {
    "region": "name", "hardware": "name", "model": "name", "precision": "name",
    "current_hardware": "name", "provider": "name", "query": "query",
    "project": "text", "model_name": "text", "host": "text",
    "run": "run_ref", "db": "db",
    "intensity_series": "path_in", "series": "path_in", "spec": "path_in", "inputs": "path_in",
    "config": "path_in", "output": "path_out",
    "report provider": "text", "serve-bench model": "text", "serve-bench start": "text",
    "serve-bench url": "text",
    "tasks model": "text", "tasks task": "name", "tasks device": "name", "tasks split": "text",
    "tasks groups": "text", "tasks dataset": "path_in", "templates": "path_in",
    "prompts": "path_in",
    "powercap_root": "skip", "command": "skip", "action": "choice", "format": "choice",
}

# Bad values of each kind. DIR, MISSING, NONUTF8, BINARY and NOFOLDER are paths made per test.
BAD: dict[str, list[str]] = {
    "float": ["nan", "inf", "-inf", "1e308", "-1e308", "1" + "0" * 400, "-1", "abc", ""],
    "int": ["2.5", "9" * 30, "-1", "nan", "abc", ""],
    "choice": ["", "nosuch", "🌍"],
    "name": ["", "🌍", ".*[", "\x1b[31m", "x" * 5000],
    "query": ["", "   ", "🌍", ".*[", "\x1b[31m", "x" * 5000],
    "text": ["", "\x1b[2J", "a\nb", "x" * 5000],
    "run_ref": ["0", "-1", "9" * 30, "abc", "", "99999", "1.5"],
    "db": ["mysql://u:p@h/db", "DIR", "NOFOLDER"],
    "path_in": ["DIR", "MISSING", "NONUTF8", "BINARY"],
    "path_out": ["DIR", "NOFOLDER"],
}

# The error a base itself ends in (no server on port 9): a bad option must be reported
# before it, so this text in the answer means the bad value went unchecked.
BASE_ERRORS: dict[str, str] = {"serve-bench": "cannot reach the server"}

# Exit codes other than 2 that a command documents for a kind of bad value.
EXIT_CODES: dict[tuple[str, str], set[int]] = {}

# Every command is fuzzed in CI (a fixed seed, a sample of the cases); the long profile
# (WATTLM_FUZZ_PROFILE=long) tries many more, randomly.
ENABLED: set[str] = set(BASES)
