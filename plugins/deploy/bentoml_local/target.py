"""The ``bentoml-local`` target: build a version's bento, serve it with ``bentoml serve`` on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from agentgov.deploy import (
    Artifact,
    Deployment,
    DeployRequest,
    Release,
    UndeployRequest,
    start_managed,
    stop_managed,
)
from agentgov.plugins.deploy.bentoml_local import bento

HOST = "127.0.0.1"  # loopback only: agentgov never exposes a served agent on the network itself
READY_TIMEOUT_S = 180


def serve_command(tag: str, port: int) -> list[str]:
    return [sys.executable, "-m", "bentoml", "serve", tag, "--host", HOST, "--port", str(port)]


def load_error(url: str) -> str | None:
    """What the starting service's ``/info`` says went wrong loading the agent, if anything."""
    try:
        with urllib.request.urlopen(f"{url}/info", timeout=2) as response:
            return json.loads(response.read()).get("error")
    except (OSError, ValueError, urllib.error.URLError):
        return None


class BentomlLocal:
    name = "bentoml-local"
    description = "A bento per version (BentoML's build, models from code), served by `bentoml serve` on 127.0.0.1 as a managed process."

    def build(self, release: Release, home: Path) -> Artifact:
        with tempfile.TemporaryDirectory(prefix="agentgov-bento-") as folder:
            return bento.build(release, home, Path(folder) / "context")

    def deploy(self, request: DeployRequest) -> Deployment:
        port = int(request.options["port"])
        return start_managed(
            request,
            target=self.name,
            argv=serve_command(request.artifact.tag, port),
            env=bento.bentoml_env(request.home),
            port=port,
            timeout=float(request.options.get("timeout", READY_TIMEOUT_S)),
            failed=load_error,
        )

    def undeploy(self, request: UndeployRequest) -> Deployment | None:
        return stop_managed(request, target=self.name)

    def serve(self, request: DeployRequest) -> int:
        """Serve in the foreground until Ctrl-C (or the server ends); its exit status."""
        port = int(request.options["port"])
        child = subprocess.Popen(serve_command(request.artifact.tag, port), env=bento.bentoml_env(request.home))
        try:
            return child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            return 130
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
