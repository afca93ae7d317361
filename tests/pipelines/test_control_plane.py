"""The home's control plane (``agentgov server``): commands run in its warm forked children and behave exactly as in process.

Real processes throughout: the installed ``agentgov`` talks to a control plane
it starts itself in a temporary home; every test stops what it started.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentgov.core.home import Home
from agentgov.pipelines import control_plane as plane

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "support-router"


def agentgov() -> str:
    found = shutil.which("agentgov", path=str(Path(sys.executable).parent))
    assert found
    return found


@dataclass
class Place:
    """A home and project of their own, and the environment that points commands at them."""

    root: Path
    env: dict[str, str]

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def project(self) -> Path:
        return self.root / "project"

    def run(self, *args: str, server: bool = True, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
        merged = {**self.env, "AGENTGOV_NO_SERVER": "0" if server else "1", **env}
        return subprocess.run([agentgov(), *args], cwd=self.project, env=merged, capture_output=True, text=True, timeout=timeout)


def make_place(root: Path, **extra: str) -> Place:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTGOV_", "MLFLOW_")) and k != "PREFECT_API_URL"}
    env.update({"AGENTGOV_HOME": str(root / "home"), "AGENTGOV_USER": "test-user", "COLUMNS": "200", **extra})
    (root / "project").mkdir(parents=True)
    Home(root / "home").create()
    agent = root / "project" / "sr"
    agent.mkdir()
    for name in ("agent.yaml", "router.py"):
        shutil.copy(EXAMPLE / name, agent / name)
    calls = [
        {"time": f"2026-11-27T10:{i:02d}:00+00:00", "request_id": f"r{i}", "request": {"subject": f"Ticket {i}", "body": "Refund me."}}
        for i in range(40)
    ]
    (root / "project" / "calls.jsonl").write_text("".join(json.dumps(c) + "\n" for c in calls))
    return Place(root, env)


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Place, Place]]:
    """Two homes fed the same commands: one through its control plane, one in process (--no-server)."""
    warm = make_place(tmp_path_factory.mktemp("warm"))
    cold = make_place(tmp_path_factory.mktemp("cold"))
    try:
        yield warm, cold
    finally:
        plane.stop(warm.home)
        plane.stop(cold.home)


_HEX = re.compile(r"\b[0-9a-f]{8,64}\b")
_TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?(\+00:00|Z)?")
_SECONDS = re.compile(r"\b\d+\.\d+ ?s\b")


def normal(text: str, place: Place) -> str:
    """The output with what differs between two homes by nature (their paths, ids, times, durations) blanked."""
    text = text.replace(str(place.root), "<ROOT>")
    text = _TIME.sub("<TIME>", text)
    text = _HEX.sub("<ID>", text)
    return _SECONDS.sub("<S>", text)


STARTING = "agentgov: starting the control plane for "

# (command, expected exit code), in an order that builds on itself: every command but those that run in process by
# design (init, version, server), those whose output names a running server (config show: prefect.api_url) and those
# that need a tracked dataset, a build or a server in the foreground (data add|validate|profile|checkout, eval,
# drift NAME, build, deploy, serve, rollout start, gateway, console), which their own tests run in the default mode
# (tests/cli/conftest.py).
STEPS: list[tuple[tuple[str, ...], int]] = [
    (("register", "sr"), 0),
    (("versions", "support-router"), 0),
    (("agents",), 0),
    (("show", "support-router", "1"), 0),
    (("promote", "support-router", "1", "--to", "shadow", "--dry-run"), 0),
    (("promote", "support-router", "1", "--to", "production"), 0),
    (("register", "sr", "--json"), 0),
    (("promote", "support-router", "2", "--to", "production", "--json"), 0),
    (("rollback", "support-router"), 0),
    (("history", "support-router"), 0),
    (("history", "support-router", "--json"), 0),
    (("versions", "support-router", "--json"), 0),
    (("audit", "verify"), 0),
    (("diff", "support-router", "1", "2"), 0),
    (("doctor",), 0),
    (("policies", "list"), 0),
    (("policies", "explain", "support-router", "2", "--to", "shadow"), 2),  # v2 is archived now
    (("approve", "support-router", "2", "--stage", "production", "--comment", "ok"), 2),  # not by who registered it
    (("approvals", "support-router", "2"), 0),
    (("audit", "show", "--agent", "support-router"), 0),
    (("plugins", "list"), 0),
    (("manifest", "check", "sr"), 0),
    (("data", "status", "--agent", "sr"), 0),
    (("drift", "list", "support-router"), 0),
    (("monitor", "list"), 0),
    (("log", "import", "calls.jsonl", "--agent", "support-router", "--version", "1"), 0),
    (("log", "import", "calls.jsonl", "--agent", "support-router", "--stage", "canary", "--json"), 0),
    (("log", "import", "missing.jsonl", "--agent", "support-router"), 2),
    (("rollout", "status", "support-router"), 2),  # no rollout yet
    (("rollout", "abort", "support-router"), 2),
    (("traffic", "replay", "support-router", "--dataset", "missing.jsonl", "--rps", "5"), 2),
    (("undeploy", "support-router"), 0),  # nothing deployed: said so
    (("monitor", "schedule", "--every", "1h"), 2),
    (("promote", "support-router", "1", "--to", "nowhere"), 2),
    (("show", "no-such-agent", "1"), 2),
    (("promtoe",), 2),
]


@pytest.mark.parametrize(("args", "code"), STEPS, ids=[" ".join(a) for a, _ in STEPS])
def test_every_command_behaves_the_same_with_the_control_plane_and_without(
    places: tuple[Place, Place], args: tuple[str, ...], code: int
) -> None:
    warm, cold = places
    through = warm.run(*args)
    here = cold.run(*args, server=False)
    assert (through.returncode, here.returncode) == (code, code), (through.stderr, here.stderr)
    stderr = through.stderr
    if stderr.startswith(STARTING):  # one line while it starts: the first command, or after an edit of agentgov's sources
        stderr = stderr.partition("\n")[2]
    elif args == STEPS[0][0]:
        raise AssertionError(f"the first command did not say it started the control plane: {through.stderr!r}")
    assert plane.running(warm.home) is not None
    assert normal(stderr, warm) == normal(here.stderr, cold)
    assert normal(through.stdout, warm) == normal(here.stdout, cold)
    assert plane.running(cold.home) is None  # --no-server never starts one


def test_flows_run_in_the_control_plane_are_recorded_in_its_prefect_server(places: tuple[Place, Place]) -> None:
    from agentgov.core.config import load_config

    from .conftest import one_run

    warm, _ = places
    state = plane.running(warm.home)
    assert state is not None and state.prefect_url
    config = load_config(warm.project, environ={"AGENTGOV_HOME": str(warm.home)})
    rollback = one_run(config, "rollback support-router")
    assert rollback.state == "COMPLETED" and rollback.task_runs
    assert all(state == "COMPLETED" for state in rollback.task_states())


def test_the_control_plane_files_are_private_and_a_request_without_the_token_is_refused(places: tuple[Place, Place]) -> None:
    warm, _ = places
    assert warm.run("agents").returncode == 0
    state = plane.running(warm.home)
    assert state is not None
    folder = plane.control_dir(warm.home)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(os.stat(state.socket).st_mode) == 0o600
    assert stat.S_IMODE((folder / "token").stat().st_mode) == 0o600

    for token in ("", "0" * 48, None):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(state.socket)
            request = {"op": "run", "argv": ["agents"], "cwd": str(warm.project), "env": {}, "fingerprint": state.fingerprint}
            if token is not None:
                request["token"] = token
            body = json.dumps(request).encode()
            socket.send_fds(sock, [len(body).to_bytes(4, "big") + body], [0, 1, 2])
            answer = json.loads(sock.makefile().readline())
        assert answer == {"refused": "no valid token"}
    assert "refused a request without the right token" in Path(state.log).read_text()
    assert plane.running(warm.home) == state  # and it still serves
    assert warm.run("agents").returncode == 0


def test_a_stale_control_plane_is_never_used_it_is_restarted(places: tuple[Place, Place]) -> None:
    warm, _ = places
    assert warm.run("agents").returncode == 0
    before = plane.running(warm.home)
    assert before is not None
    # As after an upgrade or an edit of agentgov's sources: the running one's fingerprint is not the client's.
    path = plane.control_dir(warm.home) / "control.json"
    path.write_text(json.dumps({**before.to_dict(), "fingerprint": "0123456789abcdef"}))
    result = warm.run("agents")
    assert result.returncode == 0, result.stderr
    after = plane.running(warm.home)
    assert after is not None and after.pid != before.pid and after.fingerprint != "0123456789abcdef"
    assert not plane.process_alive(before.pid, b"agentgov")

    # The control plane checks too: a request carrying another fingerprint is refused, not run.
    token = plane.read_token(warm.home)
    assert token
    refused = plane.relay(after, token, ["agents"], "0123456789abcdef")
    assert refused.refused == "stale" and refused.pid is None


def _sleeper(argv: list[str], finished: int) -> int:
    time.sleep(float(argv[0]))
    os.write(finished, b"\0")
    return 0


def _serve_sleeper(home: Path, idle: float) -> None:
    control = plane.ControlPlane(home, run=_sleeper, idle_timeout=idle, log=lambda line: None)
    assert control.acquire()
    control.listen()
    control.publish()
    control.serve()
    os._exit(0)


def test_it_stops_when_idle_but_not_while_a_command_or_long_lived_work_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    pid = os.fork()
    if pid == 0:  # a control plane whose commands just sleep: the loop's rules, without MLflow's start-up
        try:
            _serve_sleeper(home, idle=1.0)
        finally:
            os._exit(1)
    try:
        deadline = time.monotonic() + 10
        while plane.read_state(home) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        state = plane.read_state(home)
        assert state is not None and state.pid == pid
        token = plane.read_token(home)
        assert token

        began = time.monotonic()
        outcome = plane.relay(state, token, ["2.5"], state.fingerprint)  # a command longer than the idle timeout
        assert (outcome.code, outcome.finished) == (0, True)
        assert time.monotonic() - began >= 2.5
        assert os.waitpid(pid, os.WNOHANG) == (0, 0)  # still there after the command

        sleeper = subprocess.Popen(["sleep", "30"])
        marker = plane.control_dir(home) / plane.ACTIVE_DIR
        marker.mkdir(parents=True, exist_ok=True)
        (marker / "rollout.json").write_text(json.dumps({"name": "rollout", "pid": sleeper.pid}))
        time.sleep(2.5)
        assert os.waitpid(pid, os.WNOHANG) == (0, 0)  # long-lived work holds it up
        sleeper.kill()
        sleeper.wait()

        deadline = time.monotonic() + 10
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            assert time.monotonic() < deadline, "the control plane did not stop when idle"
            time.sleep(0.05)
        pid = 0
        assert plane.read_state(home) is None and not (plane.control_dir(home) / "control.sock").exists()
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


@pytest.mark.parametrize("point", ["stage.after-intent", "stage.after-tags"])
def test_kill_9_of_the_control_plane_mid_promote_leaves_the_registry_consistent(tmp_path: Path, point: str) -> None:
    """The promotion's child stops at ``point`` of the stage move (the intent written; or the aliases and tags too,
    the audit record not yet), the control plane is killed with -9 there, and the next command's fresh control plane
    finishes the move before it serves anything: doctor finds nothing, the audit log verifies and says so."""
    place = make_place(tmp_path / "killed")
    paused = tmp_path / "paused.pid"
    try:
        assert place.run("register", "sr").returncode == 0
        state = plane.running(place.home)
        assert state is not None
        promote = subprocess.Popen(
            [agentgov(), "promote", "support-router", "1", "--to", "production"],
            cwd=place.project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**place.env, "AGENTGOV_NO_SERVER": "0", "AGENTGOV_PAUSE_AT": point, "AGENTGOV_PAUSE_FILE": str(paused)},
        )
        deadline = time.monotonic() + 120
        while not paused.exists() and time.monotonic() < deadline:
            assert promote.poll() is None, promote.communicate()
            time.sleep(0.05)
        child = int(paused.read_text())
        assert child != state.pid  # the command's own child of the control plane, at work
        os.kill(state.pid, signal.SIGKILL)
        _, err = promote.communicate(timeout=60)
        assert promote.returncode != 0 and err.count("\n") == 1, err  # cut short: one line says so
        assert "the control plane (pid" in err and "ended before the command finished" in err, err
        deadline = time.monotonic() + 15
        while plane.process_alive(child, b"") and time.monotonic() < deadline:  # it dies with its parent
            time.sleep(0.05)

        doctor = place.run("doctor")
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        verified = place.run("audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert json.loads(place.run("versions", "support-router", "--json").stdout)[0]["stage"] == "production"
        recovered = json.loads(place.run("audit", "show", "--agent", "support-router", "--json").stdout)
        assert [r["payload"]["outcome"] for r in recovered if r["action"] == "stage.recovered"] == ["completed"]
        fresh = plane.running(place.home)
        assert fresh is not None and fresh.pid != state.pid
    finally:
        plane.stop(place.home)


def _call(url: str, token: str | None = None, body: dict | None = None, method: str | None = None) -> tuple[int, object]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_http_api_listens_on_loopback_only_and_answers_only_with_the_token(places: tuple[Place, Place]) -> None:
    from urllib.parse import urlsplit

    from .test_api import listening

    warm, _ = places
    # What the command line says, first: a command may replace the control plane (a source edited meanwhile).
    expected_agents = json.loads(warm.run("agents", "--json").stdout)
    expected_versions = json.loads(warm.run("versions", "support-router", "--json").stdout)
    state = plane.running(warm.home)
    token = plane.read_token(warm.home)
    assert state is not None and state.api_url and token
    where = urlsplit(state.api_url)
    assert where.hostname == "127.0.0.1"
    assert listening(where.port) == ["0100007F"]  # 127.0.0.1, nothing else, no IPv6

    assert _call(f"{state.api_url}/health") == (200, {"ok": True, "service": "agentgov", "api": "v1"})
    for path in ("/status", "/agents", "/agents/support-router/versions", "/jobs"):
        assert _call(f"{state.api_url}{path}")[0] == 401
        assert _call(f"{state.api_url}{path}", "0" * 48)[0] == 401
        assert _call(f"{state.api_url}{path}", token[:-1])[0] == 401
    assert _call(f"{state.api_url}/run", body={"argv": ["agents"]})[0] == 401
    assert _call(f"{state.api_url}/jobs", body={"target": "a.b:c", "every_s": 60})[0] == 401
    assert runner_jobs(warm) == []  # nothing a refused call asked for was done

    code, agents = _call(f"{state.api_url}/agents", token)
    assert code == 200 and agents == expected_agents
    code, versions = _call(f"{state.api_url}/agents/support-router/versions", token)
    assert code == 200 and versions == expected_versions
    code, missing = _call(f"{state.api_url}/agents/no-such-agent/versions", token)
    assert code == 404 and "not found" in missing["error"]
    code, status = _call(f"{state.api_url}/status", token)
    assert code == 200 and status["pid"] == state.pid and status["api_url"] == state.api_url

    code, ran = _call(f"{state.api_url}/run", token, {"argv": ["versions", "support-router", "--json"], "cwd": str(warm.project)})
    assert code == 200 and (ran["code"], ran["finished"], ran["stderr"]) == (0, True, "")
    assert ran["json"] == versions
    code, failed = _call(f"{state.api_url}/run", token, {"argv": ["show", "no-such-agent", "1"], "cwd": str(warm.project)})
    assert code == 200 and failed["code"] == 2 and failed["stderr"].count("\n") == 1 and failed["json"] is None
    assert _call(f"{state.api_url}/run", token, {"argv": "agents"})[0] == 400

    log = Path(state.log).read_text()
    assert "API refused GET /api/v1/agents from 127.0.0.1: no token" in log
    assert token not in log and token[:-1] not in log


def runner_jobs(place: Place) -> list:
    from agentgov.pipelines import runner

    return runner.jobs(place.home, include_ended=True)


def test_a_drift_monitor_schedule_runs_real_flow_runs_in_the_homes_prefect_server_until_stopped(places: tuple[Place, Place]) -> None:
    from agentgov.core.config import load_config
    from agentgov.pipelines import runner

    from .conftest import recorded_runs

    warm, _ = places
    # An agent with no live version: each run is a real drift-monitor flow run with nothing to check (fast).
    scheduled = warm.run("monitor", "schedule", "unmonitored-agent", "--every", "2s", "--window", "7d", "--json")
    assert scheduled.returncode == 0, scheduled.stderr
    job = json.loads(scheduled.stdout)
    assert (job["kind"], job["every_s"], job["owner"], job["kwargs"]["agents"]) == ("schedule", 2.0, "test-user", ["unmonitored-agent"])

    deadline = time.monotonic() + 90
    while runner.get(warm.home, job["id"]).runs < 2 or runner.get(warm.home, job["id"]).last_result is None:
        assert time.monotonic() < deadline, runner.get(warm.home, job["id"])
        time.sleep(0.2)
    assert runner.get(warm.home, job["id"]).last_result == "completed"
    listed = warm.run("monitor", "list")
    assert job["id"] in listed.stdout and "unmonitored-agent" in listed.stdout
    status = json.loads(warm.run("server", "status", "--json").stdout)
    assert [a["job"] for a in status["control_plane"]["active"] if "job" in a] == [job["id"]]

    config = load_config(warm.project, environ={"AGENTGOV_HOME": str(warm.home)})
    runs = recorded_runs(config, "monitor drift over 7d")
    done = [r for r in runs if r.state == "COMPLETED"]
    assert done, runs
    assert done[0].task_states("list-live-versions") == ["COMPLETED"] and "no agent in production or shadow" in "".join(done[0].artifacts.values()), done[0]

    stopped = warm.run("monitor", "stop", job["id"][:6])
    assert stopped.returncode == 0 and f"Stopped schedule {job['id']}" in stopped.stdout
    assert runner.get(warm.home, job["id"]).status == "cancelled"
    time.sleep(1.5)  # the control plane notices within a second
    status = json.loads(warm.run("server", "status", "--json").stdout)
    assert [a for a in status["control_plane"]["active"] if "job" in a] == []
    assert warm.run("monitor", "stop", "zzzz").returncode == 2
