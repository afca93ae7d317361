"""agentgov's local control plane: one warm process per home that runs each command in a forked child.

A command that starts cold spends seconds importing MLflow and Prefect and
starting a Prefect API before it does its work. The control plane is a
long-lived process (a "zygote", like Mercurial's chg) that has imported all
that once, hosts the home's Prefect API (the ``prefect server`` of
:mod:`agentgov.pipelines.server`), and listens on a Unix socket in the home.
The command line (the client, :func:`relay`) sends it the command's argv,
working directory, environment and fingerprint, and passes its own stdin,
stdout and stderr with ``SCM_RIGHTS``. The control plane forks a child that
takes those descriptors as 0, 1 and 2, changes to the directory, replaces its
environment and runs the command exactly as the in-process path does: the
output goes straight to the user's terminal, and the configuration is read in
the child, so nothing is stale.

Files, in ``<home>/server/`` (mode 0700):

``control.sock``  the socket (0600); every request carries the token first.
``token``         the access token (0600), for the socket and the HTTP API.
``control.json``  pid, socket, fingerprint, start time, the Prefect UI address, the HTTP API's address.
``control.log``   what the control plane itself says (start, refusals, stop).
``control.lock``  held by the running control plane: one per home.
``active/``       long-lived work (:func:`active_work`): no idle shutdown while any runs.
``jobs.json``     schedules and long-lived jobs (:mod:`agentgov.pipelines.runner`), resumed by the next control plane.

It also serves agentgov's HTTP API on 127.0.0.1 (:mod:`agentgov.pipelines.api`),
one forked child per connection, and runs the home's schedules and long-lived
jobs (:mod:`agentgov.pipelines.runner`) in forked children of their own.

The client side of this module imports the standard library only: it runs
before every command and must stay far under 100 ms.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SOCKET_NAME = "control.sock"
STATE_NAME = "control.json"
TOKEN_NAME = "token"
LOG_NAME = "control.log"
LOCK_NAME = "control.lock"
ACTIVE_DIR = "active"
DEFAULT_IDLE_TIMEOUT_S = 15 * 60
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
REQUEST_TIMEOUT_S = 5.0
API_HOST = "127.0.0.1"  # never anything else: the API is for this machine's console, gateway and scripts
MAX_API_CHILDREN = 32
_HEADER = struct.Struct("!I")
_MAX_REQUEST = 16 << 20

IN_CHILD = False  # True in a command's forked child

# The folders setuptools maps into agentgov.<name>: their sources are part of the fingerprint.
SUBPACKAGES = ("core", "registry", "data", "policies", "evals", "deploy", "plugins", "pipelines", "cli")


class ControlPlaneError(Exception):
    """The control plane could not be started or reached (the client then runs the command in process)."""


# -- where things live -----------------------------------------------------------------------------


def control_dir(home: Path) -> Path:
    return home / "server"


@dataclass(frozen=True)
class ControlState:
    """What ``control.json`` says about the running control plane."""

    pid: int
    socket: str
    fingerprint: str
    started_at: float
    log: str
    prefect_url: str | None = None
    home: str = ""
    api_url: str | None = None  # http://127.0.0.1:PORT/api/v1

    def alive(self) -> bool:
        return process_alive(self.pid, b"agentgov")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def process_alive(pid: int, marker: bytes) -> bool:
    """Whether ``pid`` runs and (where /proc says) is the program whose command line holds ``marker``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pid
    return marker in cmdline and b"<defunct>" not in cmdline and cmdline != b""


def read_state(home: Path) -> ControlState | None:
    try:
        data = json.loads((control_dir(home) / STATE_NAME).read_text(encoding="utf-8"))
        return ControlState(**data)
    except (OSError, ValueError, TypeError):
        return None


def running(home: Path) -> ControlState | None:
    state = read_state(home)
    return state if state is not None and state.alive() else None


def read_token(home: Path) -> str | None:
    try:
        return (control_dir(home) / TOKEN_NAME).read_text(encoding="ascii").strip() or None
    except OSError:
        return None


# -- the fingerprint: what makes a running control plane the right one ---------------------------------


