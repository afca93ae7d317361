"""Running agentgov's Prefect flows from the command line and from tests, quietly.

:func:`run_flow` runs a flow against, in this order: ``config.prefect_api_url``
when set; the local server ``agentgov server start`` runs for this home, when
it is up (reused across commands: no start-up cost); else an embedded server
that lives exactly as long as the call. Flow runs, task runs, logs and
artifacts are always recorded in a real Prefect API.

Why not Prefect's own embedded mode. With no ``PREFECT_API_URL``, Prefect 3.9
starts a temporary server (``SubprocessASGIServer``) on first use and stops it
from an ``atexit`` hook. Read in its source and reproduced, the ~200 lines of
exit tracebacks have three causes:

1. The server subprocess inherits the terminal's stderr. Its telemetry
   heartbeat (a docket perpetual service that runs even in ephemeral servers)
   writes to sqlite while start-up still holds the write lock; docket logs the
   ``database is locked`` traceback under ``docket.dependencies``, a logger that
   Prefect's own filter for retryable sqlite errors (on ``docket.worker`` and
   ``uvicorn.error``) does not cover.
2. The ``atexit`` hook sends SIGTERM as soon as the flow returns, while the
   server's ``TaskRunRecorder`` still has task-run events queued (it writes them
   one at a time). Its flush is cancelled (the ``CancelledError`` tracebacks)
   and those events are lost: in a 300-task flow only 23 task runs reached the
   database, most of them stuck in Pending or Running. The noise hid data loss.
3. ``import prefect`` puts a console handler on the root logger, so every
   flow and task run's INFO lines, and any library's warnings, are printed.

So the embedded server here is started by us (the same uvicorn app Prefect
uses, in ephemeral mode) with analytics, automations and event streaming off,
its output in ``<home>/prefect/server.log`` and its state in
``<home>/prefect`` (``PREFECT_HOME``); after the flow, the client's event and
log queues are drained and we wait until the server has recorded every task
run of the flow run in a final state before stopping it, so nothing is lost.
Prefect's console output goes to ``<home>/logs/prefect.log`` for the duration
of the call (it is still sent to the API, and shown with ``console=True``).
Flow-run heartbeats are off on the embedded server (nothing there acts on a
missed one, and stopping their thread cost every flow a second).
Settings are changed through Prefect's settings context and the server's own
environment, never in ``os.environ``, so nothing leaks beyond the call.

The embedded server costs a few seconds per command; ``agentgov server start``
removes that cost (``benchmarks/prefect_overhead.py`` measures both).

A command killed mid-flow (kill -9, a power cut) cannot tell Prefect, so its
flow run would stay Running for ever. Every flow run started here carries the
tags ``agentgov.host:<host>`` and ``agentgov.pid:<pid>@<host>#<start>``
(``<host>`` is the host name and, on Linux, its PID namespace; ``<start>`` the
process's start time, so a reused pid is told apart); before each flow starts,
:func:`mark_crashed_runs` sets to Crashed the Running or Pending runs of this
host whose process is gone.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from agentgov.core.config import Config
from agentgov.core.errors import AgentgovError
from agentgov.registry.errors import RegistryUnavailable

if TYPE_CHECKING:
    from prefect import Flow

    from agentgov.core.masking import Masker

R = TypeVar("R")

STARTUP_TIMEOUT_S = 90.0
CATCH_UP_TIMEOUT_S = 30.0

# Settings of the embedded server: no phoning home, no automations, no event
# stream to a UI that is not there. Task-run recording and event persistence
# stay on: they are what makes the runs visible in the API.
EMBEDDED_SERVER_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED": "false",
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "PREFECT__SERVER_EPHEMERAL": "1",
}


class PipelineError(AgentgovError):
    """The Prefect API a flow needs could not be started or reached."""


@dataclass(frozen=True)
class PrefectApi:
    """Where flows are recorded: ``url`` of the API, and how it was chosen."""

    url: str
    kind: str  # "configured", "local server" or "embedded"


def prefect_home(config: Config) -> Path:
    return config.home / "prefect"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether the Prefect API at ``api_url`` (ending in ``/api``) answers its health check."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def check_reachable(api_url: str) -> None:
    """Fail in one line, before any flow starts, when nothing answers at ``api_url``."""
    from agentgov.core.config import mask_uri

    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=5):
            return
    except urllib.error.HTTPError:
        return  # something answers (a proxy or Prefect Cloud may not serve /health): let Prefect talk to it
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise PipelineError(
            f"the Prefect API at {mask_uri(api_url)} is not reachable ({getattr(exc, 'reason', exc)})",
            hint="start it (`agentgov server start`), or unset PREFECT_API_URL / [prefect] api_url to run flows embedded",
        ) from None


def server_env(config: Config, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a Prefect server process that keeps its state in the home."""
    home = prefect_home(config)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_PROFILES_PATH": str(home / "profiles.toml"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PYTHONWARNINGS": "ignore",
        }
    )
    env.setdefault("PREFECT_API_DATABASE_CONNECTION_URL", f"sqlite+aiosqlite:///{home / 'prefect.db'}")
    env.update(extra or {})
    return env


