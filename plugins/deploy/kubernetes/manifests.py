"""The Deployment and Service a team applies to run one version's bento image on Kubernetes.

The image is the bento's tag, as ``bentoml containerize NAME:VERSION`` names
it; the container listens on BentoML's port 3000; readiness is ``/readyz``
(the agent loaded and answered its example request), liveness ``/livez``.
Requests and limits come from the manifest's ``resources:``.
"""

from __future__ import annotations

from typing import Any

from agentgov.deploy import Artifact, Resources

PORT = 3000  # what a containerized bento serves on
API_VERSION = "agentgov.io"


def labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "agentgov"}


def resources(found: Resources) -> dict[str, Any]:
    cpu = f"{round(found.cpu * 1000)}m"
    requests = {"cpu": cpu, "memory": found.memory}
    limits: dict[str, str] = {"memory": found.memory}
    if found.gpu:
        limits["nvidia.com/gpu"] = str(found.gpu)  # GPUs are requested as limits
    return {"requests": requests, "limits": limits}


def deployment(name: str, version: int, artifact: Artifact, found: Resources, *, replicas: int = 1) -> dict[str, Any]:
    pod_labels = {**labels(name), "app.kubernetes.io/version": f"v{version}"}
    annotations = {f"{API_VERSION}/bento": artifact.tag, f"{API_VERSION}/bento-sha256": artifact.sha256}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": dict(pod_labels), "annotations": dict(annotations)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels(name)},
            "template": {
                "metadata": {"labels": dict(pod_labels), "annotations": dict(annotations)},  # copies: no YAML anchors
                "spec": {
                    "containers": [
                        {
                            "name": "agent",
                            "image": artifact.tag,
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
                            "env": [{"name": "BENTOML_DO_NOT_TRACK", "value": "true"}],
                            "resources": resources(found),
                            "readinessProbe": {
                                "httpGet": {"path": "/readyz", "port": "http"},
                                "periodSeconds": 5,
                                "failureThreshold": 3,
                            },
                            "livenessProbe": {
                                "httpGet": {"path": "/livez", "port": "http"},
                                "initialDelaySeconds": 10,
                                "periodSeconds": 10,
                                "failureThreshold": 3,
                            },
                            "startupProbe": {
                                "httpGet": {"path": "/readyz", "port": "http"},
                                "periodSeconds": 5,
                                "failureThreshold": 60,  # loading a model may take minutes
                            },
                        }
                    ]
                },
            },
        },
    }


def service(name: str, version: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {**labels(name), "app.kubernetes.io/version": f"v{version}"}},
        "spec": {
            "type": "ClusterIP",
            "selector": labels(name),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
