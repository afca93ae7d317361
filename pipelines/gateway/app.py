"""The gateway as an ASGI app (Starlette): run it with uvicorn, or mount it beside a BentoML service.

Routes:

``POST /act``
    The body is the agent's request (a JSON object). The routing key comes from
    the ``X-Agentgov-Key`` header, else the body's ``agentgov_key`` field (taken
    out of the request), else the request id. The answer is the agent's
    response, with ``X-Agentgov-Version``, ``X-Agentgov-Role`` and
    ``X-Agentgov-Request-Id`` headers; 502 when the version failed, 504 when it
    timed out, 503 before routing is loaded. No token: this is the agent's own
    traffic endpoint, as the bento's ``/act`` is; the app binds to loopback and
    a deployment puts its own authentication in front. It has no route that
    changes state: routing moves only in the registry (stages through the gate,
    weights with ``deploy.traffic.write_routing``).
``GET /healthz``, ``GET /readyz``
    Alive; ready (routing loaded, a production version, its upstreams ready).
``GET /metrics``
    Prometheus: requests, errors and latency by version and role, shadow drops.
``GET /routing``
    The routing this replica answers by now.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from agentgov.pipelines.gateway.metrics import CONTENT_TYPE
from agentgov.pipelines.gateway.service import Gateway, NotReady

KEY_HEADER = "x-agentgov-key"
KEY_FIELD = "agentgov_key"
# For a process that serves the gateway (``agentgov gateway`` sets it): the event loop shares the GIL with threads
# that hold it for milliseconds (the inference log's Parquet writes, routing reads, in-process agents). Each time the
# loop lets go of it (every poll for I/O) it may wait a whole switch interval to get it back: 5 ms by default, more
# than the gateway's own cost. At 0.5 ms a request waits at most that behind them.
SWITCH_INTERVAL_S = 0.0005


def create_app(gateway: Gateway) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def act(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "the body must be a JSON object (the agent's request)"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "the body must be a JSON object (the agent's request)"}, status_code=400)
        key = request.headers.get(KEY_HEADER) or body.pop(KEY_FIELD, None)
        if key is not None and (not isinstance(key, str) or not key):
            return JSONResponse({"error": f"{KEY_FIELD} must be a non-empty string"}, status_code=400)
        try:
            reply = await gateway.act(body, key)
        except NotReady as exc:
            return JSONResponse({"error": f"not ready: {exc}"}, status_code=503)
        headers = {"X-Agentgov-Request-Id": reply.request_id}
        if reply.version is not None:
            headers["X-Agentgov-Version"] = str(reply.version)
        if reply.role is not None:
            headers["X-Agentgov-Role"] = reply.role
        return JSONResponse(reply.body, status_code=reply.status, headers=headers)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "agent": gateway.agent})

    async def readyz(request: Request) -> Response:
        ready, why = await gateway.ready()
        return JSONResponse({"ready": ready, "reason": why}, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        return Response(gateway.metrics.render(), media_type=CONTENT_TYPE)

    async def routing(request: Request) -> Response:
        snapshot = gateway.table.current
        if snapshot is None:
            return JSONResponse({"error": f"not loaded: {gateway.table.last_error or 'loading'}"}, status_code=503)
        return JSONResponse(
            {
                **snapshot.routing.to_dict(),
                "loaded_at": snapshot.loaded_at,
                "error": gateway.table.last_error,
                "problems": list(snapshot.errors),
                "shadow_upstream": snapshot.shadow.describe if snapshot.shadow is not None else None,
            }
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    return Starlette(
        routes=[
            Route("/act", act, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/routing", routing),
        ],
        lifespan=lifespan,
    )
