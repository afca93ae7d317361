"""Against a real Prefect server on PostgreSQL, as a team runs it: the register flow deployed to a
process work pool, run by a `prefect worker` through the API, and the version it registered in MLflow."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentgov.core.config import load_config
from agentgov.core.home import Home
from agentgov.pipelines.runtime import free_port, healthy, using_api

PG = {"host": os.environ.get("AGENTGOV_TEST_PGHOST", "127.0.0.1"), "port": 5432, "user": os.environ.get("AGENTGOV_TEST_PGUSER", "postgres")}
PREFECT = shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`prefect server start` on a loopback port, on a fresh PostgreSQL database; yields its API URL."""
    import psycopg2

    try:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=3, **PG)
    except Exception as exc:
        pytest.skip(f"needs PostgreSQL on {PG['host']}:5432 as user {PG['user']} ({exc})")
    admin.autocommit = True
    database = f"agentgov_prefect_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {database}")
    root = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(root / "prefect-home"),
        PREFECT_API_DATABASE_CONNECTION_URL=f"postgresql+asyncpg://{PG['user']}@{PG['host']}:{PG['port']}/{database}",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    api_url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while not healthy(api_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not start:\n{_tail(log_path)}")
            time.sleep(0.5)
        yield api_url
    finally:
        _stop(process)
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()


@pytest.fixture
def process_worker(prefect_server: str, agentgov_home: Home, tmp_path: Path) -> Iterator[str]:
    """A `prefect worker` of a fresh process pool, with the test's agentgov home in its environment; yields the pool."""
    from agentgov.pipelines.deployments import ensure_process_pool

    pool = f"agentgov-{uuid.uuid4().hex[:8]}"
    with using_api(load_config(), prefect_server):
        ensure_process_pool(pool)
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "PREFECT_HOME": str(tmp_path / "worker-prefect-home"),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", pool, "--type", "process"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=tmp_path,
        )
    try:
        yield pool
    finally:
        _stop(worker)
        if os.environ.get("AGENTGOV_TEST_SHOW_WORKER_LOG"):
            print(_tail(log_path, 200))


@pytest.mark.timeout(240)
def test_the_register_flow_runs_as_a_deployment_on_a_process_worker_and_registers_the_version(
    prefect_server: str, process_worker: str, agent_dir: Path, agent_name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from prefect.deployments import run_deployment

    from agentgov.pipelines.deployments import FLOWS, deploy
    from agentgov.registry.backend import connect

    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    config = load_config()
    assert config.prefect_api_url == prefect_server

    with using_api(config, prefect_server):
        deployed = deploy(process_worker, name="test")
        assert len(deployed) == len(FLOWS)
        flow_run = run_deployment("register-agent/test", parameters={"path": str(agent_dir)}, timeout=180, poll_interval=1)

    assert flow_run.state is not None and flow_run.state.is_completed(), (
        f"{flow_run.state}\n{_tail(tmp_path / 'worker.log')}"
    )
    assert flow_run.name == f"register {agent_name}"
    version = connect(config).get_model_version(agent_name, "1")
    assert version.tags["agentgov.stage"] == "candidate"
    assert version.tags["agentgov.lineage.registered_by"] == "test-user"  # the worker's environment, as configured

    with using_api(config, prefect_server):  # the gate runs on the worker too, and its decision is recorded
        promoted = run_deployment(
            "promote-agent/test", parameters={"name": agent_name, "version": 1, "target": "shadow"}, timeout=180, poll_interval=1
        )
    assert promoted.state is not None and promoted.state.is_completed(), f"{promoted.state}\n{_tail(tmp_path / 'worker.log')}"
    decisions = [r for r in Home(config.home).audit_log.records(subject_prefix=agent_name) if r.action == "decision"]
    assert len(decisions) == 1 and decisions[0].payload["target"] == "shadow"