def fingerprint() -> str:
    """agentgov's version, the interpreter and ``PYTHONPATH``, the installed agentgov plugins (their
    distributions, versions and module files' mtimes) and the mtimes of agentgov's own sources.

    A control plane whose fingerprint differs from the client's is restarted
    before the command runs, so an upgrade, a new plugin or an edit of an
    editable install is never served by stale code. Costs a few milliseconds.
    """
    import importlib.metadata as metadata
    import importlib.util

    digest = hashlib.sha256()
    try:
        digest.update(f"agentgov {metadata.version('agentgov')}\n".encode())
    except metadata.PackageNotFoundError:
        digest.update(b"agentgov (not installed)\n")
    digest.update(f"python {sys.version}\n{sys.executable}\nPYTHONPATH={os.environ.get('PYTHONPATH', '')}\n".encode())
    for entry in sorted(metadata.entry_points(group="agentgov"), key=lambda e: (e.name, e.value)):
        dist = entry.dist
        digest.update(f"plugin {entry.name}={entry.value} {dist.name if dist else '?'} {dist.version if dist else '?'}\n".encode())
        location = _module_file(entry.module)
        if location is not None:
            digest.update(_mtime_line(location))
    for name in SUBPACKAGES:
        spec = importlib.util.find_spec(f"agentgov.{name}")
        for folder in (spec.submodule_search_locations or []) if spec else []:
            for root, dirs, files in os.walk(folder):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
                for file in sorted(files):
                    if file.endswith(".py"):
                        digest.update(_mtime_line(os.path.join(root, file)))
    return digest.hexdigest()[:16]


