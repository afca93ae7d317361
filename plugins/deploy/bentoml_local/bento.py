"""Building a version's bento with BentoML's own build, in a build folder outside ``BENTOML_HOME``.

The build folder holds the generated service (``service.py``, a copy of this
package's :mod:`.service`), ``agentgov-bento.json`` (what the service needs to
know), and the version's MLflow model in ``model/``. Its content hash names
the bento (``NAME:vVERSION-HASH12``), so building the same version again finds
the stored bento instead of making another. BentoML runs in a subprocess with
``BENTOML_HOME`` set, because it reads that variable once per process; its
Python packages are the version's pins with the lock off, so nothing contacts
a package index.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from agentgov.core import AgentgovError, __version__
from agentgov.deploy import Artifact, Release

CONFIG_FILE = "agentgov-bento.json"
SERVICE = "service:AgentService"
BUILD_TIMEOUT_S = 300


class BentoBuildFailed(AgentgovError):
    """BentoML could not build the bento."""

    exit_code = 1  # not the input: the server or the build failed (one line, naming the log or the cause)


def bentoml_home(home: Path) -> Path:
    """Where agentgov keeps BentoML's store: inside the agentgov home, never inside a build folder."""
    return home / "bentoml"


def bentoml_env(home: Path) -> dict[str, str]:
    """The environment every BentoML process agentgov starts runs with."""
    return {
        **os.environ,
        "BENTOML_HOME": str(bentoml_home(home)),
        "BENTOML_DO_NOT_TRACK": "true",  # no usage reports: nothing leaves the machine
        "PYTHONUNBUFFERED": "1",
    }


def service_name(agent: str) -> str:
    return "agentgov_" + agent.replace("-", "_")


def requirements(release: Release) -> list[str]:
    """The version's pins, and agentgov itself (the service runs the agent through it)."""
    pins = [pin for pin in release.requirements if not pin.lower().startswith("agentgov")]
    return sorted({*pins, f"agentgov=={__version__}"})


def prepare(release: Release, folder: Path) -> tuple[dict[str, Any], str]:
    """Fill ``folder`` with the build context; returns the service's configuration and the content's SHA-256."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__).with_name("service.py"), folder / "service.py")
    shutil.copytree(
        release.model_dir, folder / "model", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True
    )
    config: dict[str, Any] = {
        "schema": 1,
        "name": release.name,
        "version": release.version,
        "service": service_name(release.name),
        "resources": release.resources.to_dict(),
        "example_request": dict(release.example_request),
        "model_dir": "model",
        "manifest": f"model/{release.manifest.relative_to(release.model_dir).as_posix()}",
        "requirements": requirements(release),
        "agent_version": {
            "name": release.name,
            "version": release.version,
            "source": release.source,
            "created_at": release.created_at,
            "run_id": release.run_id,
            "tags": dict(release.tags),
        },
    }
    digest = content_sha256(folder, config)
    tag = f"{release.name}:v{release.version}-{digest[:12]}"
    config.update(bento=tag, sha256=digest)
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return config, digest


def content_sha256(folder: Path, config: dict[str, Any]) -> str:
    """SHA-256 over every file's path and bytes, and the configuration (without the tag it will name)."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode("utf-8"))
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != CONFIG_FILE):
        digest.update(file.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def build(release: Release, home: Path, folder: Path) -> Artifact:
    """Build (or find) the bento of ``release`` from the context prepared in ``folder``."""
    config, digest = prepare(release, folder)
    store = bentoml_home(home)
    if store.resolve().is_relative_to(folder.resolve()):
        raise BentoBuildFailed(f"BENTOML_HOME {store} is inside the build folder {folder}: it would copy itself")
    stored = bento_path(home, config["bento"]) / "bento.yaml"
    if stored.is_file():  # the same content, built before: no BentoML process
        return Artifact(kind="bento", tag=config["bento"], sha256=digest, reused=True)
    request = {
        "context": str(folder),
        "service": SERVICE,
        "tag": config["bento"],
        "packages": config["requirements"],
        "labels": {"agentgov.agent": release.name, "agentgov.version": str(release.version), "agentgov.sha256": digest},
        "description": f"agentgov: {release.ref}, built from its MLflow model (models from code).",
    }
    done = subprocess.run(
        [sys.executable, "-m", "agentgov.plugins.deploy.bentoml_local.build_bento", json.dumps(request)],
        env=bentoml_env(home),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        raise BentoBuildFailed(
            f"BentoML could not build {config['bento']}: {lines[-1] if lines else f'exit {done.returncode}'}"
        )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return Artifact(kind="bento", tag=answer["tag"], sha256=digest, reused=bool(answer["reused"]))


def bento_path(home: Path, tag: str) -> Path:
    """The stored bento's folder (``BENTOML_HOME/bentos/NAME/VERSION``)."""
    name, _, version = tag.partition(":")
    return bentoml_home(home) / "bentos" / name / version
