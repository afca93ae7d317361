"""The kubernetes target's manifests load into the official Kubernetes Python models with no field left over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agentgov.deploy import Artifact, DeployRequest, Resources, UndeployRequest
from agentgov.plugins.deploy.kubernetes import Kubernetes
from agentgov.plugins.deploy.kubernetes.manifests import deployment, service

ARTIFACT = Artifact(kind="bento", tag="support-router:v3-0123456789ab", sha256="0123456789ab" + "0" * 52)


def load(data: dict[str, Any], model: str) -> Any:
    """The object as the kubernetes client reads it; fails naming every key the model does not know."""
    from kubernetes.client import ApiClient

    api = ApiClient()
    obj = api._ApiClient__deserialize(data, model)  # what the client does with an API server's answer
    unknown = _left_over(data, api.sanitize_for_serialization(obj))
    assert unknown == [], f"{model}: unknown fields {unknown}"
    return obj


def _left_over(given: Any, kept: Any, path: str = "") -> list[str]:
    if isinstance(given, dict):
        kept = kept if isinstance(kept, dict) else {}
        return [
            p
            for key, value in given.items()
            for p in (_left_over(value, kept[key], f"{path}.{key}") if key in kept else [f"{path}.{key}"])
        ]
    if isinstance(given, list):
        return [
            p
            for i, value in enumerate(given)
            for p in _left_over(value, kept[i] if i < len(kept) else None, f"{path}[{i}]")
        ]
    return [] if given == kept else [f"{path} ({given!r} read as {kept!r})"]


def test_the_deployment_loads_into_v1deployment_with_the_bento_image_resources_and_probes() -> None:
    written = yaml.safe_load(
        yaml.safe_dump(deployment("support-router", 3, ARTIFACT, Resources(cpu=0.5, memory="512Mi", gpu=1)))
    )
    obj = load(written, "V1Deployment")
    [container] = obj.spec.template.spec.containers
    assert container.image == "support-router:v3-0123456789ab"  # what `bentoml containerize` names the image
    assert container.resources.requests == {"cpu": "500m", "memory": "512Mi"}
    assert container.resources.limits == {"memory": "512Mi", "nvidia.com/gpu": "1"}
    assert (container.readiness_probe.http_get.path, container.liveness_probe.http_get.path) == ("/readyz", "/livez")
    assert container.ports[0].container_port == 3000
    assert obj.spec.selector.match_labels.items() <= obj.spec.template.metadata.labels.items()


def test_the_service_loads_into_v1service_and_selects_the_pods() -> None:
    obj = load(yaml.safe_load(yaml.safe_dump(service("support-router", 3))), "V1Service")
    pods = deployment("support-router", 3, ARTIFACT, Resources())["spec"]["template"]["metadata"]["labels"]
    assert obj.spec.selector.items() <= pods.items()
    assert obj.spec.ports[0].target_port == "http"


def test_the_check_finds_a_field_the_model_does_not_know() -> None:
    written = deployment("support-router", 3, ARTIFACT, Resources())
    written["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {
        "httpGet": {"path": "/readyz", "port": 3000}
    }
    with pytest.raises(AssertionError, match=r"\.spec\.template\.spec\.containers\[0\]\.readynessProbe"):
        load(written, "V1Deployment")


def test_the_target_writes_both_files_and_undeploy_removes_them(tmp_path: Path) -> None:
    target = Kubernetes()
    request = DeployRequest(
        name="support-router",
        version=3,
        artifact=ARTIFACT,
        resources=Resources(),
        home=tmp_path / "home",
        options={"output": str(tmp_path / "k8s")},
    )
    done = target.deploy(request)
    assert done.status == "written" and [f.name for f in done.files] == ["deployment.yaml", "service.yaml"]
    assert "bentoml containerize support-router:v3-0123456789ab" in done.note
    for file, model in zip(done.files, ("V1Deployment", "V1Service"), strict=True):
        load(yaml.safe_load(file.read_text()), model)
    gone = target.undeploy(
        UndeployRequest(name="support-router", home=tmp_path / "home", options={"output": str(tmp_path / "k8s")})
    )
    assert gone is not None and (gone.version, gone.artifact, gone.status) == (3, ARTIFACT.tag, "stopped")
    assert not any((tmp_path / "k8s").iterdir())
    assert (
        target.undeploy(
            UndeployRequest(name="support-router", home=tmp_path / "home", options={"output": str(tmp_path / "k8s")})
        )
        is None
    )


def test_without_an_output_folder_the_manifests_go_to_the_home(tmp_path: Path) -> None:
    done = Kubernetes().deploy(
        DeployRequest(name="support-router", version=3, artifact=ARTIFACT, resources=Resources(), home=tmp_path)
    )
    assert {f.parent for f in done.files} == {tmp_path / "kubernetes" / "support-router"}
