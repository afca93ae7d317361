"""The rollout controller against real MLflow (sqlite), the real gate and the inference log in the home."""

from __future__ import annotations

from typing import Any

from agentgov.core.types import AgentRef, Stage
from agentgov.pipelines.rollout import actions, controller
from agentgov.pipelines.rollout.state import (
    ABORTED,
    DONE,
    INCONCLUSIVE,
    PAUSED,
    ROLLED_BACK,
    RUNNING,
    SUCCEEDED,
    read_state,
)
from agentgov.registry.store import aliases, get, versions
from tests.pipelines.rollout.conftest import Behaviour, write_traffic


def productions(ctx: Any, name: str) -> list[int]:
    return [v.version for v in versions(ctx.client, name) if v.stage is Stage.PRODUCTION]


def stage_of(ctx: Any, name: str, version: int) -> Stage | None:
    return get(ctx.client, AgentRef(name, version=version)).stage


def story(ctx: Any, name: str, rollout_id: str) -> list[str]:
    """The audit log's actions about this rollout, in order."""
    return [
        r.action
        for r in ctx.audit.records(subject_prefix=name)
        if r.payload.get("rollout") == rollout_id
        or (r.action == "event.rollout-step" and r.payload.get("payload", {}).get("rollout") == rollout_id)
    ]


def test_a_good_candidate_reaches_production(
    ctx: Any, rollout_agent: Any, candidate: int, small_plan: Any, traffic: Any
) -> None:
    name = rollout_agent.name
    before = aliases(ctx.client, name)["production"]
    state = actions.start(ctx, name, candidate, small_plan, actor="alice")
    traffic(name, Behaviour())
    final = controller.drive(ctx, name, poll_s=0.05)

    assert (final.status, final.phase) == (SUCCEEDED, DONE), final.detail
    assert aliases(ctx.client, name)["production"] == candidate
    assert aliases(ctx.client, name)["previous-production"] == before
    assert productions(ctx, name) == [candidate]
    assert "canary" not in aliases(ctx.client, name) and "shadow" not in aliases(ctx.client, name)
    stats = get(ctx.client, AgentRef(name, version=candidate)).tag_json("agentgov.rollout")
    assert stats["step"] == "canary" and stats["requests"] == 300
    recorded = story(ctx, name, state.id)
    assert recorded[0] == "rollout.started" and recorded[-1] == "rollout.succeeded"
    assert recorded.count("event.rollout-step") == 2  # shadow, canary 25%: each passed with its analysis recorded
    steps = [
        r.payload
        for r in ctx.audit.records(subject_prefix=name)
        if r.action == "event.rollout-step" and r.payload["payload"]["rollout"] == state.id
    ]
    shadow = steps[0]["payload"]["analysis"]
    assert {c["check"]: c["verdict"] for c in shadow["checks"]} == {"error_rate": "pass", "shadow_agreement": "pass"}
    assert shadow["counts"] == {"production": 300, "candidate": 300}
    decisions = [
        r.payload
        for r in ctx.audit.records(subject_prefix=name)
        if r.action == "decision" and r.subject == f"{name}/{candidate}"
    ]
    canary_gate = next(d for d in decisions if d["target"] == "canary")
    assert [(r["policy"], r["status"]) for r in canary_gate["results"]] == [("shadow-agreement", "pass")]
    ctx.audit.verify()


def test_a_higher_error_rate_is_rolled_back_with_production_unchanged(
    ctx: Any, rollout_agent: Any, candidate: int, small_plan: Any, traffic: Any
) -> None:
    name = rollout_agent.name
    before = aliases(ctx.client, name)["production"]
    state = actions.start(ctx, name, candidate, small_plan, actor="alice")
    traffic(name, Behaviour(error_every=4))  # 25% errors against none
    final = controller.drive(ctx, name, poll_s=0.05)

    assert (final.status, final.phase, final.reason) == (ROLLED_BACK, DONE, "analysis failed")
    assert "error_rate failed" in final.detail
    assert aliases(ctx.client, name)["production"] == before and productions(ctx, name) == [before]
    assert "shadow" not in aliases(ctx.client, name)
    assert stage_of(ctx, name, candidate) is Stage.ARCHIVED
    from agentgov.pipelines.rollout.traffic import routing

    assert routing(ctx.config, ctx.client, name)["canary_weight"] == 0
    recorded = story(ctx, name, state.id)
    assert (
        recorded[0] == "rollout.started" and "rollout.rolled_back" in recorded and "event.rollout-step" not in recorded
    )
    ended = next(
        r
        for r in ctx.audit.records(subject_prefix=name)
        if r.action == "rollout.rolled_back" and r.payload["rollout"] == state.id
    )
    assert {c["check"]: c["verdict"] for c in ended.payload["analysis"]["checks"]}["error_rate"] == "fail"


