"""The gate on a real registry: what a blocked, waiting, accepted or dry-run promotion leaves behind."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agentgov.core.config import Config, load_config
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager
from agentgov.core.types import AgentRef, Outcome, Stage
from agentgov.pipelines.promotion import AcceptanceRefused, PromotionBlocked, prepare, promote
from agentgov.pipelines.registration import register
from agentgov.policies.approvals import ApprovalRefused, approvals_for, approve
from agentgov.registry.model import TAG_EVAL, TAG_GATE
from agentgov.registry.store import aliases, get

Run = Callable[..., subprocess.CompletedProcess[str]]

STRICT_SCOPES = """
[stages.production.policies.connector-least-privilege]
allowed_scopes = ["tickets:read"]
[stages.production.policies.human-approval]
mode = "dry-run"
"""


def _configure(toml: str) -> Config:
    Path("agentgov.toml").write_text(toml)
    return load_config()


def _promote(config: Config, home: Home, plugins: PluginManager, name: str, version: int, stage: str, actor: str = "bob", **kwargs):
    return promote(config, AgentRef(name, version=version), Stage.parse(stage), actor=actor, audit=home.audit_log, plugins=plugins, **kwargs)


def _decisions(home: Home, name: str) -> list[dict]:
    return [dict(r.payload) for r in home.audit_log.records(subject_prefix=name) if r.action == "decision"]


@pytest.fixture
def registered(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str, clone_version
) -> str:
    """The example agent: version 1 in production, version 2 a candidate (both registered by alice)."""
    register(agent_dir, config=registry_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice")
    assert clone_version(agent_name, 1) == 2
    _promote(registry_config, agentgov_home, agentgov_plugins, agent_name, 1, "production")
    return agent_name


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_a_blocked_promotion_changes_nothing_and_records_the_decision(
    registered: str, agentgov_home: Home, agentgov_plugins: PluginManager, mlflow_client
) -> None:
    config = _configure(STRICT_SCOPES)
    before = aliases(mlflow_client, registered)
    tags_before = {v: dict(mlflow_client.get_model_version(registered, str(v)).tags) for v in (1, 2)}

    with pytest.raises(PromotionBlocked, match="blocked by connector-least-privilege") as caught:
        _promote(config, agentgov_home, agentgov_plugins, registered, 2, "production")

    decision = caught.value.decision
    assert caught.value.exit_code == 1
    assert aliases(mlflow_client, registered) == before == {"production": 1}
    assert get(mlflow_client, AgentRef(registered, version=1)).stage is Stage.PRODUCTION
    after = {v: dict(mlflow_client.get_model_version(registered, str(v)).tags) for v in (1, 2)}
    assert after[1] == tags_before[1]
    gate_tag = json.loads(after[2].pop(f"{TAG_GATE}production"))
    assert after[2] == tags_before[2]  # the decision tag is the only change
    assert (gate_tag["id"], gate_tag["outcome"]) == (decision.id, "blocked")

    recorded = _decisions(agentgov_home, registered)[-1]
    assert recorded["id"] == decision.id and recorded["outcome"] == "blocked"
    assert [(r["policy"], r["status"], r["mode"]) for r in recorded["results"]] == [
        ("connector-least-privilege", "fail", "enforce"),
        ("human-approval", "fail", "dry-run"),
    ]
    assert recorded["config_hash"] == decision.config_hash and len(decision.config_hash) == 64
    events = [r.action for r in agentgov_home.audit_log.records(subject_prefix=registered)]
    assert events[-2:] == ["decision", "event.blocked"]

    run_id = mlflow_client.get_model_version(registered, "2").run_id
    artifact = json.loads(Path(mlflow_client.download_artifacts(run_id, f"decisions/{decision.id}.json")).read_text())
    assert artifact == decision.to_dict()
    assert gate_tag["artifact"] == f"runs:/{run_id}/decisions/{decision.id}.json"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_inconclusive_waits_and_only_someone_other_than_the_registrant_may_accept(
    registered: str, agentgov_home: Home, agentgov_plugins: PluginManager, mlflow_client
) -> None:
    config = _configure("[stages.canary.policies.eval-thresholds]\nmin_samples = 100\n")
    few = {"samples": 12, "task_success": {"rate": 1.0}, "error_rate": 0.0}
    mlflow_client.set_model_version_tag(registered, "2", TAG_EVAL, json.dumps(few))

    with pytest.raises(PromotionBlocked, match="needs review: eval-thresholds inconclusive"):
        _promote(config, agentgov_home, agentgov_plugins, registered, 2, "canary")
    assert "canary" not in aliases(mlflow_client, registered)
    assert _decisions(agentgov_home, registered)[-1]["outcome"] == "needs-review"

    with pytest.raises(AcceptanceRefused, match=r"alice registered .* may not accept"):
        _promote(config, agentgov_home, agentgov_plugins, registered, 2, "canary", actor="alice", accept_inconclusive=["eval-thresholds"])
    refused = [r for r in agentgov_home.audit_log.records(subject_prefix=registered) if r.action == "acceptance.refused"]
    assert [(r.actor, r.payload["policies"]) for r in refused] == [("alice", ["eval-thresholds"])]
    assert "canary" not in aliases(mlflow_client, registered)

    _, decision = _promote(config, agentgov_home, agentgov_plugins, registered, 2, "canary", actor="ann", accept_inconclusive=["eval-thresholds"])
    assert decision.outcome is Outcome.ALLOWED and dict(decision.accepted) == {"eval-thresholds": "ann"}
    assert aliases(mlflow_client, registered)["canary"] == 2
    recorded = _decisions(agentgov_home, registered)[-1]
    assert (recorded["actor"], recorded["accepted"]) == ("ann", {"eval-thresholds": "ann"})


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_dry_run_evaluates_but_records_and_moves_nothing(
    registered: str, agentgov_home: Home, agentgov_plugins: PluginManager, mlflow_client
) -> None:
    config = _configure(STRICT_SCOPES)
    records = len(list(agentgov_home.audit_log.records()))
    prepared = prepare(config, AgentRef(registered, version=2), Stage.PRODUCTION, actor="bob", audit=agentgov_home.audit_log, plugins=agentgov_plugins, dry_run=True)
    assert prepared.decision.outcome is Outcome.BLOCKED
    assert len(list(agentgov_home.audit_log.records())) == records
    assert f"{TAG_GATE}production" not in mlflow_client.get_model_version(registered, "2").tags
    assert aliases(mlflow_client, registered) == {"production": 1}


@pytest.mark.parametrize("backend", ["sqlite"])
def test_approvals_count_only_from_others_and_let_the_promotion_through(
    registered: str, registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, mlflow_client
) -> None:
    config = _configure("[stages.shadow.policies.human-approval]\napprovals_by_tier = { medium = 2 }\n")
    ref = AgentRef(registered, version=2)
    with pytest.raises(ApprovalRefused, match="alice registered"):
        approve(config, ref, Stage.SHADOW, approver="alice", audit=agentgov_home.audit_log, plugins=agentgov_plugins)
    approve(config, ref, Stage.SHADOW, approver="ann", comment="looks right", audit=agentgov_home.audit_log, plugins=agentgov_plugins)
    with pytest.raises(PromotionBlocked, match="blocked by human-approval"):
        _promote(config, agentgov_home, agentgov_plugins, registered, 2, "shadow")
    approve(config, ref, Stage.SHADOW, approver="bob", audit=agentgov_home.audit_log, plugins=agentgov_plugins)

    _, decision = _promote(config, agentgov_home, agentgov_plugins, registered, 2, "shadow")
    assert decision.allowed and "2/2 approvals for a medium-risk agent (ann, bob)" in decision.results[0].reason
    assert [(a.approver, a.comment) for a in approvals_for(agentgov_home.audit_log, ref)] == [("ann", "looks right"), ("bob", "")]
    assert json.loads(mlflow_client.get_model_version(registered, "2").tags["agentgov.approval.shadow.ann"])["approver"] == "ann"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_explain_and_report_on_the_cli_name_each_failing_policy_and_its_evidence(
    registered: str, agentgov_home: Home, mlflow_client, run_cli: Run
) -> None:
    _configure(
        STRICT_SCOPES
        + '[stages.production.policies.data-validation-passed]\n'
        + '[stages.production.policies.lineage-complete]\n'
        + '[stages.production.policies.drift-within-limits]\nmode = "warn"\n'
    )
    drift = {"columns": [{"column": "body_length", "method": "wasserstein", "score": 0.4, "threshold": 0.1, "drifted": True}],
             "share_drifted": 1.0, "status": "drift", "report": "/reports/drift/router/2026-11-24.html"}
    mlflow_client.set_model_version_tag(registered, "2", "agentgov.drift", json.dumps(drift))

    explained = run_cli("policies", "explain", registered, "2", "--to", "production", "--json")
    assert explained.returncode == 0, explained.stderr
    results = {r["policy"]: r for r in json.loads(explained.stdout)["decision"]["results"]}
    assert results["connector-least-privilege"]["status"] == "fail"
    assert (results["human-approval"]["status"], results["human-approval"]["mode"]) == ("fail", "dry-run")  # shown, never blocks
    assert results["data-validation-passed"]["status"] == "error" and results["data-validation-passed"]["reason"].startswith("no evidence")
    assert results["drift-within-limits"]["evidence"] == ["/reports/drift/router/2026-11-24.html"]
    # reads the registered agent.yaml back from MLflow: its hash matches; the tmp copy is just not in git
    assert results["lineage-complete"]["reason"] == "not registered from a git repository"

    shown = run_cli("policies", "explain", registered, "2", "--to", "production", env={"COLUMNS": "250"})
    assert f"{registered}/2 -> production: blocked (dry run)" in shown.stdout
    for expected in ("connector-least-privilege", "tickets:write is not in the scopes", "data-validation-passed", "/reports/drift/router/2026-11-24.html"):
        assert expected in shown.stdout, expected
    assert "blocked by connector-least-privilege (fail), data-validation-passed (error)" in shown.stdout

    promoted = run_cli("promote", registered, "2", "--to", "production")
    assert promoted.returncode == 1
    assert "agentgov: " in promoted.stderr and "blocked by connector-least-privilege" in promoted.stderr
    assert "Traceback" not in promoted.stderr

    report = json.loads(run_cli("policies", "report", "--since", "1d", "--json", check=True).stdout)
    rows = {r["policy"]: r for r in report}
    assert (rows["human-approval"]["modes"], rows["human-approval"]["blocked"], rows["human-approval"]["would_block"]) == (["dry-run"], 0, 1)
    assert rows["connector-least-privilege"]["blocked"] == 1


class _Leaky:
    name = "leaky"
    description = "a verdict whose reason quotes personal data and a credential"
    stages = frozenset({Stage.PRODUCTION})

    def evaluate(self, context):
        return context.failed("owner ann.smith@example.com sent Authorization: Bearer eyJhbGciOi.abc.def", evidence=["mailto:ann.smith@example.com"])


@pytest.mark.parametrize("backend", ["sqlite"])
def test_every_copy_of_a_decision_is_masked(registered: str, agentgov_home: Home, agentgov_plugins: PluginManager, mlflow_client) -> None:
    class Plugin:
        @staticmethod
        def agentgov_register_policies(register):
            register(_Leaky())

    agentgov_plugins.add(Plugin(), "leaky-plugin")
    config = _configure("[stages.production.policies.leaky]\n")
    with pytest.raises(PromotionBlocked) as caught:
        _promote(config, agentgov_home, agentgov_plugins, registered, 2, "production")

    raw = agentgov_home.audit_log.path.read_text()
    run_id = mlflow_client.get_model_version(registered, "2").run_id
    artifact = Path(mlflow_client.download_artifacts(run_id, f"decisions/{caught.value.decision.id}.json")).read_text()
    for text in (raw, artifact):
        assert "ann.smith@example.com" not in text and "eyJhbGciOi" not in text
        assert "@example.com" in text  # masked in place, still readable
    assert agentgov_home.audit_log.verify().records > 0


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_policies_read_the_manifest_exactly_as_registered(registered: str, agent_dir: Path, mlflow_client) -> None:
    from agentgov.registry.store import manifest_text

    version = get(mlflow_client, AgentRef(registered, version=1))
    assert manifest_text(mlflow_client, version) == (agent_dir / "agent.yaml").read_bytes().decode()
