"""Deployment: what a deploy target is. Builds, gateways and rollouts arrive with the deploy issue."""

from agentgov.deploy.protocol import DEPLOY_TARGETS, DeployTarget

__all__ = ["DEPLOY_TARGETS", "DeployTarget"]
