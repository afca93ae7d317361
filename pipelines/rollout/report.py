"""What ``agentgov rollout status`` shows: the committed state, the routing, and the step's analysis now."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentgov.pipelines.rollout import traffic
from agentgov.pipelines.rollout.state import (
    ENTERING,
    INCONCLUSIVE,
    OBSERVING,
    PAUSED,
    RUNNING,
    RolloutError,
    read_state,
)

if TYPE_CHECKING:
    from agentgov.pipelines.rollout.controller import Context


def report(ctx: Context, name: str) -> dict[str, Any]:
    """``{"rollout", "step", "routing", "analysis", "waiting_for"}``: the analysis is computed now from the log."""
    from agentgov.pipelines.rollout.analysis import analyse_step

    state = read_state(ctx.client, name)
    if state is None:
        raise RolloutError(f"{name} has no rollout", hint=f"start one: agentgov rollout start {name} VERSION")
    step = state.current_step
    analysis: dict[str, Any] | None = None
    if (
        state.status in (RUNNING, PAUSED)
        and step is not None
        and step["kind"] != "production"
        and state.phase == OBSERVING
    ):
        analysis = analyse_step(ctx.config.home, state).to_dict()
    elif state.last_analysis:
        analysis = state.last_analysis
    if state.status == RUNNING and state.phase == ENTERING:
        waiting = f"the controller to put v{state.candidate} in {step['kind'] if step else '?'} through the gate and set the traffic"
    elif state.status == RUNNING:
        waiting = (analysis or {}).get("waiting_for", "the controller")
    elif state.status == PAUSED:
        how = f"`agentgov rollout resume {name} --accept` or `agentgov rollout abort {name}`"
        if state.reason != INCONCLUSIVE:
            how = f"`agentgov rollout resume {name}` or `agentgov rollout abort {name}`"
        waiting = f"a person ({state.detail}): {how}"
    else:
        waiting = f"nothing: the rollout ended ({state.status}: {state.detail})"
    return {
        "rollout": state.to_dict(),
        "step": state.describe_step(),
        "routing": traffic.routing(ctx.config, ctx.client, name),
        "analysis": analysis,
        "waiting_for": waiting,
    }
