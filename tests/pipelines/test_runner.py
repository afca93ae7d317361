"""Schedules and long-lived jobs (``agentgov.pipelines.runner``): recorded in the home, run by the control plane.

The control planes here are real processes forked from the test with
commands that just sleep (no MLflow start-up), and the jobs' targets are
functions of this module that write to a file: the loop's rules, cheaply.
The drift monitor run as a real Prefect flow is tested through the real
control plane in test_control_plane.py.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agentgov.pipelines import control_plane as plane
from agentgov.pipelines import runner


def record_run(path: str) -> dict[str, int]:
    """A schedule's target: one line per run, naming the control plane that forked it."""
    with open(path, "a", encoding="utf-8") as out:
        out.write(
            json.dumps({"plane": os.getppid(), "pid": os.getpid(), "user": os.environ.get("AGENTGOV_USER")}) + "\n"
        )
    return {"plane": os.getppid()}


def wait_forever(path: str) -> None:
    """A long-lived job's target (a rollout controller waiting for traffic): runs until cancelled, then cleans up."""
    Path(path).write_text("started\n")
    try:
        while True:
            time.sleep(0.1)
    finally:
        with open(path, "a", encoding="utf-8") as out:
            out.write("cleaned up\n")


def _sleeper(argv: list[str], finished: int) -> int:
    time.sleep(float(argv[0]))
    os.write(finished, b"\0")
    return 0


def start_plane(home: Path, idle: float) -> int:
    """Fork a control plane for ``home`` (commands sleep; jobs run for real); its pid once it serves."""
    pid = os.fork()
    if pid == 0:
        try:
            control = plane.ControlPlane(home, run=_sleeper, idle_timeout=idle, log=lambda line: None)
            assert control.acquire()
            control.listen()
            control.publish()
            control.serve()
        finally:
            os._exit(0)
    deadline = time.monotonic() + 10
    while (plane.read_state(home) is None or plane.read_state(home).pid != pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert plane.read_state(home) is not None, "the control plane did not start"
    return pid


def wait_for(what: Callable[[], object], timeout: float, message: str) -> object:
    deadline = time.monotonic() + timeout
    while not (found := what()):
        assert time.monotonic() < deadline, message
        time.sleep(0.05)
    return found


def exited(pid: int) -> bool:
    return os.waitpid(pid, os.WNOHANG) != (0, 0)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_jobs_are_recorded_in_the_home_and_found_by_a_prefix(home: Path) -> None:
    job = runner.submit(
        home, "agentgov.pipelines.drift_monitor:drift_monitor", kwargs={"window": "1h"}, every_s=60, owner="ann"
    )
    assert (job.kind, job.status, job.owner, job.every_s) == ("schedule", "active", "ann", 60.0)
    assert job.next_due() == job.created_at  # never run: due now
    assert runner.get(home, job.id[:4]) == job
    assert oct((home / "server" / "jobs.json").stat().st_mode & 0o777) == "0o600"
    once = runner.submit(home, "some.module:controller")
    assert once.kind == "job" and [j.id for j in runner.jobs(home)] == [job.id, once.id]

    cancelled = runner.cancel(home, job.id, by="bob")
    assert (cancelled.status, cancelled.ended_by) == ("cancelled", "bob") and cancelled.next_due() is None
    assert [j.id for j in runner.jobs(home)] == [once.id]
    assert [j.id for j in runner.jobs(home, include_ended=True)] == [job.id, once.id]


@pytest.mark.parametrize(
    ("target", "every", "message"),
    [
        ("no-colon", None, "expected package.module:attribute"),
        ("a.b:c d", None, "expected package.module:attribute"),
        ("a.b:c", 0.5, "at most once a second"),
    ],
)
def test_a_bad_job_is_refused_in_one_line(home: Path, target: str, every: float | None, message: str) -> None:
    with pytest.raises(runner.RunnerError, match=message) as raised:
        runner.submit(home, target, every_s=every)
    assert raised.value.exit_code == 2
    assert runner.jobs(home, include_ended=True) == []
    with pytest.raises(runner.RunnerError, match="no job matches 'zz'"):
        runner.cancel(home, "zz")


def test_a_schedule_holds_up_idle_shutdown_survives_a_restart_and_lets_it_stop_once_cancelled(
    home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "runs.jsonl"
    job = runner.submit(home, f"{__name__}:record_run", kwargs={"path": str(out)}, every_s=1.0, owner="ann")
    first = start_plane(home, idle=1.0)
    second = 0
    try:
        wait_for(lambda: len(lines(out)) >= 3, 20, "the schedule did not run every second")
        assert exited(first) is False  # three runs, well past the 1 s idle timeout: the schedule holds it up
        assert {r["plane"] for r in lines(out)} == {first} and {r["user"] for r in lines(out)} == {"ann"}
        markers = list((plane.control_dir(home) / plane.ACTIVE_DIR).glob("job-*.json"))
        assert [json.loads(m.read_text())["job"] for m in markers] == [job.id]
        recorded = runner.get(home, job.id)
        assert recorded.runs >= 3 and recorded.last_result == "completed" and recorded.active

        os.kill(first, signal.SIGTERM)  # `agentgov server stop`, a crash, a restart after an upgrade
        wait_for(lambda: exited(first), 20, "the control plane did not stop")
        first = 0
        assert runner.get(home, job.id).active  # still recorded as active: the next control plane resumes it
        assert list((plane.control_dir(home) / plane.ACTIVE_DIR).glob("job-*.json")) == []

        runs_before = len(lines(out))
        second = start_plane(home, idle=1.0)
        wait_for(
            lambda: any(r["plane"] == second for r in lines(out)), 10, "the schedule did not resume after a restart"
        )
        assert len(lines(out)) > runs_before

        runner.cancel(home, job.id, by="ann")
        began = time.monotonic()
        wait_for(
            lambda: exited(second), 15, "the control plane did not stop for idleness once the schedule was cancelled"
        )
        assert time.monotonic() - began >= 0.5
        second = 0
        assert plane.read_state(home) is None
        assert runner.get(home, job.id).status == "cancelled"
    finally:
        for pid in (first, second):
            if pid:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


def test_a_long_lived_job_runs_until_cancelled_and_its_cleanup_runs(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "job.txt"
    pid = start_plane(home, idle=60)
    try:
        job = runner.submit(home, f"{__name__}:wait_forever", kwargs={"path": str(out)})
        wait_for(lambda: out.exists(), 10, "the job did not start")
        time.sleep(1.5)
        assert runner.get(home, job.id).runs == 1  # one run, still going: not restarted
        held = [a["pid"] for a in plane.active_entries(home) if a.get("job") == job.id]
        assert held == [pid]  # the control plane's marker: no idle stop meanwhile

        runner.cancel(home, job.id)
        wait_for(lambda: runner.get(home, job.id).last_result, 10, "the cancelled job's run did not end")
        assert runner.get(home, job.id).last_result == "cancelled"
        assert out.read_text() == "started\ncleaned up\n"
        assert "cancelled" in runner.log_path(home, job.id).read_text()
    finally:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: exited(pid), 20, "the control plane did not stop")
