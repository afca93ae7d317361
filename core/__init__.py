"""agentgov's kernel: hooks, plugin manager, configuration, values, errors and the audit log.

The names below are the public API a plugin author uses; docs/plugin-hooks.md
lists each of them. The modules of this package (``agentgov.core.types``,
``agentgov.core.plugins``...) are internal and may change without notice:
import from here::

    from agentgov.core import PolicyResult, Register, Stage, hookimpl

(``agentgov.core.testing`` is the pytest plugin that installing agentgov
activates; plugin authors use its fixtures, not its names.)
"""

from agentgov.core.errors import AgentgovError, AuditError, AuditTampered, ConfigError, InvalidValue, PluginError
from agentgov.core.hookspecs import Register, hookimpl
from agentgov.core.stats import number, wilson_interval
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
    "Register",
    "Stage",
    "__version__",
    "hookimpl",
    "number",
    "wilson_interval",
]
