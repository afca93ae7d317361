"""End to end: live traffic in the inference log -> drift check -> MLflow artifacts, Evidently workspace -> the gate."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from agentgov.core.config import Config, load_config
from agentgov.core.errors import InvalidValue
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager
from agentgov.core.types import AgentRef, Outcome, Stage
from agentgov.evals import DriftStatus
from agentgov.evals.inference_log import InferenceRecord, append
from agentgov.pipelines.drift import check_drift
from agentgov.pipelines.promotion import prepare, promote
from agentgov.pipelines.registration import register
from agentgov.plugins.evaluators.evidently_drift import workspace_runs
from agentgov.registry.model import TAG_DRIFT

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SUBJECTS = ("Charged twice", "Invoice question", "App crash", "Password reset", "Where is my order")
WORDS = "please help my account order payment card login error refund invoice thanks since yesterday".split()
NEW_WORDS = "bitte hilfe konto rechnung zahlung fehler dringend sofort".split()
DRIFT_GATE = "[stages.production.policies.drift-within-limits]\nmax_drift_share = 0.3\n"


def _request(rng: random.Random, shifted: bool) -> dict[str, str]:
    words = WORDS + NEW_WORDS * 3 if shifted else WORDS
    body = " ".join(rng.choice(words) for _ in range(rng.randint(12, 30) if shifted else rng.randint(5, 15)))
    subject = "Konto gesperrt" if shifted and rng.random() < 0.6 else rng.choice(SUBJECTS)
    return {"subject": subject, "body": body}


def _route(request: dict[str, str]) -> dict[str, object]:
    text = f"{request['subject']} {request['body']}".lower()
    action = "refund" if "refund" in text else "technical" if "error" in text else "reply"
    return {"action": action, "confidence": {"refund": 0.92, "technical": 0.81, "reply": 0.55}[action]}


def _traffic(home: Path, agent: str, version: int, stage: str, end: datetime, n: int, *, seed: int, shifted: bool = False) -> None:
    """``n`` calls spread over the 24 hours before ``end``."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        request = _request(rng, shifted)
        records.append(InferenceRecord(
            time=end - timedelta(hours=24) + timedelta(seconds=i * 86_000 / n), agent=agent, version=version, stage=stage,
            request_id=f"{stage}-{seed}-{i}", request=request, response=_route(request), latency_ms=rng.uniform(5, 60),
        ))
    append(home, records)


