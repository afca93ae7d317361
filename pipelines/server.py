"""A local Prefect server for this home: ``agentgov server start|stop|status``.

``prefect server start`` runs in its own session with its output in
``<home>/server/prefect-server.log`` and its database in ``<home>/prefect``
(the same one embedded runs use, so their history shows in the UI). Its pid and
address are kept in ``<home>/server/server.json``; while it answers, agentgov's
flows use it instead of starting an embedded server per command.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from agentgov.core.config import Config
from agentgov.pipelines.runtime import (
    PipelineError,
    die_with_parent,
    healthy,
    migration_env,
    record_migrated,
    server_env,
)

DEFAULT_PORT = 4200
STARTUP_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ServerState:
    pid: int
    host: str
    port: int
    log: str
    started_at: float

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:  # a pid left in server.json may since belong to another program
            return b"prefect" in Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except OSError:
            return True  # no /proc: trust the pid

    def to_dict(self) -> dict:
        return {**asdict(self), "url": self.url, "api_url": self.api_url}


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    state: ServerState | None
    healthy: bool

    def to_dict(self) -> dict:
        return {"running": self.running, "healthy": self.healthy, **(self.state.to_dict() if self.state else {})}


def server_dir(config: Config) -> Path:
    return config.home / "server"


def _state_file(config: Config) -> Path:
    return server_dir(config) / "server.json"


def read_state(config: Config) -> ServerState | None:
    path = _state_file(config)
    try:
        return ServerState(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def status(config: Config) -> ServerStatus:
    state = read_state(config)
    if state is None or not state.alive():
        return ServerStatus(False, None, False)
    return ServerStatus(True, state, healthy(state.api_url))


def start(config: Config, *, port: int = DEFAULT_PORT, host: str = "127.0.0.1", timeout: float = STARTUP_TIMEOUT_S) -> ServerState:
    """Start the server unless it runs already; return once it answers its health check."""
    current = status(config)
    if current.running and current.state is not None:
        return current.state
    state = launch(config, port=port, host=host)
    wait_healthy(config, state, timeout=timeout)
    return state


def launch(config: Config, *, port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> ServerState:
    """Start ``prefect server start`` in the background and record it in server.json at once (it answers seconds later).

    Flows that find it recorded but not yet answering wait for it
    (:func:`agentgov.pipelines.runtime.local_server_url`) rather than start an
    embedded server on the same database.
    """
    folder = server_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "prefect-server.log"
    if not _port_free(host, port):
        raise PipelineError(f"the Prefect server cannot start: {host}:{port} is in use", hint="choose another with --port")
    prefect = shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"
    env = server_env(config, {"PREFECT_SERVER_LOGGING_LEVEL": "WARNING", "PREFECT_CLI_COLORS": "false", **migration_env(config)})
    with open(log_path, "ab") as log:
        offset = log.tell()
        process = subprocess.Popen(
            [prefect, "server", "start", "--host", host, "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            preexec_fn=die_with_parent(),
        )
    state = ServerState(pid=process.pid, host=host, port=port, log=str(log_path), started_at=time.time())
    _launched[process.pid] = (process, offset)
    _state_file(config).write_text(json.dumps(asdict(state)), encoding="utf-8")
    return state


_launched: dict[int, tuple[subprocess.Popen, int]] = {}


def wait_healthy(config: Config, state: ServerState, *, timeout: float = STARTUP_TIMEOUT_S) -> None:
    """Wait until the server :func:`launch` started answers; on failure stop it and raise with the end of its log."""
    process, offset = _launched.get(state.pid, (None, 0))
    deadline = time.monotonic() + timeout
    while not healthy(state.api_url, timeout=1):
        gone = process.poll() is not None if process is not None else not state.alive()
        if gone or time.monotonic() > deadline:
            _terminate(state.pid)
            _state_file(config).unlink(missing_ok=True)
            with open(state.log, "rb") as log:
                log.seek(offset)
                said = " ".join(log.read().decode("utf-8", errors="replace").split())[-200:] or "no output"
            raise PipelineError(f"the Prefect server did not start on {state.host}:{state.port}: {said}", hint=f"see {state.log}")
        time.sleep(0.2)
    record_migrated(config)


def check_port(host: str, port: int) -> None:
    """A one-line error when ``host:port`` is taken, before anything starts."""
    if not _port_free(host, port):
        raise PipelineError(f"the Prefect server cannot start: {host}:{port} is in use", hint="choose another with --port")


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def stop(config: Config, timeout: float = 20) -> ServerState | None:
    """Stop the server (its whole process group); return what was stopped, or None if nothing ran."""
    state = read_state(config)
    _state_file(config).unlink(missing_ok=True)
    if state is None or not state.alive():
        return None
    _terminate(state.pid, timeout)
    return state


def stop_pid(pid: int) -> None:
    """Stop the Prefect server started as ``pid`` if it still runs (its process group)."""
    if process_alive(pid):
        _terminate(pid)


def process_alive(pid: int) -> bool:
    return ServerState(pid=pid, host="", port=0, log="", started_at=0.0).alive()


def _terminate(pid: int, timeout: float = 20) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        _reap(pid)
        time.sleep(0.1)
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _reap(pid)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
