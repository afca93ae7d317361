"""The routing a gateway answers by, refreshed from the registry and swapped whole.

A request reads :attr:`RoutingTable.current` once, when it starts, and keeps
that :class:`Snapshot` to the end: it finishes on the upstream it started on
whatever changes meanwhile. A refresh reads the routing (one registry read);
when it changed, it loads the upstreams of any new version *before* the swap
(off the event loop), then replaces the snapshot in one assignment. A refresh
that fails keeps the last routing and is counted. Upstreams are kept per
version for the gateway's life, so a version that comes back (a rollback)
answers at once, and one that leaves can still finish its calls.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agentgov.deploy.traffic import Routing
from agentgov.pipelines.gateway.upstreams import HttpUpstream, InProcessUpstream, Upstream

if TYPE_CHECKING:
    from agentgov.core.config import Config
    from agentgov.registry.loading import LoadedAgent

log = logging.getLogger("agentgov.gateway")
SHADOW_RETRY_S = 30.0  # a shadow that failed to start (a host process costs seconds of CPU) is tried again after this


@dataclass(frozen=True)
class Snapshot:
    routing: Routing
    upstreams: Mapping[int, Upstream]  # the versions that answer callers (production, canary)
    shadow: Upstream | None = None  # the shadow version, with threads of its own
    loaded_at: float = 0.0
    errors: tuple[str, ...] = field(default_factory=tuple)


class UpstreamSource(Protocol):
    """Makes the upstream of a version (may take seconds: called in a worker thread)."""

    def primary(self, version: int) -> Upstream: ...

    def shadow(self, version: int) -> Upstream: ...


class InProcessSource:
    """Versions loaded in this process by ``load(version)``; a shadow gets a bounded pool of its own.

    ``shadow_slots`` is how many shadow calls may run at once; a hanging shadow
    holds at most that many threads, and further copies are dropped as busy.
    """

    def __init__(
        self,
        load: Callable[[int], LoadedAgent],
        *,
        threads: int = 16,
        shadow_slots: int = 4,
        host: Callable[[int], Upstream] | None = None,
    ) -> None:
        self._load = load
        self._threads = threads
        self._shadow_slots = shadow_slots
        self._host = host  # when given, a shadow runs in a process of its own (see .host)
        self._agents: dict[int, LoadedAgent] = {}
        self._lock = threading.Lock()

    def agent(self, version: int) -> LoadedAgent:
        with self._lock:
            if version not in self._agents:
                self._agents[version] = self._load(version)
            return self._agents[version]

    def primary(self, version: int) -> Upstream:
        return InProcessUpstream(self.agent(version), threads=self._threads)

    def shadow(self, version: int) -> Upstream:
        if self._host is not None:
            return self._host(version)
        return InProcessUpstream(self.agent(version), threads=self._shadow_slots, max_running=self._shadow_slots)


def registry_source(
    config: Config,
    name: str,
    *,
    shadow_process: bool = True,
    shadow_timeout_s: float = 2.0,
    shadow_nice: int = 0,
    shadow_cpus: tuple[int, ...] | None = None,
    **options: Any,
) -> InProcessSource:
    """Versions of ``name`` loaded from the registry with ``load_agent``; a shadow in a host process of its own
    (``shadow_process``, its niceness raised by ``shadow_nice``, on ``shadow_cpus`` only when given), else in this
    process's threads."""
    from agentgov.core.types import AgentRef
    from agentgov.registry.loading import load_agent

    host = None
    if shadow_process:
        from agentgov.pipelines.gateway.host import start_host

        slots = options.get("shadow_slots", 4)

        def host(version: int) -> Upstream:
            return start_host(
                config.home, name, version, slots=slots, timeout_s=shadow_timeout_s, nice=shadow_nice, cpus=shadow_cpus
            )

    return InProcessSource(lambda version: load_agent(AgentRef(name, version=version), config), host=host, **options)


class HttpSource:
    """Served versions by URL: ``urls`` maps a version to its URL, or finds it (a deploy record)."""

    def __init__(
        self,
        urls: Mapping[int, str] | Callable[[int], str | None],
        *,
        timeout_s: float = 30.0,
        shadow_timeout_s: float = 2.0,
    ) -> None:
        self._urls = urls
        self._timeout_s = timeout_s
        self._shadow_timeout_s = shadow_timeout_s

    def _url(self, version: int) -> str:
        url = self._urls(version) if callable(self._urls) else self._urls.get(version)
        if not url:
            raise LookupError(
                f"no served URL for version {version}: serve it (agentgov deploy NAME {version} --alongside), "
                f"or name it with --upstream {version}=URL"
            )
        return url

    def primary(self, version: int) -> Upstream:
        return HttpUpstream(self._url(version), version, timeout_s=self._timeout_s)

    def shadow(self, version: int) -> Upstream:
        return HttpUpstream(self._url(version), version, timeout_s=self._shadow_timeout_s)


class RoutingTable:
    def __init__(
        self, read: Callable[[], Routing], source: UpstreamSource, *, on_swap: Callable[[], None] | None = None
    ) -> None:
        self._read = read
        self._source = source
        self._on_swap = on_swap or (lambda: None)
        self._primaries: dict[int, Upstream] = {}
        self._shadows: dict[int, Upstream] = {}
        self._shadow_failed: dict[int, float] = {}  # version -> when it last failed to start
        self.current: Snapshot | None = None
        self.last_error: str | None = None

    async def refresh(self) -> bool:
        """Read the routing; swap in a new snapshot when it changed. True when it swapped."""
        routing = await asyncio.to_thread(self._read)
        if self.current is not None and routing == self.current.routing and not self._retry_shadow(routing):
            return False
        snapshot = await asyncio.to_thread(self._build, routing)
        self.current = snapshot  # one assignment: a request sees the old snapshot or the new one
        self.last_error = None
        self._on_swap()
        log.info("routing of %s: %s", routing.agent, routing.to_dict())
        return True

    def _build(self, routing: Routing) -> Snapshot:
        import time

        wanted = [
            v for v in (routing.production, routing.canary if routing.canary_weight > 0 else None) if v is not None
        ]
        for version in wanted:
            if version not in self._primaries:
                self._primaries[version] = self._source.primary(version)
        shadow, errors = None, ()
        if routing.shadow is not None and routing.mirror_share > 0:
            # A shadow that cannot start never holds back the versions that answer: they swap in without it.
            if routing.shadow not in self._shadows:
                try:
                    self._shadows[routing.shadow] = self._source.shadow(routing.shadow)
                except Exception as exc:
                    self._shadow_failed[routing.shadow] = time.monotonic()
                    errors = (f"shadow version {routing.shadow} did not start: {type(exc).__name__}: {exc}",)
                    log.warning("%s; the next try in %.0f s", errors[0], SHADOW_RETRY_S)
            shadow = self._shadows.get(routing.shadow)
        return Snapshot(routing, {v: self._primaries[v] for v in wanted}, shadow, time.time(), errors)

    def _retry_shadow(self, routing: Routing) -> bool:
        import time

        if self.current is None or not self.current.errors or routing.shadow is None:
            return False
        return time.monotonic() - self._shadow_failed.get(routing.shadow, 0.0) >= SHADOW_RETRY_S

    async def close(self) -> None:
        for upstream in [*self._primaries.values(), *self._shadows.values()]:
            try:
                await upstream.close()
            except Exception:
                log.warning("closing %s failed", upstream.describe, exc_info=True)
