"""agentgov's kernel: hooks, plugin manager, configuration, values, errors and the audit log.

Plugin authors need one import::

    from agentgov.core import hookimpl
"""

from agentgov.core.errors import AgentgovError, AuditError, AuditTampered, ConfigError, InvalidValue, PluginError
from agentgov.core.hookspecs import hookimpl, hookspec
from agentgov.core.types import (
    AgentRef,
    Approval,
    Decision,
    Event,
    EventKind,
    Outcome,
    PolicyMode,
    PolicyResult,
    PolicyStatus,
    Stage,
)
from agentgov.core.version import __version__

__all__ = [
    "AgentRef",
    "AgentgovError",
    "Approval",
    "AuditError",
    "AuditTampered",
    "ConfigError",
    "Decision",
    "Event",
    "EventKind",
    "InvalidValue",
    "Outcome",
    "PluginError",
    "PolicyMode",
    "PolicyResult",
    "PolicyStatus",
    "Stage",
    "__version__",
    "hookimpl",
    "hookspec",
]
