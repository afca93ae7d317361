"""The BentoML service of one agent version: copied into each bento by ``agentgov build``.

It reads ``agentgov-bento.json`` beside it (written at build time: the version,
the manifest's resources and example request) and the MLflow model in
``model/`` (models from code: no pickle). Routes: ``POST /act`` (the request
is the body, the response the agent's), ``GET /info`` (version, device and
why, readiness), and BentoML's own ``/livez``, ``/healthz``, ``/readyz`` and
``/metrics``. ``/readyz`` passes only once the model is loaded and has
answered the manifest's ``example_request``.

Not imported by agentgov itself: BentoML imports it from the bento.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import bentoml
from fastapi import FastAPI

HERE = Path(__file__).resolve().parent
CONFIG: dict[str, Any] = json.loads((HERE / "agentgov-bento.json").read_text(encoding="utf-8"))
log = logging.getLogger("agentgov.bento")

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
