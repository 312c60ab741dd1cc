"""``wattlm run`` as a parent: terminal signals once, forwarded signals once, death, exit codes."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tracking._procs import WAIT_S, gone, kill_quietly, read_pids, start, wait_for
from wattlm.cli.main import main
from wattlm.store import open_store

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux signals")

# A child that saves a "checkpoint" slowly when interrupted: a second SIGINT during the
# clean-up (the bug: one from the terminal, one forwarded by wattlm) breaks it.
SLOW_CLEANUP = """
import os, sys, time
from pathlib import Path
here = Path(sys.argv[1])
(here / "child.pid").write_text(str(os.getpid()))
(here / "ready").write_text("")
try:
    time.sleep(120)
except KeyboardInterrupt:
    time.sleep(1.0)
    (here / "saved").write_text("checkpoint")
    raise
"""

# A child that takes each SIGINT off the queue as it arrives (it waits for it) and counts them
# for 2 s: two SIGINTs from one Ctrl-C cannot merge into one before it sees them.
SIGINT_COUNTER = """
import os, signal, sys, time
from pathlib import Path
here = Path(sys.argv[1])
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
(here / "child.pid").write_text(str(os.getpid()))
(here / "ready").write_text("")
got = []
info = signal.sigtimedwait({signal.SIGINT}, 120)
while info is not None:
    got.append(f"{info.si_code}:{info.si_pid}")
    info = signal.sigtimedwait({signal.SIGINT}, 1.5)
(here / "count").write_text(" ".join(got))
sys.exit(0)
"""

# A child that takes HUP/TERM/INT/QUIT off the queue as they arrive and records each, until
# none came for 1.5 s; then it exits 7. (Two copies of one signal that arrive before the child
# dequeues the first merge into one, so the tests send several, spaced, and count them all.)
COUNTER = """
import os, signal, sys, time
from pathlib import Path
here = Path(sys.argv[1])
wanted = {signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT}
signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
(here / "child.pid").write_text(str(os.getpid()))
(here / "ready").write_text("")
got = []
info = signal.sigtimedwait(wanted, 120)
while info is not None:
    got.append(f"{info.si_signo}:{info.si_pid}")
    info = signal.sigtimedwait(wanted, 1.5)
(here / "signals").write_text(" ".join(got))
sys.exit(7)
"""


def _stat_fields(pid: int) -> tuple[int, int]:
    """A process's group and its terminal's foreground group (``/proc/<pid>/stat``)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[2]), int(fields[5])


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass


def _ctrl_c_under_a_pty(tmp_path: Path, script: str, presses: int = 1) -> int:
    """Run ``wattlm run -- python -c script`` on a real pseudo-terminal, press Ctrl-C."""
    out = tmp_path / "r.json"
    argv = [sys.executable, "-m", "wattlm", "run", "--region", "FR", "--quiet", "-o", str(out),
            "--", sys.executable, "-c", script, str(tmp_path)]
    pid, master = pty.fork()  # the child: a session leader whose terminal is the pty
    if pid == 0:  # pragma: no cover - the forked child
        os.execv(sys.executable, argv)
    child_pids: list[int] = []
    try:
        assert wait_for(lambda: (tmp_path / "ready").exists()), "the command never started"
        child_pids = read_pids(tmp_path / "child.pid")
        # the child's own group holds the terminal: Ctrl-C reaches it, never wattlm
        wattlm_pgrp, terminal_pgrp = _stat_fields(pid)
        child_pgrp, child_terminal_pgrp = _stat_fields(child_pids[0])
        assert child_pgrp == child_pids[0] != wattlm_pgrp
        assert terminal_pgrp == child_terminal_pgrp == child_pgrp
        os.set_blocking(master, False)
        for _ in range(presses):
            os.write(master, b"\x03")  # Ctrl-C: SIGINT to the terminal's foreground group
            time.sleep(0.4)
            _drain(master)
        status = None
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            _drain(master)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        assert status is not None and os.WIFEXITED(status), "wattlm did not end"
        return os.waitstatus_to_exitcode(status)
    finally:
        kill_quietly(pid, *child_pids)
        os.close(master)


