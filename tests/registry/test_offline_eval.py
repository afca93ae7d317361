"""Offline eval of the real example agent on a real registry: the score, what is recorded, and the gate reading it.

The expected score is computed here independently: the router module of the
agent folder is imported and called on each row of the CSV, with no registry,
pandas or thread pool in between.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import uuid
from pathlib import Path

import pytest

from agentgov.core.config import Config, load_config
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager
from agentgov.core.stats import wilson_interval
from agentgov.core.types import AgentRef, Stage
from agentgov.data.datasets import add_dataset
from agentgov.evals.offline import UntrackedEvalData
from agentgov.pipelines.evaluation import evaluate
from agentgov.pipelines.promotion import prepare
from agentgov.pipelines.registration import register
from agentgov.registry.backend import connect
from agentgov.registry.model import TAG_EVAL
from agentgov.registry.store import get

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

GATE = "".join(f"[stages.production.policies.{policy}]\nmin_samples = 100\n" for policy in ("eval-thresholds", "latency-slo", "cost-budget"))


def _expected_hits(agent_dir: Path) -> tuple[int, int]:
    """(right, rows): the agent folder's router called directly on every row of its eval set."""
    spec = importlib.util.spec_from_file_location(f"router_{uuid.uuid4().hex}", agent_dir / "router.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    router = module.SupportRouter()
    with (agent_dir / "data" / "eval.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    right = sum(router.act({"subject": r["subject"], "body": r["body"]})["action"] == r["expected_action"] for r in rows)
    return right, len(rows)


def _register(config: Config, home: Home, plugins: PluginManager, agent_dir: Path) -> int:
    return register(agent_dir, config=config, audit=home.audit_log, plugins=plugins, actor="alice").version


def _gate(config: Config, home: Home, plugins: PluginManager, name: str, version: int):
    decision = prepare(
        config, AgentRef(name, version=version), Stage.PRODUCTION, actor="bob", audit=home.audit_log, plugins=plugins, dry_run=True
    ).decision
    return {r.policy: r for r in decision.results}


def test_the_recorded_eval_matches_the_router_rules_and_the_gate_passes_it_and_fails_a_degraded_copy(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str
) -> None:
    add_dataset(agent_dir / "data" / "eval.csv", agent_dir=agent_dir, role="eval", home=agentgov_home.root)
    good = _register(registry_config, agentgov_home, agentgov_plugins, agent_dir)

    result = evaluate(registry_config, AgentRef(agent_name, version=good), audit=agentgov_home.audit_log, actor="carol",
                      agent_dir=agent_dir, workers=2)

    right, rows = _expected_hits(agent_dir)
    assert 0.85 < right / rows < 1  # the example set is meant to be mostly, not all, right
    s = result.summary
    assert (s.samples, s.successes, s.errors) == (rows, right, 0)
    tag = json.loads(get(connect(registry_config), AgentRef(agent_name, version=good)).tags[TAG_EVAL])
    assert tag["samples"] == rows and tag["task_success"]["rate"] == pytest.approx(right / rows, abs=1e-6)
    assert (tag["task_success"]["ci_low"], tag["task_success"]["ci_high"]) == pytest.approx(wilson_interval(right, rows), abs=1e-6)
    assert sum(c["fn"] for c in tag["per_class"].values()) == rows - right == sum(c["fp"] for c in tag["per_class"].values())
    assert tag["latency_ms"]["p50"] <= tag["latency_ms"]["p95"] <= tag["latency_ms"]["p99"] and tag["cost_per_task"] == 0
    assert tag["report"] == f"runs:/{result.run_id}/eval/results.json"

    client = connect(registry_config)
    run = client.get_run(result.run_id)
    assert run.data.metrics["task_success_rate"] == pytest.approx(right / rows)
    assert run.data.tags["agentgov.agent"] == agent_name and run.data.tags["agentgov.version"] == str(good)
    report = json.loads(Path(client.download_artifacts(result.run_id, "eval/results.json", str(agentgov_home.root))).read_text())
    assert report["samples"] == rows and report["dataset"]["tracked"] is True
    assert sum(sum(predicted.values()) for predicted in report["confusion"].values()) == rows
    recorded = [r for r in agentgov_home.audit_log.records(subject_prefix=agent_name) if r.action == "eval.recorded"]
    assert [(r.actor, r.subject, r.payload["samples"]) for r in recorded] == [("carol", f"{agent_name}/{good}", rows)]

    Path("agentgov.toml").write_text(GATE)
    config = load_config()
    verdicts = _gate(config, agentgov_home, agentgov_plugins, agent_name, good)
    assert {p: r.status.value for p, r in verdicts.items()} == {"eval-thresholds": "pass", "latency-slo": "pass", "cost-budget": "pass"}
    assert "task success lower bound" in verdicts["eval-thresholds"].reason and "(eval, 400 samples)" in verdicts["latency-slo"].reason

    router = agent_dir / "router.py"
    router.write_text(router.read_text().replace('("refund", ("refund"', '("billing", ("refund"'))  # refunds misrouted
    degraded = _register(registry_config, agentgov_home, agentgov_plugins, agent_dir)
    result = evaluate(config, AgentRef(agent_name, version=degraded), audit=agentgov_home.audit_log, actor="carol", agent_dir=agent_dir)
    right, rows = _expected_hits(agent_dir)
    assert result.summary.successes == right and result.summary.success_ci[0] < 0.85
    assert result.summary.classes["refund"].recall < 0.1 and result.summary.classes["billing"].fp > 50
    failed = _gate(config, agentgov_home, agentgov_plugins, agent_name, degraded)["eval-thresholds"]
    assert failed.status.value == "fail" and "task success lower bound" in failed.reason


def test_a_modified_eval_file_is_refused_and_nothing_is_recorded(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str
) -> None:
    add_dataset(agent_dir / "data" / "eval.csv", agent_dir=agent_dir, role="eval", home=agentgov_home.root)
    version = _register(registry_config, agentgov_home, agentgov_plugins, agent_dir)
    with (agent_dir / "data" / "eval.csv").open("a", encoding="utf-8") as f:
        f.write("T9999,Easy one,please refund me,refund\n")  # a row that flatters the agent

    with pytest.raises(UntrackedEvalData, match=r"differs from the data/eval.csv that .* was registered with"):
        evaluate(registry_config, AgentRef(agent_name, version=version), audit=agentgov_home.audit_log, actor="carol", agent_dir=agent_dir)

    assert TAG_EVAL not in get(connect(registry_config), AgentRef(agent_name, version=version)).tags
    assert not [r for r in agentgov_home.audit_log.records(subject_prefix=agent_name) if r.action == "eval.recorded"]
