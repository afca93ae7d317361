"""An example agentgov plugin: policy ``no-pii-in-outputs`` blocks agents whose responses leak personal data."""

from __future__ import annotations

from agentgov.core import Register, hookimpl
from agentgov_pii_policy.policy import NoPiiInOutputs

__all__ = ["NoPiiInOutputs", "agentgov_register_policies"]


@hookimpl
def agentgov_register_policies(register: Register) -> None:
    register(NoPiiInOutputs())