@pytest.fixture
def live_agent(registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str, clone_version) -> str:
    """Version 1 in production with a day of production traffic before NOW - 24h; version 2 a candidate."""
    register(agent_dir, config=registry_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice")
    assert clone_version(agent_name, 1) == 2
    promote(registry_config, AgentRef(agent_name, version=1), Stage.PRODUCTION, actor="bob", audit=agentgov_home.audit_log, plugins=agentgov_plugins)
    _traffic(agentgov_home.root, agent_name, 1, "production", NOW - timedelta(hours=24), 2000, seed=1)
    return agent_name


def _gate(config: Config, home: Home, plugins: PluginManager, name: str):
    prepared = prepare(config, AgentRef(name, version=2), Stage.PRODUCTION, actor="bob", audit=home.audit_log, plugins=plugins, dry_run=True)
    return prepared.decision, {r.policy: r for r in prepared.decision.results}


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_drifted_shadow_traffic_blocks_production_and_the_reports_are_viewable(
    live_agent: str, registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, mlflow_client
) -> None:
    name = live_agent
    _traffic(agentgov_home.root, name, 2, "shadow", NOW, 2000, seed=2, shifted=True)

    check = check_drift(registry_config, agentgov_plugins, name, version=2, reference="production-window", window="24h", now=NOW,
                        audit=agentgov_home.audit_log)

    assert check.result.status is DriftStatus.DRIFT
    assert (check.result.reference_rows, check.result.current_rows) == (2000, 2000)
    assert {"request.body:length", "request.subject"} <= set(check.result.drifted_columns)
    # The HTML report and the snapshot, in the home and on the version's MLflow run.
    run_id = mlflow_client.get_model_version(name, "2").run_id
    logged = {Path(a.path).name for a in mlflow_client.list_artifacts(run_id, "drift")}
    assert logged == {f"{check.stamp}.html", f"{check.stamp}.json"}
    page = Path(mlflow_client.download_artifacts(run_id, f"drift/{check.stamp}.html")).read_text()
    assert "exact drift engine" in page and "2,000 of 2,000 reference rows" in page
    assert check.report_uri == f"runs:/{run_id}/drift/{check.stamp}.html"
    # The snapshot is in the agent's Evidently workspace project, and loads back.
    assert workspace_runs(agentgov_home.root, name) == [check.report.workspace_snapshot]
    from evidently.core.report import Snapshot

    assert Snapshot.load(str(check.report.snapshot)).get_name().startswith(f"Drift of {name}/2")
    # The gate's evidence.
    tag = json.loads(mlflow_client.get_model_version(name, "2").tags[TAG_DRIFT])
    assert tag["status"] == "drift" and tag["report"] == check.report_uri
    assert [r.action for r in agentgov_home.audit_log.records(subject_prefix=name)][-1] == "drift.check"

    Path("agentgov.toml").write_text(DRIFT_GATE)
    decision, results = _gate(load_config(), agentgov_home, agentgov_plugins, name)
    assert decision.outcome is Outcome.BLOCKED
    assert results["drift-within-limits"].status.value == "fail"
    assert "request.body:length" in results["drift-within-limits"].reason
    assert list(results["drift-within-limits"].evidence) == [check.report_uri]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_undrifted_traffic_passes_and_too_little_traffic_fails_production(
    live_agent: str, registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, mlflow_client
) -> None:
    name = live_agent
    Path("agentgov.toml").write_text(DRIFT_GATE)
    config = load_config()

    _traffic(agentgov_home.root, name, 2, "shadow", NOW, 10, seed=3)
    thin = check_drift(config, agentgov_plugins, name, version=2, now=NOW)
    assert thin.result.status is DriftStatus.INSUFFICIENT_DATA and thin.report is None
    decision, results = _gate(config, agentgov_home, agentgov_plugins, name)
    assert decision.outcome is Outcome.BLOCKED and results["drift-within-limits"].status.value == "fail"
    assert "insufficient data" in results["drift-within-limits"].reason

    # A reference file with plain request columns (an exported data set) and a later, unshifted window.
    rng = random.Random(4)
    requests = [_request(rng, shifted=False) for _ in range(1500)]
    reference = pd.DataFrame([{**r, **_route(r)} for r in requests])
    reference.to_csv("reference.csv", index=False)
    later = NOW + timedelta(days=3)
    _traffic(agentgov_home.root, name, 2, "shadow", later, 1500, seed=5)
    check = check_drift(config, agentgov_plugins, name, version=2, reference="reference.csv", now=later)
    assert check.result.status is DriftStatus.OK, check.result.to_dict()
    assert check.result.current_rows == 1500 and check.reference == "file reference.csv"
    decision, results = _gate(config, agentgov_home, agentgov_plugins, name)
    assert results["drift-within-limits"].status.value == "pass"
    assert decision.outcome is Outcome.ALLOWED
    assert len(workspace_runs(agentgov_home.root, name)) == 1  # the thin window rendered no report


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_eval_reference_is_the_versions_eval_dataset(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str
) -> None:
    manifest = agent_dir / "agent.yaml"
    manifest.write_text(manifest.read_text() + "datasets:\n  - path: data/eval.csv\n    role: eval\n")
    register(agent_dir, config=registry_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice", allow_dirty=True)
    _traffic(agentgov_home.root, agent_name, 1, "shadow", NOW, 400, seed=6)

    check = check_drift(registry_config, agentgov_plugins, agent_name, version=1, reference="eval", agent_dir=agent_dir, now=NOW)

    assert check.reference == "eval data/eval.csv" and check.result.reference_rows == 400
    # Only what the eval set and the log share is compared: its ticket ids and expected actions are not requests.
    assert {c.column for c in check.result.columns} == {
        "request.subject", "request.body:length", "request.body:oov_share",
    }
    assert check.result.status in (DriftStatus.OK, DriftStatus.DRIFT) and check.report is not None

    with pytest.raises(InvalidValue, match=r"the eval dataset .* is not here"):
        check_drift(registry_config, agentgov_plugins, agent_name, version=1, reference="eval", agent_dir=agent_dir / "elsewhere", now=NOW)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_report_evidently_cannot_render_leaves_the_verdict_standing(
    live_agent: str, registry_config: Config, agentgov_plugins: PluginManager, mlflow_client
) -> None:
    _traffic(Path(registry_config.home), live_agent, 2, "shadow", NOW, 300, seed=7, shifted=True)
    # A sample of no rows is a report Evidently refuses to render.
    check = check_drift(registry_config, agentgov_plugins, live_agent, version=2, now=NOW, sample_rows=0)
    assert check.result.status is DriftStatus.DRIFT and check.report is None
    assert check.report_error.startswith("ValueError")
    tag = json.loads(mlflow_client.get_model_version(live_agent, "2").tags[TAG_DRIFT])
    assert tag["status"] == "drift" and tag["report"] is None