def test_ctrl_c_at_a_terminal_reaches_the_child_once_and_its_cleanup_completes(
        tmp_path: Path) -> None:
    assert _ctrl_c_under_a_pty(tmp_path, SLOW_CLEANUP) == 128 + signal.SIGINT
    assert (tmp_path / "saved").read_text() == "checkpoint"  # the clean-up completed
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["status"] == "interrupted" and data["exit_code"] == 130


def test_ctrl_c_at_a_terminal_is_delivered_exactly_once(tmp_path: Path) -> None:
    assert _ctrl_c_under_a_pty(tmp_path, SIGINT_COUNTER, presses=3) == 0
    si_kernel = "128:0"  # from the terminal itself, not forwarded by a process
    assert (tmp_path / "count").read_text().split() == [si_kernel] * 3


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT,
                                    signal.SIGQUIT])
def test_a_signal_to_wattlms_group_reaches_the_child_once_and_the_run_is_saved(
        tmp_path: Path, signum: int) -> None:
    """As a scheduler or a shell's hang-up does: ``kill`` to wattlm's whole process group."""
    out = tmp_path / "r.json"
    proc = start(["run", "--region", "FR", "--quiet", "-o", str(out), "--", sys.executable, "-c",
                  COUNTER, str(tmp_path)], start_new_session=True)  # a group of its own
    try:
        assert wait_for(lambda: (tmp_path / "ready").exists()), "the command never started"
        for _ in range(3):
            os.killpg(proc.pid, signum)
            time.sleep(0.3)
        assert proc.wait(timeout=WAIT_S) == 7  # the child's own exit code
        # each once, and from wattlm: the child is outside the group that was signalled
        assert (tmp_path / "signals").read_text().split() == [f"{int(signum)}:{proc.pid}"] * 3
        data = json.loads(out.read_text())
        assert data["status"] == "interrupted" and data["exit_code"] == 7
    finally:
        kill_quietly(proc.pid, *read_pids(tmp_path / "child.pid"))
        proc.wait(timeout=WAIT_S)


def test_sighup_to_wattlm_is_forwarded_and_the_partial_run_is_stored(tmp_path: Path) -> None:
    proc = start(["run", "--region", "FR", "--quiet", "--project", "hup", "--", sys.executable,
                  "-c", COUNTER, str(tmp_path)])
    try:
        assert wait_for(lambda: (tmp_path / "ready").exists())
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=WAIT_S) == 7
    finally:
        kill_quietly(proc.pid, *read_pids(tmp_path / "child.pid"))
    assert (tmp_path / "signals").read_text().split() == [f"{int(signal.SIGHUP)}:{proc.pid}"]
    store = open_store(os.environ["WATTLM_DB"])
    try:
        (run,) = store.list_runs()
        record = store.get_run(run.id)
    finally:
        store.close()
    assert record.project == "hup" and record.status == "interrupted" and record.exit_code == 7
    assert any(w.startswith("W421: wattlm received SIGHUP") for w in record.warnings)
    assert record.duration_s >= 1.0  # the child ran 1 s after the signal


def test_sigkill_of_wattlm_takes_the_child_with_it_and_the_run_says_so(tmp_path: Path) -> None:
    proc = start(["run", "--region", "FR", "--quiet", "--project", "killed", "--",
                  sys.executable, "-c", SLOW_CLEANUP, str(tmp_path)])
    child_pids: list[int] = []
    try:
        assert wait_for(lambda: (tmp_path / "ready").exists())
        child_pids = read_pids(tmp_path / "child.pid")
        proc.kill()
        proc.wait(timeout=WAIT_S)
        assert wait_for(lambda: gone(child_pids[0])), "the child outlived wattlm"
    finally:
        kill_quietly(*child_pids)
    store = open_store(os.environ["WATTLM_DB"])
    try:
        (run,) = store.list_runs()
        record = store.get_run(run.id)
    finally:
        store.close()
    assert record.project == "killed" and record.status == "interrupted"
    assert any(w.startswith("W305") for w in record.warnings)


