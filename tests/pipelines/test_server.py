"""``agentgov server start|stop|status``: the home's control plane and the Prefect server it hosts, which the flows of this home then use."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentgov.core.config import Config
from agentgov.pipelines import control_plane
from agentgov.pipelines import server as local
from agentgov.pipelines.runtime import free_port, healthy, prefect_api

from .conftest import one_run

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def stopped_afterwards(agentgov_config: Config) -> Iterator[Config]:
    try:
        yield agentgov_config
    finally:
        control_plane.stop(agentgov_config.home)
        local.stop(agentgov_config)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_start_status_register_and_stop_on_the_cli(
    stopped_afterwards: Config, agent_dir: Path, agent_name: str, run_cli: Run
) -> None:
    config = stopped_afterwards
    assert json.loads(run_cli("server", "status", "--json", check=True).stdout)["running"] is False

    port = free_port()
    started = run_cli("server", "start", "--port", str(port), check=True)
    assert f"http://127.0.0.1:{port}" in started.stdout and f"PREFECT_API_URL=http://127.0.0.1:{port}/api" in started.stdout
    assert started.stderr == ""
    shown = json.loads(run_cli("server", "status", "--json", check=True).stdout)
    assert (shown["running"], shown["healthy"], shown["port"]) == (True, True, port)
    assert healthy(shown["api_url"])
    assert "Already running" in run_cli("server", "start", "--port", str(port), check=True).stdout
    control = shown["control_plane"]
    assert control["running"] is True and control["prefect_url"] == f"http://127.0.0.1:{port}"
    told = run_cli("server", "status", check=True).stdout
    assert f"control plane: running (pid {control['pid']}" in told and f"fingerprint {control['fingerprint']}" in told
    assert "active work: none" in told and f"UI at http://127.0.0.1:{port}" in told
    assert control["api_url"].startswith("http://127.0.0.1:") and f"agentgov API: {control['api_url']}" in told
    assert f"agentgov API: {control['api_url']} (127.0.0.1 only" in started.stdout

    registered = run_cli("register", str(agent_dir), check=True)
    assert registered.stderr == ""
    with prefect_api(config) as api:
        assert (api.kind, api.url) == ("local server", shown["api_url"])
    assert one_run(config, f"register {agent_name}").state == "COMPLETED"
    assert not (config.home / "prefect" / "server.log").exists()  # no embedded server was needed

    stopped = run_cli("server", "stop", check=True).stdout
    assert f"control plane (pid {control['pid']})" in stopped and f"Prefect server (pid {shown['pid']}" in stopped
    assert not _alive(shown["pid"]) and not control_plane.process_alive(control["pid"], b"agentgov") and not healthy(shown["api_url"])
    assert run_cli("server", "status", check=True).stdout.startswith("stopped")
    assert run_cli("server", "stop", check=True).stdout.strip() == "No control plane or Prefect server was running."


def test_a_port_in_use_is_a_one_line_error(stopped_afterwards: Config, run_cli: Run) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_cli("server", "start", "--port", str(taken.getsockname()[1]))
    assert result.returncode == 2
    assert result.stderr.startswith("agentgov: error: the Prefect server cannot start") and result.stderr.count("\n") == 1
    assert "is in use" in result.stderr
    assert local.status(stopped_afterwards).running is False


def test_a_stale_pid_of_another_program_reads_as_stopped(stopped_afterwards: Config, run_cli: Run) -> None:
    other = subprocess.Popen(["sleep", "30"])
    try:
        state = local.ServerState(pid=other.pid, host="127.0.0.1", port=free_port(), log="", started_at=0.0)
        local.server_dir(stopped_afterwards).mkdir(parents=True, exist_ok=True)
        (local.server_dir(stopped_afterwards) / "server.json").write_text(json.dumps(dataclasses.asdict(state)))
        assert run_cli("server", "status", check=True).stdout.startswith("stopped")
        assert run_cli("server", "stop", check=True).stdout.strip() == "No control plane or Prefect server was running."
        assert other.poll() is None  # and it was left alone
    finally:
        other.kill()
        other.wait()
