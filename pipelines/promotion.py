"""Promotion, orchestrated: gather the evidence, ask the gate, record the decision, move the stage.

The registry plans and applies stage moves (:mod:`agentgov.registry.promotion`);
the gate decides (:mod:`agentgov.policies`). This is where the two meet, for
the ``promote-agent`` flow, ``agentgov policies explain`` and every other caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from agentgov.core.types import AgentRef, Decision, Stage, utcnow
from agentgov.policies.context import GateRequest, RegistryEvidence
from agentgov.policies.gate import decide
from agentgov.registry import promotion
from agentgov.registry.backend import connect
from agentgov.registry.promotion import AcceptanceRefused, Prepared, PromotionBlocked, finish, rollback
from agentgov.registry.stages import StagePlan

if TYPE_CHECKING:
    from agentgov.core.audit import AuditLog
    from agentgov.core.config import Config
    from agentgov.core.plugins import PluginManager

__all__ = ["AcceptanceRefused", "Prepared", "PromotionBlocked", "finish", "prepare", "promote", "rollback"]


def prepare(
    config: Config,
    ref: AgentRef,
    target: Stage,
    *,
    actor: str,
    audit: AuditLog,
    plugins: PluginManager,
    accept_inconclusive: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> Prepared:
    """Read the current stages, plan the move and ask the gate.

    Unless ``dry_run``, the decision is recorded before this returns.
    """
    client = connect(config)
    version, plan = promotion.plan(client, ref, target, audit=audit)
    accepting = promotion.acceptances(version, accept_inconclusive, actor, audit=None if dry_run else audit)
    request = GateRequest(ref, target, actor, utcnow(), dict(overrides or {}))
    evidence = RegistryEvidence(config, client, audit, ref, version)
    decision = decide(config, plugins, request, evidence, accept_inconclusive=accepting)
    if not dry_run:
        promotion.record(client, version, decision, audit)
    return Prepared(client, plan, decision, version, recorded=not dry_run)


def promote(
    config: Config,
    ref: AgentRef,
    target: Stage,
    *,
    actor: str,
    audit: AuditLog,
    plugins: PluginManager,
    accept_inconclusive: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
) -> tuple[StagePlan, Decision]:
    """Promote through the gate and apply an allowing decision; :class:`PromotionBlocked` otherwise."""
    prepared = prepare(
        config, ref, target, actor=actor, audit=audit, plugins=plugins, accept_inconclusive=accept_inconclusive, overrides=overrides
    )
    return finish(prepared, audit=audit, plugins=plugins), prepared.decision
