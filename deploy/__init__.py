"""Deployment: what a deploy target is, what it receives and returns, and the helpers it may use.

A deploy-target plugin implements :class:`DeployTarget` and registers it with
the ``agentgov_register_deploy_targets`` hook; ``DEPLOY_TARGETS`` is the kind
the plugin manager collects. These names are the public API (listed in
docs/plugin-hooks.md); the modules of this package are internal.
"""

from agentgov.deploy.device import DEVICE_VARIABLE, Device, choose_device
from agentgov.deploy.managed import start as start_managed
from agentgov.deploy.managed import stop as stop_managed
from agentgov.deploy.process import ProcessFailed
from agentgov.deploy.protocol import (
    DEPLOY_TARGETS,
    Artifact,
    Deployment,
    DeployRequest,
    DeployTarget,
    Release,
    Resources,
    UndeployRequest,
)

__all__ = [
    "DEPLOY_TARGETS",
    "DEVICE_VARIABLE",
    "Artifact",
    "DeployRequest",
    "DeployTarget",
    "Deployment",
    "Device",
    "ProcessFailed",
    "Release",
    "Resources",
    "UndeployRequest",
    "choose_device",
    "start_managed",
    "stop_managed",
]
