"""Stage changes: the one way an agent version moves.

A stage is held twice in MLflow: as an alias (``shadow``, ``canary``,
``production``, plus ``previous-production`` for one-step rollback) and as the
``agentgov.stage`` tag on every version, so the MLflow UI shows both. A change
needs an allowing decision from the gate, happens under the agent's promotion
lock, and only if the aliases are still what they were when the decision was
made (compare-and-set); otherwise it is a :class:`Conflict`.

MLflow has no transactions, so a move is written ahead: its plan goes into the
``agentgov.move.pending`` tag of the registered model before any alias or
stage tag changes, and is removed once the move is in the audit log. A crash
in between leaves that intent behind; the next stage move of the agent (or
``agentgov doctor --repair``) finishes it under the lock and records
``stage.recovered``, so no crash leaves two versions in one stage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentgov.core.audit import AuditLog
from agentgov.core.crashpoints import reached
from agentgov.core.types import AgentRef, Decision, Event, EventKind, Stage
from agentgov.registry.errors import Conflict, StageChangeRefused
from agentgov.registry.lock import promotion_lock
from agentgov.registry.model import (
    PREVIOUS_PRODUCTION,
    STAGE_ALIASES,
    TAG_DECISION,
    TAG_PENDING_MOVE,
    TAG_STAGE,
    AgentVersion,
)
from agentgov.registry.store import agent_models, aliases, mlflow_errors

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from agentgov.core.plugins import PluginManager


@dataclass(frozen=True)
class StagePlan:
    """What a stage change will do, computed from the aliases it expects to find."""

    agent: str
    version: int
    source: Stage | None
    target: Stage
    rollback: bool
    aliases_before: dict[str, int]
    aliases_after: dict[str, int]
    stage_updates: dict[int, Stage] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "version": self.version,
            "from": self.source.value if self.source else None,
            "to": self.target.value,
            "rollback": self.rollback,
            "aliases_before": self.aliases_before,
            "aliases_after": self.aliases_after,
            "stage_updates": {str(v): s.value for v, s in self.stage_updates.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StagePlan:
        return cls(
            agent=str(data["agent"]),
            version=int(data["version"]),
            source=Stage.parse(data["from"]) if data.get("from") else None,
            target=Stage.parse(data["to"]),
            rollback=bool(data["rollback"]),
            aliases_before={str(a): int(v) for a, v in data["aliases_before"].items()},
            aliases_after={str(a): int(v) for a, v in data["aliases_after"].items()},
            stage_updates={int(v): Stage.parse(s) for v, s in data["stage_updates"].items()},
        )


def plan_promotion(version: AgentVersion, target: Stage, current: dict[str, int]) -> StagePlan:
    """The aliases and stage tags after moving ``version`` forward to ``target``."""
    if not version.usable:
        raise StageChangeRefused(f"{version.ref} is not usable (status {version.status}); register it again")
    source = version.stage or Stage.CANDIDATE
    if target is Stage.CANDIDATE or target.rank <= source.rank:
        raise StageChangeRefused(
            f"{version.ref} is in {source.value}; it can only move forward "
            f"({' -> '.join(s.value for s in Stage)}); use `agentgov rollback` to go back"
        )
    after = {a: v for a, v in current.items() if not (v == version.version and a in STAGE_ALIASES.values())}
    updates: dict[int, Stage] = {version.version: target}
    if target in STAGE_ALIASES:
        alias = STAGE_ALIASES[target]
        displaced = current.get(alias)
        if displaced is not None and displaced != version.version:
            updates[displaced] = Stage.ARCHIVED
            if target is Stage.PRODUCTION:
                after[PREVIOUS_PRODUCTION] = displaced
        after[alias] = version.version
    if target is Stage.ARCHIVED and after.get(PREVIOUS_PRODUCTION) == version.version:
        del after[PREVIOUS_PRODUCTION]
    return StagePlan(version.name, version.version, source, target, False, dict(current), after, updates)


def plan_rollback(name: str, current: dict[str, int]) -> StagePlan:
    """Restore ``previous-production`` to production; the rolled-back version is archived."""
    previous = current.get(PREVIOUS_PRODUCTION)
    if previous is None:
        raise StageChangeRefused(f"{name} has no previous-production version to roll back to")
    after = dict(current)
    del after[PREVIOUS_PRODUCTION]
    after["production"] = previous
    updates = {previous: Stage.PRODUCTION}
    if (rolled_back := current.get("production")) is not None:
        updates[rolled_back] = Stage.ARCHIVED
    return StagePlan(name, previous, Stage.ARCHIVED, Stage.PRODUCTION, True, dict(current), after, updates)


def apply(
    client: MlflowClient,
    plan: StagePlan,
    decision: Decision,
    *,
    audit: AuditLog,
    plugins: PluginManager,
) -> StagePlan:
    """Make the planned change, if the gate allowed it and nobody changed the stages since."""
    from agentgov.core.events import publish

    ref = AgentRef(plan.agent, version=plan.version)
    if not decision.allowed:
        raise StageChangeRefused(f"the gate {decision.outcome.value} moving {ref} to {plan.target.value} (decision {decision.id})")
    if decision.agent != ref or decision.target is not plan.target:
        raise StageChangeRefused(f"decision {decision.id} is about {decision.agent} -> {decision.target.value}, not {ref} -> {plan.target.value}")

    with promotion_lock(client, plan.agent):
        recover(client, plan.agent, audit=audit)
        now = aliases(client, plan.agent)
        if now != plan.aliases_before:
            audit.append(
                actor=decision.actor,
                action="stage.conflict",
                subject=str(ref),
                payload={"expected": plan.aliases_before, "found": now, "to": plan.target.value, "decision_id": decision.id},
            )
            raise Conflict(
                f"the stages of {plan.agent} changed while this promotion was being decided "
                f"(expected {_describe(plan.aliases_before)}, found {_describe(now)})",
                hint="nothing was changed; run the promotion again to decide against the new state",
            )
        with mlflow_errors(f"reading the stages of {plan.agent}"):
            stage_before = {
                v: AgentVersion.from_mlflow(client.get_model_version(plan.agent, str(v))).stage for v in plan.stage_updates
            }
            intent = {"plan": plan.to_dict(), "decision_id": decision.id, "actor": decision.actor}
            client.set_registered_model_tag(plan.agent, TAG_PENDING_MOVE, json.dumps(intent))
        reached("stage.after-intent")
        try:
            _write(client, plan.agent, plan.aliases_before, plan.aliases_after, plan.stage_updates, decision.id)
        except BaseException:
            _restore(client, plan, stage_before)
            _forget_intent(client, plan.agent)
            raise
        reached("stage.after-tags")
        _record_change(audit, decision.actor, plan, decision.id)
        reached("stage.after-audit")
        with mlflow_errors(f"finishing the stage move of {plan.agent}"):
            client.delete_registered_model_tag(plan.agent, TAG_PENDING_MOVE)
    kind = EventKind.ROLLED_BACK if plan.rollback else EventKind.PROMOTED
    publish(
        Event(kind, ref, decision.actor, {"from": plan.source.value if plan.source else None, "to": plan.target.value}, decision.id),
        audit=audit,
        plugins=plugins,
    )
    return plan


def pending_move(client: MlflowClient, name: str) -> dict[str, Any] | None:
    """The intent of a stage move that was begun and not finished, if any."""
    with mlflow_errors(f"agent {name}"):
        raw = (client.get_registered_model(name).tags or {}).get(TAG_PENDING_MOVE)
    return json.loads(raw) if raw else None


def finish_interrupted(client: MlflowClient, name: str, *, audit: AuditLog, wait: float = 60.0) -> str | None:
    """If a crash interrupted a stage move of ``name``, finish it under the lock; what was done, or ``None``.

    Called before a move is planned, so it is planned against the stages as
    they really are. :class:`Conflict` when another process holds the lock for
    over ``wait`` seconds.
    """
    if pending_move(client, name) is None:
        return None
    with promotion_lock(client, name, wait=wait):
        return recover(client, name, audit=audit)


def finish_every_interrupted(client: MlflowClient, *, audit: AuditLog, wait: float = 2.0) -> list[str]:
    """Finish the stage moves a crash interrupted, of every agent in the registry; what was done.

    A control plane does this as it starts, so the command that follows a
    crash finds the registry whole. An agent whose lock another live process
    holds (for longer than ``wait`` seconds) is left to its next promotion.
    """
    done = []
    for model in agent_models(client):
        if TAG_PENDING_MOVE not in (model.tags or {}):
            continue
        try:
            outcome = finish_interrupted(client, model.name, audit=audit, wait=wait)
        except Conflict:
            continue
        if outcome:
            done.append(outcome)
    return done


def recover(client: MlflowClient, name: str, *, audit: AuditLog) -> str | None:
    """Finish a stage move that a crash interrupted; call under the promotion lock. What was done, or ``None``.

    The move was allowed and its decision recorded before it began, so it is
    completed when the aliases are all as it left them (each still as before,
    or already as after). If someone changed them since, it is abandoned:
    nothing is guessed, the intent is cleared and ``agentgov doctor`` reports
    what still disagrees.
    """
    intent = pending_move(client, name)
    if intent is None:
        return None
    plan = StagePlan.from_dict(intent["plan"])
    decision_id, actor = str(intent["decision_id"]), str(intent.get("actor") or "agentgov")
    found = aliases(client, name)
    ours = all(
        found.get(alias) in (plan.aliases_before.get(alias), plan.aliases_after.get(alias))
        for alias in {*found, *plan.aliases_before, *plan.aliases_after}
    )
    if ours:
        _write(client, name, found, plan.aliases_after, plan.stage_updates, decision_id)
        if not _recorded(audit, decision_id):
            _record_change(audit, actor, plan, decision_id, recovered=True)
        outcome = "completed"
    else:
        outcome = "abandoned"
    ref = AgentRef(name, version=plan.version)
    audit.append(
        actor="agentgov",
        action="stage.recovered",
        subject=str(ref),
        payload={"decision_id": decision_id, "outcome": outcome, "to": plan.target.value, "found": found, "interrupted_by": actor},
    )
    with mlflow_errors(f"clearing the interrupted stage move of {name}"):
        client.delete_registered_model_tag(name, TAG_PENDING_MOVE)
    return f"{outcome} the interrupted move of {ref} to {plan.target.value} (decision {decision_id})"


def _recorded(audit: AuditLog, decision_id: str) -> bool:
    return any(r.action == "stage.change" and r.payload.get("decision_id") == decision_id for r in audit.records())


def _record_change(audit: AuditLog, actor: str, plan: StagePlan, decision_id: str, *, recovered: bool = False) -> None:
    payload = {**plan.to_dict(), "decision_id": decision_id}
    if recovered:
        payload["recovered"] = True
    audit.append(actor=actor, action="stage.change", subject=str(AgentRef(plan.agent, version=plan.version)), payload=payload)


def _write(client: MlflowClient, name: str, before: dict[str, int], after: dict[str, int], stages: dict[int, Stage], decision_id: str | None) -> None:
    with mlflow_errors(f"changing the stages of {name}"):
        for alias, version in after.items():
            if before.get(alias) != version:
                client.set_registered_model_alias(name, alias, str(version))
        for alias in before.keys() - after.keys():
            client.delete_registered_model_alias(name, alias)
        reached("stage.after-aliases")
        for version, stage in stages.items():
            client.set_model_version_tag(name, str(version), TAG_STAGE, stage.value)
            if decision_id:
                client.set_model_version_tag(name, str(version), f"{TAG_DECISION}{stage.value}", decision_id)


def _restore(client: MlflowClient, plan: StagePlan, stage_before: dict[int, Stage | None]) -> None:
    """Best effort: put aliases and stage tags back as they were."""
    try:
        current = aliases(client, plan.agent)
        restore = {v: s for v, s in stage_before.items() if s is not None}
        _write(client, plan.agent, current, plan.aliases_before, restore, None)
    except Exception:
        pass  # `agentgov doctor` reports what is still out of line


def _forget_intent(client: MlflowClient, name: str) -> None:
    """Best effort, after a failed move was undone: it must not be completed later."""
    try:
        client.delete_registered_model_tag(name, TAG_PENDING_MOVE)
    except Exception:
        pass  # the next writer finds the aliases as before and completes nothing it should not: see recover()


def _describe(current: dict[str, int]) -> str:
    return ", ".join(f"{a}=v{v}" for a, v in sorted(current.items())) or "no stage aliases"
