"""The BentoML service of one agent version: copied into each bento by ``agentgov build``.

It reads ``agentgov-bento.json`` beside it (written at build time: the version,
the manifest's resources and example request) and the MLflow model in
``model/`` (models from code: no pickle). Routes: ``POST /act`` (the request
is the body, the response the agent's), ``POST /act_traced`` (a gateway's call:
``{"request", "mode", "trace_id", "paired"}`` answered with ``{"response",
"trace"}``, so a shadow copy runs in shadow mode and never executes a
side-effecting tool; 503 when every slot is busy), ``GET /info`` (version, device and
why, readiness), and BentoML's own ``/livez``, ``/healthz``, ``/readyz`` and
``/metrics``. ``/readyz`` passes only once the model is loaded and has
answered the manifest's ``example_request``.

Not imported by agentgov itself: BentoML imports it from the bento.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import bentoml
from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse

HERE = Path(__file__).resolve().parent
CONFIG: dict[str, Any] = json.loads((HERE / "agentgov-bento.json").read_text(encoding="utf-8"))
log = logging.getLogger("agentgov.bento")
TRACED_SLOTS = int(os.environ.get("AGENTGOV_BENTO_TRACED_SLOTS", "8"))

info_app = FastAPI(title=f"{CONFIG['name']}/{CONFIG['version']}", docs_url=None, redoc_url=None, openapi_url=None)


def _resources(resources: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {"cpu": str(resources["cpu"]), "memory": resources["memory"]}
    if resources.get("gpu"):
        found["gpu"] = int(resources["gpu"])
    return found


def load_agent(model_dir: Path, manifest: Path, described: dict[str, Any]) -> Any:
    """The agent this bento serves, exactly as agentgov runs it in process: through its governed runtime.

    The one place the served agent is made. ``described`` is the version as
    registered (name, number, source, stable tags); ``manifest`` the
    ``agent.yaml`` packaged with the model. No registry is contacted.
    """
    from agentgov.registry import agent_from_model_dir

    return agent_from_model_dir(model_dir, {**described, "status": "ready"}, manifest)


@bentoml.service(
    name=CONFIG["service"],
    resources=_resources(CONFIG["resources"]),
    traffic={"timeout": 60},
    labels={"agentgov.agent": CONFIG["name"], "agentgov.version": str(CONFIG["version"])},
)
@bentoml.asgi_app(info_app, path="/")
class AgentService:
    def __init__(self) -> None:
        from agentgov.deploy import DEVICE_VARIABLE, choose_device

        self.ready = False
        self.error: str | None = None
        self.traced_slots = threading.BoundedSemaphore(TRACED_SLOTS)
        self.device = choose_device()
        os.environ[DEVICE_VARIABLE] = self.device.name  # decided once, before the agent's code loads
        began = time.monotonic()
        try:
            self.agent = load_agent(HERE / CONFIG["model_dir"], HERE / CONFIG["manifest"], CONFIG["agent_version"])
            self.agent.act(dict(CONFIG["example_request"]))
        except Exception as exc:  # not ready, and /info says why; the server stays up to say it
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("agent %s/%s did not load or answer its example request", CONFIG["name"], CONFIG["version"])
            return
        self.load_seconds = round(time.monotonic() - began, 3)
        self.ready = True
        log.info(
            "agent %s/%s ready on %s (%s)", CONFIG["name"], CONFIG["version"], self.device.name, self.device.reason
        )

    def __is_ready__(self) -> bool:
        return self.ready

    @bentoml.api(route="/act")
    def act(self, request: dict[str, Any], /) -> dict[str, Any]:
        if not self.ready:
            raise bentoml.exceptions.ServiceUnavailable(f"agent not ready: {self.error or 'still loading'}")
        return self.agent.act(request)

    @info_app.post("/act_traced")
    def act_traced(self, body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
        from agentgov.registry.runtime import Trace

        if not self.ready:
            return JSONResponse({"error": f"agent not ready: {self.error or 'still loading'}"}, status_code=503)
        if not isinstance(body.get("request"), dict) or body.get("mode", "live") not in ("live", "shadow", "replay"):
            return JSONResponse({"error": "expected {request: {...}, mode: live|shadow|replay, trace_id, paired}"}, 400)
        if not self.traced_slots.acquire(blocking=False):
            return JSONResponse({"error": f"all {TRACED_SLOTS} slots are busy"}, status_code=503)
        try:
            paired = Trace.from_dict(body["paired"]) if body.get("paired") else None
            response, trace = self.agent.act_traced(
                body["request"], mode=body.get("mode", "live"), trace_id=body.get("trace_id"), paired=paired
            )
            return JSONResponse({"response": response, "trace": trace.to_dict()})
        except Exception as exc:
            trace = getattr(exc, "agentgov_trace", None)
            return JSONResponse(
                {"error": f"{type(exc).__name__}: {exc}", "trace": trace.to_dict() if trace else None}, status_code=500
            )
        finally:
            self.traced_slots.release()

    @info_app.get("/info")
    def info(self) -> dict[str, Any]:
        return {
            "name": CONFIG["name"],
            "version": CONFIG["version"],
            "bento": CONFIG["bento"],
            "sha256": CONFIG["sha256"],
            "device": self.device.name,
            "device_reason": self.device.reason,
            "ready": self.ready,
            "error": self.error,
            "resources": CONFIG["resources"],
        }