def migration_env(config: Config) -> dict[str, str]:
    """Skip the database migrations (and block registration) when this Prefect version already ran them on this home's database."""
    if migrated_version(config) == _migration_key():
        return {"PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false", "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false"}
    return {}


def _migrated_file(config: Config) -> Path:
    return config.home / "prefect" / "migrated-version"


def migrated_version(config: Config) -> str | None:
    try:
        return _migrated_file(config).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def record_migrated(config: Config) -> None:
    """A Prefect server answered on this home's database: its migrations (for this Prefect version) are done."""
    if config.prefect_api_url:
        return
    path = _migrated_file(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_migration_key(), encoding="utf-8")


def _migration_key() -> str:
    """The Prefect version and the database it migrated (a configured database URL is another database)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        prefect = version("prefect")
    except PackageNotFoundError:
        prefect = "unknown"
    return f"prefect {prefect} {os.environ.get('PREFECT_API_DATABASE_CONNECTION_URL', 'home database')}"


@contextmanager
def embedded_server(config: Config, meanwhile: Callable[[], object] | None = None) -> Iterator[str]:
    """An ephemeral Prefect API server for this home, stopped on exit; yields its API URL.

    ``meanwhile`` is called while the server boots (importing the flow, for one).
    The server runs in its own session, so a Ctrl-C reaches only agentgov, which
    then stops it in order; on Linux it also gets SIGTERM if agentgov is killed.
    """
    home = prefect_home(config)
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "server.log"
    process, api_url = _spawn_server(config, log_path)
    try:
        if meanwhile is not None:
            meanwhile()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        attempts = 1
        while not healthy(api_url, timeout=1):
            if process.poll() is not None and attempts < 3:
                # Most likely another process took the free port between our probe and uvicorn's bind.
                attempts += 1
                process, api_url = _spawn_server(config, log_path)
            elif process.poll() is not None or time.monotonic() > deadline:
                raise PipelineError(
                    f"the embedded Prefect server did not start (exit code {process.poll()})",
                    hint=f"see {log_path}, or run `agentgov server start`",
                )
            time.sleep(0.1)
        record_migrated(config)
        yield api_url
    finally:
        stop_process(process)


def _spawn_server(config: Config, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
                "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on",
            ],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=server_env(config, {**EMBEDDED_SERVER_ENV, **migration_env(config)}), start_new_session=True, preexec_fn=die_with_parent(),
        )
    return process, f"http://127.0.0.1:{port}/api"


def die_with_parent() -> Callable[[], object] | None:
    """What the child runs before exec on Linux: ask for SIGTERM when agentgov dies (no orphaned server)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGTERM)


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM (uvicorn's graceful shutdown), then SIGKILL if it does not exit in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def local_server_url(config: Config) -> str | None:
    """The API URL of the ``agentgov server`` running for this home, if it is up."""
    from agentgov.pipelines.server import read_state

    state = read_state(config)
    if state is None or not state.alive():
        return None
    # Recorded as soon as it is launched (the control plane starts it while it warms up): wait while it boots.
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not healthy(state.api_url):
        if not state.alive() or time.monotonic() > deadline:
            return None
        time.sleep(0.1)
    return state.api_url


@contextmanager
def prefect_api(config: Config, meanwhile: Callable[[], object] | None = None) -> Iterator[PrefectApi]:
    """The Prefect API flows should use: configured, the running local server, else embedded for the block."""
    if config.prefect_api_url:
        check_reachable(config.prefect_api_url)
        if meanwhile is not None:
            meanwhile()
        yield PrefectApi(config.prefect_api_url, "configured")
        return
    url = local_server_url(config)
    if url:
        if meanwhile is not None:
            meanwhile()
        yield PrefectApi(url, "local server")
        return
    with embedded_server(config, meanwhile) as url:
        yield PrefectApi(url, "embedded")


@contextmanager
def using_api(config: Config, api_url: str, *, heartbeats: bool = True) -> Iterator[None]:
    """Point Prefect's settings at ``api_url`` and the home for the block (a settings context, not os.environ).

    Flow-run heartbeats let a long-lived server's automations mark crashed runs;
    an embedded server has none and lives only as long as the run, and stopping
    the heartbeat thread costs each flow up to a second (it sleeps in 1 s steps).
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    updates: dict[Any, Any] = {PREFECT_API_URL: api_url, PREFECT_HOME: str(prefect_home(config))}
    if not heartbeats:
        updates["flows.heartbeat_frequency"] = None
    with temporary_settings(updates=updates):
        yield


def run_flow(flow: Flow[..., R] | str, *args: Any, config: Config, console: bool = False, **kwargs: Any) -> R:
    """Run ``flow(*args, **kwargs)`` recorded in a Prefect API; return its value or raise its exception.

    ``flow`` may be given as ``"module:attribute"``: it is then imported (with
    Prefect) while an embedded server boots, which saves the command about a
    second. The exception is the flow's own (an :class:`AgentgovError` stays
    one), so the command line prints it as usual. ``console=True`` lets
    Prefect's log lines through to the terminal (``agentgov --debug``).
    """
    loaded: list[Flow[..., R]] = []

    def load() -> None:
        loaded.append(import_flow(flow) if isinstance(flow, str) else flow)

    with ExitStack() as stack:
        api = stack.enter_context(prefect_api(config, meanwhile=load))
        flow = loaded[0]
        # In a control plane's child, heartbeats are off as on the embedded server: stopping their thread costs
        # the flow up to a second, the child dies with its control plane, and a run left Running by a killed
        # process is marked Crashed by the next flow (its host and pid tags).
        stack.enter_context(using_api(config, api.url, heartbeats=api.kind != "embedded" and not _in_control_plane_child()))
        if not console:
            stack.enter_context(prefect_output_to_file(config.home / "logs" / "prefect.log"))
        mark_crashed_runs()
        from prefect import tags

        with tags(*process_tags()):
            state = flow(*args, return_state=True, **kwargs)
        flush_client()
        if api.kind == "embedded":
            wait_for_task_runs(state.state_details.flow_run_id)
        return state.result()


HOST_TAG = "agentgov.host:"
PROCESS_TAG = "agentgov.pid:"


def host_id() -> str:
    """This host's name and, on Linux, its PID namespace: pids mean the same thing only within one."""
    host = socket.gethostname()
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return host
    return f"{host}.{''.join(c for c in namespace if c.isdigit())}"


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started, in clock ticks since boot (Linux), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # from the third field on: the command name may hold spaces
    return fields[19] if len(fields) > 19 else None


