"""Resolving what to deploy once: ``NAME@STAGE`` becomes a fixed version number, then a local copy of it.

A build or a deployment never follows a moving alias: the stage is read once,
and from then on the version is named by its number.
"""

from __future__ import annotations

from pathlib import Path

from agentgov.core.config import Config
from agentgov.core.errors import AgentgovError
from agentgov.core.types import AgentRef
from agentgov.deploy.protocol import Release, Resources
from agentgov.registry.model import LINEAGE, TAG_MANIFEST, AgentVersion

# The tags a served version carries about itself: fixed at registration, so rebuilding gives the same bento.
_STABLE_TAGS = (TAG_MANIFEST,)


class NotDeployable(AgentgovError):
    """The version cannot be built or deployed (not ready, no manifest kept)."""


def resolve(config: Config, ref: str | AgentRef) -> AgentVersion:
    """The version ``ref`` names now (``name/3`` or ``name@production``), by number from here on."""
    from agentgov.registry.backend import connect
    from agentgov.registry.store import get

    ref = AgentRef.parse(ref) if isinstance(ref, str) else ref
    version = get(connect(config), ref)
    if not version.usable:
        raise NotDeployable(
            f"{version.ref} is {version.status}, not ready: only a fully registered version is built or deployed"
        )
    return version


def fetch(config: Config, version: AgentVersion, into: Path) -> Release:
    """Download ``version``'s MLflow model into ``into`` and describe it as a :class:`Release`."""
    from agentgov.registry import bom
    from agentgov.registry.backend import connect, quiet
    from agentgov.registry.store import mlflow_errors

    client = connect(config)
    requirements = tuple(sorted(bom.read(client, version).data.get("requirements", {}).values()))
    model_dir = into / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    with mlflow_errors(f"downloading {version.ref}"), quiet():
        import mlflow

        mlflow.artifacts.download_artifacts(f"models:/{version.name}/{version.version}", dst_path=str(model_dir))
    manifest = model_dir / "artifacts" / "agent.yaml"
    if not manifest.is_file():
        raise NotDeployable(
            f"{version.ref} keeps no agent.yaml with its model (registered before agentgov kept it); register it again"
        )
    import yaml

    data = yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}  # as registered: the tag's copy is masked
    tags = {k: v for k, v in version.tags.items() if k in _STABLE_TAGS or k.startswith(LINEAGE)}
    return Release(
        name=version.name,
        version=version.version,
        model_dir=model_dir,
        manifest=manifest,
        example_request=data.get("example_request") or {},
        resources=Resources.from_manifest(data),
        requirements=requirements,
        source=version.source,
        created_at=version.created_at,
        run_id=version.run_id,
        tags=tags,
    )
