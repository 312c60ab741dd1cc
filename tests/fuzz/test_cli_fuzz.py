"""CLI fuzzing: every bad value in every option gets exit 2, one stderr line, no traceback,
and leaves the store byte-for-byte as it was.

CI runs a fixed seed (``derandomize``) within a time budget (<= 60 s) over every command
(``cli_cases.ENABLED``); ``WATTLM_FUZZ_PROFILE=long`` tries many more random examples
(locally, minutes)::

    WATTLM_FUZZ_PROFILE=long python -m pytest -q tests/fuzz
 Cases come from the real parser (``build_parser``), so a new option is
fuzzed as soon as it exists.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.cli_cases import (
    BAD,
    BASE_ERRORS,
    BASES,
    ENABLED,
    EXIT_CODES,
    KINDS,
    SUBPROCESS,
)
from wattlm.cli.main import build_parser, main

LONG = os.environ.get("WATTLM_FUZZ_PROFILE") == "long"
TIMEOUT_S = 30


@dataclass(frozen=True)
class Case:
    """One bad value in one place of one command."""

    command: str
    option: str | None  # None: a positional argument
    dest: str
    kind: str
    value: str


def _leaf_parsers() -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found[" ".join(prefix)] = parser
            return
        for name, child in subs[0].choices.items():
            walk(child, [*prefix, name])

    walk(build_parser(), [])
    return found


def _kind(action: argparse.Action, command: str) -> str:
    if f"{command} {action.dest}" in KINDS:
        return KINDS[f"{command} {action.dest}"]
    if action.dest in KINDS:
        return KINDS[action.dest]
    if action.nargs == 0:
        return "skip"
    if action.choices:
        return "choice"
    if action.type is float:
        return "float"
    if action.type is int:
        return "int"
    return "text"


def all_cases() -> list[Case]:
    """Every (command, option, bad value) the fuzzer can try."""
    cases = []
    for command, parser in sorted(_leaf_parsers().items()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            kind = _kind(action, command)
            if kind == "skip":
                continue
            option = action.option_strings[-1] if action.option_strings else None
            cases += [Case(command, option, action.dest, kind, v) for v in BAD[kind]]
    return cases


def test_every_command_has_a_base_command_line():
    assert set(_leaf_parsers()) == set(BASES)


CASES = all_cases()
#: What this run fuzzes: the ENABLED commands' cases (every command).
FUZZED = [c for c in CASES if c.command in ENABLED]


def test_enabled_commands_exist():
    assert ENABLED <= set(BASES)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A store with two finished runs, a valid compare spec, and the bad paths."""
    return make_world(tmp_path_factory.mktemp("fuzz"))


def make_world(root: Path) -> dict:
    """Build the fuzzer's world under ``root`` (also used by a local triage loop)."""
    db = root / "runs.db"
    from wattlm.sensors.fake import FakeSensor
    from wattlm.tracking.tracker import track

    run_ids = []
    for project in ("a", "b"):
        with track(project=project, region="FR", db=str(db), interval_s=0.05,
                   sensors=[FakeSensor("fake-gpu0", power_w=50.0)]) as run:
            pass
        run_ids.append(str(run.result.id))
    (root / "dir").mkdir()
    (root / "nonutf8.txt").write_bytes(b"caf\xe9 = 1\n")
    (root / "binary.bin").write_bytes(b"\x00\x01\x02wattlm")
    spec = root / "spec.toml"
    spec.write_text('[compare]\ninputs = ["a"]\n[variants.x]\nmodel = "does-not-matter"\n')
    return {"root": root, "db": db, "run": run_ids[0], "spec": spec}


def _materialise(value: str, world) -> str:
    root = world["root"]
    paths = {"DIR": root / "dir", "MISSING": root / "missing.txt",
             "NONUTF8": root / "nonutf8.txt", "BINARY": root / "binary.bin",
             "NOFOLDER": root / "no-such-folder" / "file"}
    return str(paths.get(value, value))


def _argv(case: Case, world) -> list[str]:
    base = [world["run"] if a == "RUN" else str(world["spec"]) if a == "SPEC" else a
            for a in BASES[case.command]]
    value = _materialise(case.value, world)
    width = len(case.command.split())
    head, tail = base[:width], base[width:]
    if case.option is None:  # replace the positional argument in the base, or add it
        positional = [a for a in tail if not a.startswith("-")]
        if positional and case.dest in ("run", "spec", "query", "action"):
            tail = [value if a == positional[0] else a for a in tail]
        else:
            tail = [value, *tail]
        return head + tail
    if "--" in tail:  # wattlm run: options before the command
        cut = tail.index("--")
        return head + tail[:cut] + [case.option, value] + tail[cut:]
    if case.option in tail:  # replace the base's own value for this option
        at = tail.index(case.option)
        return head + tail[:at] + [case.option, value] + tail[at + 2:]
    return head + tail + [case.option, value]


def _alarm(signum, frame):
    raise TimeoutError(f"command did not answer within {TIMEOUT_S} s")


def _run(argv: list[str], command: str, env: dict[str, str]) -> tuple[int, str]:
    if command in SUBPROCESS:
        proc = subprocess.run([sys.executable, "-m", "wattlm", *argv], env=env,
                              capture_output=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
        return proc.returncode, proc.stderr.decode("utf-8", "replace")
    err = io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, err.getvalue()


def _digest(db: Path) -> str:
    h = hashlib.sha256()
    for suffix in ("", "-wal"):
        path = Path(str(db) + suffix)
        if path.exists():
            h.update(path.read_bytes())
    return h.hexdigest()


def check(case: Case, world, monkeypatch) -> None:
    """One bad value: exit 2 (or the documented code), one stderr line, store unchanged."""
    monkeypatch.setenv("WATTLM_DB", str(world["db"]))
    env = {**os.environ, "WATTLM_DB": str(world["db"]), "PYTHONWARNINGS": "default"}
    argv = _argv(case, world)
    before = _digest(world["db"])
    code, stderr = _run(argv, case.command, env)
    lines = [line for line in stderr.splitlines() if line.strip()]
    where = f"{case.command} {case.option or case.dest}={case.value[:40]!r}"
    assert "Traceback" not in stderr, f"{where}: traceback\n{stderr[-2000:]}"
    assert code in EXIT_CODES.get((case.command, case.dest), {2}), (
        f"{where}: exit {code}, stderr {stderr[-500:]!r}")
    assert len(lines) == 1, f"{where}: {len(lines)} stderr lines: {lines[:5]}"
    base_error = BASE_ERRORS.get(case.command)
    assert base_error is None or base_error not in stderr, f"{where}: not checked: {lines}"
    assert _digest(world["db"]) == before, f"{where}: the store changed"


@settings(max_examples=2000 if LONG else 400, deadline=None, derandomize=not LONG,
          database=None, suppress_health_check=list(HealthCheck))
@given(case=st.sampled_from(FUZZED))
def test_fuzz_cli_bad_values(case, world, monkeypatch):
    check(case, world, monkeypatch)


@settings(max_examples=300 if LONG else 100, deadline=None, derandomize=not LONG,
          database=None, suppress_health_check=list(HealthCheck))
@given(case=st.sampled_from([c for c in FUZZED if c.kind in ("float", "int")]),
       number=st.one_of(st.floats(allow_nan=True, allow_infinity=True).filter(
           lambda x: x != x or abs(x) > 1e15 or x < 0), st.integers(min_value=2**63)))
def test_fuzz_cli_numbers_beyond_any_bound(case, number, world, monkeypatch):
    check(Case(case.command, case.option, case.dest, case.kind, repr(number)), world,
          monkeypatch)
