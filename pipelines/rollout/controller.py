"""The rollout controller: a reconciler that reads the committed state, acts idempotently, then commits.

One :func:`tick` does one thing at most:

* ``running``/``entering``: put the candidate in the step's stage (through the
  gate, with the step's policy parameters) and set the step's traffic
  (mirror share or canary weight); then commit ``observing``. Every action
  checks first whether it is already done, so a controller killed anywhere in
  between repeats nothing when it comes back. The production step moves the
  candidate to production through the gate and ends the rollout ``succeeded``.
* ``running``/``observing``: analyse the step's traffic
  (:mod:`agentgov.pipelines.rollout.analysis`); a ``fail`` rolls back; a pass
  (with the step's minimum requests and minutes) records the step in the audit
  log, puts the step's statistics on the candidate (``agentgov.rollout``, which
  the gate's ``shadow-agreement`` policy reads) and commits the next step;
  ``inconclusive`` waits, and after ``max_minutes`` pauses for a person. It
  never advances or rolls back on an inconclusive result by itself.
* ``paused``: nothing; ``rollout resume [--accept]`` or ``abort`` decides.
* ended with ``phase = cleanup``: finish the clean-up (traffic to zero, the
  candidate out of shadow/canary, production restored if the candidate held
  it), then commit ``done``.

Writes are compare-and-set on the state's generation
(:mod:`agentgov.pipelines.rollout.state`): a person's pause, abort or
emergency rollback from another machine wins, and the controller, finding the
state changed, reads it again. Stage moves go only through the gate and
:mod:`agentgov.registry.stages` (write-ahead intent, alias compare-and-set),
so at most one version is ever in production.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from agentgov.core.crashpoints import reached
from agentgov.core.types import AgentRef, Decision, Event, EventKind, Outcome, Stage, utcnow
from agentgov.pipelines.rollout import traffic
from agentgov.pipelines.rollout.state import (
    ABORTED,
    CLEANUP,
    DONE,
    ENTERING,
    INCONCLUSIVE,
    OBSERVING,
    PAUSED,
    ROLLED_BACK,
    SUCCEEDED,
    RolloutError,
    RolloutState,
    StaleState,
    read_state,
    write_state,
)

if TYPE_CHECKING:
    from agentgov.core.audit import AuditLog
    from agentgov.core.config import Config
    from agentgov.core.plugins import PluginManager

STEP_STAGE = {"shadow": Stage.SHADOW, "canary": Stage.CANARY, "production": Stage.PRODUCTION}
CONTROLLER = "agentgov-rollout"
MOVED_OUTSIDE = "moved outside the rollout"


@dataclass
class Context:
    """What the controller works with: the configuration, the plugins, the audit log, one MLflow client."""

    config: Config
    plugins: PluginManager
    audit: AuditLog

    @cached_property
    def client(self) -> Any:
        from agentgov.registry.backend import connect

        return connect(self.config)

    @classmethod
    def load(cls) -> Context:
        from agentgov.core.config import load_config
        from agentgov.core.home import Home
        from agentgov.core.plugins import load_plugins

        config = load_config()
        plugins = load_plugins(config)
        return cls(config, plugins, Home.configured(config, plugins).audit_log)


# -- the reconciler ---------------------------------------------------------------------------------------------


def tick(ctx: Context, name: str, *, now: datetime | None = None) -> RolloutState:
    """One reconciling pass; the state after it (unchanged when the controller is waiting)."""
    state = _read(ctx, name)
    if state.terminal:
        return _cleanup(ctx, state) if state.phase == CLEANUP else state
    if state.status == PAUSED:
        return state
    step = state.current_step
    if step is None:
        raise RolloutError(f"the rollout of {name} is at step {state.step + 1} of a plan with {len(state.steps)} steps")
    if state.phase == ENTERING:
        return _enter(ctx, state, step)
    return _observe(ctx, state, step, now=now)


def drive(
    ctx: Context, name: str, *, poll_s: float = 5.0, on_tick: Callable[[RolloutState], None] | None = None
) -> RolloutState:
    """Tick until the rollout ends or pauses for a person; the state it stopped at."""
    from agentgov.registry.errors import RegistryUnavailable

    while True:
        try:
            before = _read(ctx, name)
            state = tick(ctx, name)
        except StaleState:
            continue  # someone else wrote: read again, decide again
        except RegistryUnavailable as exc:
            # The shared registry stopped answering: nothing was committed, so the next tick redoes this one.
            logging.getLogger("agentgov.rollout").warning("rollout of %s: %s; trying again", name, exc)
            time.sleep(poll_s)
            continue
        if on_tick is not None:
            on_tick(state)
        if (state.terminal and state.phase == DONE) or state.status == PAUSED:
            return state
        if state.generation == before.generation:
            time.sleep(poll_s)  # nothing changed: wait for traffic


def _enter(ctx: Context, state: RolloutState, step: dict[str, Any]) -> RolloutState:
    target = STEP_STAGE[step["kind"]]
    outcome = _ensure_stage(ctx, state, target)
    if outcome is not None:
        return outcome
    reached("rollout.after-stage")
    if step["kind"] == "production":
        traffic.forget_traffic(ctx.config, ctx.client, state.agent, state.id)
        done = _commit(
            ctx, state, status=SUCCEEDED, phase=DONE, reason=None, detail=f"v{state.candidate} is in production"
        )
        _record(ctx, done, "rollout.succeeded", state.started_by, production=state.candidate, previous=state.baseline)
        return done
    if step["kind"] == "shadow":
        traffic.set_traffic(
            ctx.config,
            ctx.client,
            state.agent,
            state.id,
            canary_weight=0.0,
            mirror_share=float(step.get("mirror", 1.0)),
        )
    else:
        traffic.set_traffic(
            ctx.config, ctx.client, state.agent, state.id, canary_weight=float(step["percent"]) / 100, mirror_share=0.0
        )
    reached("rollout.after-traffic-set")
    entered = _commit(ctx, state, phase=OBSERVING, detail=f"{_step_name(step)}: collecting traffic")
    _record(ctx, entered, "rollout.step_entered", state.started_by, step=_step_name(step), index=state.step)
    return entered


def _observe(ctx: Context, state: RolloutState, step: dict[str, Any], *, now: datetime | None) -> RolloutState:
    from agentgov.pipelines.rollout.analysis import FAIL, PASS, analyse_step

    analysis = analyse_step(ctx.config.home, state, now=now)
    accepted = (
        state.accept.get("by") if state.accept.get("step") == state.step and not state.accept.get("policies") else None
    )
    if analysis.verdict == FAIL:
        return _end(
            ctx,
            state,
            ROLLED_BACK,
            analysis.waiting_for.removeprefix("nothing: "),
            actor=CONTROLLER,
            reason="analysis failed",
            analysis=analysis.to_dict(),
        )
    if analysis.verdict == PASS or accepted:
        return _advance(ctx, state, analysis, accepted_by=accepted)
    clock = max(
        datetime.fromisoformat(state.step_started_at),
        datetime.fromisoformat(state.resumed_at) if state.resumed_at else datetime.min.replace(tzinfo=utcnow().tzinfo),
    )
    waited = ((now or utcnow()) - clock).total_seconds() / 60
    if waited >= float(step.get("max_minutes", 1440)):
        paused = _commit(
            ctx,
            state,
            status=PAUSED,
            reason=INCONCLUSIVE,
            last_analysis=analysis.to_dict(),
            detail=f"inconclusive after {waited:.1f} min (max_minutes {float(step.get('max_minutes', 1440)):g}): {analysis.waiting_for}",
        )
        _record(ctx, paused, "rollout.paused", CONTROLLER, reason=INCONCLUSIVE, analysis=analysis.to_dict())
        return paused
    return state


def _advance(ctx: Context, state: RolloutState, analysis: Any, *, accepted_by: str | None) -> RolloutState:
    import json

    from agentgov.core.events import publish
    from agentgov.registry.model import TAG_ROLLOUT
    from agentgov.registry.store import mlflow_errors

    stats = analysis.rollout_stats()
    stats["report"] = f"rollout {state.id} step {state.step + 1} ({analysis.kind})"
    with mlflow_errors(f"recording the rollout statistics of {state.agent}/{state.candidate}"):
        ctx.client.set_model_version_tag(state.agent, str(state.candidate), TAG_ROLLOUT, json.dumps(stats, default=str))
    step = state.current_step or {}
    advanced = _commit(
        ctx,
        state,
        step=state.step + 1,
        phase=ENTERING,
        step_started_at=utcnow().isoformat(),
        resumed_at="",
        accept={},
        last_analysis=analysis.to_dict(),
        detail=f"{_step_name(step)} {'accepted by ' + accepted_by if accepted_by else 'passed'}",
    )
    publish(
        Event(
            EventKind.ROLLOUT_STEP,
            AgentRef(state.agent, version=state.candidate),
            accepted_by or CONTROLLER,
            {
                "rollout": state.id,
                "step": _step_name(step),
                "index": state.step,
                "verdict": "accepted" if accepted_by else analysis.verdict,
                "accepted_by": accepted_by,
                "analysis": analysis.to_dict(),
            },
        ),
        audit=ctx.audit,
        plugins=ctx.plugins,
    )
    return advanced


def _ensure_stage(ctx: Context, state: RolloutState, target: Stage) -> RolloutState | None:
    """Put the candidate in ``target`` through the gate; ``None`` once it is there, else the state the gate led to."""
    from agentgov.pipelines.promotion import AcceptanceRefused, PromotionBlocked, finish, prepare
    from agentgov.registry.stages import finish_interrupted
    from agentgov.registry.store import get

    ref = AgentRef(state.agent, version=state.candidate)
    finish_interrupted(
        ctx.client, state.agent, audit=ctx.audit
    )  # a move a killed controller began is finished, not redone
    current = get(ctx.client, ref).stage or Stage.CANDIDATE
    if current is target:
        return None
    if current is Stage.ARCHIVED or current.rank > target.rank:
        return _end(
            ctx,
            state,
            ABORTED,
            f"{ref} was moved to {current.value} outside the rollout",
            actor=CONTROLLER,
            reason=MOVED_OUTSIDE,
        )
    accepting = state.accept.get("policies") if state.accept.get("step") == state.step else None
    actor = state.accept.get("by") if accepting else state.started_by
    try:
        prepared = prepare(
            _gate_config(ctx.config, state, target),
            ref,
            target,
            actor=actor,
            audit=ctx.audit,
            plugins=ctx.plugins,
            accept_inconclusive=accepting or (),
        )
    except AcceptanceRefused as refused:  # checked at resume; the registry may have changed since
        paused = _commit(
            ctx, state, status=PAUSED, reason=INCONCLUSIVE, accept={"needed": accepting}, detail=str(refused)
        )
        _record(ctx, paused, "rollout.paused", CONTROLLER, reason=INCONCLUSIVE, refused=str(refused))
        return paused
    try:
        finish(prepared, audit=ctx.audit, plugins=ctx.plugins)
    except PromotionBlocked as blocked:
        decision = blocked.decision
        if decision.outcome is Outcome.NEEDS_REVIEW:
            needed = [
                r.policy
                for r in decision.results
                if r.counts and r.status.value == INCONCLUSIVE and r.policy not in decision.accepted
            ]
            paused = _commit(
                ctx,
                state,
                status=PAUSED,
                reason=INCONCLUSIVE,
                accept={"needed": needed},
                detail=f"the gate to {target.value} needs review: {decision.summary} (decision {decision.id})",
            )
            _record(
                ctx, paused, "rollout.paused", CONTROLLER, reason=INCONCLUSIVE, decision=decision.id, policies=needed
            )
            return paused
        return _end(
            ctx,
            state,
            ROLLED_BACK,
            f"the gate to {target.value} {decision.summary} (decision {decision.id})",
            actor=CONTROLLER,
            reason="gate blocked",
        )
    return None


def _gate_config(config: Config, state: RolloutState, target: Stage) -> Config:
    """The configuration with the plan's policy parameters for this move: those of the step that just ended,
    whose traffic is the evidence (entering the first step, the configuration's own)."""
    if state.step == 0:
        return config
    analysis = state.steps[state.step - 1].get("analysis") or {}
    policies = {name: dict(params) for name, params in (analysis.get("policies") or {}).items()}
    if target in (Stage.CANARY, Stage.PRODUCTION) and analysis.get("shadow_agreement") is not None:
        policies.setdefault("shadow-agreement", {}).setdefault("min_agreement", analysis["shadow_agreement"])
    if analysis.get("drift"):
        policies.setdefault("drift-within-limits", {})
    if not policies:
        return config
    table = dict(config.stages.get(target, {}))
    configured = {name: dict(settings) for name, settings in (table.get("policies") or {}).items()}
    for name, params in policies.items():
        configured[name] = {**configured.get(name, {}), **params}
    return replace(config, stages={**config.stages, target: {**table, "policies": configured}})


# -- ending: decide first, then clean up ---------------------------------------------------------------------


def _end(
    ctx: Context,
    state: RolloutState,
    status: str,
    detail: str,
    *,
    actor: str,
    reason: str,
    analysis: dict[str, Any] | None = None,
    force: bool = False,
) -> RolloutState:
    if state.terminal and not force:
        raise RolloutError(
            f"the rollout of {state.agent} has ended ({state.status}): nothing to {'abort' if status == ABORTED else 'roll back'}"
        )
    while True:
        try:
            ended = write_state(
                ctx.client,
                replace(
                    state,
                    status=status,
                    phase=CLEANUP,
                    reason=reason,
                    detail=detail,
                    last_analysis=analysis or state.last_analysis,
                ),
                expected=state.generation,
                actor=actor,
            )
            break
        except StaleState:
            if not force:
                raise
            state = _read(ctx, state.agent)  # an emergency rollback wins whatever was written meanwhile
    _record(ctx, ended, f"rollout.{status}", actor, reason=reason, detail=detail, analysis=analysis)
    reached("rollout.after-end")
    return _cleanup(ctx, ended)


def _cleanup(ctx: Context, state: RolloutState) -> RolloutState:
    """Idempotent: no traffic to the candidate, the candidate out of shadow and canary, production as before the rollout."""
    from agentgov.pipelines.promotion import rollback
    from agentgov.registry.store import aliases

    traffic.stop_traffic(ctx.config, ctx.client, state.agent, state.id)
    reached("rollout.after-traffic-stop")
    now = aliases(ctx.client, state.agent)
    if state.reason == MOVED_OUTSIDE:
        pass  # a person moved the candidate by hand: the stages are theirs; only the rollout's traffic stops
    elif now.get("production") == state.candidate and state.status != SUCCEEDED:
        if now.get("previous-production") == state.baseline and state.baseline is not None:
            rollback(
                ctx.config, state.agent, actor=state.updated_by or CONTROLLER, audit=ctx.audit, plugins=ctx.plugins
            )
    elif state.candidate in (now.get("shadow"), now.get("canary")):
        _archive(ctx, state)
    traffic.forget_traffic(ctx.config, ctx.client, state.agent, state.id)
    try:
        return write_state(
            ctx.client, replace(state, phase=DONE), expected=state.generation, actor=state.updated_by or CONTROLLER
        )
    except StaleState:
        return _read(ctx, state.agent)


def _archive(ctx: Context, state: RolloutState) -> None:
    """The candidate to archived (its shadow/canary alias goes): ungated, as a rollback is, and recorded."""
    from agentgov.pipelines.promotion import Prepared, finish
    from agentgov.registry import promotion, stages
    from agentgov.registry.store import aliases, get

    ref = AgentRef(state.agent, version=state.candidate)
    version = get(ctx.client, ref)
    stages.finish_interrupted(ctx.client, state.agent, audit=ctx.audit)
    plan = stages.plan_promotion(version, Stage.ARCHIVED, aliases(ctx.client, state.agent))
    decision = Decision(
        agent=ref,
        target=Stage.ARCHIVED,
        outcome=Outcome.ALLOWED,
        results=(),
        actor=state.updated_by or CONTROLLER,
        config_hash="",
        summary=f"rollout {state.id} {state.status.replace('_', ' ')}: the candidate leaves shadow and canary; not gated, as a rollback is not",
    )
    promotion.record(ctx.client, version, decision, ctx.audit)
    finish(Prepared(ctx.client, plan, decision, version, recorded=True), audit=ctx.audit, plugins=ctx.plugins)


# -- small helpers --------------------------------------------------------------------------------------------


def _read(ctx: Context, name: str) -> RolloutState:
    state = read_state(ctx.client, name)
    if state is None:
        raise RolloutError(f"{name} has no rollout", hint=f"start one: agentgov rollout start {name} VERSION")
    return state


def _commit(ctx: Context, state: RolloutState, **changes: Any) -> RolloutState:
    return write_state(ctx.client, replace(state, **changes), expected=state.generation, actor=CONTROLLER)


def _change(ctx: Context, name: str, change: Callable[[RolloutState], RolloutState], actor: str) -> RolloutState:
    for _ in range(20):
        state = _read(ctx, name)
        changed = change(state)
        if changed is state:
            return state
        try:
            return write_state(ctx.client, changed, expected=state.generation, actor=actor)
        except StaleState:
            continue
    raise StaleState(f"the rollout of {name} keeps changing; try again")


def _record(ctx: Context, state: RolloutState, action: str, actor: str, **payload: Any) -> None:
    ctx.audit.append(
        actor=actor,
        action=action,
        subject=f"{state.agent}/{state.candidate}",
        payload={
            "rollout": state.id,
            "status": state.status,
            "step": state.step,
            "generation": state.generation,
            **payload,
        },
    )


def _step_name(step: dict[str, Any] | None) -> str:
    if not step:
        return "-"
    if step["kind"] == "canary":
        return f"canary {step['percent']:g}%"
    return str(step["kind"])
