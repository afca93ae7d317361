"""Registry tests run twice: on the embedded sqlite home and on a real
``mlflow server`` backed by a fresh PostgreSQL database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentgov.core.config import Config, load_config
from agentgov.core.home import Home
from agentgov.pipelines.runtime import free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_AGENT = REPO / "examples" / "support-router"
PG = {"host": os.environ.get("AGENTGOV_TEST_PGHOST", "127.0.0.1"), "port": 5432, "user": os.environ.get("AGENTGOV_TEST_PGUSER", "postgres")}


def _postgres_admin():
    import psycopg2

    connection = psycopg2.connect(dbname="postgres", connect_timeout=3, **PG)
    connection.autocommit = True
    return connection


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow server on a loopback port, on a fresh PostgreSQL database for this run."""
    try:
        admin = _postgres_admin()
    except Exception as exc:
        pytest.skip(
            f"server-mode tests need PostgreSQL on {PG['host']}:5432 as user {PG['user']} ({exc}); "
            "start it (`pg_ctlcluster <version> main start`, as .ci/run does) or set AGENTGOV_TEST_PGHOST/PGUSER"
        )
    # One server per xdist worker, each on its own database (the worker id names whose it is).
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    database = f"agentgov_test_{worker}_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {database}")
    port = free_port()
    root = tmp_path_factory.mktemp("mlflow-server")
    log = open(root / "server.log", "w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"), "server",
            "--backend-store-uri", f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{database}",
            "--artifacts-destination", (root / "artifacts").as_uri(),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
        ],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start:\n{(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield uri
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()


@pytest.fixture(params=["sqlite", "server"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def registry_config(backend: str, agentgov_home: Home, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The configuration for this backend: the embedded default, or the shared server."""
    if backend == "server":
        monkeypatch.setenv("AGENTGOV_TRACKING_URI", request.getfixturevalue("mlflow_server"))
    return load_config()


@pytest.fixture
def agent_dir(tmp_path: Path) -> Path:
    """A copy of the example agent with a name of its own, so tests never share an agent."""
    target = tmp_path / "agent"
    shutil.copytree(EXAMPLE_AGENT, target, ignore=shutil.ignore_patterns("__pycache__"))
    name = f"router-{uuid.uuid4().hex[:8]}"
    manifest = target / "agent.yaml"
    manifest.write_text(manifest.read_text().replace("name: support-router", f"name: {name}"))
    return target



@pytest.fixture
def mlflow_client(registry_config: Config):
    from agentgov.registry.backend import connect

    return connect(registry_config)


@pytest.fixture
def clone_version(mlflow_client):
    """Make another ready candidate version from an existing one's model (same source, same lineage tags).

    A real MLflow version, only without logging the same files again: for tests that need many versions.
    """

    def clone(name: str, version: int) -> int:
        original = mlflow_client.get_model_version(name, str(version))
        tags = {k: v for k, v in original.tags.items() if not k.startswith("agentgov.decision.")}
        tags["agentgov.stage"] = "candidate"
        created = mlflow_client.create_model_version(
            name, source=original.source, run_id=original.run_id, tags=tags,
            model_id=original.model_id or original.source.removeprefix("models:/"),
        )
        return int(created.version)

    return clone
