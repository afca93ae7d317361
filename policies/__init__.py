"""Governance policies: what a policy is, what it sees, and how the gate runs it.

The names below are the public API a policy plugin uses (listed in
docs/plugin-hooks.md): the :class:`Policy` protocol and the ``POLICIES`` kind,
the :class:`PolicyContext` handed to ``evaluate`` (with its ``passed``,
``failed``... helpers), and the helpers for testing a policy without a
registry. The modules of this package (the gate, the runner, the settings,
reports) are internal and may change without notice::

    from agentgov.policies import PolicyContext, policy_context
"""

from agentgov.policies.context import GateRequest, PolicyContext
from agentgov.policies.protocol import POLICIES, Policy, enabled_by_default, parameters_of
from agentgov.policies.report import parse_duration
from agentgov.policies.testing import agent_version, policy_context

__all__ = [
    "POLICIES",
    "GateRequest",
    "Policy",
    "PolicyContext",
    "agent_version",
    "enabled_by_default",
    "parameters_of",
    "parse_duration",
    "policy_context",
]
