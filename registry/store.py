"""Reading agents and their versions from the MLflow model registry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.core.types import AgentRef
from agentgov.registry.backend import LOCK_PREFIX, quiet
from agentgov.registry.errors import NotFound, RegistryUnavailable
from agentgov.registry.model import ALIASES, STAGE_ALIASES, TAG_AGENT, AgentVersion

if TYPE_CHECKING:
    from mlflow import MlflowClient


@contextmanager
def mlflow_errors(what: str) -> Iterator[None]:
    """Turn MLflow's exceptions into errors a user can act on."""
    from mlflow.exceptions import MlflowException
    from requests.exceptions import ConnectionError as RequestsConnectionError

    try:
        with quiet():
            yield
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFound(f"{what}: not found") from None
        if "API request to" in str(exc) or "Max retries exceeded" in str(exc):
            raise RegistryUnavailable(f"{what}: the MLflow server stopped answering ({_first_line(exc)})") from None
        raise
    except (RequestsConnectionError, ConnectionError) as exc:
        raise RegistryUnavailable(f"{what}: the MLflow server stopped answering ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


def agent_models(client: MlflowClient) -> list[Any]:
    """Every agent's registered model (description, aliases, tags), by name; the registry's locks left out."""
    with mlflow_errors("listing agents"):
        models = client.search_registered_models(filter_string=f"tags.`{TAG_AGENT}` = 'true'", max_results=1000)
    return sorted((m for m in models if not m.name.startswith(LOCK_PREFIX)), key=lambda m: m.name)


def list_agents(client: MlflowClient) -> list[dict]:
    return [
        {
            "name": m.name,
            "description": m.description or "",
            "latest_version": max((int(v.version) for v in (m.latest_versions or [])), default=None),
            "aliases": {alias: int(version) for alias, version in (m.aliases or {}).items()},
        }
        for m in agent_models(client)
    ]


def agent_exists(client: MlflowClient, name: str) -> bool:
    try:
        with mlflow_errors(f"agent {name}"):
            client.get_registered_model(name)
    except NotFound:
        return False
    return True


def versions(client: MlflowClient, name: str) -> list[AgentVersion]:
    """Every version of ``name``, newest first."""
    with mlflow_errors(f"agent {name}"):
        model = client.get_registered_model(name)
        found = client.search_model_versions(filter_string=f"name = '{name}'", max_results=10000)
    by_alias = _alias_map(model)
    result = []
    for mv in found:
        mv.aliases = [a for a, v in by_alias.items() if v == int(mv.version)]
        result.append(AgentVersion.from_mlflow(mv))
    return sorted(result, key=lambda v: v.version, reverse=True)


def aliases(client: MlflowClient, name: str) -> dict[str, int]:
    """The agent's stage aliases: alias -> version."""
    with mlflow_errors(f"agent {name}"):
        return {a: v for a, v in _alias_map(client.get_registered_model(name)).items() if a in ALIASES}


def _alias_map(model: object) -> dict[str, int]:
    return {alias: int(version) for alias, version in (getattr(model, "aliases", None) or {}).items()}


def get(client: MlflowClient, ref: AgentRef) -> AgentVersion:
    """The version ``ref`` names: ``name/3`` or ``name@production``."""
    if ref.version is None and ref.stage is None:
        raise NotFound(f"{ref.name}: name a version (NAME/3) or a stage (NAME@production)")
    if ref.stage is not None and ref.stage not in STAGE_ALIASES:
        held = [v for v in versions(client, ref.name) if v.stage is ref.stage]
        if not held:
            raise NotFound(f"no version of {ref.name} is in stage {ref.stage.value}")
        return held[0]
    with mlflow_errors(str(ref)):
        by_alias = _alias_map(client.get_registered_model(ref.name))
        number = by_alias.get(STAGE_ALIASES[ref.stage]) if ref.stage is not None else ref.version
        if number is None:
            raise NotFound(f"no version of {ref.name} is in {ref.stage.value}")
        mv = client.get_model_version(ref.name, str(number))
    mv.aliases = [a for a, v in by_alias.items() if v == int(mv.version)]
    return AgentVersion.from_mlflow(mv)


def manifest_text(client: MlflowClient, version: AgentVersion) -> str | None:
    """``agent.yaml`` as it was registered with ``version`` (an artifact of its model), or ``None``."""
    import tempfile

    with mlflow_errors(f"reading the manifest of {version.ref}"), tempfile.TemporaryDirectory() as folder:
        import mlflow

        try:
            uri = f"models:/{version.name}/{version.version}/artifacts/agent.yaml"
            local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=folder)
        except Exception:
            return None  # registered before manifests were kept, or not by agentgov
        return Path(local).read_bytes().decode("utf-8")  # exact bytes: its hash is in the lineage