def process_tags() -> tuple[str, str]:
    """The tags that tie a flow run to this process: ``agentgov.host:<host>``, ``agentgov.pid:<pid>@<host>#<start>``."""
    host, pid = host_id(), os.getpid()
    start = _process_start(pid)
    return f"{HOST_TAG}{host}", f"{PROCESS_TAG}{pid}@{host}" + (f"#{start}" if start else "")


def process_is_gone(tag: str) -> bool:
    """Whether the process a ``agentgov.pid:`` tag names has ended; False when that cannot be known here."""
    match = re.fullmatch(r"agentgov\.pid:(\d+)@([^#]+)(?:#(\d+))?", tag)
    if match is None or match[2] != host_id():
        return False
    pid = int(match[1])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it runs, as another user
    started = _process_start(pid)
    return bool(match[3] and started and started != match[3])  # the pid was reused by a later process


def mark_crashed_runs() -> int:
    """Set to Crashed the Running or Pending flow runs of this host whose agentgov process is gone; how many.

    Runs in the API Prefect's settings point at (see :func:`using_api`). Never
    fails the command: a problem is logged, and the next command tries again.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    log = logging.getLogger("agentgov.pipelines")
    marked = 0
    try:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])),
                    tags=FlowRunFilterTags(all_=[f"{HOST_TAG}{host_id()}"]),
                ),
                limit=200,
            )
            for run in runs:
                tag = next((t for t in run.tags if t.startswith(PROCESS_TAG)), None)
                if tag is None or not process_is_gone(tag):
                    continue
                owner = tag.removeprefix(PROCESS_TAG).partition("#")[0]
                message = f"the agentgov process that ran it (pid {owner}) is gone; marked crashed by pid {os.getpid()}"
                client.set_flow_run_state(run.id, Crashed(message=message), force=True)
                log.info("flow run %s (%s): %s", run.name, run.id, message)
                marked += 1
    except Exception as exc:  # the flow itself will report an API that does not answer
        log.debug("could not look for crashed flow runs: %s: %s", type(exc).__name__, exc)
    return marked


def _in_control_plane_child() -> bool:
    module = sys.modules.get("agentgov.pipelines.control_plane")
    return bool(module is not None and module.IN_CHILD)


def import_flow(spec: str) -> Flow[..., Any]:
    """The flow named ``"package.module:attribute"``."""
    import importlib

    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module), attribute)


def flush_client(timeout: float = 10) -> None:
    """Send every queued event and log record to the API now, not at interpreter exit."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout, at_exit=False)


