"""Promotion and rollback: ask the gate, record its decision, then change the stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentgov.core.config import Config
from agentgov.core.types import AgentRef, Decision, Event, EventKind, Stage
from agentgov.registry import stages
from agentgov.registry.backend import connect
from agentgov.registry.errors import StageChangeRefused
from agentgov.registry.store import aliases, get

if TYPE_CHECKING:
    from agentgov.core.audit import AuditLog
    from agentgov.core.plugins import PluginManager


@dataclass(frozen=True)
class Prepared:
    """A decided promotion, ready to apply if nobody moves the stages first."""

    client: Any
    plan: stages.StagePlan
    decision: Decision


def prepare(config: Config, ref: AgentRef, target: Stage, *, actor: str, audit: AuditLog | None) -> Prepared:
    """Read the current stages, plan the move and ask the gate. ``audit=None`` records nothing (dry run)."""
    from agentgov.policies.gate import decide

    client = connect(config)
    if ref.version is None:
        raise StageChangeRefused(f"name the version to promote: {ref.name} VERSION")
    current = aliases(client, ref.name)
    plan = stages.plan_promotion(get(client, ref), target, current)
    decision = decide(config, ref, target, actor)
    if audit is not None:
        audit.append(actor=actor, action="decision", subject=str(ref), payload=decision.to_dict())
    return Prepared(client, plan, decision)


def promote(
    config: Config, ref: AgentRef, target: Stage, *, actor: str, audit: AuditLog, plugins: PluginManager
) -> tuple[stages.StagePlan, Decision]:
    prepared = prepare(config, ref, target, actor=actor, audit=audit)
    return finish(prepared, audit=audit, plugins=plugins), prepared.decision


def finish(prepared: Prepared, *, audit: AuditLog, plugins: PluginManager) -> stages.StagePlan:
    """Apply a prepared promotion, or record the block."""
    from agentgov.core.events import publish

    decision = prepared.decision
    if not decision.allowed:
        publish(Event(EventKind.BLOCKED, decision.agent, decision.actor, {"to": decision.target.value}, decision.id), audit=audit, plugins=plugins)
        raise StageChangeRefused(f"promotion of {decision.agent} to {decision.target.value} was {decision.outcome.value} (decision {decision.id})")
    return stages.apply(prepared.client, prepared.plan, decision, audit=audit, plugins=plugins)


def rollback(config: Config, name: str, *, actor: str, audit: AuditLog, plugins: PluginManager) -> tuple[stages.StagePlan, Decision]:
    """Put ``previous-production`` back in production, through the gate like any promotion."""
    from agentgov.policies.gate import decide

    client = connect(config)
    plan = stages.plan_rollback(name, aliases(client, name))
    ref = AgentRef(name, version=plan.version)
    decision = decide(config, ref, Stage.PRODUCTION, actor, reason="rollback")
    audit.append(actor=actor, action="decision", subject=str(ref), payload=decision.to_dict())
    return finish(Prepared(client, plan, decision), audit=audit, plugins=plugins), decision
