from datetime import timedelta

from agentgov.core.types import AgentRef, Approval, utcnow
from agentgov.plugins.policies.human_approval import HumanApproval
from agentgov.policies import policy_context

POLICY = HumanApproval()
REF = AgentRef("test-agent", version=1)


def _approval(who: str, stage: str = "production", age: timedelta = timedelta(0), expires: timedelta | None = None) -> Approval:
    at = utcnow() - age
    return Approval(REF, stage, who, at=at, expires_at=at + expires if expires else None)


def _check(approvals: list[Approval], tier: str = "high", params: dict | None = None):
    return POLICY.evaluate(
        policy_context(POLICY.name, approvals=approvals, manifest={"risk_tier": tier}, lineage={"registered_by": "rita"}, params=params)
    )


def test_two_distinct_approvers_satisfy_a_high_risk_agent() -> None:
    result = _check([_approval("ann"), _approval("bob")])
    assert result.status == "pass" and result.metrics["approvals"] == 2


def test_the_same_person_twice_counts_once() -> None:
    assert _check([_approval("ann"), _approval("ann")]).status == "fail"


def test_the_registrant_never_counts() -> None:
    result = _check([_approval("ann"), _approval("rita")])
    assert result.status == "fail" and "rita (the registrant)" in result.reason


def test_approvals_for_another_stage_do_not_count() -> None:
    assert _check([_approval("ann", "canary"), _approval("bob", "canary")]).status == "fail"


def test_expired_and_too_old_approvals_do_not_count() -> None:
    expired = _approval("ann", age=timedelta(hours=2), expires=timedelta(hours=1))
    assert _check([expired, _approval("bob")]).status == "fail"
    old = _approval("ann", age=timedelta(days=10))
    assert _check([old, _approval("bob")], params={"ttl": "7d"}).status == "fail"
    assert _check([old, _approval("bob")]).status == "pass"


def test_the_tier_sets_the_count() -> None:
    assert _check([_approval("ann")], tier="medium").status == "pass"
    assert _check([], tier="low", params={"approvals_by_tier": {"low": 0}}).status == "pass"


def test_the_failure_says_how_to_approve() -> None:
    assert "agentgov approve test-agent 1 --stage production` by someone other than rita" in _check([]).reason