def _module_file(module: str) -> str | None:
    """A plugin module's file, found without importing it (its top-level package is imported if it has one)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None and spec.origin and spec.origin.endswith(".py") else None


def _mtime_line(path: str) -> bytes:
    try:
        stat = os.stat(path)
    except OSError:
        return f"{path} missing\n".encode()
    return f"{path} {stat.st_mtime_ns} {stat.st_size}\n".encode()


# -- long-lived work: no idle shutdown while any runs -------------------------------------------------


@contextlib.contextmanager
def active_work(home: Path, name: str, what: str = "") -> Iterator[None]:
    """Mark long-lived work (a rollout controller, a schedule) as running in this process for the block.

    The control plane does not stop for idleness while any marked work's
    process is alive; a process that dies leaves a marker that no longer counts.
    """
    folder = control_dir(home) / ACTIVE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name) or "work"
    marker = folder / f"{safe}.{os.getpid()}.json"
    marker.write_text(json.dumps({"name": name, "what": what, "pid": os.getpid(), "since": time.time()}), encoding="utf-8")
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def active_entries(home: Path) -> list[dict[str, Any]]:
    """The long-lived work now running (markers of dead processes are removed)."""
    found = []
    folder = control_dir(home) / ACTIVE_DIR
    for marker in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            entry = json.loads(marker.read_text(encoding="utf-8"))
            pid = int(entry["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            marker.unlink(missing_ok=True)
            continue
        except PermissionError:
            pass
        found.append(entry)
    return found


# -- the wire: one length-prefixed JSON request with three descriptors, JSON lines back ----------------


def _send_request(sock: socket.socket, request: Mapping[str, Any], fds: list[int]) -> None:
    body = json.dumps(request).encode()
    frame = _HEADER.pack(len(body)) + body
    sent = socket.send_fds(sock, [frame], fds) if fds else sock.send(frame)
    if sent < len(frame):  # (an empty send after the peer answered and closed would fail with EPIPE)
        sock.sendall(frame[sent:])


def _receive_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 3)
    try:
        while len(data) < _HEADER.size:
            more = conn.recv(65536)
            if not more:
                raise ValueError("the request ended early")
            data += more
        (size,) = _HEADER.unpack_from(data)
        if size > _MAX_REQUEST:
            raise ValueError("the request is too large")
        while len(data) < _HEADER.size + size:
            more = conn.recv(65536)
            if not more:
                raise ValueError("the request ended early")
            data += more
        request = json.loads(data[_HEADER.size : _HEADER.size + size])
        if not isinstance(request, dict):
            raise ValueError("the request is not an object")
    except BaseException:
        for fd in fds:
            _close(fd)
        raise
    return request, list(fds)


def _send_line(conn: socket.socket, message: Mapping[str, Any]) -> None:
    try:
        conn.sendall(json.dumps(message).encode() + b"\n")
    except OSError:
        pass  # the client went away; its child is dealt with where the loop sees the socket close


class _Lines:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def next(self) -> dict[str, Any] | None:
        while b"\n" not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except InterruptedError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)


def connect(state: ControlState, timeout: float = 5.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(state.socket)
    except OSError:
        sock.close()
        raise
    return sock


def ask(home: Path, op: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """A control request (``status``, ``stop``) to the running control plane; None if none answers."""
    state = running(home)
    token = read_token(home)
    if state is None or token is None:
        return None
    try:
        with connect(state, timeout) as sock:
            _send_request(sock, {"token": token, "op": op}, [])
            return _Lines(sock).next()
    except (OSError, ValueError):
        return None


@dataclass
class Outcome:
    """How a relayed command ended: ``code`` to exit with, ``signal`` that killed it, or ``lost`` (no status came)."""

    pid: int | None = None
    code: int | None = None
    signal: int | None = None
    finished: bool = False
    lost: str = ""
    refused: str = ""


def relay(state: ControlState, token: str, argv: list[str], fp: str, *, on_pid: Callable[[int], None] | None = None) -> Outcome:
    """Run ``argv`` in a child of the control plane with this process's stdin, stdout and stderr; wait for it.

    SIGINT, SIGTERM, SIGHUP and SIGQUIT that reach this process are passed on
    to the child's process group; SIGTSTP (Ctrl-Z) stops the child's group and
    then this process, and the SIGCONT of ``fg`` or ``bg`` continues both. Raises :class:`ControlPlaneError` only when
    the request could not be sent (the caller may then run the command itself).
    """
    try:
        sock = connect(state)
    except OSError as exc:
        raise ControlPlaneError(f"cannot connect to the control plane ({exc.strerror or exc})") from None
    fds = [fd if _is_open(fd) else os.open(os.devnull, os.O_RDWR) for fd in (0, 1, 2)]
    request = {"token": token, "op": "run", "argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "fingerprint": fp}
    lines = _Lines(sock)
    try:
        _send_request(sock, request, fds)
        sock.settimeout(None)
    except OSError as exc:
        try:  # it may have refused the request (and closed) before reading all of it: say why if it did
            answer = lines.next()
        except ValueError:
            answer = None
        sock.close()
        if answer is not None and "refused" in answer:
            return Outcome(refused=str(answer["refused"]))
        raise ControlPlaneError(f"cannot send the command to the control plane ({exc.strerror or exc})") from None
    outcome = Outcome()
    try:
        first = lines.next()
    except ValueError:
        first = None
    if first is None:
        sock.close()
        raise ControlPlaneError("the control plane closed the connection before it started the command")
    if "refused" in first:
        sock.close()
        outcome.refused = str(first["refused"])
        return outcome
    outcome.pid = int(first["pid"])
    previous = {}

    def forward(number: int, _frame: Any) -> None:
        with contextlib.suppress(OSError):
            os.killpg(outcome.pid or 0, number)

    def suspend(_number: int, _frame: Any) -> None:
        """Ctrl-Z (or SIGTSTP): stop the command, then this process as a job does; ``fg``/``bg`` continue both."""
        with contextlib.suppress(OSError):
            os.killpg(outcome.pid or 0, signal.SIGSTOP)  # the child's group is not the terminal's: it did not get the SIGTSTP
        os.kill(os.getpid(), signal.SIGSTOP)  # stopped here until SIGCONT (SIGTSTP would be dropped in an orphaned group)
        with contextlib.suppress(OSError):
            os.killpg(outcome.pid or 0, signal.SIGCONT)

    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        previous[number] = signal.signal(number, forward)
    previous[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, suspend)
    if on_pid is not None:
        on_pid(outcome.pid)
    try:
        try:
            last = lines.next()
        except ValueError:
            last = None
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        sock.close()
    if last is None:
        outcome.lost = "the control plane ended before the command did"
    else:
        outcome.code = last.get("code")
        outcome.signal = last.get("signal")
        outcome.finished = bool(last.get("finished"))
    return outcome


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


# -- starting and stopping it from a client -----------------------------------------------------------


def spawn(home: Path, command: list[str], env: Mapping[str, str]) -> int:
    """Start ``command`` (which runs :func:`serve`) detached: its own session, its output in ``control.log``."""
    import subprocess

    folder = control_dir(home)
    _private_dir(folder)
    with open(folder / LOG_NAME, "ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=dict(env),
            start_new_session=True, close_fds=True, cwd=str(folder),
        )
    return process.pid


def wait_until_running(home: Path, fp: str, pid: int, timeout: float = START_TIMEOUT_S) -> ControlState:
    """Wait until a control plane with fingerprint ``fp`` answers (the one started as ``pid``, or a rival that won)."""
    deadline = time.monotonic() + timeout
    exited: int | None = None
    while time.monotonic() < deadline:
        state = running(home)
        if state is not None and state.fingerprint == fp and os.path.exists(state.socket):
            return state
        if exited is None:
            with contextlib.suppress(ChildProcessError):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done == pid:
                    exited = os.waitstatus_to_exitcode(status)
        if exited is not None and not _lock_held(home):
            state = running(home)
            if state is not None and state.fingerprint == fp:
                return state
            raise ControlPlaneError(f"it exited with status {exited}; see {control_dir(home) / LOG_NAME}")
        time.sleep(0.02)
    raise ControlPlaneError(f"it did not answer within {timeout:.0f} s; see {control_dir(home) / LOG_NAME}")


def _lock_held(home: Path) -> bool:
    """Whether a control plane (running, or starting) holds the home's lock."""
    import fcntl

    try:
        fd = os.open(control_dir(home) / LOCK_NAME, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def retire(home: Path, timeout: float = STOP_TIMEOUT_S) -> ControlState | None:
    """Make a stale control plane step aside: it stops taking commands at once and exits when its running ones end.

    Its commands are not cut short, and the Prefect server it hosts is left to
    the next control plane. Returns once it no longer holds the home.
    """
    state = running(home)
    if state is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(state.pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _lock_held(home) and process_alive(state.pid, b"agentgov"):
        time.sleep(0.02)
    if _lock_held(home) and process_alive(state.pid, b"agentgov"):
        return stop(home)
    return state


def stop(home: Path, timeout: float = STOP_TIMEOUT_S) -> ControlState | None:
    """Stop the control plane of ``home`` (SIGTERM, then SIGKILL); return what was stopped, or None."""
    state = running(home)
    if state is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process_alive(state.pid, b"agentgov"):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(state.pid, os.WNOHANG)
        time.sleep(0.05)
    if process_alive(state.pid, b"agentgov"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.pid, signal.SIGKILL)
        _cleanup_after_kill(home, state)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(state.pid, os.WNOHANG)
    return state


def _cleanup_after_kill(home: Path, state: ControlState) -> None:
    folder = control_dir(home)
    for name in (STATE_NAME, SOCKET_NAME):
        (folder / name).unlink(missing_ok=True)


def _private_dir(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)


# -- the control plane itself -------------------------------------------------------------------------


@dataclass
class _Child:
    pid: int
    conn: socket.socket
    finished: int  # read end of the child's "finished" pipe
    argv: list[str]
    started: float = field(default_factory=time.time)


class ControlPlane:
    """The serve loop: accept, check the token, fork a child per command, report its end; stop when idle."""

    def __init__(
        self,
        home: Path,
        *,
        run: Callable[[list[str], int], int],
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT_S,
        fp: str | None = None,
        prefect_url: Callable[[], str | None] = lambda: None,
        after_fork: Callable[[], None] | None = None,
        on_tick: Callable[[], None] = lambda: None,
        log: Callable[[str], None] | None = None,
        execute: Callable[[Any], int] | None = None,
    ) -> None:
        self.home = home
        self.folder = control_dir(home)
        self.run = run
        self.idle_timeout = idle_timeout
        self.fingerprint = fp or fingerprint()
        self.prefect_url = prefect_url
        self.after_fork = after_fork or fresh_connections
        self.on_tick = on_tick
        self.children: dict[int, _Child] = {}
        self.last_activity = time.monotonic()
        self.stopping = False
        self.retiring = False
        self._log = log or (lambda line: print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}", file=sys.stderr, flush=True))
        self.started_at = time.time()
        self.api_children: set[int] = set()
        self.http: socket.socket | None = None
        self.api_url: str | None = None
        from agentgov.pipelines import runner

        self.execute = execute or runner.execute  # runs one job in its child
        self.runner = runner.Runner(home, fork=self._fork_job, log=self._log)

    # set-up ---------------------------------------------------------------------------------------------
    def acquire(self) -> bool:
        """Take the home's control-plane lock; False if another control plane holds it."""
        import fcntl

        _private_dir(self.folder)
        self._lock = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock)
            return False
        os.set_inheritable(self._lock, False)
        return True

    def listen(self) -> None:
        self.token = os.urandom(24).hex()
        token_path = self.folder / TOKEN_NAME
        token_path.unlink(missing_ok=True)
        fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(self.token)
        self.socket_path = self.folder / SOCKET_NAME
        self.socket_path.unlink(missing_ok=True)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            self.server.bind(str(self.socket_path))
        finally:
            os.umask(old)
        os.chmod(self.socket_path, 0o600)
        self.server.listen(64)
        self.server.setblocking(False)
        self.http = socket.create_server((API_HOST, 0), backlog=64)  # a free port, chosen by the kernel: no race
        self.http.setblocking(False)
        self.api_url = f"http://{API_HOST}:{self.http.getsockname()[1]}/api/v1"

    def publish(self) -> ControlState:
        state = ControlState(
            pid=os.getpid(), socket=str(self.socket_path), fingerprint=self.fingerprint, started_at=self.started_at,
            log=str(self.folder / LOG_NAME), prefect_url=self.prefect_url(), home=str(self.home), api_url=self.api_url,
        )
        temporary = self.folder / f".{STATE_NAME}.{os.getpid()}"
        temporary.write_text(json.dumps(state.to_dict()), encoding="utf-8")
        os.replace(temporary, self.folder / STATE_NAME)
        return state

    # the loop -------------------------------------------------------------------------------------------
    def serve(self) -> None:
        import selectors

        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._stop_signal)
        signal.signal(signal.SIGINT, self._stop_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGUSR1, self._retire_signal)
        self._wake = (wake_r, wake_w)
        selector = selectors.DefaultSelector()
        selector.register(self.server, selectors.EVENT_READ, "accept")
        selector.register(wake_r, selectors.EVENT_READ, "wake")
        if self.http is not None:
            selector.register(self.http, selectors.EVENT_READ, "http")
        self.selector = selector
        self.runner.tick()  # the schedules and jobs a previous control plane left: resumed now
        self._log(f"control plane {os.getpid()} serving {self.home} (fingerprint {self.fingerprint}, idle timeout {self.idle_timeout:.0f} s)")
        while not self.stopping:
            if self.retiring:
                if self._step_aside():
                    break
            for key, _events in selector.select(timeout=1.0):
                if key.data == "accept":
                    self._accept()
                elif key.data == "http":
                    self._accept_http()
                elif key.data == "wake":
                    with contextlib.suppress(OSError):
                        os.read(wake_r, 4096)
                elif isinstance(key.data, int):
                    self._client_gone(key.data)
            self._reap()
            if not self.retiring:
                self.runner.tick()
            self.on_tick()
            if self._idle():
                self._log(f"idle for {self.idle_timeout:.0f} s: stopping")
                break
        self.shutdown()

    def _stop_signal(self, number: int, _frame: Any) -> None:
        self.stopping = True

    def _retire_signal(self, number: int, _frame: Any) -> None:
        self.retiring = True

    def _step_aside(self) -> bool:
        """Retiring: stop listening and let go of the home (once), then report whether the last command ended."""
        if self.server.fileno() != -1:
            self._log("retiring (a newer agentgov or plugin is installed): no new commands; exiting when the running ones end")
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(self.server)
            if self.http is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.unregister(self.http)
                self.http.close()
            self.runner.stop()  # its jobs stay active in jobs.json: the successor resumes them, never two runs at once
            self._forget_files()
            self.server.close()
            with contextlib.suppress(OSError):
                os.close(self._lock)
        return not self.children and not self.api_children

    def _forget_files(self) -> None:
        current = read_state(self.home)
        if current is not None and current.pid == os.getpid():
            (self.folder / STATE_NAME).unlink(missing_ok=True)
            self.socket_path.unlink(missing_ok=True)

    def _idle(self) -> bool:
        if self.children or self.api_children or self.idle_timeout <= 0:
            if self.children or self.api_children:
                self.last_activity = time.monotonic()
            return False
        if time.monotonic() - self.last_activity < self.idle_timeout:
            return False
        if active_entries(self.home):
            self.last_activity = time.monotonic()
            return False
        return True

    def _accept(self) -> None:
        try:
            conn, _ = self.server.accept()
        except (BlockingIOError, InterruptedError):
            return
        self.last_activity = time.monotonic()
        conn.setblocking(True)
        conn.settimeout(REQUEST_TIMEOUT_S)
        try:
            request, fds = _receive_request(conn)
        except (OSError, ValueError) as exc:
            self._log(f"refused a malformed request: {exc}")
            conn.close()
            return
        token = request.get("token")
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), self.token.encode()):
            for fd in fds:
                _close(fd)
            self._log(f"refused a request without the right token (peer {_peer(conn)})")
            _send_line(conn, {"refused": "no valid token"})
            conn.close()
            return
        op = request.get("op")
        if op == "status":
            for fd in fds:
                _close(fd)
            _send_line(conn, self.status())
            conn.close()
        elif op == "stop":
            for fd in fds:
                _close(fd)
            _send_line(conn, {"stopping": True, "pid": os.getpid()})
            conn.close()
            self.stopping = True
        elif op == "run":
            if request.get("fingerprint") != self.fingerprint:
                for fd in fds:
                    _close(fd)
                _send_line(conn, {"refused": "stale", "fingerprint": self.fingerprint})
                conn.close()
                return
            if len(fds) != 3:
                for fd in fds:
                    _close(fd)
                _send_line(conn, {"refused": "the request did not carry stdin, stdout and stderr"})
                conn.close()
                return
            self._fork(conn, request, fds)
        else:
            for fd in fds:
                _close(fd)
            _send_line(conn, {"refused": f"unknown operation {op!r}"})
            conn.close()

    def _fork(self, conn: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
        argv = [str(a) for a in request.get("argv", [])]
        finished_r, finished_w = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            try:
                os.close(finished_r)
                self._become_child(conn, request, fds)
                code = self.run(argv, finished_w)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                _exit_child(code)
        os.close(finished_w)
        for fd in fds:
            _close(fd)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # the child does it too; whichever comes first
        conn.settimeout(None)
        self.children[pid] = _Child(pid, conn, finished_r, argv)
        self.selector.register(conn, 1, pid)  # selectors.EVENT_READ: the client closing its end
        _send_line(conn, {"pid": pid})

    def _become_child(self, conn: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
        self._detach()
        conn.close()
        _adopt(fds, request.get("cwd") or "/", request.get("env") or {})
        self.after_fork()

    def _detach(self) -> None:
        """In a freshly forked child: default signals, a process group of its own, dying with the control plane, and
        none of the control plane's sockets, pipes or lock."""
        global IN_CHILD
        IN_CHILD = True
        parent = os.getppid()
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own: Ctrl-C is a KeyboardInterrupt, as in process
        os.setpgid(0, 0)
        _die_with(parent)
        with contextlib.suppress(Exception):
            self.selector.close()
        for fd in getattr(self, "_wake", ()):
            _close(fd)
        self.server.close()
        if self.http is not None:
            self.http.close()
        for other in self.children.values():
            other.conn.close()
            _close(other.finished)
        self.children = {}
        self.api_children = set()
        self.runner.running.clear()
        self.runner._markers.clear()  # the control plane's markers: not this child's to remove
        with contextlib.suppress(OSError):
            os.close(self._lock)

    # the HTTP API: one forked child per connection ------------------------------------------------------
    def _accept_http(self) -> None:
        from agentgov.pipelines import api

        assert self.http is not None
        try:
            conn, address = self.http.accept()
        except (BlockingIOError, InterruptedError):
            return
        self.last_activity = time.monotonic()
        if len(self.api_children) >= MAX_API_CHILDREN:
            with contextlib.suppress(OSError):
                conn.setblocking(True)
                conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            conn.close()
            return
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                conn.setblocking(True)
                status = {**self.status(), "pid": os.getppid()}  # computed here: the child is a snapshot of the loop's state
                context = api.Context(home=self.home, token=self.token, status=status, run=self.run, log=self._log)
                self._detach()
                self.after_fork()
                api.handle(conn, address, context)
                code = 0
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                with contextlib.suppress(BaseException):
                    sys.stderr.flush()
                os._exit(code)
        conn.close()
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        self.api_children.add(pid)

    # long-lived jobs: one forked child per run ------------------------------------------------------------
    def _fork_job(self, job: Any) -> int:
        from agentgov.pipelines import runner

        log = os.open(runner.log_path(self.home, job.id), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        try:
            pid = os.fork()
        except OSError:
            _close(log)
            raise
        if pid == 0:
            code = 1
            try:
                self._detach()
                env = dict(os.environ)
                if job.owner:
                    env["AGENTGOV_USER"] = job.owner  # the audit log names who scheduled it
                _adopt([os.open(os.devnull, os.O_RDONLY), log, os.dup(log)], str(self.folder), env)
                self.after_fork()
                code = self.execute(job)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                _exit_child(code)
        _close(log)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        return pid

    def _client_gone(self, pid: int) -> None:
        """The client's socket became readable: it closed (killed, or gone). Its command goes with it, as under the supervisor."""
        child = self.children.get(pid)
        if child is None:
            return
        try:
            data = child.conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            return
        self._log(f"client of child {pid} ({' '.join(child.argv[:2])}) went away: killing the child")
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(child.conn)

    def _reap(self) -> None:
        while self.children or self.api_children or self.runner.running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.api_children:
                self.api_children.discard(pid)
                self.last_activity = time.monotonic()
                continue
            if self.runner.ended(pid, status):
                self.last_activity = time.monotonic()
                continue
            child = self.children.pop(pid, None)
            if child is None:
                continue
            self.last_activity = time.monotonic()
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(child.conn)
            os.set_blocking(child.finished, False)
            try:
                said = os.read(child.finished, 1)
            except (BlockingIOError, OSError):
                said = b""
            _close(child.finished)
            if os.WIFSIGNALED(status):
                message: dict[str, Any] = {"signal": os.WTERMSIG(status), "finished": bool(said)}
            else:
                code = os.waitstatus_to_exitcode(status)
                message = {"code": (code or said[0]) if said else code, "finished": bool(said)}
            _send_line(child.conn, message)
            child.conn.close()

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "home": str(self.home),
            "fingerprint": self.fingerprint,
            "started_at": self.started_at,
            "uptime_s": round(time.time() - self.started_at, 1),
            "idle_timeout_s": self.idle_timeout,
            "prefect_url": self.prefect_url(),
            "api_url": self.api_url,
            "children": [{"pid": c.pid, "argv": c.argv, "running_s": round(time.time() - c.started, 1)} for c in self.children.values()],
            "active": active_entries(self.home),
        }

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop taking requests; end running children (SIGTERM, then SIGKILL); remove the socket and control.json."""
        with contextlib.suppress(OSError):
            self.server.close()
        if self.http is not None:
            with contextlib.suppress(OSError):
                self.http.close()
        self._forget_files()
        self.runner.stop()  # the jobs stay active in jobs.json: the next control plane resumes them
        for pid in [*self.children, *self.api_children]:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while (self.children or self.api_children) and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.05)
        for pid in [*self.children, *self.api_children]:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        while (self.children or self.api_children) and time.monotonic() < deadline + 5:
            self._reap()
            time.sleep(0.05)
        self._log(f"control plane {os.getpid()} stopped")


def fresh_connections() -> None:
    """In a forked child: forget the database connections the control plane opened (MLflow's SQLAlchemy pools).

    ``dispose(close=False)`` drops the pool without closing what the parent
    still uses; the child opens its own connections on first use. MLflow's
    stores stay cached (their schema already checked), which is what saves the
    child the store's opening cost.
    """
    for module, name in (
        ("mlflow.store.tracking.sqlalchemy_store", "SqlAlchemyStore"),
        ("mlflow.store.model_registry.sqlalchemy_store", "SqlAlchemyStore"),
    ):
        cls = getattr(sys.modules.get(module), name, None)
        for engine in list(getattr(cls, "_engine_map", {}).values()):
            with contextlib.suppress(Exception):
                engine.dispose(close=False)


def _adopt(fds: list[int], cwd: str, env: Mapping[str, Any]) -> None:
    """In a child: take ``fds`` as stdin, stdout and stderr (closing them), move to ``cwd``, take ``env`` as the environment."""
    import io

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            _close(fd)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in env.items()})
    encoding = os.environ.get("PYTHONIOENCODING", "").partition(":")[0] or sys.stdout.encoding or "utf-8"
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding=encoding, line_buffering=os.isatty(0))
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding=encoding, line_buffering=os.isatty(1))
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding=encoding, errors="backslashreplace", line_buffering=True)
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def run_captured(argv: list[str], *, cwd: str, env: Mapping[str, str], run: Callable[[list[str], int], int]) -> dict[str, Any]:
    """Run a command in a child of this process (a control plane's API child) with its output captured; how it ended.

    The exit code follows the command line's rules: 0 only when the command
    finished, 128+N when signal N ended it.
    """
    import tempfile

    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    finished_r, finished_w = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(finished_r)
            os.setpgid(0, 0)
            _die_with(parent)
            _adopt([os.open(os.devnull, os.O_RDONLY), os.dup(out.fileno()), os.dup(err.fileno())], cwd, env)
            code = run(argv, finished_w)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            _exit_child(code)
    os.close(finished_w)
    _, status = os.waitpid(pid, 0)
    os.set_blocking(finished_r, False)
    try:
        said = os.read(finished_r, 1)
    except OSError:
        said = b""
    _close(finished_r)
    number = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    code = 128 + number if number else os.waitstatus_to_exitcode(status)
    if said and not number:
        code = code or said[0]
    out.seek(0)
    err.seek(0)
    stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if code == 0 and not said:
        stderr += "agentgov: error: the command ended before it finished (a plugin or an agent ended the process)\n"
        code = 1
    return {"code": code, "signal": number, "finished": bool(said), "stdout": stdout, "stderr": stderr}


def _peer(conn: socket.socket) -> str:
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _gid = struct.unpack("3i", creds)
        return f"pid {pid}, uid {uid}"
    except (OSError, AttributeError):
        return "unknown"


def _die_with(parent: int) -> None:
    """The child dies (with its process group) when the control plane does (Linux): no command runs on unobserved."""
    death = signal.SIGRTMIN + 3
    signal.signal(death, lambda *_: os.killpg(0, signal.SIGKILL))
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, death)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


def _exit_child(code: Any) -> None:
    """Flush, run the exit hooks an in-process command would run, and end the child without the zygote's teardown."""
    import atexit
    import gc

    if not isinstance(code, int):
        code = 1
    gc.freeze()
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    os._exit(code & 0xFF)


def serve(
    config: Any,
    *,
    run: Callable[[list[str], int], int],
    warm: Callable[[], None],
    port: int | None = None,
    host: str = "127.0.0.1",
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT_S,
) -> int:
    """Be the control plane of ``config.home`` until stopped or idle; 0, or 3 when another one already runs.

    The home's Prefect server (:mod:`agentgov.pipelines.server`) is started
    while ``warm`` imports what the commands need, and stopped at the end
    unless it was running before. ``run(argv, finished_fd)`` runs one command
    in a forked child and writes its status byte to ``finished_fd`` when done.
    """
    from agentgov.pipelines import server as prefect_server
    from agentgov.pipelines.runtime import free_port

    log = _logger(control_dir(config.home) / LOG_NAME)
    fp = fingerprint()
    plane = ControlPlane(config.home, run=run, idle_timeout=idle_timeout, fp=fp, log=log)
    if not plane.acquire():
        log("another control plane already serves this home")
        return 3
    plane.listen()
    before = prefect_server.status(config)  # one a retired control plane left running: adopted
    launched = None
    if before.running and before.state is not None:
        prefect = before.state
    else:
        launched = prefect_server.launch(config, port=port or free_port(), host=host)
        prefect = launched
    plane.prefect_url = lambda: prefect.url
    answered: list[bool] = []

    def tick() -> None:  # once the Prefect server answers, its migrations are on record (the next start skips them)
        from agentgov.pipelines.runtime import healthy, record_migrated

        if launched is not None and not answered and healthy(prefect.api_url, timeout=0.2):
            answered.append(True)
            record_migrated(config)
            log(f"Prefect server answers at {prefect.url}")

    plane.on_tick = tick
    began = time.monotonic()
    warm()
    import threading

    threads = sorted(t.name for t in threading.enumerate() if t is not threading.main_thread())
    log(
        f"warm in {time.monotonic() - began:.2f} s; Prefect server {prefect.url} (pid {prefect.pid}); agentgov API {plane.api_url}; "
        f"other threads: {threads or 'none'}"
    )
    plane.publish()
    try:
        plane.serve()
    finally:
        if not plane.retiring:  # a retiring one leaves the Prefect server to its successor, which adopts it
            prefect_server.stop(config)
            prefect_server.stop_pid(prefect.pid)  # by its pid too: server.json may be gone with the home
    return 0


def _logger(path: Path) -> Callable[[str], None]:
    def log(line: str) -> None:
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{os.getpid()}] {line}", file=sys.stderr, flush=True)

    return log


__all__ = [
    "ACTIVE_DIR",
    "ControlPlane",
    "ControlPlaneError",
    "ControlState",
    "Outcome",
    "active_entries",
    "active_work",
    "ask",
    "control_dir",
    "fingerprint",
    "read_state",
    "read_token",
    "relay",
    "run_captured",
    "running",
    "serve",
    "spawn",
    "stop",
    "wait_until_running",
]
