"""Time ``wattlm validate`` (goal: <= 10 s) and print the ratio to the goal."""

from __future__ import annotations

import io
import time
from contextlib import redirect_stdout

from wattlm.cli.main import main

GOAL_S = 10.0

if __name__ == "__main__":
    start = time.perf_counter()
    with redirect_stdout(io.StringIO()) as out:
        code = main(["validate"])
    elapsed = time.perf_counter() - start
    lines = len(out.getvalue().splitlines())
    print(f"wattlm validate: {elapsed:.2f} s (goal <= {GOAL_S:.0f} s, ratio "
          f"{elapsed / GOAL_S:.2f}), exit {code}, {lines} lines")
