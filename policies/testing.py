"""Contexts built from plain values, for unit tests of a policy's logic.

A policy's ``evaluate`` is a function of its context; these build one without
a registry, so a plugin author can test every branch in milliseconds. The
helpers are public as :func:`agentgov.policies.policy_context` and
:func:`agentgov.policies.agent_version`; this module is internal::

    from agentgov.policies import policy_context

    def test_blocks_admin_scopes():
        context = policy_context("my-policy", manifest={"connectors": [...]}, target="production")
        assert MyPolicy().evaluate(context).status == "fail"

The gate itself, with a real registry, is tested end to end elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agentgov.core.types import AgentRef, Approval, Stage, utcnow
from agentgov.policies.context import GateRequest, PolicyContext
from agentgov.registry.model import LINEAGE, TAG_MANIFEST, TAG_STAGE, AgentVersion


@dataclass
class StaticEvidence:
    """Evidence held in memory: a version, the production version, approvals, the manifest text."""

    version_: AgentVersion
    production_: AgentVersion | None = None
    approvals_: Sequence[Approval] = ()
    manifest_text_: str | None = None
    agent_: Any = None
    reads: list[str] = field(default_factory=list)  # what the policy asked for, to test laziness

    def version(self) -> AgentVersion:
        self.reads.append("version")
        return self.version_

    def production(self) -> AgentVersion | None:
        self.reads.append("production")
        return self.production_

    def approvals(self) -> Sequence[Approval]:
        self.reads.append("approvals")
        return self.approvals_

    def manifest_text(self) -> str | None:
        self.reads.append("manifest_text")
        return self.manifest_text_

    def load_agent(self) -> Any:
        self.reads.append("agent")
        if self.agent_ is None:
            raise AssertionError("this test context has no agent; pass agent=...")
        return self.agent_


def agent_version(
    name: str = "test-agent",
    version: int = 1,
    *,
    manifest: Mapping[str, Any] | None = None,
    lineage: Mapping[str, str] | None = None,
    evidence: Mapping[str, Any] | None = None,
    stage: str = "candidate",
) -> AgentVersion:
    """An :class:`AgentVersion` with the tags agentgov would have written."""
    tags = {TAG_STAGE: stage, "agentgov.status": "ready", TAG_MANIFEST: json.dumps({"name": name, "risk_tier": "medium", **(manifest or {})})}
    tags.update({f"{LINEAGE}{k}": v for k, v in (lineage or {"registered_by": "registrant"}).items()})
    tags.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in (evidence or {}).items()})
    return AgentVersion(name, version, Stage.parse(stage), "ready", (), f"models:/m-{name}-{version}", 0, tags)


def policy_context(
    policy: str,
    *,
    params: Mapping[str, Any] | None = None,
    target: str | Stage = Stage.PRODUCTION,
    actor: str = "promoter",
    now: datetime | None = None,
    overrides: Mapping[str, str] | None = None,
    version: AgentVersion | None = None,
    manifest: Mapping[str, Any] | None = None,
    lineage: Mapping[str, str] | None = None,
    evidence: Mapping[str, Any] | None = None,
    approvals: Sequence[Approval] = (),
    production: AgentVersion | None = None,
    manifest_text: str | None = None,
    agent: Any = None,
) -> PolicyContext:
    """A :class:`PolicyContext` for ``policy`` from plain values. ``evidence`` maps tags
    (``agentgov.eval``, ``agentgov.drift``...) to their JSON values."""
    version = version or agent_version(manifest=manifest, lineage=lineage, evidence=evidence)
    request = GateRequest(AgentRef(version.name, version=version.version), Stage.parse(target), actor, now or utcnow(), dict(overrides or {}))
    store = StaticEvidence(version, production, tuple(approvals), manifest_text, agent)
    return PolicyContext(policy, params or {}, request, store)
