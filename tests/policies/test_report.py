from datetime import UTC, datetime, timedelta

import pytest

from agentgov.core.errors import InvalidValue
from agentgov.core.types import AgentRef, Decision, PolicyResult
from agentgov.policies.report import parse_duration, parse_since, report


def _decision(*results: PolicyResult) -> Decision:
    outcome = "blocked" if any(r.status.blocks and r.counts for r in results) else "allowed"
    return Decision(AgentRef("a", version=1), "production", outcome, results, "ann", "hash")


def test_counts_verdicts_and_what_each_policy_blocked_or_would_have(agentgov_home) -> None:
    log = agentgov_home.audit_log
    for decision in (
        _decision(PolicyResult("new", "fail", "x", mode="dry-run"), PolicyResult("old", "pass", "ok")),
        _decision(PolicyResult("new", "pass", "x", mode="dry-run"), PolicyResult("old", "fail", "no")),
        _decision(PolicyResult("new", "error", "x", mode="dry-run"), PolicyResult("old", "inconclusive", "?")),
    ):
        log.append(actor="ann", action="decision", subject="a/1", payload=decision.to_dict())
    rows = {r.policy: r for r in report(log, datetime.now(UTC) - timedelta(days=1))}
    assert (rows["new"].modes, rows["new"].evaluated, rows["new"].failed, rows["new"].errors, rows["new"].blocked, rows["new"].would_block) == (["dry-run"], 3, 1, 1, 0, 2)
    assert (rows["old"].passed, rows["old"].inconclusive, rows["old"].blocked, rows["old"].would_block) == (1, 1, 1, 1)
    assert report(log, datetime.now(UTC) + timedelta(minutes=1)) == []


def test_durations_and_dates() -> None:
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("90s") == timedelta(seconds=90)
    now = datetime(2026, 11, 24, tzinfo=UTC)
    assert parse_since("12h", now) == datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(InvalidValue, match="expected a duration like 30d"):
        parse_since("last week")
