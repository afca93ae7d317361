"""The rollout state in the registry: compare-and-set on its generation, one active rollout per agent."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from agentgov.pipelines.rollout import actions
from agentgov.pipelines.rollout.state import PAUSED, RolloutError, StaleState, read_state, write_state


def test_a_stale_writer_loses_and_one_rollout_runs_at_a_time(
    ctx: Any, rollout_agent: Any, candidate: int, small_plan: Any
) -> None:
    name = rollout_agent.name
    first = actions.start(ctx, name, candidate, small_plan, actor="alice")
    assert read_state(ctx.client, name) == first and first.generation >= 1

    paused = write_state(
        ctx.client, replace(first, status=PAUSED, reason="manual"), expected=first.generation, actor="bob"
    )
    assert paused.generation == first.generation + 1 and paused.updated_by == "bob"
    with pytest.raises(StaleState):  # a controller that read the state before bob's pause
        write_state(ctx.client, replace(first, step=1), expected=first.generation, actor="agentgov-rollout")
    assert read_state(ctx.client, name).status == PAUSED and read_state(ctx.client, name).step == 0

    with pytest.raises(RolloutError, match="already has a rollout paused"):
        actions.start(ctx, name, candidate, small_plan, actor="alice")
    with pytest.raises(RolloutError, match="paused by hand"):
        actions.resume(ctx, name, actor="carol", accept=True)
    ended = actions.abort(ctx, name, actor="carol")
    assert ended.status == "aborted" and ended.phase == "done"
    with pytest.raises(RolloutError, match="has ended"):
        actions.abort(ctx, name, actor="carol")
