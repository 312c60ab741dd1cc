"""Start the server under test (``--start CMD``), wait until it answers, stop it afterwards.

The server runs in its own session (process group), so stopping it reaches its workers too:
SIGTERM to the group, then SIGKILL after a grace period. Its output goes to a log file whose
tail is quoted when it fails to start.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

from wattlm.errors import InvalidInputError

__all__ = ["ManagedServer"]


class ManagedServer:
    """A server process started by wattlm; use as a context manager.

    Args:
        command: the command line (``"vllm serve MODEL --port 8000"``), split like a shell.
        ready_url: polled with GET until it answers 200 (``http://127.0.0.1:8000/v1/models``).
        start_timeout_s: how long to wait for the server to answer.
        stop_grace_s: seconds between SIGTERM and SIGKILL.
    """

    def __init__(self, command: str, ready_url: str, *, start_timeout_s: float = 300.0,
                 stop_grace_s: float = 10.0) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise InvalidInputError("--start needs a command, e.g. --start 'vllm serve MODEL'")
        if not start_timeout_s > 0:
            raise InvalidInputError(f"--start-timeout must be > 0, got {start_timeout_s!r}")
        self.ready_url = ready_url
        self.start_timeout_s = start_timeout_s
        self.stop_grace_s = stop_grace_s
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server's process id (the root of the tree that is measured)."""
        if self.process is None:
            raise InvalidInputError("the server is not started")
        return self.process.pid

    def _tail(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        text = Path(self._log.name).read_bytes()[-600:].decode("utf-8", "replace").strip()
        return f"; its last output: {text}" if text else ""

    def start(self) -> ManagedServer:
        """Start the command and wait until ``ready_url`` answers (bounded by the timeout)."""
        import httpx

        self._log = tempfile.NamedTemporaryFile(prefix="wattlm-server-", suffix=".log")
        try:
            self.process = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            raise InvalidInputError(f"cannot start the server {self.argv[0]!r}: "
                                    f"{e.strerror or e}") from e
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                tail = self._tail()
                self.stop()
                raise InvalidInputError(f"the server command exited with code {code} before "
                                        f"answering {self.ready_url}{tail}")
            try:
                if httpx.get(self.ready_url, timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        tail = self._tail()
        self.stop()
        raise InvalidInputError(f"the server did not answer {self.ready_url} within "
                                f"{self.start_timeout_s:g} s (--start-timeout){tail}")

    def stop(self) -> int | None:
        """Stop the server's whole process group; returns its exit code (None if never run)."""
        process, self.process = self.process, None
        code = None
        if process is not None:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    code = process.wait(timeout=self.stop_grace_s)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    code = process.wait(timeout=self.stop_grace_s)
                except ProcessLookupError:
                    code = process.wait(timeout=self.stop_grace_s)
            else:
                code = process.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def __enter__(self) -> ManagedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
