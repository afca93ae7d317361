"""The protocol a deploy-target plugin implements.

Internal module: plugin authors import :class:`DeployTarget` and
``DEPLOY_TARGETS`` from :mod:`agentgov.deploy`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from agentgov.core.plugins import Kind, check_named


@runtime_checkable
class DeployTarget(Protocol):
    """A place agent versions run: a local BentoML service, a cluster, a container host."""

    name: str
    description: str

    def deploy(self, agent: Any, **options: Any) -> Any: ...

    def undeploy(self, agent: Any) -> None: ...


def check_deploy_target(item: Any) -> str | None:
    return check_named(item, methods=("deploy", "undeploy"))


DEPLOY_TARGETS: Kind[DeployTarget] = Kind("deploy target", "agentgov_register_deploy_targets", check_deploy_target)