def wait_for_task_runs(flow_run_id: Any, timeout: float = CATCH_UP_TIMEOUT_S) -> None:
    """Wait until the server has recorded every task run of the flow run in a final state.

    Task runs reach the database through events the server records one by one;
    stopping it before it has caught up loses them. "Caught up" is: every task
    run final and the count unchanged over three polls (events arrive in order
    and the client's queue is already drained).
    """
    if flow_run_id is None:
        return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + timeout
    seen, stable = -1, 0
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            final = all(r.state is not None and r.state.is_final() for r in runs)
            stable = stable + 1 if final and len(runs) == seen else 0
            if stable >= 3:
                return
            seen = len(runs)
            time.sleep(0.1)
    logging.getLogger("agentgov.pipelines").warning(
        "the embedded Prefect server had not recorded every task run after %.0f s; some may be missing in its history", timeout
    )


@contextmanager
def prefect_output_to_file(path: Path) -> Iterator[None]:
    """Send what Prefect's console handlers would print to ``path`` instead, for the block."""
    from prefect.logging.handlers import PrefectConsoleHandler

    path.parent.mkdir(parents=True, exist_ok=True)
    from logging.handlers import RotatingFileHandler

    file_handler = RotatingFileHandler(path, maxBytes=5 << 20, backupCount=2, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    muted: list[tuple[logging.Handler, int]] = []
    for name in ("", "prefect", "uvicorn", "fastapi", "docket"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, PrefectConsoleHandler):
                muted.append((handler, handler.level))
                handler.setLevel(logging.CRITICAL + 1)
    root = logging.getLogger()
    root.addHandler(file_handler)
    try:
        yield
    finally:
        root.removeHandler(file_handler)
        file_handler.close()
        for handler, level in muted:
            handler.setLevel(level)


def markdown_table(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def publish_table(
    key: str, title: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]], description: str = "", *, masker: Masker | None = None
) -> None:
    """Publish a markdown table as a Prefect artifact of the current flow run (the UI's Artifacts tab).

    Every cell, the title and the description are masked as the audit log is
    (``masker``: the home's configured one; the built-in patterns by default),
    so no credential or personal data reaches Prefect's database.
    """
    from prefect.artifacts import create_markdown_artifact

    from agentgov.core.masking import DEFAULT_MASKER

    mask = (masker or DEFAULT_MASKER).text
    rows = [tuple(mask(v) if isinstance(v, str) else v for v in row) for row in rows]
    create_markdown_artifact(
        markdown=f"## {mask(title)}\n\n{markdown_table(columns, rows)}\n",
        key=artifact_key(key),
        description=mask(description or title),
    )


def artifact_key(text: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    key = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in key.split("-") if part) or "agentgov"


Transient = tuple[type[BaseException], ...]

# Worth another try: the MLflow store or the network was briefly away. Every other
# AgentgovError is the user's to fix and fails at once.
TRANSIENT: Transient = (RegistryUnavailable, ConnectionError, TimeoutError)


def retry_on(transient: Transient) -> Callable[..., bool]:
    """A Prefect ``retry_condition_fn`` that retries only exceptions of the ``transient`` types."""

    def should_retry(task: Any, task_run: Any, state: Any) -> bool:
        try:
            state.result()
        except transient:
            return True
        except BaseException:
            return False
        return False

    return should_retry
