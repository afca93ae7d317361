from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from agentgov.core import (
    AgentRef,
    Approval,
    Decision,
    Event,
    EventKind,
    InvalidValue,
    Outcome,
    PolicyResult,
    PolicyStatus,
    Stage,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("support-router", AgentRef("support-router")),
        ("support-router/3", AgentRef("support-router", version=3)),
        ("support-router@production", AgentRef("support-router", stage=Stage.PRODUCTION)),
        ("  triage@Shadow ", AgentRef("triage", stage=Stage.SHADOW)),
    ],
)
def test_agent_ref_parses_the_forms_people_type(text: str, expected: AgentRef) -> None:
    assert AgentRef.parse(text) == expected


@pytest.mark.parametrize("ref", ["support-router", "support-router/3", "support-router@canary"])
def test_agent_ref_round_trips_through_str_and_dict(ref: str) -> None:
    parsed = AgentRef.parse(ref)
    assert str(parsed) == ref
    assert AgentRef.from_dict(parsed.to_dict()) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Support_Router", "invalid agent name"),
        ("-router", "invalid agent name"),
        ("router/x", "invalid version"),
        ("router/0", "invalid version"),
        ("router@staging", "unknown stage 'staging': expected one of candidate, shadow, canary, production, archived"),
        ("", "invalid agent name"),
    ],
)
def test_agent_ref_rejects_malformed_references_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(InvalidValue, match=message.replace("(", r"\(")):
        AgentRef.parse(text)


def test_agent_ref_cannot_name_both_version_and_stage() -> None:
    with pytest.raises(InvalidValue, match="both a version and a stage"):
        AgentRef("router", version=1, stage=Stage.CANARY)


def test_stages_are_ordered_for_promotion() -> None:
    assert [s.value for s in sorted(Stage, key=lambda s: s.rank)] == [
        "candidate", "shadow", "canary", "production", "archived",
    ]


def test_only_fail_and_error_block() -> None:
    assert {s for s in PolicyStatus if s.blocks} == {PolicyStatus.FAIL, PolicyStatus.ERROR}


def test_policy_result_is_frozen_including_its_metrics() -> None:
    result = PolicyResult("eval-thresholds", "pass", "ok", evidence=["a.json"], metrics={"success": 0.9})
    assert result.status is PolicyStatus.PASS
    assert result.evidence == ("a.json",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.reason = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.metrics["success"] = 0.1  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "maybe"}, "unknown policy status 'maybe'"),
        ({"reason": 3}, "reason must be a string"),
        ({"evidence": "a.json"}, "evidence must be a sequence of strings"),
        ({"metrics": {"x": "high"}}, "metric 'x' must be a number"),
        ({"metrics": {"x": True}}, "metric 'x' must be a number"),
    ],
)
def test_policy_result_rejects_nonsense(kwargs: dict, message: str) -> None:
    fields = {"policy": "p", "status": "pass", "reason": "r", **kwargs}
    with pytest.raises(InvalidValue, match=message):
        PolicyResult(**fields)


def _decision() -> Decision:
    return Decision(
        agent=AgentRef("router", version=2),
        target=Stage.PRODUCTION,
        outcome=Outcome.BLOCKED,
        results=(PolicyResult("lineage-complete", PolicyStatus.FAIL, "dirty tree", metrics={"dirty_files": 2}),),
        actor="alice",
        config_hash="abc",
    )


def test_decision_round_trips_and_knows_whether_it_allows() -> None:
    decision = _decision()
    assert not decision.allowed
    assert Decision.from_dict(decision.to_dict()) == decision


def test_decision_and_approval_need_a_version() -> None:
    with pytest.raises(InvalidValue, match="one version"):
        dataclasses.replace(_decision(), agent=AgentRef("router"))
    with pytest.raises(InvalidValue, match="one version"):
        Approval(AgentRef("router"), Stage.PRODUCTION, "bob")


def test_approval_expires_and_round_trips() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    approval = Approval(AgentRef("router", version=1), "production", "bob", "looks good", at=at, expires_at=at + timedelta(days=1))
    assert not approval.expired(now=at + timedelta(hours=23))
    assert approval.expired(now=at + timedelta(days=1))
    assert Approval.from_dict(approval.to_dict()) == approval


def test_event_round_trips_and_its_payload_is_read_only() -> None:
    event = Event(EventKind.PROMOTED, AgentRef("router", version=1), "alice", {"to": "shadow"}, decision_id="d1")
    assert Event.from_dict(event.to_dict()) == event
    with pytest.raises(TypeError):
        event.payload["to"] = "production"  # type: ignore[index]
    assert Event("rolled-back", AgentRef("router"), "alice").kind is EventKind.ROLLED_BACK
