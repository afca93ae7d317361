"""The ``register-agent`` flow: check the manifest and the data, validate it, package and register, summarise.

Every task is one step of :mod:`agentgov.pipelines.registration`, each done
once; the flow adds orchestration: a task run per step in the
Prefect UI, retries where a failure is transient, and a summary artifact.
Parameters are plain JSON values, so the flow also runs as a deployment on a
worker, which reads its agentgov configuration from its own environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from agentgov.pipelines import registration
from agentgov.pipelines.runtime import TRANSIENT, publish_table, retry_on

if TYPE_CHECKING:
    from agentgov.core.config import Config
    from agentgov.data.validation import ValidationReport
    from agentgov.data.versioning import DatasetState
    from agentgov.registry.manifest import Manifest
    from agentgov.registry.model import AgentVersion


@task(name="check-manifest", cache_policy=NO_CACHE)
def check_manifest(path: str) -> tuple[Path, Manifest]:
    """Load and validate ``agent.yaml``; a bad manifest is the user's to fix, never retried."""
    return registration.check_manifest(Path(path))


@task(name="check-datasets", cache_policy=NO_CACHE)
def check_datasets(manifest_path: Path, manifest: Manifest, allow_dirty: bool) -> tuple[DatasetState, ...]:
    """Compare every dataset with what DVC tracks; refuse a dirty one unless ``allow_dirty``."""
    return registration.check_datasets(manifest_path.parent, manifest, allow_dirty=allow_dirty)


@task(name="validate-data", cache_policy=NO_CACHE)
def validate_data(manifest_path: Path, manifest: Manifest, config: Config) -> ValidationReport | None:
    """Check the datasets that name a Great Expectations suite (a failure is evidence for the gate)."""
    return registration.validate_datasets(manifest_path.parent, manifest, config)


@task(
    name="package-and-register",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[2, 8],
    retry_condition_fn=retry_on(TRANSIENT),
)
def package_and_register(
    manifest_path: Path, manifest: Manifest, states: tuple[DatasetState, ...], validation: ValidationReport | None,
    config: Config, actor: str,
) -> AgentVersion:
    """Package the agent from code and create the version with its lineage and validation report."""
    from agentgov.core.home import Home
    from agentgov.core.plugins import load_plugins

    plugins = load_plugins(config)
    return registration.package_and_record(
        manifest_path, manifest, states, validation,
        config=config, audit=Home.configured(config, plugins).audit_log, plugins=plugins, actor=actor,
    )


def _run_name() -> str:
    from prefect.runtime import flow_run

    path = str(flow_run.parameters.get("path", ""))
    return f"register {agent_name(path) or _folder_name(path)}"


def agent_name(path: str) -> str | None:
    """The ``name:`` of the manifest at ``path`` when it is a valid slug, read without validating the rest (for run names).

    Read within the manifest's bounds (size, values): a hostile name or file never reaches Prefect.
    """
    from agentgov.registry.manifest import read_name
    from agentgov.registry.register import manifest_path_of

    return read_name(manifest_path_of(Path(path)))


def _folder_name(path: str) -> str:
    """The agent's folder name, kept to letters, digits, '.', '_' and '-', at most 63 characters."""
    folder = Path(path)
    if folder.suffix in (".yaml", ".yml"):
        folder = folder.parent
    name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "-" for c in (folder.name or folder.absolute().name))
    return name.strip("-.")[:63] or "agent"


@flow(name="register-agent", flow_run_name=_run_name, log_prints=False)
def register_agent(path: str, allow_dirty: bool = False, actor: str | None = None) -> AgentVersion:
    """Register the agent at ``path`` (folder or agent.yaml) as a new candidate version."""
    from agentgov.core.config import load_config

    config = load_config()
    manifest_path, manifest = check_manifest(path)
    states = check_datasets(manifest_path, manifest, allow_dirty)
    validation = validate_data(manifest_path, manifest, config)
    version = package_and_register(manifest_path, manifest, states, validation, config, actor or config.user)
    publish_table(
        f"register-{version.name}",
        f"Registered {version.ref}",
        ("What", "Value"),
        summary_rows(version, states),
        description=f"{version.ref}: lineage, datasets and data validation",
    )
    return version


def summary_rows(version: AgentVersion, states: tuple[DatasetState, ...]) -> list[tuple[Any, ...]]:
    import json

    lineage = version.lineage
    rows: list[tuple[Any, ...]] = [
        ("version", f"{version.ref} ({version.stage.value if version.stage else '?'})"),
        ("source", version.source),
        ("registered by", lineage.get("registered_by", "")),
        ("git", f"{lineage.get('git_commit', '?')[:12]} (dirty: {lineage.get('git_dirty', '?')})"),
        ("manifest sha256", lineage.get("manifest_sha256", "")[:16]),
    ]
    rows += [(f"dataset {s.path}", f"{s.state}, md5 {(s.tracked_md5 or '-')[:12]}, role {s.role}") for s in states]
    if lineage.get("allow_dirty") == "true":
        rows.append(("allow dirty", "yes: registered with datasets that differ from what DVC tracks"))
    raw = version.tags.get("agentgov.data_validation")
    if raw:
        summary = json.loads(raw)
        rows.append(("data validation", "passed" if summary.get("passed") else "FAILED"))
        for dataset, result in summary.get("suites", {}).items():
            outcome = "passed" if result.get("passed") else f"{result.get('failed_expectations', '?')} failed"
            rows.append((f"suite of {dataset}", f"{outcome} of {result.get('evaluated', '?')} expectations"))
    else:
        rows.append(("data validation", "no dataset names a suite"))
    return rows
