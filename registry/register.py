"""Registering an agent version: package from code, create the version, record its lineage.

Checking the datasets first is the orchestration's job (:mod:`agentgov.pipelines.registration`).
"""

from __future__ import annotations

import json
import logging
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
    from mlflow import MlflowClient

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
    package = packaging.build(
        agent_dir, manifest_path, manifest.entrypoint_parts(), manifest.example_request, agent=manifest.name, tools=manifest.tools
    )
    tags = {**lineage.collect(agent_dir, manifest_path, [d.path for d in manifest.datasets], actor), **(lineage_tags or {})}
    requirements = _requirements(manifest.requirements)
    bill = bom.build(agent_dir, manifest_path, manifest, requirements)

    # MLflow shows these to anyone with access to it: personal data in them is masked as in the audit log
    # (credentials were refused when the manifest was read).
    description = audit.masker.text(manifest.description)
    client = connect(config)
    bill = bom.resolve_prompts(client, bill)  # before anything is created
    experiment = experiment_id(client, config)
    created = _Created()
    try:
        with mlflow_errors(f"registering {manifest.name}"):
            import mlflow

            if not agent_exists(client, manifest.name):
                try:
                    client.create_registered_model(manifest.name, tags={TAG_AGENT: "true"}, description=description)
                    created.model = manifest.name
                except Exception:
                    if not agent_exists(client, manifest.name):  # not just a concurrent registration of the same agent
                        raise
            with mlflow.start_run(experiment_id=experiment, run_name=f"register {manifest.name}") as run:
                created.run_id = run.info.run_id
                mlflow.set_tags({"agentgov.agent": manifest.name, **tags})
                info = packaging.log(package, manifest_path, requirements, agent_dir)
                version_tags = _attach(attachments, run.info.artifact_uri)
            model_version = client.create_model_version(
                manifest.name,
                source=info.model_uri,
                run_id=run.info.run_id,
                model_id=info.model_id,
                tags={TAG_STATUS: "registering"},
                description=description,
            )
    except BaseException:
        _clean_up(client, created, manifest.name)
        raise
    version = int(model_version.version)
    ref = AgentRef(manifest.name, version=version)
    try:
        with mlflow_errors(f"recording lineage on {ref}"):
            manifest_tag = {TAG_MANIFEST: json.dumps(audit.masker.value(manifest.model_dump(mode="json")), sort_keys=True)}
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
        if _withdraw(client, manifest.name, version):
            _clean_up(client, created, manifest.name)
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


def _withdraw(client: object, name: str, version: int) -> bool:
    """Never leave a half-registered version looking usable: delete it (True), or at least mark it failed."""
    with quiet():
        try:
            client.delete_model_version(name, str(version))  # type: ignore[attr-defined]
            return True
        except Exception:
            try:
                client.set_model_version_tag(name, str(version), TAG_STATUS, "failed")  # type: ignore[attr-defined]
            except Exception:
                pass  # the store is gone; `agentgov versions` shows it as "registering", never usable
            return False


@dataclass
class _Created:
    """What this registration created in MLflow so far, to remove if it fails."""

    model: str | None = None  # the registered model, when this call created it
    run_id: str | None = None


def _clean_up(client: MlflowClient, created: _Created, name: str) -> None:
    """Remove what a failed registration created: its run and the run's artifacts, the model it logged
    (and its artifacts), and the registered model when this call created it and it holds no version.

    MLflow keeps a deleted run or logged model as a row marked deleted until ``mlflow gc``;
    their files are removed here, on the local store and through a server's artifact proxy.
    Best effort: a failure here is logged, and the registration's own error is what the user sees.
    """
    with quiet():
        if created.run_id is not None:
            _try(f"delete the logged model of run {created.run_id}", lambda: _delete_logged_models(client, created.run_id))
            _try(f"delete the artifacts of run {created.run_id}", lambda: _delete_artifacts(client.get_run(created.run_id).info.artifact_uri))
            _try(f"delete run {created.run_id}", lambda: client.delete_run(created.run_id))
        if created.model is not None:
            _try(f"delete the registered model {name}", lambda: _delete_if_empty(client, name))


def _delete_logged_models(client: MlflowClient, run_id: str) -> None:
    experiment = client.get_run(run_id).info.experiment_id
    for model in client.search_logged_models(experiment_ids=[experiment], filter_string=f"source_run_id = '{run_id}'"):
        _delete_artifacts(model.artifact_location)
        client.delete_logged_model(model.model_id)


def _delete_artifacts(uri: str) -> None:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    get_artifact_repository(uri).delete_artifacts()
    if uri.startswith("file:"):  # the local store leaves the emptied folders behind
        from mlflow.utils.file_utils import local_file_uri_to_path

        folder = Path(local_file_uri_to_path(uri))
        for empty in (folder, folder.parent):
            try:
                empty.rmdir()
            except OSError:
                break


def _delete_if_empty(client: MlflowClient, name: str) -> None:
    # Another registration of the same new agent may have added a version meanwhile: then it stays.
    if not client.search_model_versions(f"name = '{name}'", max_results=1):
        client.delete_registered_model(name)


def _try(what: str, action: Callable[[], object]) -> None:
    try:
        action()
    except Exception as exc:
        logging.getLogger("agentgov.registry").warning("after a failed registration, could not %s: %s", what, exc)


def _requirements(pinned: list[str]) -> list[str]:
    from importlib.metadata import version

    names = {r.split("==", 1)[0].strip().lower() for r in pinned}
    extra = [f"{name}=={version(name)}" for name in ("mlflow", "pandas") if name not in names]
    return [*pinned, *extra]