def test_same_action_with_other_tool_arguments_is_stopped_at_shadow(
    ctx: Any, rollout_agent: Any, candidate: int, small_plan: Any, traffic: Any
) -> None:
    name = rollout_agent.name
    before = aliases(ctx.client, name)["production"]
    state = actions.start(ctx, name, candidate, small_plan, actor="alice")
    traffic(name, Behaviour(other_args=True))
    final = controller.drive(ctx, name, poll_s=0.05)

    assert (
        final.status == ROLLED_BACK
        and "shadow_agreement failed" in final.detail
        and "different arguments to tickets.route" in final.detail
    )
    assert aliases(ctx.client, name)["production"] == before and productions(ctx, name) == [before]
    assert not any(
        r.action == "decision" and r.subject == f"{name}/{candidate}" and r.payload["target"] == "canary"
        for r in ctx.audit.records(subject_prefix=name)
    )
    assert "rollout.rolled_back" in story(ctx, name, state.id)


def test_too_little_traffic_pauses_inconclusive_and_waits_for_a_person(
    ctx: Any, rollout_agent: Any, candidate: int, monkeypatch: Any
) -> None:
    from agentgov.deploy.plan import parse_plan
    from tests.pipelines.rollout.conftest import SMALL_PLAN

    name = rollout_agent.name
    plan = parse_plan(
        SMALL_PLAN.replace(
            "min_requests = 200\n\n[steps.analysis]", "min_requests = 200\nmax_minutes = 0.01\n\n[steps.analysis]"
        ),
        "short.toml",
    )
    before = aliases(ctx.client, name)["production"]
    state = actions.start(ctx, name, candidate, plan, actor="alice")
    state = controller.tick(ctx, name)  # enters shadow
    write_traffic(ctx, state, 5)  # far too few for any verdict
    import time

    time.sleep(0.8)
    paused = controller.drive(ctx, name, poll_s=0.05)
    assert (paused.status, paused.reason) == (PAUSED, INCONCLUSIVE)
    assert "inconclusive after" in paused.detail and "more candidate requests" in paused.detail
    for _ in range(3):  # it waits: no advance, no rollback, whatever the controller does
        assert controller.tick(ctx, name).generation == paused.generation
    assert stage_of(ctx, name, candidate) is Stage.SHADOW
    assert aliases(ctx.client, name)["production"] == before

    resumed = actions.resume(ctx, name, actor="bob", accept=True)
    assert resumed.status == RUNNING and resumed.accept == {"by": "bob", "step": 0, "policies": []}
    advanced = controller.tick(ctx, name)
    assert advanced.step == 1 and "accepted by bob" in advanced.detail
    accepted = [
        r
        for r in ctx.audit.records(subject_prefix=name)
        if r.action == "event.rollout-step" and r.payload["payload"]["rollout"] == state.id
    ]
    assert accepted[-1].actor == "bob" and accepted[-1].payload["payload"]["verdict"] == "accepted"
    aborted = actions.abort(ctx, name, actor="carol")
    assert (aborted.status, aborted.phase) == (ABORTED, DONE)
    assert aliases(ctx.client, name)["production"] == before and "shadow" not in aliases(ctx.client, name)
    assert read_state(ctx.client, name).updated_by in ("carol", "agentgov-rollout")


def test_a_latency_regression_is_stopped_by_the_gate_into_canary(
    ctx: Any, rollout_agent: Any, candidate: int, small_plan: Any, traffic: Any
) -> None:
    """The shadow step judges errors and agreement; the gate into canary (shadow-agreement with the step's
    parameters, fed by the step's statistics) also judges latency p95, and blocks: rolled back from shadow."""
    name = rollout_agent.name
    before = aliases(ctx.client, name)["production"]
    actions.start(ctx, name, candidate, small_plan, actor="alice")
    traffic(name, Behaviour(latency_ms=180.0))
    final = controller.drive(ctx, name, poll_s=0.05)

    assert (final.status, final.reason, final.step) == (ROLLED_BACK, "gate blocked", 1)
    assert "the gate to canary blocked by shadow-agreement (fail)" in final.detail
    assert aliases(ctx.client, name)["production"] == before and productions(ctx, name) == [before]
    assert "shadow" not in aliases(ctx.client, name) and stage_of(ctx, name, candidate) is Stage.ARCHIVED
    gate = [
        r.payload
        for r in ctx.audit.records(subject_prefix=name)
        if r.action == "decision" and r.subject == f"{name}/{candidate}" and r.payload["target"] == "canary"
    ]
    [result] = gate[-1]["results"]
    assert result["status"] == "fail" and "latency p95" in result["reason"] and "limit 1.2x" in result["reason"]


