"""Registering an agent version: validate, package from code, create the version, record lineage."""

from __future__ import annotations

import json
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
    from agentgov.data.validation import ValidationReport
    from agentgov.registry.manifest import Manifest


def manifest_path_of(path: Path) -> Path:
    path = Path(path)
    return path / "agent.yaml" if path.is_dir() else path


def register(
    path: Path, *, config: Config, audit: AuditLog, plugins: PluginManager, actor: str, allow_dirty: bool = False
) -> AgentVersion:
    """Register the agent at ``path`` (its folder or its ``agent.yaml``) as a new candidate version.

    Datasets must be as ``agentgov data add`` tracked them, unless ``allow_dirty``
    (recorded in the lineage and the audit log). Datasets with a suite are
    validated; the result is attached to the version, pass or fail.
    """
    from agentgov.core.events import publish
    from agentgov.registry.manifest import load_manifest

    manifest_path = manifest_path_of(path).resolve()
    manifest = load_manifest(manifest_path)
    agent_dir = manifest_path.parent
    data_tags = _check_datasets(agent_dir, manifest, allow_dirty)  # before anything exists in MLflow
    package = packaging.build(agent_dir, manifest_path, manifest.entrypoint_parts(), manifest.example_request)
    tags = {**lineage.collect(agent_dir, manifest_path, [d.path for d in manifest.datasets], actor), **data_tags}
    validation = _validate_datasets(agent_dir, manifest, config)
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
            version_tags = _attach_validation(validation, run.info.artifact_uri)
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
        if allow_dirty and data_tags.get(ALLOW_DIRTY) == "true":
            dirty = {k.removeprefix(DATASET_STATE): v for k, v in data_tags.items() if k.startswith(DATASET_STATE) and v != "ok"}
            audit.append(actor=actor, action="data.allow_dirty", subject=str(ref), payload={"datasets": dirty})
    except BaseException as exc:
        _withdraw(client, manifest.name, version)
        if isinstance(exc, Exception) and not hasattr(exc, "exit_code"):
            raise RegistrationFailed(f"registering {ref} failed and the version was withdrawn: {type(exc).__name__}: {exc}") from exc
        raise
    return get(client, ref)


ALLOW_DIRTY = "agentgov.lineage.allow_dirty"
DATASET_STATE = "agentgov.lineage.dataset_state."


def _check_datasets(agent_dir: Path, manifest: Manifest, allow_dirty: bool) -> dict[str, str]:
    """Refuse datasets that differ from what DVC tracks (unless ``allow_dirty``); their states as lineage tags."""
    from agentgov.data.datasets import refuse_dirty
    from agentgov.data.versioning import OK, dataset_states

    states = dataset_states(agent_dir, manifest.datasets)
    if not allow_dirty:
        refuse_dirty(states, agent_dir)
    tags = {DATASET_STATE + s.path: s.state for s in states}
    if any(s.state != OK for s in states):
        tags[ALLOW_DIRTY] = "true"
    return tags


def _validate_datasets(agent_dir: Path, manifest: Manifest, config: Config) -> ValidationReport | None:
    """Check the datasets that name a suite; a failure is recorded, not fatal (the gate decides)."""
    if not any(d.suite for d in manifest.datasets):
        return None
    from agentgov.core.home import Home
    from agentgov.data.validation import validate_agent

    return validate_agent(agent_dir, manifest, reports=Home(config.home).reports / "validation", keep_going=True)


def _attach_validation(validation: ValidationReport | None, artifact_uri: str) -> dict[str, str]:
    """Log the report files under ``data_validation/`` of the active run; the version tag that summarises them."""
    if validation is None:
        return {}
    import mlflow

    from agentgov.data.validation import TAG

    assert validation.json_path is not None and validation.html_path is not None
    for file in (validation.json_path, validation.html_path):
        mlflow.log_artifact(str(file), artifact_path="data_validation")
    report = f"{artifact_uri.rstrip('/')}/data_validation/{validation.json_path.name}"
    return {TAG: json.dumps(validation.summary(report), sort_keys=True, separators=(",", ":"))}


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
