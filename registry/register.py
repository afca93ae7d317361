"""Registering an agent version: package from code, create the version, record its lineage.

Checking the datasets first is the orchestration's job (:mod:`agentgov.pipelines.registration`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agentgov.core.config import Config
from agentgov.core.types import AgentRef, Event, EventKind, Stage
from agentgov.registry import bom, lineage, packaging
from agentgov.registry.backend import connect, experiment_id, quiet
from agentgov.registry.errors import RegistrationFailed
from agentgov.registry.model import READY, TAG_AGENT, TAG_MANIFEST, TAG_STAGE, TAG_STATUS, AgentVersion
from agentgov.registry.store import agent_exists, get, mlflow_errors

if TYPE_CHECKING:
    from agentgov.core.audit import AuditLog
    from agentgov.core.plugins import PluginManager
    from agentgov.registry.manifest import Manifest


def manifest_path_of(path: Path) -> Path:
    path = Path(path)
    return path / "agent.yaml" if path.is_dir() else path


@dataclass(frozen=True)
class Attachment:
    """Files logged on the registration run, and the version tags that point at them.

    The registry does not know what the files are (a data-validation report,
    say); ``tags`` is given the URI of the folder they were logged to.
    """

    artifact_path: str
    files: tuple[Path, ...]
    tags: Callable[[str], Mapping[str, str]]


def register(
    manifest_path: Path,
    manifest: Manifest,
    *,
    config: Config,
    audit: AuditLog,
    plugins: PluginManager,
    actor: str,
    lineage_tags: Mapping[str, str] | None = None,
    attachments: Sequence[Attachment] = (),
) -> AgentVersion:
    """Package the agent of a checked manifest from code and register it as a new candidate version.

    ``lineage_tags`` (the state of its datasets, say) join the lineage;
    ``attachments`` are logged on the registration run. Whatever fails after
    the version exists withdraws it: no half-registered version is left.
    """
    from agentgov.core.events import publish

    manifest_path = Path(manifest_path).resolve()
    agent_dir = manifest_path.parent
    package = packaging.build(agent_dir, manifest_path, manifest.entrypoint_parts(), manifest.example_request)
    tags = {**lineage.collect(agent_dir, manifest_path, [d.path for d in manifest.datasets], actor), **(lineage_tags or {})}
    requirements = _requirements(manifest.requirements)
    bill = bom.build(agent_dir, manifest_path, manifest, requirements)

    client = connect(config)
    bill = bom.resolve_prompts(client, bill)  # before anything is created
    experiment = experiment_id(client, config)
    with mlflow_errors(f"registering {manifest.name}"):
        import mlflow

        if not agent_exists(client, manifest.name):
            try:
                client.create_registered_model(manifest.name, tags={TAG_AGENT: "true"}, description=manifest.description)
            except Exception:
                if not agent_exists(client, manifest.name):  # not just a concurrent registration of the same agent
                    raise
        with mlflow.start_run(experiment_id=experiment, run_name=f"register {manifest.name}") as run:
            mlflow.set_tags({"agentgov.agent": manifest.name, **tags})
            info = packaging.log(package, manifest_path, requirements, agent_dir)
            version_tags = _attach(attachments, run.info.artifact_uri)
        created = client.create_model_version(
            manifest.name,
            source=info.model_uri,
            run_id=run.info.run_id,
            model_id=info.model_id,
            tags={TAG_STATUS: "registering"},
            description=manifest.description,
        )
    version = int(created.version)
    ref = AgentRef(manifest.name, version=version)
    try:
        with mlflow_errors(f"recording lineage on {ref}"):
            manifest_tag = {TAG_MANIFEST: json.dumps(manifest.model_dump(mode="json"), sort_keys=True)}
            for key, value in {**tags, **manifest_tag, **version_tags}.items():
                client.set_model_version_tag(manifest.name, str(version), key, value)
            bom.record(client, manifest.name, version, bill, run.info.run_id)
            client.set_model_version_tag(manifest.name, str(version), TAG_STAGE, Stage.CANDIDATE.value)
            client.set_model_version_tag(manifest.name, str(version), TAG_STATUS, READY)
        publish(
            Event(EventKind.REGISTERED, ref, actor, {"source": info.model_uri, "lineage": tags}),
            audit=audit,
            plugins=plugins,
        )
    except BaseException as exc:
        _withdraw(client, manifest.name, version)
        if isinstance(exc, Exception) and not hasattr(exc, "exit_code"):
            raise RegistrationFailed(f"registering {ref} failed and the version was withdrawn: {type(exc).__name__}: {exc}") from exc
        raise
    return get(client, ref)


def _attach(attachments: Sequence[Attachment], artifact_uri: str) -> dict[str, str]:
    """Log each attachment's files on the active run; the version tags that point at them."""
    import mlflow

    tags: dict[str, str] = {}
    for attachment in attachments:
        for file in attachment.files:
            mlflow.log_artifact(str(file), artifact_path=attachment.artifact_path)
        tags.update(attachment.tags(f"{artifact_uri.rstrip('/')}/{attachment.artifact_path}"))
    return tags


def _withdraw(client: object, name: str, version: int) -> None:
    """Never leave a half-registered version looking usable: delete it, or at least mark it failed."""
    with quiet():
        try:
            client.delete_model_version(name, str(version))  # type: ignore[attr-defined]
        except Exception:
            try:
                client.set_model_version_tag(name, str(version), TAG_STATUS, "failed")  # type: ignore[attr-defined]
            except Exception:
                pass  # the store is gone; `agentgov versions` shows it as "registering", never usable


def _requirements(pinned: list[str]) -> list[str]:
    from importlib.metadata import version

    names = {r.split("==", 1)[0].strip().lower() for r in pinned}
    extra = [f"{name}=={version(name)}" for name in ("mlflow", "pandas") if name not in names]
    return [*pinned, *extra]