def test_a_gate_that_needs_review_pauses_until_another_person_accepts(
    ctx: Any, rollout_agent: Any, candidate: int, traffic: Any
) -> None:
    from agentgov.deploy.plan import parse_plan
    from tests.pipelines.rollout.conftest import SMALL_PLAN

    name = rollout_agent.name
    # The step passes at 200 pairs, but the gate into canary wants 1000 for shadow-agreement: inconclusive, needs review.
    plan = parse_plan(
        SMALL_PLAN.replace(
            "[steps.analysis.policies.shadow-agreement]\nmin_requests = 200",
            "[steps.analysis.policies.shadow-agreement]\nmin_requests = 1000",
        ),
        "review.toml",
    )
    actions.start(ctx, name, candidate, plan, actor="alice")
    traffic(name, Behaviour())
    paused = controller.drive(ctx, name, poll_s=0.05)
    assert (paused.status, paused.reason, paused.step) == (PAUSED, INCONCLUSIVE, 1)
    assert "the gate to canary needs review" in paused.detail and paused.accept == {"needed": ["shadow-agreement"]}
    assert stage_of(ctx, name, candidate) is Stage.SHADOW

    import pytest

    from agentgov.registry.promotion import AcceptanceRefused

    with pytest.raises(AcceptanceRefused, match="registered"):  # the registrant may not accept her version's verdicts
        actions.resume(ctx, name, actor="alice", accept=True)
    assert read_state(ctx.client, name).status == PAUSED
    actions.resume(ctx, name, actor="bob", accept=True)
    final = controller.drive(ctx, name, poll_s=0.05)
    assert final.status == SUCCEEDED and aliases(ctx.client, name)["production"] == candidate
    canary = [
        r.payload
        for r in ctx.audit.records(subject_prefix=name)
        if r.action == "decision" and r.subject == f"{name}/{candidate}" and r.payload["target"] == "canary"
    ]
    assert canary[-1]["outcome"] == "allowed" and canary[-1]["accepted"] == {"shadow-agreement": "bob"}


def test_emergency_rollback_after_a_rollout_succeeded_restores_the_version_before(
    ctx: Any, rollout_agent: Any, candidate: int, small_plan: Any, traffic: Any
) -> None:
    name = rollout_agent.name
    before = aliases(ctx.client, name)["production"]
    actions.start(ctx, name, candidate, small_plan, actor="alice")
    traffic(name, Behaviour())
    assert controller.drive(ctx, name, poll_s=0.05).status == SUCCEEDED

    last = max(r.seq for r in ctx.audit.records())
    outcome = actions.emergency_rollback(ctx, name, actor="dave")
    assert outcome["aliases_before"]["production"] == candidate and outcome["aliases_after"]["production"] == before
    ended = read_state(ctx.client, name)  # the rollout's outcome is overturned, and says so; the audit log keeps both
    assert productions(ctx, name) == [before] and (ended.status, ended.reason) == (ROLLED_BACK, "emergency")
    recorded = [r.action for r in ctx.audit.records(subject_prefix=name) if r.actor == "dave" and r.seq > last]
    assert recorded[0] == "rollout.emergency_rollback" and "stage.change" in recorded


def test_a_candidate_moved_by_hand_ends_the_rollout_without_touching_the_stages(
    ctx: Any, rollout_agent: Any, candidate: int, small_plan: Any
) -> None:
    from agentgov.pipelines.promotion import promote

    name = rollout_agent.name
    actions.start(ctx, name, candidate, small_plan, actor="alice")
    state = controller.tick(ctx, name)  # in shadow
    promote(
        ctx.config,
        AgentRef(name, version=candidate),
        Stage.PRODUCTION,
        actor="erin",
        audit=ctx.audit,
        plugins=ctx.plugins,
    )
    write_traffic(ctx, state, 300)
    final = controller.drive(ctx, name, poll_s=0.05)
    assert (final.status, final.reason) == (ABORTED, "moved outside the rollout")
    assert productions(ctx, name) == [candidate] and aliases(ctx.client, name)["production"] == candidate
