"""Promotion and rollback in the registry: record a decision, then change the stage.

The order is the point: the decision goes to the audit log, then onto the
MLflow version (a JSON artifact and a tag), and only an allowing decision
moves an alias. Asking the gate for that decision is the orchestration's job
(:mod:`agentgov.pipelines.promotion`); a rollback is not gated.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentgov.core.config import Config
from agentgov.core.errors import AgentgovError
from agentgov.core.types import AgentRef, Decision, Event, EventKind, Outcome, Stage
from agentgov.registry import stages
from agentgov.registry.backend import connect, quiet
from agentgov.registry.errors import StageChangeRefused
from agentgov.registry.model import TAG_GATE, AgentVersion
from agentgov.registry.store import aliases, get, mlflow_errors

if TYPE_CHECKING:
    from agentgov.core.audit import AuditLog
    from agentgov.core.plugins import PluginManager


class PromotionBlocked(AgentgovError):
    """The gate blocked the promotion, or it waits for a person's review."""

    exit_code = 1

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(
            f"{decision.agent} -> {decision.target.value}: {decision.summary} (decision {decision.id})",
            hint=f"see why: agentgov policies explain {decision.agent.name} {decision.agent.version} --to {decision.target.value}",
        )


class AcceptanceRefused(AgentgovError):
    """``--accept-inconclusive`` by someone who may not accept."""


@dataclass(frozen=True)
class Prepared:
    """A decided promotion, ready to apply if nobody moves the stages first."""

    client: Any
    plan: stages.StagePlan
    decision: Decision
    version: AgentVersion
    recorded: bool = field(default=False)


def plan(client: Any, ref: AgentRef, target: Stage, *, audit: AuditLog) -> tuple[AgentVersion, stages.StagePlan]:
    """The version to move and the move, from the stages as they are now (an interrupted move finished first)."""
    if ref.version is None:
        raise StageChangeRefused(f"name the version to promote: {ref.name} VERSION")
    version = get(client, ref)
    stages.finish_interrupted(client, ref.name, audit=audit)
    return version, stages.plan_promotion(version, target, aliases(client, ref.name))


def record(client: Any, version: AgentVersion, decision: Decision, audit: AuditLog) -> None:
    """The decision into the audit log, then onto the version: a JSON artifact and a tag."""
    # The copies in MLflow are the audit record's payload: masked exactly as the audit log is.
    written = dict(audit.append(actor=decision.actor, action="decision", subject=str(decision.agent), payload=decision.to_dict()).payload)
    brief = {k: written[k] for k in ("id", "outcome", "at", "actor", "config_hash", "summary")}
    with mlflow_errors(f"recording decision {decision.id} on {decision.agent}"), quiet():
        if version.run_id:
            brief["artifact"] = f"runs:/{version.run_id}/decisions/{decision.id}.json"
            client.log_dict(version.run_id, written, f"decisions/{decision.id}.json")
        client.set_model_version_tag(version.name, str(version.version), f"{TAG_GATE}{decision.target.value}", json.dumps(brief))


def acceptances(version: AgentVersion, policies: Sequence[str], actor: str, *, audit: AuditLog | None) -> dict[str, str]:
    if not policies:
        return {}
    registrant = version.lineage.get("registered_by")
    if registrant == actor:
        if audit is not None:
            audit.append(actor=actor, action="acceptance.refused", subject=str(version.ref), payload={"policies": list(policies), "reason": "the registrant may not accept"})
        raise AcceptanceRefused(
            f"{actor} registered {version.ref} and may not accept its inconclusive verdicts ({', '.join(policies)})",
            hint="ask another person to run the promotion with --accept-inconclusive",
        )
    return dict.fromkeys(policies, actor)


def finish(prepared: Prepared, *, audit: AuditLog, plugins: PluginManager) -> stages.StagePlan:
    """Apply a prepared, recorded promotion; or announce the block and raise :class:`PromotionBlocked`."""
    from agentgov.core.events import publish

    decision = prepared.decision
    if not prepared.recorded:
        raise StageChangeRefused(f"decision {decision.id} was a dry run; it cannot move a stage")
    if not decision.allowed:
        kind = EventKind.NEEDS_REVIEW if decision.outcome is Outcome.NEEDS_REVIEW else EventKind.BLOCKED
        publish(Event(kind, decision.agent, decision.actor, {"to": decision.target.value, "summary": decision.summary}, decision.id), audit=audit, plugins=plugins)
        raise PromotionBlocked(decision)
    return stages.apply(prepared.client, prepared.plan, decision, audit=audit, plugins=plugins)


def rollback(config: Config, name: str, *, actor: str, audit: AuditLog, plugins: PluginManager) -> tuple[stages.StagePlan, Decision]:
    """Put ``previous-production`` back in production in one step.

    A rollback restores the version that held production before, so it is not
    held back by policies (a change freeze must not stop it); its decision
    says so and is recorded like any other.
    """
    client = connect(config)
    stages.finish_interrupted(client, name, audit=audit)
    plan = stages.plan_rollback(name, aliases(client, name))
    ref = AgentRef(name, version=plan.version)
    version = get(client, ref)
    decision = Decision(
        agent=ref,
        target=Stage.PRODUCTION,
        outcome=Outcome.ALLOWED,
        results=(),
        actor=actor,
        config_hash="",
        summary=f"rollback: v{plan.version} held production before; rollbacks are not gated",
    )
    record(client, version, decision, audit)
    return finish(Prepared(client, plan, decision, version, recorded=True), audit=audit, plugins=plugins), decision
