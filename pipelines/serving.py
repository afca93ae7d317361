"""Build, serve and deploy a registered version: the registry and the deploy engine meet here.

Each function resolves the version once (``NAME@STAGE`` becomes a number
before anything is built), builds its artifact through the chosen deploy
target (a bento, reused when the same content was built before), records the
bento in the version's bill of materials, then hands it to the target.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.core.errors import InvalidValue
from agentgov.core.types import AgentRef

if TYPE_CHECKING:
    from agentgov.core.audit import AuditLog
    from agentgov.core.config import Config
    from agentgov.core.plugins import PluginManager
    from agentgov.deploy import Artifact, Deployment, DeployTarget, Resources
    from agentgov.registry.model import AgentVersion

DEFAULT_TARGET = "bentoml-local"
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Built:
    """A version's artifact, built or found, and recorded in its bill of materials."""

    version: AgentVersion
    artifact: Artifact
    resources: Resources
    target: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.version.name,
            "version": self.version.version,
            "target": self.target,
            **self.artifact.to_dict(),
            "reused": self.artifact.reused,
            "resources": self.resources.to_dict(),
        }


def deploy_target(plugins: PluginManager, name: str) -> DeployTarget:
    """The registered deploy target ``name``; an unknown name is one line naming the known ones."""
    from agentgov.deploy import DEPLOY_TARGETS

    found = plugins.collect(DEPLOY_TARGETS)
    if name not in found:
        known = ", ".join(sorted(found)) or "none (is a plugin blocked?)"
        raise InvalidValue(f"unknown deploy target {name!r}: expected one of {known}")
    return found[name].item


def check_port_free(port: int) -> None:
    """A port already taken on 127.0.0.1 is one line before anything is built (a server would only fail later)."""
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise InvalidValue(f"port {port} on 127.0.0.1 is in use: choose another with --port") from None


def parse_ref(ref: str, version: int | None = None) -> AgentRef:
    """``NAME@STAGE``, ``NAME/3``, or ``NAME`` with ``version``."""
    if version is not None:
        if "@" in ref or "/" in ref:
            raise InvalidValue(f"{ref!r} names a version or stage already; give NAME VERSION or NAME@STAGE")
        return AgentRef(ref, version=version)
    parsed = AgentRef.parse(ref)
    if parsed.version is None and parsed.stage is None:
        raise InvalidValue(f"{ref!r}: name a version (NAME VERSION) or a stage (NAME@production)")
    return parsed


def build(
    config: Config, plugins: PluginManager, ref: AgentRef, *, target: str = DEFAULT_TARGET, progress: Progress = _quiet
) -> Built:
    """Resolve ``ref`` once, build (or find) its artifact with ``target``, record it in the bill of materials."""
    from agentgov.deploy.release import fetch, resolve
    from agentgov.registry import bom
    from agentgov.registry.backend import connect

    chosen = deploy_target(plugins, target)
    version = resolve(config, ref)
    if str(ref) != str(version.ref):
        progress(f"{ref} is {version.ref}")
    with tempfile.TemporaryDirectory(prefix="agentgov-release-") as folder:
        release = fetch(config, version, Path(folder))
        progress(f"building the bento of {version.ref}")
        artifact = chosen.build(release, config.home)
    bom.record_bento(connect(config), version, {"tag": artifact.tag, "sha256": artifact.sha256})
    return Built(version, artifact, release.resources, target)


def deploy(
    config: Config,
    plugins: PluginManager,
    ref: AgentRef,
    *,
    target: str = DEFAULT_TARGET,
    options: Mapping[str, Any] | None = None,
    progress: Progress = _quiet,
    audit: AuditLog | None = None,
    actor: str = "",
) -> tuple[Built, Deployment]:
    """Build ``ref``'s artifact and deploy it to ``target``; a local server gets a free loopback port unless one is given.

    With ``audit``, the deployment is recorded there (action ``deploy``) as ``actor``.
    """
    from agentgov.deploy import DeployRequest, records
    from agentgov.pipelines.runtime import free_port

    chosen = {k: v for k, v in (options or {}).items() if v is not None}
    alongside = bool(chosen.get("alongside"))
    if not alongside:
        current = records.read(config.home, ref.name, target)
    elif ref.version is not None:
        current = records.read(config.home, ref.name, target, ref.version)
    else:
        current = None  # NAME@STAGE: its version is known once resolved; the port must be free
    if "port" in chosen and not (current is not None and current.port == int(chosen["port"]) and current.running):
        check_port_free(int(chosen["port"]))  # unless this agent's own deployment holds it (it may be replaced)
    built = build(config, plugins, ref, target=target, progress=progress)
    chosen.setdefault("port", free_port())
    progress(f"deploying {built.version.ref} ({built.artifact.tag}) to {target}")
    request = DeployRequest(
        name=built.version.name,
        version=built.version.version,
        artifact=built.artifact,
        resources=built.resources,
        home=config.home,
        options=chosen,
        progress=progress,
    )
    done = deploy_target(plugins, target).deploy(request)
    if audit is not None:
        payload = {**done.to_dict(), "sha256": built.artifact.sha256, "requested": str(ref)}
        audit.append(actor=actor, action="deploy", subject=str(built.version.ref), payload=payload)
    return built, done


def undeploy(
    config: Config,
    plugins: PluginManager,
    name: str,
    *,
    target: str = DEFAULT_TARGET,
    options: Mapping[str, Any] | None = None,
    progress: Progress = _quiet,
    audit: AuditLog | None = None,
    actor: str = "",
) -> Deployment | None:
    """Stop what ``target`` runs for agent ``name`` (None when nothing was deployed there); recorded in ``audit`` when given."""
    from agentgov.deploy import UndeployRequest

    chosen = {k: v for k, v in (options or {}).items() if v is not None}
    done = deploy_target(plugins, target).undeploy(
        UndeployRequest(name=name, home=config.home, options=chosen, progress=progress)
    )
    if audit is not None and done is not None:
        subject = f"{name}/{done.version}" if done.version else name
        audit.append(actor=actor, action="undeploy", subject=subject, payload=done.to_dict())
    return done


def serve(
    config: Config,
    plugins: PluginManager,
    ref: AgentRef,
    *,
    port: int,
    progress: Progress = _quiet,
    announce: Callable[[Built, str], None] | None = None,
) -> int:
    """Build ``ref``'s bento and serve it in the foreground on 127.0.0.1:``port`` until Ctrl-C; the server's exit status."""
    from agentgov.deploy import DeployRequest

    check_port_free(port)
    built = build(config, plugins, ref, target=DEFAULT_TARGET, progress=progress)
    local = deploy_target(plugins, DEFAULT_TARGET)
    serve_in_foreground = getattr(local, "serve", None)
    if serve_in_foreground is None:
        raise InvalidValue(f"the deploy target {DEFAULT_TARGET!r} cannot serve in the foreground")
    if announce is not None:
        announce(built, f"http://127.0.0.1:{port}")
    request = DeployRequest(
        name=built.version.name,
        version=built.version.version,
        artifact=built.artifact,
        resources=built.resources,
        home=config.home,
        options={"port": port},
        progress=progress,
    )
    return int(serve_in_foreground(request))


def deployments(config: Config) -> list[dict[str, Any]]:
    """Every managed local deployment in the home, with whether its process still runs."""
    from agentgov.deploy import records

    return [{**r.to_dict(), "running": r.running} for r in records.all_records(config.home)]
