"""The protocol a deploy-target plugin implements, and the values it receives and returns.

Internal module: plugin authors import these names from :mod:`agentgov.deploy`.
Every value crossing the plugin boundary is a frozen dataclass: a target
cannot change what agentgov records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from agentgov.core.plugins import Kind, check_named


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class Resources:
    """What one replica needs, from the manifest's ``resources:`` (cpu cores, memory like ``512Mi``, GPUs)."""

    cpu: float = 1.0
    memory: str = "1Gi"
    gpu: int = 0

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> Resources:
        found = manifest.get("resources") or {}
        return cls(
            cpu=float(found.get("cpu", 1.0)), memory=str(found.get("memory", "1Gi")), gpu=int(found.get("gpu", 0))
        )

    def to_dict(self) -> dict[str, Any]:
        return {"cpu": self.cpu, "memory": self.memory, "gpu": self.gpu}


@dataclass(frozen=True)
class Release:
    """One registered version, resolved once to its number, with a local copy of what it is made of.

    ``model_dir`` is the version's MLflow model (models from code: no pickle),
    ``manifest`` its ``agent.yaml`` as registered, ``requirements`` the pins
    recorded in its bill of materials. ``tags`` are the version's tags that do
    not change after registration (manifest, lineage), so that a build of the
    same version is the same bento whatever stage it holds since.
    """

    name: str
    version: int
    model_dir: Path
    manifest: Path
    example_request: Mapping[str, Any]
    resources: Resources
    requirements: tuple[str, ...]
    source: str = ""
    created_at: int = 0
    run_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "example_request", _frozen(self.example_request))
        object.__setattr__(self, "tags", _frozen(self.tags))

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"


@dataclass(frozen=True)
class Artifact:
    """What a target built for a release: a bento (``kind``), its tag and the SHA-256 of its content."""

    kind: str
    tag: str
    sha256: str
    reused: bool = False  # the same content was built before: the stored one is used

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "tag": self.tag, "sha256": self.sha256}


@dataclass(frozen=True)
class DeployRequest:
    """Deploy ``artifact`` of ``name``/``version``; ``home`` holds agentgov's state, ``options`` the target's own.

    ``progress(line)`` shows a status line to the person waiting (it may do nothing).
    """

    name: str
    version: int
    artifact: Artifact
    resources: Resources
    home: Path
    options: Mapping[str, Any] = field(default_factory=dict)
    progress: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _frozen(self.options))


@dataclass(frozen=True)
class UndeployRequest:
    """Stop what this target runs for agent ``name``."""

    name: str
    home: Path
    options: Mapping[str, Any] = field(default_factory=dict)
    progress: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _frozen(self.options))


@dataclass(frozen=True)
class Deployment:
    """Where a version runs (``running``), what was written for it (``written``), or that it stopped (``stopped``)."""

    target: str
    name: str
    version: int
    artifact: str
    status: str
    url: str | None = None
    pid: int | None = None
    log: Path | None = None
    files: tuple[Path, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "name": self.name,
            "version": self.version,
            "artifact": self.artifact,
            "status": self.status,
            "url": self.url,
            "pid": self.pid,
            "log": str(self.log) if self.log else None,
            "files": [str(f) for f in self.files],
            "note": self.note,
        }


@runtime_checkable
class DeployTarget(Protocol):
    """A place agent versions run: a local BentoML service, a cluster, a container host.

    ``build`` makes the artifact the target deploys (a bento) from a release;
    ``deploy`` runs it or writes what runs it; ``undeploy`` stops it, and
    returns ``None`` when nothing of the agent was deployed there.
    """

    name: str
    description: str

    def build(self, release: Release, home: Path) -> Artifact: ...

    def deploy(self, request: DeployRequest) -> Deployment: ...

    def undeploy(self, request: UndeployRequest) -> Deployment | None: ...


def check_deploy_target(item: Any) -> str | None:
    return check_named(item, methods=("deploy", "undeploy", "build"))


DEPLOY_TARGETS: Kind[DeployTarget] = Kind("deploy target", "agentgov_register_deploy_targets", check_deploy_target)
