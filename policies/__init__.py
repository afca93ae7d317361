"""Governance policies: what a policy is. The gate that runs them arrives with the gate issue."""

from agentgov.policies.protocol import POLICIES, Policy

__all__ = ["POLICIES", "Policy"]