@pytest.mark.parametrize(("make", "code", "message"), [
    (lambda d: str(d), 126, "is a directory"),
    (lambda d: str(_plain_file(d)), 126, "permission denied"),
    (lambda d: str(d / "missing"), 127, "command not found"),
    (lambda d: "no-such-command-xyz", 127, "command not found"),
])
def test_unrunnable_commands_exit_as_a_shell_does(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                  make, code, message) -> None:
    # (root too cannot execute a file without any x bit)
    assert main(["run", "--region", "FR", "--", make(tmp_path)]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    store = open_store(os.environ["WATTLM_DB"])
    try:
        assert store.list_runs() == []  # nothing measured, nothing stored
    finally:
        store.close()


def _plain_file(directory: Path) -> Path:
    path = directory / "script.sh"
    path.write_text("#!/bin/sh\necho hi\n")
    path.chmod(0o644)
    return path


def test_a_child_killed_by_a_signal_gives_128_plus_n(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code = main(["run", "--region", "FR", "--quiet", "-o", str(out), "--", "/bin/sh", "-c",
                 "kill -USR1 $$"])
    assert code == 128 + signal.SIGUSR1
    data = json.loads(out.read_text())
    assert data["exit_code"] == 128 + signal.SIGUSR1 and data["status"] == "interrupted"


def test_a_failing_command_is_stored_as_failed_with_its_code(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert main(["run", "--region", "FR", "--quiet", "-o", str(out), "--", sys.executable, "-c",
                 "raise SystemExit(4)"]) == 4
    data = json.loads(out.read_text())
    assert data["status"] == "failed" and data["exit_code"] == 4


def test_the_child_is_in_its_own_process_group(tmp_path: Path) -> None:
    script = "import os, sys; print(os.getpgrp() == os.getpid(), os.getpgrp() != os.getppid())"
    proc = subprocess.run([sys.executable, "-m", "wattlm", "run", "--region", "FR", "--quiet",
                           "--", sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=WAIT_S)
    assert proc.returncode == 0
    assert proc.stdout.split() == ["True", "True"]


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2]


def test_ctrl_z_stops_the_command_then_wattlm_and_fg_resumes_both(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "wattlm", "run", "--region", "FR", "--quiet", "--",
            sys.executable, "-c", SLOW_CLEANUP, str(tmp_path)]
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the forked child
        os.execv(sys.executable, argv)
    child_pids: list[int] = []
    try:
        assert wait_for(lambda: (tmp_path / "ready").exists())
        child_pids = read_pids(tmp_path / "child.pid")
        os.set_blocking(master, False)
        os.write(master, b"\x1a")  # Ctrl-Z: SIGTSTP to the command's group only
        stopped = {}

        def wattlm_stopped() -> bool:
            _drain(master)
            done, status = os.waitpid(pid, os.WNOHANG | os.WUNTRACED)
            stopped["status"] = status if done else None
            return bool(done) and os.WIFSTOPPED(status)

        assert wait_for(wattlm_stopped), "wattlm did not stop with its command"
        assert _state(child_pids[0]) == "T"
        assert _stat_fields(pid)[1] == _stat_fields(pid)[0]  # wattlm took the terminal back
        os.kill(pid, signal.SIGCONT)  # what a shell's `fg` sends (it already gave us the tty)
        assert wait_for(lambda: _state(child_pids[0]) != "T"), "the command was not resumed"
        assert wait_for(lambda: _stat_fields(child_pids[0])[1] == child_pids[0])
        os.write(master, b"\x03")
        status = None
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            _drain(master)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        assert status is not None and os.waitstatus_to_exitcode(status) == 130
        assert (tmp_path / "saved").read_text() == "checkpoint"
    finally:
        kill_quietly(pid, *child_pids)
        os.close(master)
