"""Registration, orchestrated: check the manifest and the data, then package and record the version.

Each step is done once and is usable alone; the ``register-agent`` flow runs
each as a task, and everything else (tests, benchmarks, other flows) calls
:func:`register`, which runs them in order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from agentgov.data.datasets import refuse_dirty
from agentgov.data.versioning import OK, dataset_states
from agentgov.registry.manifest import load_manifest
from agentgov.registry.register import Attachment, manifest_path_of
from agentgov.registry.register import register as record_version

if TYPE_CHECKING:
    from agentgov.core.audit import AuditLog
    from agentgov.core.config import Config
    from agentgov.core.plugins import PluginManager
    from agentgov.data.validation import ValidationReport
    from agentgov.data.versioning import DatasetState
    from agentgov.registry.manifest import Manifest
    from agentgov.registry.model import AgentVersion

ALLOW_DIRTY = "agentgov.lineage.allow_dirty"
DATASET_STATE = "agentgov.lineage.dataset_state."
VALIDATION_ARTIFACTS = "data_validation"


def check_manifest(path: Path) -> tuple[Path, Manifest]:
    """The manifest file of ``path`` (a folder or an ``agent.yaml``), loaded and validated."""
    manifest_path = manifest_path_of(Path(path)).resolve()
    return manifest_path, load_manifest(manifest_path)


def check_datasets(agent_dir: Path, manifest: Manifest, *, allow_dirty: bool) -> tuple[DatasetState, ...]:
    """Compare every dataset with what DVC tracks; refuse a dirty one unless ``allow_dirty``."""
    states = dataset_states(agent_dir, manifest.datasets)
    if not allow_dirty:
        refuse_dirty(states, agent_dir)
    return states


def dataset_tags(states: tuple[DatasetState, ...]) -> dict[str, str]:
    """The datasets' states as lineage tags, and ``allow_dirty`` when any differs from what DVC tracks."""
    tags = {DATASET_STATE + s.path: s.state for s in states}
    if any(s.state != OK for s in states):
        tags[ALLOW_DIRTY] = "true"
    return tags


def validate_datasets(agent_dir: Path, manifest: Manifest, config: Config) -> ValidationReport | None:
    """Check the datasets that name a suite; a failure is recorded, not fatal (the gate decides)."""
    if not any(d.suite for d in manifest.datasets):
        return None
    from agentgov.core.home import Home
    from agentgov.data.validation import validate_agent

    return validate_agent(agent_dir, manifest, reports=Home(config.home).reports / "validation", keep_going=True)


def validation_attachment(validation: ValidationReport | None) -> tuple[Attachment, ...]:
    """The report files, logged under ``data_validation/``, and the tag that summarises them."""
    if validation is None:
        return ()
    from agentgov.data.validation import TAG

    assert validation.json_path is not None and validation.html_path is not None
    json_name = validation.json_path.name

    def tags(folder_uri: str) -> dict[str, str]:
        summary = validation.summary(f"{folder_uri}/{json_name}")
        return {TAG: json.dumps(summary, sort_keys=True, separators=(",", ":"))}

    return (Attachment(VALIDATION_ARTIFACTS, (validation.json_path, validation.html_path), tags),)


def package_and_record(
    manifest_path: Path,
    manifest: Manifest,
    states: tuple[DatasetState, ...],
    validation: ValidationReport | None,
    *,
    config: Config,
    audit: AuditLog,
    plugins: PluginManager,
    actor: str,
) -> AgentVersion:
    """Create the version from the checked manifest and data; record a registration with dirty data."""
    tags = dataset_tags(states)
    version = record_version(
        manifest_path, manifest, config=config, audit=audit, plugins=plugins, actor=actor,
        lineage_tags=tags, attachments=validation_attachment(validation),
    )
    if tags.get(ALLOW_DIRTY) == "true":
        dirty = {s.path: s.state for s in states if s.state != OK}
        audit.append(actor=actor, action="data.allow_dirty", subject=str(version.ref), payload={"datasets": dirty})
    return version


def register(
    path: Path, *, config: Config, audit: AuditLog, plugins: PluginManager, actor: str, allow_dirty: bool = False
) -> AgentVersion:
    """Register the agent at ``path`` (its folder or its ``agent.yaml``) as a new candidate version.

    Datasets must be as ``agentgov data add`` tracked them, unless ``allow_dirty``
    (recorded in the lineage and the audit log). Datasets with a suite are
    validated; the result is attached to the version, pass or fail.
    """
    manifest_path, manifest = check_manifest(path)
    states = check_datasets(manifest_path.parent, manifest, allow_dirty=allow_dirty)  # before anything exists in MLflow
    validation = validate_datasets(manifest_path.parent, manifest, config)
    return package_and_record(
        manifest_path, manifest, states, validation, config=config, audit=audit, plugins=plugins, actor=actor
    )
