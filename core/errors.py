"""User-facing errors.

Every error a person can fix is an :class:`AgentgovError`. The command line
catches it once, prints ``str(error)`` on one line and exits with
``error.exit_code``; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class AgentgovError(Exception):
    """An error a user can act on. ``hint`` says how to fix it."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class ConfigError(AgentgovError):
    """The configuration file or an environment variable is invalid."""


class InvalidValue(AgentgovError):
    """A value handed to agentgov (an agent reference, a stage) is malformed."""


class PluginError(AgentgovError):
    """A plugin failed to load, or handed back something it should not have."""


class AuditError(AgentgovError):
    """The audit log cannot be written or read."""


class AuditTampered(AuditError):
    """``audit verify`` found a record that breaks the chain."""

    exit_code = 1

    def __init__(self, message: str, *, line: int) -> None:
        super().__init__(message)
        self.line = line
