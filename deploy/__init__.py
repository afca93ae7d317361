"""Deployment: what a deploy target is.

A deploy-target plugin implements :class:`DeployTarget` and registers it with
the ``agentgov_register_deploy_targets`` hook; ``DEPLOY_TARGETS`` is the kind
the plugin manager collects. These names are the public API (listed in
docs/plugin-hooks.md); the modules of this package are internal.
"""

from agentgov.deploy.protocol import DEPLOY_TARGETS, DeployTarget

__all__ = ["DEPLOY_TARGETS", "DeployTarget"]
