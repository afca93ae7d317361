"""Replayed ticket traffic through the agent's real gateway, for the rollout and for the drift check.

The gateway is :mod:`agentgov.pipelines.gateway` with the versions loaded in
this process (shadow copies in its host process, as ``agentgov gateway`` runs
them); requests go through its ASGI app (``POST /act`` with a routing key), on
an event loop of its own thread, so no port is opened. Every request is a row
of a generated split with its labels removed and a ticket id of its own, so the
helpdesk store shows exactly which version routed which ticket.
"""

from __future__ import annotations

import asyncio
import csv
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentgov.core.config import Config

LABELS = ("queue", "priority")
PACE_S = 0.004  # at most ~250 requests a second: room on two cores for the controller and the shadow host


@dataclass
class Sent:
    """What one replay sent and who answered it (from the gateway's ``X-Agentgov-*`` headers)."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    answered_by: Counter[str] = field(default_factory=Counter)  # "v1 production", "v2 canary"
    tickets_by_version: dict[int, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "answered_by": dict(sorted(self.answered_by.items())),
            "live_tickets_by_version": {str(k): len(v) for k, v in sorted(self.tickets_by_version.items())},
        }


def tickets(path: Path, prefix: str) -> list[dict[str, str]]:
    """The rows of a generated split as requests: no labels, ticket ids ``<prefix>-00001``..."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        {**{k: v for k, v in row.items() if k not in LABELS}, "ticket_id": f"{prefix}-{i:05d}"}
        for i, row in enumerate(rows, start=1)
    ]


class GatewayTraffic:
    """The agent's gateway on a loop of its own thread; :meth:`send` replays requests through its app."""

    def __init__(self, config: Config, agent: str) -> None:
        self.config = config
        self.agent = agent
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="agentgov-demo-gateway", daemon=True)
        self._gateway: Any = None
        self._client: Any = None
        self._closed = False

    def __enter__(self) -> GatewayTraffic:
        self._thread.start()
        try:
            self._call(self._start())
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the gateway (its shadow host too; every buffered row written) and its loop; again does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._gateway is not None:
                self._call(self._stop(), timeout=60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()

    async def _start(self) -> None:
        import httpx

        from agentgov.pipelines.gateway import GatewaySettings, build_gateway, create_app

        settings = GatewaySettings(refresh_s=0.2, log_max_wait_s=1.0, shadow_workers=2)
        self._gateway = build_gateway(self.config, self.agent, settings=settings)
        await self._gateway.start()  # uvicorn runs this as the app's lifespan; the ASGI transport runs none
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(self._gateway)), base_url="http://gateway")

    async def _stop(self) -> None:
        try:
            if self._client is not None:
                await self._client.aclose()
        finally:
            await self._gateway.stop()  # shadow copies finish, every buffered inference row is written

    def _call(self, coroutine: Any, timeout: float | None = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def wait_for_production(self, version: int, timeout: float = 10.0) -> None:
        """Wait until the gateway answers production from ``version`` (it re-reads the routing every ``refresh_s``)."""
        self._call(self._await_production(version, timeout), timeout=timeout + 5)

    async def _await_production(self, version: int, timeout: float) -> None:
        from agentgov.pipelines.demo.workspace import DemoError

        deadline = time.monotonic() + timeout
        while (await self._client.get("/routing")).json().get("production") != version:
            if time.monotonic() > deadline:
                raise DemoError(f"the gateway did not route production to v{version} within {timeout:.0f} s")
            await asyncio.sleep(0.05)

    def send(self, requests: list[dict[str, str]], *, until: threading.Event | None = None) -> Future[Sent]:
        """Replay ``requests`` (round and round while ``until`` is not set; once without it); what was sent, when done."""
        return asyncio.run_coroutine_threadsafe(self._replay(requests, until), self._loop)

    async def _replay(self, requests: list[dict[str, str]], until: threading.Event | None) -> Sent:
        sent = Sent()
        for n, request in enumerate(_cycle(requests, forever=until is not None)):
            if until is not None and until.is_set():
                break
            body = dict(request)
            if n >= len(requests):  # a second round: a ticket of its own
                body["ticket_id"] = f"{request['ticket_id']}-{n // len(requests)}"
            reply = await self._client.post("/act", json=body, headers={"X-Agentgov-Key": body["ticket_id"]})
            sent.requests += 1
            sent.statuses[reply.status_code] += 1
            version, role = reply.headers.get("X-Agentgov-Version"), reply.headers.get("X-Agentgov-Role")
            if version:
                sent.answered_by[f"v{version} {role}"] += 1
                sent.tickets_by_version.setdefault(int(version), []).append(body["ticket_id"])
            await asyncio.sleep(PACE_S)  # the shadow workers and the log writer run meanwhile
        return sent


def _cycle(requests: list[dict[str, str]], *, forever: bool) -> Iterator[dict[str, str]]:
    while True:
        yield from requests
        if not forever:
            return
