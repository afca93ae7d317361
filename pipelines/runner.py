"""Long-lived work that the home's control plane hosts: schedules and jobs.

A **schedule** runs a target every ``every_s`` seconds (the drift monitor,
``agentgov monitor schedule``); a **job** runs a target once, for as long as it
takes (a rollout controller that waits hours for traffic). A target is
``"package.module:attribute"``: a Prefect flow is run with
:func:`agentgov.pipelines.runtime.run_flow`, so every run is a real flow run
recorded in the home's Prefect server; anything else is called with the
job's keyword arguments.

The jobs are recorded in ``<home>/server/jobs.json`` (written under
``jobs.lock``, replaced atomically), not only in the control plane's memory:
anyone may :func:`submit` or :func:`cancel` (a command in process, a command
in the control plane, the HTTP API), and the control plane picks the change up
within a second. When the control plane stops (``agentgov server stop``, a
crash, a restart after an upgrade), the jobs stay active in the file and the
next control plane resumes them: a schedule's next run is due ``every_s``
after its last start, and a job is started again from the top, so a job's
target must pick up where its state says it stands (a rollout controller
reads the registry, not its memory). While any job is active the control
plane does not stop for idleness (each one holds an ``active/`` marker, see
:func:`agentgov.pipelines.control_plane.active_work`).

Each run is a child forked from the warm control plane (MLflow and Prefect
already imported), whose output goes to ``<home>/server/jobs/<id>.log``.
Cancelling a job sends its running child SIGTERM, which this module turns into
:class:`Cancelled` so the target's ``finally`` blocks run.

The same flows run on a Prefect server with workers instead (no control plane):
``drift_monitor.to_deployment(name="hourly", interval=3600, entrypoint_type=EntrypointType.MODULE_PATH)``
deployed to a process work pool (:func:`agentgov.pipelines.deployments.deploy`
does that for all of agentgov's flows); Prefect's scheduler then creates the
runs and a ``prefect worker`` runs them.

This module imports the standard library (and agentgov.core.errors) only; the target's libraries are
imported in the child that runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from agentgov.core.errors import AgentgovError

JOBS_NAME = "jobs.json"
LOCK_NAME = "jobs.lock"
LOGS_DIR = "jobs"
MIN_EVERY_S = 1.0
ACTIVE, CANCELLED, FINISHED, FAILED = "active", "cancelled", "finished", "failed"


class RunnerError(AgentgovError):
    """A job that does not exist or cannot be submitted as asked (the CLI shows it as one line, exit 2)."""


class Cancelled(Exception):
    """Raised in a running job when it is cancelled (SIGTERM): its ``finally`` blocks run, then it ends."""


@dataclass(frozen=True)
class Job:
    """One schedule or job as ``jobs.json`` records it."""

    id: str
    kind: str  # "schedule" or "job"
    target: str  # "package.module:attribute"
    kwargs: dict[str, Any] = field(default_factory=dict)
    every_s: float | None = None  # schedules only
    name: str = ""
    owner: str = ""
    created_at: float = 0.0
    status: str = ACTIVE
    runs: int = 0
    last_started_at: float | None = None
    last_ended_at: float | None = None
    last_result: str | None = None  # "completed", "failed (exit 1)", "killed by signal 9", "cancelled"
    ended_at: float | None = None
    ended_by: str | None = None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def next_due(self) -> float | None:
        """When the next run is due (epoch seconds): now for a job or a schedule never run, else last start + every_s."""
        if not self.active:
            return None
        if self.kind == "job" or self.last_started_at is None:
            return self.created_at
        return self.last_started_at + float(self.every_s or 0)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "next_due": self.next_due()}


# -- the file: jobs.json under jobs.lock ----------------------------------------------------------------------


def _folder(home: Path) -> Path:
    return Path(home) / "server"


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[dict[str, dict[str, Any]]]:
    """The jobs, by id, for a read-modify-write: what the block leaves in the dict is written back."""
    import fcntl

    folder = _folder(home)
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(folder, 0o700)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        entries = _read(home)
        before = json.dumps(entries, sort_keys=True)
        yield entries
        if json.dumps(entries, sort_keys=True) != before:
            temporary = folder / f".{JOBS_NAME}.{os.getpid()}"
            temporary.write_text(json.dumps(entries, indent=1, sort_keys=True), encoding="utf-8")
            os.chmod(temporary, 0o600)
            os.replace(temporary, folder / JOBS_NAME)
    finally:
        os.close(fd)


def _read(home: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((_folder(home) / JOBS_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise RunnerError(f"{_folder(home) / JOBS_NAME} cannot be read ({exc}); fix or remove it") from None
    return data if isinstance(data, dict) else {}


def _job(entry: dict[str, Any]) -> Job:
    known = Job.__dataclass_fields__
    return Job(**{k: v for k, v in entry.items() if k in known})


def jobs(home: Path, *, include_ended: bool = False) -> list[Job]:
    """The recorded jobs, oldest first (only the active ones unless ``include_ended``)."""
    found = sorted((_job(e) for e in _read(home).values()), key=lambda j: (j.created_at, j.id))
    return found if include_ended else [j for j in found if j.active]


def get(home: Path, job_id: str) -> Job:
    """The job whose id is (or starts with) ``job_id``."""
    return _job(_read(home)[_resolve(_read(home), job_id)])


def _resolve(entries: dict[str, dict[str, Any]], job_id: str) -> str:
    matches = [i for i in entries if i == job_id] or [i for i in entries if job_id and i.startswith(job_id)]
    if len(matches) != 1:
        raise RunnerError(f"{'no' if not matches else 'more than one'} job matches {job_id!r}")
    return matches[0]


def check_target(target: str) -> None:
    module, _, attribute = target.partition(":")
    if (
        not module
        or not attribute
        or not all(part.isidentifier() for part in [*module.split("."), *attribute.split(".")])
    ):
        raise RunnerError(f"target {target!r}: expected package.module:attribute")


def submit(
    home: Path,
    target: str,
    *,
    kwargs: dict[str, Any] | None = None,
    every_s: float | None = None,
    name: str = "",
    owner: str = "",
) -> Job:
    """Record a job (``every_s`` given: a schedule) for the control plane of ``home`` to run; return it.

    The control plane starts it within a second if it runs, else when it next starts.
    """
    check_target(target)
    if every_s is not None and not every_s >= MIN_EVERY_S:
        raise RunnerError(f"a schedule runs at most once a second, not every {every_s!r} s")
    try:
        json.dumps(kwargs or {})
    except (TypeError, ValueError) as exc:
        raise RunnerError(f"the job's arguments must be JSON values ({exc})") from None
    job = Job(
        id=uuid.uuid4().hex[:10],
        kind="schedule" if every_s is not None else "job",
        target=target,
        kwargs=dict(kwargs or {}),
        every_s=float(every_s) if every_s is not None else None,
        name=name or target,
        owner=owner,
        created_at=time.time(),
    )
    with _locked(home) as entries:
        entries[job.id] = asdict(job)
    return job


def cancel(home: Path, job_id: str, *, by: str = "") -> Job:
    """Mark the job cancelled; the control plane ends its running child (SIGTERM) within a second."""
    with _locked(home) as entries:
        key = _resolve(entries, job_id)
        job = _job(entries[key])
        if job.active:
            job = replace(job, status=CANCELLED, ended_at=time.time(), ended_by=by or None)
            entries[key] = asdict(job)
    return job


def _update(home: Path, job_id: str, **changes: Any) -> Job | None:
    with _locked(home) as entries:
        if job_id not in entries:
            return None
        job = replace(_job(entries[job_id]), **changes)
        entries[job_id] = asdict(job)
    return job


def log_path(home: Path, job_id: str) -> Path:
    return _folder(home) / LOGS_DIR / f"{job_id}.log"


# -- the control plane's side: start what is due, end what is cancelled, record how runs ended ------------------


@dataclass
class _Running:
    job_id: str
    pid: int
    started: float


class Runner:
    """Runs the home's jobs from the control plane's loop: call :meth:`tick` about once a second.

    ``fork(job)`` starts a run in a child process and returns its pid (the
    control plane forks a warm child that calls :func:`execute`); the loop
    hands each ended child to :meth:`ended`.
    """

    def __init__(
        self, home: Path, *, fork: Callable[[Job], int], log: Callable[[str], None] = lambda line: None
    ) -> None:
        self.home = Path(home)
        self.fork = fork
        self.log = log
        self.running: dict[int, _Running] = {}
        self._seen: tuple[int, int] | None = None
        self._jobs: dict[str, Job] = {}
        self._markers: dict[str, Path] = {}
        self.problem: str | None = None

    def tick(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._reload()
        for job in self._jobs.values():
            run = self._run_of(job.id)
            if not job.active:
                if run is not None:
                    self.log(f"job {job.id} ({job.name}) cancelled: ending its run (pid {run.pid})")
                    with contextlib.suppress(OSError):
                        os.killpg(run.pid, signal.SIGTERM)
                continue
            if run is None and (job.next_due() or 0) <= now:
                self._start(job, now)
        self._mark()

    def _reload(self) -> None:
        path = _folder(self.home) / JOBS_NAME
        try:
            stat = path.stat()
            seen = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            seen = (0, 0)
        if seen == self._seen:
            return
        try:
            self._jobs = {j.id: j for j in jobs(self.home, include_ended=True)}
            self.problem = None
        except RunnerError as exc:
            if self.problem != str(exc):
                self.log(f"runner: {exc}")
            self.problem = str(exc)
            return
        self._seen = seen

    def _run_of(self, job_id: str) -> _Running | None:
        return next((r for r in self.running.values() if r.job_id == job_id), None)

    def _start(self, job: Job, now: float) -> None:
        log_path(self.home, job.id).parent.mkdir(parents=True, exist_ok=True)
        try:
            pid = self.fork(job)
        except OSError as exc:
            self.log(f"job {job.id} ({job.name}): cannot start a run: {exc}")
            return
        self.running[pid] = _Running(job.id, pid, now)
        self.log(f"job {job.id} ({job.name}): run {job.runs + 1} started (pid {pid})")
        updated = _update(self.home, job.id, runs=job.runs + 1, last_started_at=now)
        if updated is not None:
            self._jobs[job.id] = updated

    def ended(self, pid: int, status: int) -> bool:
        """Record how the run in child ``pid`` ended; False if ``pid`` is not one of this runner's."""
        run = self.running.pop(pid, None)
        if run is None:
            return False
        job = self._jobs.get(run.job_id)
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            result = "cancelled" if job is not None and not job.active else f"killed by signal {number}"
        else:
            code = os.waitstatus_to_exitcode(status)
            result = {0: "completed", _CANCELLED_CODE: "cancelled"}.get(code, f"failed (exit {code})")
        changes: dict[str, Any] = {"last_ended_at": time.time(), "last_result": result}
        if job is not None and job.kind == "job" and job.active:
            changes.update(status=FINISHED if result == "completed" else FAILED, ended_at=time.time())
        self.log(f"job {run.job_id}{f' ({job.name})' if job else ''}: run ended: {result}")
        updated = _update(self.home, run.job_id, **changes)
        if updated is not None:
            self._jobs[run.job_id] = updated
        self._mark()
        return True

    def _mark(self) -> None:
        """An ``active/`` marker per active job (this process's pid): the control plane does not idle-stop while any exists."""
        from agentgov.pipelines.control_plane import ACTIVE_DIR, control_dir

        wanted = {j.id for j in self._jobs.values() if j.active} | {r.job_id for r in self.running.values()}
        for job_id in list(self._markers):
            if job_id not in wanted:
                self._markers.pop(job_id).unlink(missing_ok=True)
        for job_id in wanted - set(self._markers):
            job = self._jobs.get(job_id)
            folder = control_dir(self.home) / ACTIVE_DIR
            folder.mkdir(parents=True, exist_ok=True)
            marker = folder / f"job-{job_id}.{os.getpid()}.json"
            what = (
                f"{job.kind} {job.target}" + (f" every {job.every_s:g} s" if job and job.every_s else "") if job else ""
            )
            marker.write_text(
                json.dumps(
                    {
                        "name": f"{job.kind if job else 'job'} {job.name if job else job_id} ({job_id})",
                        "what": what,
                        "pid": os.getpid(),
                        "since": time.time(),
                        "job": job_id,
                    }
                ),
                encoding="utf-8",
            )
            self._markers[job_id] = marker

    def pids(self) -> list[int]:
        return list(self.running)

    def stop(self, timeout: float = 10.0) -> None:
        """The control plane is stopping: end the running children (their jobs stay active, to resume next time)."""
        for pid in list(self.running):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            for pid in list(self.running):
                with contextlib.suppress(ChildProcessError):
                    if os.waitpid(pid, os.WNOHANG)[0] == pid:
                        run = self.running.pop(pid)
                        _update(
                            self.home,
                            run.job_id,
                            last_ended_at=time.time(),
                            last_result="interrupted (the control plane stopped)",
                        )
            time.sleep(0.05)
        for pid in list(self.running):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.running.clear()
        for marker in self._markers.values():
            marker.unlink(missing_ok=True)
        self._markers.clear()


