"""Managed background processes: start detached with a log, know whether one is still ours, stop it.

A pid alone is not enough to know a process is still the one we started: after
it died the number may be reused. Where ``/proc`` exists, its start time is
kept with the pid and both must match.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from agentgov.core.errors import AgentgovError


class ProcessFailed(AgentgovError):
    """A managed process ended before it was ready, or never became ready."""

    exit_code = 1  # not the input: the server or the build failed (one line, naming the log or the cause)


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # fields after the command name, which may hold spaces


def alive(pid: int, started: str | None = None) -> bool:
    """Whether ``pid`` runs and, when ``started`` is known, is the process that started then."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return started is None  # someone else's process now holds the number
    if _zombie(pid):
        return False
    return started is None or start_time(pid) in (None, started)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def spawn(argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path | None = None) -> subprocess.Popen:
    """Start ``argv`` in a session of its own (it outlives the command), output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(pid: int, started: str | None = None, timeout: float = 20) -> bool:
    """SIGTERM the process group ``pid`` leads, then SIGKILL after ``timeout``; False when it was not running."""
    if not alive(pid, started):
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not alive(pid, started):
            return True
        time.sleep(0.1)
    _signal_group(pid, signal.SIGKILL)
    for _ in range(50):
        _reap(pid)
        if not alive(pid, started):
            break
        time.sleep(0.1)
    return True


def _signal_group(pid: int, number: int) -> None:
    try:
        os.killpg(pid, number)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def get_status(url: str, timeout: float = 2.0) -> int | None:
    """The HTTP status of a GET on ``url``, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def wait_until_ready(
    url: str,
    *,
    running: Callable[[], bool],
    timeout: float,
    log: Path | None = None,
    what: str = "the server",
    progress: Callable[[str], None] | None = None,
) -> float:
    """Poll ``url`` until it answers 200; seconds waited. Fails (with the log's tail) if the process ends or time runs out."""
    began = time.monotonic()
    said = began
    while True:
        if get_status(url) == 200:
            return time.monotonic() - began
        if not running():
            raise ProcessFailed(f"{what} ended before it was ready{_tail(log)}")
        waited = time.monotonic() - began
        if waited > timeout:
            raise ProcessFailed(f"{what} was not ready after {timeout:.0f} s{_tail(log)}")
        if progress is not None and time.monotonic() - said >= 5:
            progress(f"still starting ({waited:.0f} s)")
            said = time.monotonic()
        time.sleep(0.2)


def _tail(log: Path | None) -> str:
    if log is None or not log.is_file():
        return ""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    last = last if len(last) <= 200 else last[:197] + "..."
    return f" (its log {log} ends: {last!r})" if last else f" (its log {log} is empty)"
