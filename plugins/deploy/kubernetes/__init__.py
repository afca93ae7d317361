"""The ``kubernetes`` deploy target: the Deployment and Service a team applies for a version's bento image.

It builds the same bento as ``bentoml-local`` (the image is what ``bentoml
containerize`` makes of it) and writes ``deployment.yaml`` and
``service.yaml`` to a folder (``--output``, by default
``<home>/kubernetes/<agent>/``); it applies nothing. ``undeploy`` removes the
files it wrote (``kubectl delete -f`` removes what was applied from them).

Written as a third-party plugin would be: it imports only the public names of
``agentgov.core`` and ``agentgov.deploy`` (and its sibling plugin package).
"""

from __future__ import annotations

from pathlib import Path

from agentgov.core import Register, hookimpl
from agentgov.deploy import Artifact, Deployment, DeployRequest, Release, UndeployRequest

FILES = ("deployment.yaml", "service.yaml")


def output_folder(home: Path, name: str, chosen: str | Path | None = None) -> Path:
    return Path(chosen) if chosen else home / "kubernetes" / name


class Kubernetes:
    name = "kubernetes"
    description = (
        "Writes a Deployment and a Service for the version's bento image (bentoml containerize), readiness on /readyz."
    )

    def build(self, release: Release, home: Path) -> Artifact:
        from agentgov.plugins.deploy.bentoml_local.target import BentomlLocal

        return BentomlLocal().build(release, home)

    def deploy(self, request: DeployRequest) -> Deployment:
        import yaml

        from agentgov.plugins.deploy.bentoml_local.bento import bentoml_home
        from agentgov.plugins.deploy.kubernetes import manifests

        folder = output_folder(request.home, request.name, request.options.get("output"))
        folder.mkdir(parents=True, exist_ok=True)
        objects = (
            manifests.deployment(request.name, request.version, request.artifact, request.resources),
            manifests.service(request.name, request.version),
        )
        written = []
        for file, obj in zip(FILES, objects, strict=True):
            path = folder / file
            path.write_text(yaml.safe_dump(obj, sort_keys=False), encoding="utf-8")
            written.append(path)
        return Deployment(
            target=self.name,
            name=request.name,
            version=request.version,
            artifact=request.artifact.tag,
            status="written",
            files=tuple(written),
            note=f"image {request.artifact.tag}: `BENTOML_HOME={bentoml_home(request.home)} bentoml containerize {request.artifact.tag}`, "
            f"push it, then `kubectl apply -f {folder}`",
        )

    def undeploy(self, request: UndeployRequest) -> Deployment | None:
        folder = output_folder(request.home, request.name, request.options.get("output"))
        present = [folder / f for f in FILES if (folder / f).is_file()]
        if not present:
            return None
        version, artifact = _written_version(folder / FILES[0])
        for path in present:
            path.unlink()
        return Deployment(
            target=self.name,
            name=request.name,
            version=version,
            artifact=artifact,
            status="stopped",
            files=tuple(present),
            note=f"removed the manifests in {folder}; `kubectl delete -f` with them removes what was applied",
        )


def _written_version(deployment: Path) -> tuple[int, str]:
    """The version and image a written Deployment names (0 and "" when it cannot be read)."""
    import yaml

    try:
        found = yaml.safe_load(deployment.read_text(encoding="utf-8"))
        version = int(str(found["metadata"]["labels"]["app.kubernetes.io/version"]).lstrip("v"))
        return version, str(found["spec"]["template"]["spec"]["containers"][0]["image"])
    except (OSError, ValueError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return 0, ""


@hookimpl
def agentgov_register_deploy_targets(register: Register) -> None:
    register(Kubernetes())
