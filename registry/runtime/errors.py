"""What an agent sees when a tool call does not give it a result.

Each is an :class:`~agentgov.core.errors.AgentgovError`, raised inside the
agent's ``act`` by ``ctx.call``; every one is also recorded in the trace.
"""

from __future__ import annotations

from agentgov.core.errors import AgentgovError


class ToolError(AgentgovError):
    """A tool call that gave no result; ``tool`` is ``connector.action``, ``outcome`` as in the trace."""

    outcome = "failed"

    def __init__(self, tool: str, message: str) -> None:
        self.tool = tool
        super().__init__(f"tool {tool}: {message}")


class ToolRefused(ToolError):
    """Governance refused the call before anything executed: undeclared, scope, arguments, rate limit."""

    outcome = "refused"


class ToolTimeout(ToolError):
    """The call ran past its time limit and was abandoned."""

    outcome = "timeout"


class ToolFailed(ToolError):
    """The connector executed the call and it failed (or returned something that is not JSON)."""

    outcome = "failed"


class NoRecordedAnswer(ToolError):
    """Shadow or replay mode had no recorded result (nor stub) for this call."""

    outcome = "unanswered"
