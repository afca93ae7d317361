"""Registry tests run twice: on the embedded sqlite home and on a real
``mlflow server`` backed by a fresh PostgreSQL database (``mlflow_server``, in tests/conftest.py)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from agentgov.core.config import Config, load_config
from agentgov.core.home import Home

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_AGENT = REPO / "examples" / "support-router"


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
