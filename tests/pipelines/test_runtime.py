"""run_flow on an embedded and on a configured Prefect API: results, errors, retries, what is recorded, what is left behind."""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from agentgov.core.config import Config, load_config
from agentgov.core.errors import AgentgovError
from agentgov.pipelines.runtime import (
    TRANSIENT,
    PipelineError,
    artifact_key,
    embedded_server,
    free_port,
    healthy,
    markdown_table,
    publish_table,
    retry_on,
    run_flow,
)
from agentgov.registry.errors import RegistryUnavailable

from .conftest import one_run

ATTEMPTS: list[str] = []


@task(cache_policy=NO_CACHE)
def square(x: int) -> int:
    return x * x


@flow
def squares(n: int, run_name: str) -> int:
    total = sum(square.map(range(n)).result())
    publish_table(f"squares {run_name}", "Squares", ("n", "sum"), [(n, total)])
    return total


class UsersMistake(AgentgovError):
    pass


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=0, retry_condition_fn=retry_on(TRANSIENT))
def failing(kind: str) -> None:
    ATTEMPTS.append(kind)
    raise UsersMistake("fix your manifest") if kind == "user" else RegistryUnavailable("MLflow is away")


@flow
def fails(kind: str) -> None:
    failing(kind)


def test_embedded_run_returns_the_value_and_the_server_keeps_every_task_run_and_the_artifact(agentgov_config: Config) -> None:
    # Prefect's own ephemeral server is stopped before it has recorded the task runs of a flow this size.
    name = f"squares-{uuid.uuid4().hex[:8]}"
    assert run_flow(squares.with_options(flow_run_name=name), 40, name, config=agentgov_config) == sum(x * x for x in range(40))

    run = one_run(agentgov_config, name)
    assert run.state == "COMPLETED"
    assert run.task_states("square-") == ["COMPLETED"] * 40
    assert "| n | sum |" in run.artifacts[artifact_key(f"squares {name}")]
    assert any("Finished in state Completed" in message for message in run.logs)
    assert (agentgov_config.home / "prefect" / "prefect.db").is_file()


def test_a_users_error_comes_back_as_itself_at_once_and_a_transient_one_after_retries(agentgov_config: Config) -> None:
    ATTEMPTS.clear()
    with pytest.raises(UsersMistake, match="fix your manifest"):
        run_flow(fails, "user", config=agentgov_config)
    assert ATTEMPTS == ["user"]

    ATTEMPTS.clear()
    with pytest.raises(RegistryUnavailable):
        run_flow(fails, "transient", config=agentgov_config)
    assert ATTEMPTS == ["transient"] * 3


def test_run_flow_leaves_the_environment_settings_and_logging_as_it_found_them(agentgov_config: Config) -> None:
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME

    environ = dict(os.environ)
    api_url, home = PREFECT_API_URL.value(), PREFECT_HOME.value()
    handlers = {name: list(logging.getLogger(name).handlers) for name in ("", "prefect", "uvicorn")}
    levels = [h.level for hs in handlers.values() for h in hs]

    assert run_flow(squares, 2, "env", config=agentgov_config) == 1

    assert dict(os.environ) == environ
    assert (PREFECT_API_URL.value(), PREFECT_HOME.value()) == (api_url, home)
    assert {name: list(logging.getLogger(name).handlers) for name in handlers} == handlers
    assert [h.level for hs in handlers.values() for h in hs] == levels


def test_a_configured_api_is_used_and_no_embedded_server_is_started(
    agentgov_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = dataclasses.replace(agentgov_config, home=tmp_path / "team-server")
    with embedded_server(elsewhere) as url:  # a real Prefect API server standing in for a team's
        monkeypatch.setenv("PREFECT_API_URL", url)
        config = load_config()
        assert config.prefect_api_url == url
        name = f"configured-{uuid.uuid4().hex[:8]}"
        assert run_flow(squares.with_options(flow_run_name=name), 3, name, config=config) == 5
        run = one_run(config, name)
        assert run.state == "COMPLETED" and len(run.task_runs) == 3
    assert not (agentgov_config.home / "prefect" / "server.log").exists()


def test_an_unreachable_configured_api_is_one_error_before_the_flow_starts(
    agentgov_home: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    ATTEMPTS.clear()
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{free_port()}/api")
    with pytest.raises(PipelineError, match="is not reachable") as raised:
        run_flow(fails, "user", config=load_config())
    assert "agentgov server start" in str(raised.value) and ATTEMPTS == []


SLOW_COMMAND = """
import time
from prefect import flow
from prefect.settings import PREFECT_API_URL
from agentgov.core.config import load_config
from agentgov.pipelines.runtime import run_flow

@flow
def slow():
    print(PREFECT_API_URL.value(), flush=True)
    time.sleep(120)

run_flow(slow, config=load_config())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_command_killed_mid_flow_leaves_no_embedded_server_behind(agentgov_home: object, tmp_path: Path) -> None:
    script = tmp_path / "slow.py"
    script.write_text(SLOW_COMMAND)
    command = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        api_url = command.stdout.readline().strip() if command.stdout else ""
        assert api_url.startswith("http://127.0.0.1:") and healthy(api_url)
    finally:
        command.kill()
        command.wait()
    deadline = time.monotonic() + 15
    while healthy(api_url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not healthy(api_url)


def test_markdown_table_escapes_cells_and_artifact_keys_are_what_prefect_accepts() -> None:
    assert markdown_table(("a", "b"), [("x|y", "two\nlines")]) == "| a | b |\n|---|---|\n| x\\|y | two lines |"
    assert artifact_key("Register router_1 @ v2") == "register-router-1-v2"
    assert artifact_key("***") == "agentgov"


def test_a_flow_run_is_tied_to_its_process_and_a_gone_process_is_told_apart(tmp_path: Path) -> None:
    from agentgov.pipelines.runtime import host_id, process_is_gone, process_tags

    host_tag, mine = process_tags()
    assert host_tag == f"agentgov.host:{host_id()}" and mine.startswith(f"agentgov.pid:{os.getpid()}@{host_id()}")
    assert not process_is_gone(mine)
    child = subprocess.run(
        [sys.executable, "-c", "from agentgov.pipelines.runtime import process_tags; print(process_tags()[1])"],
        capture_output=True, text=True, check=True,
    )
    assert process_is_gone(child.stdout.strip())  # it has exited
    if "#" in mine:
        assert process_is_gone(mine.partition("#")[0] + "#1")  # our pid, but a process that started at another time
    assert not process_is_gone(mine.replace(f"@{host_id()}", "@another-host"))  # not ours to judge
    assert not process_is_gone("agentgov.pid:garbage")
