"""The evaluate-agent flow: one task run per step and a summary artifact, recorded in Prefect."""

from __future__ import annotations

import shutil
from pathlib import Path

from agentgov.core.config import Config
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager
from agentgov.data.datasets import add_dataset
from agentgov.pipelines.evaluate import evaluate_agent
from agentgov.pipelines.registration import register
from agentgov.pipelines.runtime import run_flow

from .conftest import EXAMPLE_AGENT, one_run


def test_the_flow_checks_runs_and_records_in_three_tasks_and_publishes_a_summary(
    agentgov_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str
) -> None:
    (agent_dir / "data").mkdir(exist_ok=True)
    shutil.copy(EXAMPLE_AGENT / "data" / "eval.csv", agent_dir / "data" / "eval.csv")
    add_dataset(agent_dir / "data" / "eval.csv", agent_dir=agent_dir, role="eval", home=agentgov_home.root)
    register(agent_dir, config=agentgov_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice")

    result = run_flow(evaluate_agent, config=agentgov_config, name=agent_name, version=1, agent_dir=str(agent_dir), workers=2)

    assert result.summary.samples == 400 and result.run_id
    run = one_run(agentgov_config, f"eval {agent_name}/1")
    assert run.state == "COMPLETED"
    for step in ("check-eval-data-", "run-agent-", "record-eval-"):
        assert run.task_states(step) == ["COMPLETED"], (step, run.task_runs)
    summary = run.artifacts[f"eval-{agent_name}-1"]
    assert f"Offline eval of {agent_name}/1" in summary and "| samples | 400 |" in summary
    assert "| class refund | precision" in summary and f"runs:/{result.run_id}/eval/results.json" in summary
