"""What people do to a rollout: start it, pause, resume (accepting), abort, roll back in an emergency.

Each is a compare-and-set write of the rollout's state (a controller that
wrote meanwhile makes it read again and decide again) and an audit record
with who did it; ending one cleans up as the controller does
(:func:`agentgov.pipelines.rollout.controller._end`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from agentgov.core.types import AgentRef, Stage, utcnow
from agentgov.pipelines.rollout import traffic
from agentgov.pipelines.rollout.controller import (
    CLEANUP,
    STEP_STAGE,
    Context,
    _change,
    _end,
    _gate_config,
    _read,
    _record,
    _step_name,
)
from agentgov.pipelines.rollout.state import (
    ABORTED,
    INCONCLUSIVE,
    MANUAL,
    PAUSED,
    ROLLED_BACK,
    RUNNING,
    RolloutError,
    RolloutState,
    new_state,
    read_state,
    write_state,
)

if TYPE_CHECKING:
    from agentgov.deploy.plan import RolloutPlan


def start(ctx: Context, name: str, version: int, plan: RolloutPlan, *, actor: str) -> RolloutState:
    """Record a new rollout of ``name``/``version`` (refused while another is running or paused)."""
    from agentgov.registry.errors import StageChangeRefused
    from agentgov.registry.store import aliases, get

    candidate = get(ctx.client, AgentRef(name, version=version))
    if not candidate.usable:
        raise StageChangeRefused(f"{candidate.ref} is not usable (status {candidate.status}); register it again")
    baseline = aliases(ctx.client, name).get("production")
    if baseline == version:
        raise RolloutError(f"{candidate.ref} is already in production: there is nothing to roll out")
    if candidate.stage is Stage.ARCHIVED:
        raise RolloutError(f"{candidate.ref} is archived; register it again to roll it out")
    fresh = new_state(name, version, baseline, plan.to_dict(), actor)
    check_gates(ctx, fresh)
    state = write_state(ctx.client, fresh, expected=None, actor=actor)
    ctx.audit.append(
        actor=actor,
        action="rollout.started",
        subject=str(candidate.ref),
        payload={
            "rollout": state.id,
            "plan": plan.name,
            "steps": [_step_name(s) for s in state.steps],
            "baseline": baseline,
        },
    )
    return state


def check_gates(ctx: Context, state: RolloutState) -> None:
    """Every gate the plan will meet, with the plan's policy parameters, is a valid configuration (checked before starting)."""
    from agentgov.policies.protocol import POLICIES
    from agentgov.policies.settings import stage_policies

    available = ctx.plugins.collect(POLICIES)
    for index, step in enumerate(state.steps):
        target = STEP_STAGE[step["kind"]]
        stage_policies(_gate_config(ctx.config, replace(state, step=index), target), target, available)


def pause(ctx: Context, name: str, *, actor: str) -> RolloutState:
    def change(state: RolloutState) -> RolloutState:
        if state.status != RUNNING:
            raise RolloutError(f"the rollout of {name} is {state.status}, not running: nothing to pause")
        return replace(state, status=PAUSED, reason=MANUAL, detail=f"paused by {actor}")

    state = _change(ctx, name, change, actor)
    _record(ctx, state, "rollout.paused", actor, reason=MANUAL)
    return state


def resume(ctx: Context, name: str, *, actor: str, accept: bool = False) -> RolloutState:
    """Let a paused rollout go on; ``accept``: a person accepts the inconclusive step (or gate) and it advances."""

    def change(state: RolloutState) -> RolloutState:
        if state.terminal and state.phase == CLEANUP and not accept:
            return state  # ended, and its clean-up was interrupted: driving it finishes the clean-up
        if state.terminal:
            raise RolloutError(f"the rollout of {name} has ended ({state.status}): nothing to resume")
        if state.status == RUNNING:
            if accept:
                raise RolloutError(f"the rollout of {name} is running, not waiting for a decision: nothing to accept")
            return state  # a controller that died: just drive it again
        if accept and state.reason != INCONCLUSIVE:
            raise RolloutError(
                f"the rollout of {name} was paused by hand, not on an inconclusive result: resume it without --accept"
            )
        needed = list(state.accept.get("needed", []))
        if accept:  # separation of duties, as at the gate: the registrant accepts neither a step nor a gate
            _check_acceptor(
                ctx, state, needed or [f"rollout step {state.step + 1} ({_step_name(state.current_step)})"], actor
            )
        accepted = {"by": actor, "step": state.step, "policies": needed} if accept else {}
        return replace(
            state,
            status=RUNNING,
            reason=None,
            accept=accepted,
            detail=f"resumed by {actor}",
            resumed_at=utcnow().isoformat(),
        )

    state = _change(ctx, name, change, actor)
    _record(ctx, state, "rollout.resumed", actor, accepted=accept, step=_step_name(state.current_step))
    return state


def _check_acceptor(ctx: Context, state: RolloutState, policies: list[str], actor: str) -> None:
    """The gate's rule, checked before anything changes: whoever registered the version may not accept its verdicts."""
    from agentgov.registry import promotion
    from agentgov.registry.store import get

    version = get(ctx.client, AgentRef(state.agent, version=state.candidate))
    promotion.acceptances(version, policies, actor, audit=ctx.audit)


def abort(ctx: Context, name: str, *, actor: str) -> RolloutState:
    """End the rollout: traffic to the candidate stops and production stays (or is restored) as it was."""
    return _end(ctx, _read(ctx, name), ABORTED, f"aborted by {actor}", actor=actor, reason=MANUAL)


def emergency_rollback(ctx: Context, name: str, *, actor: str) -> dict[str, Any]:
    """Production back at the version before, and no traffic to any candidate, at once; no analysis, always recorded.

    From a rollout in any state (running, paused, stuck, crashed, or just
    ended with the candidate in production) or none: the rollout ends
    ``rolled_back`` and production is its baseline; without a rollout, the
    version in ``previous-production`` returns to production.
    """
    from agentgov.registry.store import aliases

    state = read_state(ctx.client, name)
    before = aliases(ctx.client, name)
    ctx.audit.append(
        actor=actor,
        action="rollout.emergency_rollback",
        subject=name,
        payload={"rollout": state.id if state else None, "status": state.status if state else None, "aliases": before},
    )
    if state is not None and (state.active or state.phase == CLEANUP or before.get("production") == state.candidate):
        state = _end(
            ctx, state, ROLLED_BACK, f"emergency rollback by {actor}", actor=actor, reason="emergency", force=True
        )
    else:
        from agentgov.pipelines.promotion import rollback

        if state is not None:
            traffic.stop_traffic(ctx.config, ctx.client, name, state.id)
        rollback(ctx.config, name, actor=actor, audit=ctx.audit, plugins=ctx.plugins)
        if state is not None:
            traffic.forget_traffic(ctx.config, ctx.client, name, state.id)
    after = aliases(ctx.client, name)
    return {"rollout": state.to_dict() if state else None, "aliases_before": before, "aliases_after": after}
