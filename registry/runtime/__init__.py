"""The governed agent runtime: the tools an agent calls, checked, limited and recorded.

An agent whose ``act`` takes a second argument gets a :class:`ToolContext`::

    class Triage:
        def act(self, request, ctx):
            ticket = ctx.call("helpdesk.create_ticket", {"subject": request["subject"]})
            ctx.tools.helpdesk.set_priority(ticket_id=ticket["id"], priority="high")
            return {"ticket": ticket["id"]}

Connector kinds (``http``, ``sqlite``, ...) are plugins: they implement
:class:`ConnectorKind` and register with ``agentgov_register_connectors``;
``CONNECTORS`` is the kind the plugin manager collects. These names are the
public API (listed in docs/plugin-hooks.md); the modules are internal.
"""

from agentgov.registry.runtime.context import ToolContext, wants_context
from agentgov.registry.runtime.errors import NoRecordedAnswer, ToolError, ToolFailed, ToolRefused, ToolTimeout
from agentgov.registry.runtime.modes import Mode
from agentgov.registry.runtime.protocol import CONNECTORS, Connection, ConnectorKind, ConnectorSettings
from agentgov.registry.runtime.runtime import AgentRuntime
from agentgov.registry.runtime.trace import ToolCall, Trace

__all__ = [
    "CONNECTORS",
    "AgentRuntime",
    "Connection",
    "ConnectorKind",
    "ConnectorSettings",
    "Mode",
    "NoRecordedAnswer",
    "ToolCall",
    "ToolContext",
    "ToolError",
    "ToolFailed",
    "ToolRefused",
    "ToolTimeout",
    "Trace",
    "wants_context",
]
