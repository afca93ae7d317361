"""agentgov's HTTP API (``agentgov.pipelines.api``) as a control plane serves it: loopback only, the token or 401.

A real control plane forked from the test, whose commands just sleep (no
MLflow start-up): the API's rules, cheaply. The registry endpoints, answered
with the warm MLflow client, are tested through the real control plane in
test_control_plane.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from agentgov.pipelines import control_plane as plane
from agentgov.pipelines import runner

from .test_runner import exited, start_plane, wait_for, wait_forever


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    """A control plane for a home of its own: (home, API URL, token)."""
    home = tmp_path_factory.mktemp("api") / "home"
    home.mkdir()
    pid = start_plane(home, idle=300)
    try:
        state = plane.read_state(home)
        token = plane.read_token(home)
        assert state is not None and state.api_url and token
        yield home, state.api_url, token
    finally:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: exited(pid), 20, "the control plane did not stop")


def call(
    url: str, token: str | None = None, body: object = None, method: str | None = None, raw: bytes | None = None
) -> tuple[int, dict]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def listening(port: int) -> list[str]:
    """The local addresses listening on TCP ``port`` (hex, as /proc/net/tcp and tcp6 write them)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.append(address)
    return found


def test_it_listens_on_127_0_0_1_only(served: tuple[Path, str, str]) -> None:
    _, url, _ = served
    where = urlsplit(url)
    assert where.hostname == "127.0.0.1" and where.path == "/api/v1"
    assert listening(where.port) == ["0100007F"]  # 127.0.0.1: not 0.0.0.0, no other interface, no IPv6
    with socket.socket(socket.AF_INET6) as probe, pytest.raises(OSError):
        probe.settimeout(2)
        probe.connect(("::1", where.port))


def test_health_needs_no_token_and_says_nothing_about_the_home(served: tuple[Path, str, str]) -> None:
    home, url, _ = served
    code, body = call(f"{url}/health")
    assert (code, body) == (200, {"ok": True, "service": "agentgov", "api": "v1"})
    assert str(home) not in json.dumps(body)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/status", None),
        ("GET", "/agents", None),
        ("GET", "/agents/x/versions", None),
        ("GET", "/jobs", None),
        ("POST", "/jobs", {"target": "a.b:c", "every_s": 60}),
        ("DELETE", "/jobs/abc", None),
        ("POST", "/run", {"argv": ["0"]}),
        ("GET", "/no-such-endpoint", None),
    ],
)
def test_every_other_endpoint_answers_401_without_the_right_token_and_does_nothing(
    served: tuple[Path, str, str], method: str, path: str, body: object
) -> None:
    home, url, token = served
    before = runner.jobs(home, include_ended=True)
    for wrong in (
        None,
        "",
        "0" * len(token),
        token[:-1],
        token + "0",
        token.upper() if token != token.upper() else "x",
    ):
        code, answer = call(f"{url}{path}", wrong, body, method)
        assert code == 401, (wrong, answer)
        assert "Bearer" in answer["error"] and token not in json.dumps(answer)
    assert runner.jobs(home, include_ended=True) == before
    log = plane.control_dir(home) / "control.log"
    assert not log.exists() or token not in log.read_text()


def test_with_the_token_status_jobs_and_run_answer(served: tuple[Path, str, str], tmp_path: Path) -> None:
    home, url, token = served
    code, status = call(f"{url}/status", token)
    assert code == 200 and status["pid"] == plane.read_state(home).pid and status["api_url"] == url

    target = f"{wait_forever.__module__}:wait_forever"  # runs until cancelled, in the control plane's child
    code, job = call(
        f"{url}/jobs",
        token,
        {"target": target, "kwargs": {"path": str(tmp_path / "job.txt")}, "name": "rollout r1", "user": "ann"},
    )
    assert code == 201 and (job["kind"], job["owner"], job["target"]) == ("job", "ann", target)
    assert runner.get(home, job["id"]).name == "rollout r1"
    code, listed = call(f"{url}/jobs", token)
    assert code == 200 and [j["id"] for j in listed] == [job["id"]]
    code, cancelled = call(f"{url}/jobs/{job['id'][:5]}", token, method="DELETE")
    assert code == 200 and cancelled["status"] == "cancelled" and not runner.get(home, job["id"]).active
    assert call(f"{url}/jobs/zzzz", token, method="DELETE")[0] == 404
    assert call(f"{url}/jobs", token, {"target": "not a target"})[0] == 400
    assert call(f"{url}/jobs", token, {"target": "a.b:c", "every_s": 0.1})[0] == 400

    code, ran = call(
        f"{url}/run", token, {"argv": ["0.1"], "cwd": str(tmp_path)}
    )  # this control plane's commands sleep
    assert code == 200 and (ran["code"], ran["finished"], ran["json"]) == (0, True, None)
    assert call(f"{url}/run", token, {"argv": []})[0] == 400
    assert call(f"{url}/run", token, {"argv": ["0"], "cwd": str(tmp_path / "missing")})[0] == 400
    assert call(f"{url}/run", token, raw=b"{not json", method="POST")[0] == 400
    assert call(f"{url}/nowhere", token)[0] == 404
