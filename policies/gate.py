"""The promotion gate.

Until governance policies are configured (the gate issue), the gate is the
built-in always-allow gate: it allows every valid stage change and says so in
the decision it records, so no one mistakes it for a reviewed promotion.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from agentgov.core.config import Config
from agentgov.core.types import AgentRef, Decision, Outcome, PolicyResult, PolicyStatus, Stage

ALWAYS_ALLOW = "always-allow"


def config_hash(stages: Mapping[Stage, Mapping[str, Any]]) -> str:
    """SHA-256 of the per-stage policy configuration a decision was made under."""
    canonical = json.dumps({s.value: dict(v) for s, v in stages.items()}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def decide(config: Config, agent: AgentRef, target: Stage, actor: str, *, reason: str = "") -> Decision:
    """The gate's decision on moving ``agent`` (one version) to ``target``."""
    why = "no promotion policies are in force yet: the built-in always-allow gate allowed this"
    if reason:
        why = f"{why} ({reason})"
    return Decision(
        agent=agent,
        target=target,
        outcome=Outcome.ALLOWED,
        results=(PolicyResult(ALWAYS_ALLOW, PolicyStatus.PASS, why),),
        actor=actor,
        config_hash=config_hash(config.stages),
    )
