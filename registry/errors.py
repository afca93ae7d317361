"""Errors of the registry, each one a user can act on."""

from __future__ import annotations

from agentgov.core.errors import AgentgovError


class RegistryUnavailable(AgentgovError):
    """The MLflow tracking or registry store cannot be reached."""


class NotFound(AgentgovError):
    """An agent, version or stage that does not exist."""


class RegistrationFailed(AgentgovError):
    """Registration stopped; nothing usable was left behind."""


class StageChangeRefused(AgentgovError):
    """The gate did not allow it, or the move is not a valid one."""


class Conflict(AgentgovError):
    """Someone else changed the agent's stages first."""
