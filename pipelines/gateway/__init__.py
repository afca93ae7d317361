"""The gateway: one ASGI service per agent in front of its versions (sticky canary, shadow mirroring, logging).

It combines the registry (versions, routing), the deploy engine (traffic
settings, sticky assignment) and the evals engine (the inference log), so it
lives in the pipelines. :func:`build_gateway` makes one for an agent of the
registry; :func:`create_app` wraps it as a Starlette app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentgov.pipelines.gateway.app import create_app
from agentgov.pipelines.gateway.service import Gateway, GatewaySettings, NotReady, Reply
from agentgov.pipelines.gateway.table import (
    HttpSource,
    InProcessSource,
    RoutingTable,
    Snapshot,
    UpstreamSource,
    registry_source,
)
from agentgov.pipelines.gateway.upstreams import Answer, HttpUpstream, InProcessUpstream, Upstream, UpstreamError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from agentgov.core.config import Config

__all__ = [
    "Answer",
    "Gateway",
    "GatewaySettings",
    "HttpSource",
    "HttpUpstream",
    "InProcessSource",
    "InProcessUpstream",
    "NotReady",
    "Reply",
    "RoutingTable",
    "Snapshot",
    "Upstream",
    "UpstreamError",
    "build_gateway",
    "create_app",
    "registry_source",
]


def build_gateway(
    config: Config,
    agent: str,
    *,
    settings: GatewaySettings | None = None,
    urls: Mapping[int, str] | None = None,
    served_on: str | None = None,
    **options: Any,
) -> Gateway:
    """A gateway for ``agent``: routing read from the registry; versions in process, or served over HTTP.

    With ``urls`` (version -> URL of its served bento) every version must be
    named there. With ``served_on`` (a deploy target, such as
    ``bentoml-local``) each version is called at the process that target runs
    for it in the home (``agentgov deploy``, main or ``--alongside``), looked up
    when the routing first needs the version. Otherwise each version is loaded
    from the registry into this process (``options`` go to :class:`InProcessSource`).
    """
    from agentgov.deploy.traffic import read_routing
    from agentgov.registry.backend import connect

    settings = settings or GatewaySettings()
    client = connect(config)
    timeouts = {"shadow_timeout_s": settings.shadow_timeout_s, "timeout_s": settings.primary_timeout_s}
    source: UpstreamSource
    if urls:
        source = HttpSource(dict(urls), **timeouts)
    elif served_on:
        source = HttpSource(_deployed(config, agent, served_on), **timeouts)
    else:
        source = registry_source(
            config,
            agent,
            shadow_slots=settings.shadow_workers,
            shadow_process=settings.shadow_process,
            shadow_timeout_s=settings.shadow_timeout_s,
            shadow_nice=settings.shadow_nice,
            shadow_cpus=settings.shadow_cpus,
            **options,
        )
    return Gateway(agent, lambda: read_routing(config, agent, client=client), source, config.home, settings)


def _deployed(config: Config, agent: str, target: str) -> Callable[[int], str | None]:
    from agentgov.deploy import records

    def url(version: int) -> str | None:
        record = records.serving(config.home, agent, target, version)
        return record.url if record is not None else None

    return url
