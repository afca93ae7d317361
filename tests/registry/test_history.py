"""History at any time, from the audit log, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from agentgov.core.config import Config
from agentgov.core.errors import InvalidValue
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager
from agentgov.core.types import AgentRef, Stage
from agentgov.pipelines.promotion import promote, rollback
from agentgov.pipelines.registration import register
from agentgov.registry import history
from agentgov.registry.history import Mismatch
from agentgov.registry.store import aliases


def _between(a: datetime, b: datetime) -> datetime:
    return a + (b - a) / 2


def test_history_at_before_between_and_after_three_promotions_and_a_rollback(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str, mlflow_client, clone_version
) -> None:
    audit = agentgov_home.audit_log
    register(agent_dir, config=registry_config, audit=audit, plugins=agentgov_plugins, actor="alice")
    assert (clone_version(agent_name, 1), clone_version(agent_name, 1)) == (2, 3)
    for version in (1, 2, 3):
        promote(registry_config, AgentRef(agent_name, version=version), Stage.PRODUCTION, actor=f"bob{version}", audit=audit, plugins=agentgov_plugins)
    rollback(registry_config, agent_name, actor="carol", audit=audit, plugins=agentgov_plugins)

    found = history.load(audit, agent_name)
    assert [(c.version, c.target, c.rollback, c.actor) for c in found.changes] == [
        (1, "production", False, "bob1"), (2, "production", False, "bob2"), (3, "production", False, "bob3"), (2, "production", True, "carol"),
    ]
    decisions = {r.payload["id"] for r in audit.records(subject_prefix=agent_name) if r.action == "decision"}
    assert all(c.decision_id in decisions and c.reason for c in found.changes)
    t1, t2, t3, t4 = (c.at for c in found.changes)

    def production_at(moment: datetime) -> int | None:
        (holder,) = found.held_at(moment, ["production"])
        return holder.version

    assert production_at(t1 - timedelta(milliseconds=1)) is None
    assert production_at(t1) == 1
    assert production_at(_between(t1, t2)) == 1
    assert production_at(_between(t2, t3)) == 2
    assert production_at(_between(t3, t4)) == 3
    assert production_at(t4 + timedelta(seconds=1)) == 2
    # the instant in another zone is the same instant
    assert production_at(_between(t2, t3).astimezone(timezone(timedelta(hours=5)))) == 2
    holders = {h.stage: h for h in found.held_at(t4 + timedelta(seconds=1))}
    assert holders["production"].since is found.changes[3] and holders["shadow"].version is None

    assert found.mismatches(aliases(mlflow_client, agent_name)) == []
    mlflow_client.set_registered_model_alias(agent_name, "production", "1")  # by hand, outside agentgov
    assert found.mismatches(aliases(mlflow_client, agent_name)) == [Mismatch("production", 2, 1)]
    assert "MLflow alias production points to v1, but the audit log says v2 holds it" in str(found.mismatches({"production": 1, "previous-production": 2})[0])
    assert history.load(audit, agent_name).held_at(datetime.now(UTC), ["production"])[0].version == 2


def test_an_agent_whose_name_extends_another_is_not_mixed_in(agentgov_home: Home) -> None:
    audit = agentgov_home.audit_log
    for agent in ("router", "router-two"):
        audit.append(actor="a", action="stage.change", subject=f"{agent}/1", payload={
            "agent": agent, "version": 1, "from": "candidate", "to": "shadow", "rollback": False,
            "aliases_before": {}, "aliases_after": {"shadow": 1}, "stage_updates": {"1": "shadow"}, "decision_id": None,
        })
    assert [c.agent for c in history.load(audit, "router").changes] == ["router"]


def test_the_reason_is_the_decisions_summary_with_acceptances_and_overrides(agentgov_home: Home) -> None:
    audit = agentgov_home.audit_log
    audit.append(actor="dana", action="decision", subject="router/2", payload={
        "id": "d1", "outcome": "allowed", "results": [{"policy": "eval-thresholds", "status": "inconclusive", "reason": "40 < 200 samples"}],
        "summary": "allowed after review", "accepted": {"eval-thresholds": "dana"}, "overrides": {"change-freeze": "sev1 INC-7"},
    })
    audit.append(actor="dana", action="stage.change", subject="router/2", payload={
        "agent": "router", "version": 2, "from": "canary", "to": "production", "rollback": False,
        "aliases_before": {"canary": 2}, "aliases_after": {"production": 2}, "stage_updates": {"2": "production"}, "decision_id": "d1",
    })
    (change,) = history.load(audit, "router").changes
    assert change.reason == "allowed after review; inconclusive accepted: eval-thresholds by dana; overridden: change-freeze (sev1 INC-7)"
    assert change.moved("production") and change.moved("canary") and not change.moved("shadow")


NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T12:00:00Z", datetime(2026, 11, 24, 12, tzinfo=UTC)),
        ("2026-11-24T12:00:00", datetime(2026, 11, 24, 12, tzinfo=UTC)),
        ("2026-11-24 14:00+02:00", datetime(2026, 11, 24, 12, tzinfo=UTC)),
        ("2026-11-24", datetime(2026, 11, 24, tzinfo=UTC)),
        ("2h", NOW - timedelta(hours=2)),
        ("90s", NOW - timedelta(seconds=90)),
        ("3d ago", NOW - timedelta(days=3)),
        ("now", NOW),
    ],
)
def test_moments_are_read_as_iso_8601_or_a_time_ago(text: str, expected: datetime) -> None:
    assert history.parse_moment(text, now=NOW) == expected


def test_an_unreadable_moment_or_stage_is_a_user_error() -> None:
    with pytest.raises(InvalidValue, match="cannot read the time 'yesterday'"):
        history.parse_moment("yesterday")
    with pytest.raises(InvalidValue, match="stage archived is not held by one version"):
        history.stage_alias("archived")
    assert history.stage_alias("Production") == "production"
