"""Managed loopback processes: started detached and recorded, found again, stopped by pid; stale records handled.

The served "agent" here is Python's own http.server answering ``/readyz`` from
a file: a real process on a real port, with none of BentoML's start-up time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentgov.deploy import (
    Artifact,
    DeployRequest,
    ProcessFailed,
    Resources,
    UndeployRequest,
    process,
    records,
    start_managed,
    stop_managed,
)
from agentgov.pipelines.runtime import free_port

ARTIFACT = Artifact(kind="bento", tag="router:v1-abc", sha256="abc")


def _request(home: Path, version: int = 1, artifact: Artifact = ARTIFACT) -> DeployRequest:
    return DeployRequest(name="router", version=version, artifact=artifact, resources=Resources(), home=home)


def _server(tmp_path: Path, port: int, *, ready: bool = True) -> list[str]:
    site = tmp_path / f"site-{port}"
    site.mkdir()
    if ready:
        (site / "readyz").write_text("ok\n")
    return [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(site)]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def test_a_started_server_is_recorded_found_again_and_stopped(home: Path, tmp_path: Path) -> None:
    port = free_port()
    lines: list[str] = []
    request = DeployRequest(
        name="router", version=1, artifact=ARTIFACT, resources=Resources(), home=home, progress=lines.append
    )
    done = start_managed(request, target="local", argv=_server(tmp_path, port), env=os.environ, port=port)
    try:
        assert (done.status, done.url, done.version) == ("running", f"http://127.0.0.1:{port}", 1)
        record = records.read(home, "router", "local")
        assert record is not None and record.pid == done.pid and record.running and record.started
        assert json.loads(records.path(home, "router", "local").read_text())["port"] == port
        again = start_managed(_request(home), target="local", argv=["false"], env=os.environ, port=port)
        assert (again.pid, again.note) == (done.pid, "already running")
        assert any("waiting for" in line for line in lines)
    finally:
        stopped = stop_managed(UndeployRequest(name="router", home=home), target="local")
    assert stopped is not None and stopped.note == f"stopped router/1 (pid {done.pid})"
    assert not process.alive(done.pid, record.started)
    assert records.read(home, "router", "local") is None
    assert stop_managed(UndeployRequest(name="router", home=home), target="local") is None


def test_a_stale_record_is_replaced_on_deploy_and_removed_on_undeploy(home: Path, tmp_path: Path) -> None:
    dead = _dead_pid()
    stale = records.ProcessRecord(
        "local", "router", 1, ARTIFACT.tag, dead, "1", 1, "http://127.0.0.1:1", str(tmp_path / "x.log"), records.now()
    )
    records.write(home, stale)
    assert not stale.running
    gone = stop_managed(UndeployRequest(name="router", home=home), target="local")
    assert gone is not None and gone.note == f"router/1 was not running (stale pid {dead}); its record was removed"
    assert records.read(home, "router", "local") is None

    records.write(home, stale)
    port = free_port()
    done = start_managed(_request(home), target="local", argv=_server(tmp_path, port), env=os.environ, port=port)
    try:
        assert f"a stale record (pid {dead}, no longer running) was replaced" in done.note
    finally:
        stop_managed(UndeployRequest(name="router", home=home), target="local")


def test_a_pid_reused_by_another_process_is_not_ours(home: Path) -> None:
    record = records.ProcessRecord(
        "local", "router", 1, ARTIFACT.tag, os.getpid(), "1", 1, "http://127.0.0.1:1", "x.log", records.now()
    )
    assert process.alive(os.getpid()) and not record.running  # this process runs, but it did not start at tick 1


def test_another_version_replaces_the_running_one(home: Path, tmp_path: Path) -> None:
    first_port, second_port = free_port(), free_port()
    first = start_managed(
        _request(home), target="local", argv=_server(tmp_path, first_port), env=os.environ, port=first_port
    )
    first_started = records.read(home, "router", "local").started
    second = start_managed(
        _request(home, 2, Artifact("bento", "router:v2-def", "def")),
        target="local",
        argv=_server(tmp_path, second_port),
        env=os.environ,
        port=second_port,
    )
    try:
        assert not process.alive(first.pid, first_started)
        assert second.version == 2 and f"replaced router/1 (pid {first.pid})" in second.note
    finally:
        stop_managed(UndeployRequest(name="router", home=home), target="local")


def test_versions_served_alongside_the_main_one_are_found_by_version_and_stopped_with_it(
    home: Path, tmp_path: Path
) -> None:
    ports = [free_port() for _ in range(4)]
    v2 = Artifact("bento", "router:v2-def", "def")
    main = start_managed(_request(home), target="local", argv=_server(tmp_path, ports[0]), env=os.environ, port=ports[0])
    try:
        beside = DeployRequest(name="router", version=2, artifact=v2, resources=Resources(), home=home, options={"alongside": True})
        second = start_managed(beside, target="local", argv=_server(tmp_path, ports[1]), env=os.environ, port=ports[1])
        assert second.pid != main.pid and second.url == f"http://127.0.0.1:{ports[1]}"
        assert records.serving(home, "router", "local", 1).url == main.url
        assert records.serving(home, "router", "local", 2).url == second.url
        assert records.serving(home, "router", "local", 3) is None
        assert [r.version for r in records.served_alongside(home, "router", "local")] == [2]
        assert len(records.all_records(home)) == 2

        # v1 alongside is the main deployment already: nothing new starts
        same = DeployRequest(name="router", version=1, artifact=ARTIFACT, resources=Resources(), home=home, options={"alongside": True})
        again = start_managed(same, target="local", argv=["false"], env=os.environ, port=ports[2])
        assert (again.pid, again.note) == (main.pid, "already running as the main deployment")
        # a new main deployment replaces the main one only: v2 alongside keeps running
        third = start_managed(
            _request(home, 3, Artifact("bento", "router:v3-f00", "f00")),
            target="local", argv=_server(tmp_path, ports[3]), env=os.environ, port=ports[3],
        )
        assert f"replaced router/1 (pid {main.pid})" in third.note
        assert records.serving(home, "router", "local", 2).pid == second.pid

        only_v2 = stop_managed(UndeployRequest(name="router", home=home, options={"version": 2}), target="local")
        assert only_v2 is not None and only_v2.note == f"stopped router/2 (pid {second.pid})"
        assert records.serving(home, "router", "local", 3).pid == third.pid
        assert records.served_alongside(home, "router", "local") == []
    finally:
        stop_managed(UndeployRequest(name="router", home=home), target="local")
    assert records.all_records(home) == []


def test_undeploy_stops_the_main_deployment_and_every_version_alongside(home: Path, tmp_path: Path) -> None:
    ports = [free_port() for _ in range(2)]
    main = start_managed(_request(home), target="local", argv=_server(tmp_path, ports[0]), env=os.environ, port=ports[0])
    beside = DeployRequest(
        name="router", version=2, artifact=Artifact("bento", "router:v2-def", "def"), resources=Resources(), home=home,
        options={"alongside": True},
    )
    second = start_managed(beside, target="local", argv=_server(tmp_path, ports[1]), env=os.environ, port=ports[1])
    stopped = stop_managed(UndeployRequest(name="router", home=home), target="local")
    assert stopped is not None and stopped.version == 1
    assert stopped.note == f"stopped router/1 (pid {main.pid}); stopped router/2 (pid {second.pid})"
    assert records.all_records(home) == [] and not process.alive(second.pid)


def test_a_server_that_never_gets_ready_is_stopped_and_its_record_removed(home: Path, tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(ProcessFailed, match="was not ready after 2 s"):
        start_managed(
            _request(home),
            target="local",
            argv=_server(tmp_path, port, ready=False),
            env=os.environ,
            port=port,
            timeout=2,
        )
    assert records.read(home, "router", "local") is None
    assert process.get_status(f"http://127.0.0.1:{port}/") is None  # nothing left listening


def test_a_server_that_exits_fails_at_once_naming_its_log(home: Path) -> None:
    argv = [sys.executable, "-c", "import sys; print('cannot load the agent'); sys.exit(3)"]
    with pytest.raises(ProcessFailed, match=r"ended before it was ready .*cannot load the agent"):
        start_managed(_request(home), target="local", argv=argv, env=os.environ, port=free_port(), timeout=30)
    assert records.read(home, "router", "local") is None


def test_a_torn_record_reads_as_none(home: Path) -> None:
    records.path(home, "router", "local").parent.mkdir(parents=True)
    records.path(home, "router", "local").write_text('{"pid": 12')
    assert records.read(home, "router", "local") is None
