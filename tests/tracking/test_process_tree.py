"""``wattlm run`` follows double-forked and daemonised descendants and says when they escape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tracking._procs import WAIT_S, kill_quietly, read_pids, wattlm_argv
from wattlm.sensors.registry import probe_all

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

# The command double-forks a grandchild that burns 2 CPU-seconds; the intermediate exits at
# once, so the grandchild is re-parented before any rescan could see it under its parent.
# The command itself waits for the grandchild's "done" file.
DOUBLE_FORK = """
import os, sys, time
from pathlib import Path
here = Path(sys.argv[1])
if os.fork() == 0:
    if os.fork() == 0:
        (here / "pids").write_text(str(os.getpid()))
        start = time.process_time()
        while time.process_time() - start < 2.0:
            pass
        (here / "done").write_text(str(time.process_time()))
        os._exit(0)
    os._exit(0)
os.wait()
deadline = time.monotonic() + 120
while not (here / "done").exists() and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(0.3)
"""

# The command starts a child that calls setsid() (a daemon's first step) and lives 1.5 s.
SETSID_CHILD = """
import os, sys, time
from pathlib import Path
here = Path(sys.argv[1])
pid = os.fork()
if pid == 0:
    os.setsid()
    (here / "pids").write_text(str(os.getpid()))
    time.sleep(1.5)
    os._exit(0)
os.waitpid(pid, 0)
"""

# The command daemonises a process that outlives it (and is killed by the test).
LEFTOVER = """
import os, sys, time
from pathlib import Path
here = Path(sys.argv[1])
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        (here / "pids").write_text(str(os.getpid()))
        time.sleep(30)
    os._exit(0)
time.sleep(1.0)
"""


def _run(tmp_path: Path, script: str, *options: str) -> dict:  # type: ignore[type-arg]
    out = tmp_path / "r.json"
    try:
        subprocess.run(wattlm_argv("run", "--region", "FR", "--quiet", "-o", str(out), *options,
                                   "--", sys.executable, "-c", script, str(tmp_path)),
                       timeout=WAIT_S * 2, check=True)
    finally:
        kill_quietly(*read_pids(tmp_path / "pids"))
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def _per_core_w() -> float:
    probe = next(r for r in probe_all() if r.backend == "cpu-model")
    return probe.sensors[0].watts_per_core  # type: ignore[attr-defined,no-any-return]


def test_a_double_forked_grandchild_s_cpu_is_counted(tmp_path: Path) -> None:
    data = _run(tmp_path, DOUBLE_FORK)
    burnt_s = float((tmp_path / "done").read_text())
    cpu = next(d for d in data["devices"] if d["name"] == "cpu:model")
    counted_s = cpu["energy_j"] / _per_core_w()
    # the grandchild's ~2 CPU-seconds (its own clock), plus interpreter start-ups (< 1.5 s);
    # /proc accounts in ticks, and a sample may be cut at the end: 0.7 is generous
    assert 0.7 * burnt_s <= counted_s <= burnt_s + 1.5


def test_a_descendant_that_calls_setsid_is_reported_with_the_scopes_that_follow_it(
        tmp_path: Path) -> None:
    data = _run(tmp_path, SETSID_CHILD)
    (escapee,) = read_pids(tmp_path / "pids")
    (warning,) = [w for w in data["warnings"] if w.startswith("W131")]
    assert f"{escapee} (" in warning and "left the session" in warning
    assert "--scope cgroup" in warning and "--scope session" in warning


def test_a_daemon_left_running_after_the_command_is_reported(tmp_path: Path) -> None:
    data = _run(tmp_path, LEFTOVER)
    (daemon,) = read_pids(tmp_path / "pids")
    (warning,) = [w for w in data["warnings"] if w.startswith("W132")]
    assert f"pid {daemon}" in warning and "still run after it ended" in warning


def test_scope_session_follows_the_command_s_session(tmp_path: Path) -> None:
    data = _run(tmp_path, DOUBLE_FORK, "--scope", "session")
    burnt_s = float((tmp_path / "done").read_text())
    cpu = next(d for d in data["devices"] if d["name"] == "cpu:model")
    assert 0.7 * burnt_s <= cpu["energy_j"] / _per_core_w() <= burnt_s + 1.5


def _can_create_cgroup() -> bool:
    from wattlm.sensors.cgroup import create_run_cgroup, is_v2

    for root in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
        if not is_v2(root):
            continue
        try:
            create_run_cgroup("wattlm-test-probe", root).rmdir()
            return True
        except OSError:
            continue
    return False


@pytest.mark.skipif(not _can_create_cgroup(), reason="no writable cgroup v2 here")
def test_scope_cgroup_in_the_run_s_own_cgroup_counts_a_double_fork(tmp_path: Path) -> None:
    data = _run(tmp_path, DOUBLE_FORK, "--scope", "cgroup")
    assert not [w for w in data["warnings"] if w.startswith("W133")]
    burnt_s = float((tmp_path / "done").read_text())
    cpu = next(d for d in data["devices"] if d["name"] == "cpu:model")
    # the cgroup's own counter: the grandchild and the interpreters, not wattlm itself
    assert 0.7 * burnt_s <= cpu["energy_j"] / _per_core_w() <= burnt_s + 1.5
    for root in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):  # removed when empty
        assert not list(root.glob("wattlm-run-*"))
