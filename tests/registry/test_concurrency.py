"""Eight processes promote eight versions of one agent to production at the same moment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agentgov.core.config import Config
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager
from agentgov.pipelines.registration import register
from agentgov.registry.store import aliases, list_agents, versions

WORKER = Path(__file__).with_name("promote_worker.py")
WORKERS = 8
# AGENTGOV_SOAK_RUNS=20 repeats the race; the closing note of the registry issue reports such a run.
RUNS = int(os.environ.get("AGENTGOV_SOAK_RUNS", "1"))


@pytest.mark.timeout(120 + 90 * RUNS)
def test_exactly_one_of_eight_concurrent_promotions_wins(
    registry_config: Config,
    agentgov_home: Home,
    agentgov_plugins: PluginManager,
    agent_dir: Path,
    agent_name: str,
    mlflow_client: object,
    clone_version: Callable[[str, int], int],
    tmp_path: Path,
) -> None:
    first = register(agent_dir, config=registry_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice")
    for run in range(RUNS):
        contenders = [clone_version(agent_name, first.version) for _ in range(WORKERS)]
        barrier = tmp_path / f"barrier-{run}"
        barrier.mkdir()
        before = aliases(mlflow_client, agent_name)
        workers = [
            subprocess.Popen(
                [sys.executable, str(WORKER), agent_name, str(v), str(barrier), str(WORKERS)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for v in contenders
        ]
        outcomes = {}
        for version, worker in zip(contenders, workers, strict=True):
            out, err = worker.communicate(timeout=300)
            assert worker.returncode in (0, 3), f"worker for v{version} failed ({worker.returncode}):\n{out}\n{err}"
            outcomes[version] = (worker.returncode, out.strip())
        winners = [v for v, (code, _) in outcomes.items() if code == 0]
        assert len(winners) == 1, outcomes
        [winner] = winners
        losers = [v for v in contenders if v != winner]
        for version in losers:
            assert outcomes[version][1].startswith(f"CONFLICT the stages of {agent_name} changed while this promotion was being decided")

        # Afterwards the aliases, the stage tags and the audit log agree.
        after = aliases(mlflow_client, agent_name)
        assert after["production"] == winner
        if "production" in before:
            assert after["previous-production"] == before["production"]
        stages = {v.version: v.stage.value for v in versions(mlflow_client, agent_name)}
        assert stages[winner] == "production"
        assert all(stages[v] == "candidate" for v in losers)
        records = [r for r in agentgov_home.audit_log.records(subject_prefix=agent_name)]
        changes = [r for r in records if r.action == "stage.change" and r.payload["to"] == "production" and r.payload["decision_id"]]
        assert changes[-1].subject == f"{agent_name}/{winner}"
        conflicts = [r for r in records if r.action == "stage.conflict"]
        assert {r.subject for r in conflicts[-len(losers):]} == {f"{agent_name}/{v}" for v in losers}
        assert sum(1 for r in records if r.action == "stage.change") == run + 1
        assert agentgov_home.audit_log.verify().records == len(list(agentgov_home.audit_log.records()))
        assert not [a for a in list_agents(mlflow_client) if a["name"].startswith("agentgov-lock.")]
        # The lock model must be gone too (list_agents hides it; ask MLflow directly).
        assert not mlflow_client.search_registered_models(filter_string=f"name = 'agentgov-lock.{agent_name}'")