_CANCELLED_CODE = 75  # a run that ended on Cancelled


# -- in the child: run one job's target ------------------------------------------------------------------------


def execute(job: Job) -> int:
    """Run ``job``'s target once, in this (forked) process; 0 when it completed, 75 when cancelled, 1 when it failed."""
    import importlib
    import traceback

    def cancelled(_number: int, _frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends it at once
        raise Cancelled(f"job {job.id} was cancelled")

    signal.signal(signal.SIGTERM, cancelled)
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} run of {job.kind} {job.id} ({job.name}): {job.target}", flush=True)
    try:
        module, _, attribute = job.target.partition(":")
        target: Any = importlib.import_module(module)
        for part in attribute.split("."):
            target = getattr(target, part)
        flow_type = getattr(sys.modules.get("prefect"), "Flow", None)  # a flow's module has imported Prefect
        if flow_type is not None and isinstance(target, flow_type):
            from agentgov.core.config import load_config
            from agentgov.pipelines.runtime import run_flow

            value = run_flow(target, config=load_config(), **job.kwargs)
        else:
            value = target(**job.kwargs)
    except Cancelled as exc:
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {exc}", flush=True)
        return _CANCELLED_CODE
    except BaseException:
        traceback.print_exc()
        return 1
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} completed: {json.dumps(value, default=str)[:2000]}", flush=True)
    return 0


__all__ = [
    "Cancelled",
    "Job",
    "Runner",
    "RunnerError",
    "cancel",
    "execute",
    "get",
    "jobs",
    "log_path",
    "submit",
]
