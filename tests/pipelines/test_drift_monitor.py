"""One run of the ``drift-monitor`` flow on a real Prefect API: every live version checked, a table published."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agentgov.core.config import Config
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager
from agentgov.core.types import AgentRef, Stage
from agentgov.evals.inference_log import InferenceRecord, append
from agentgov.pipelines.drift_monitor import drift_monitor
from agentgov.pipelines.promotion import promote
from agentgov.pipelines.registration import register
from agentgov.pipelines.runtime import run_flow
from agentgov.registry.backend import connect
from agentgov.registry.model import TAG_DRIFT

from .conftest import one_run

WORDS = "please help my account order payment card login error refund invoice thanks".split()
NEW_WORDS = "bitte hilfe konto rechnung zahlung fehler".split()


def _traffic(home: Path, agent: str, end: datetime, n: int, *, seed: int, shifted: bool) -> None:
    rng = random.Random(seed)
    vocabulary = WORDS + NEW_WORDS * 3 if shifted else WORDS
    append(home, [
        InferenceRecord(
            time=end - timedelta(seconds=(i + 1) * 80_000 / n), agent=agent, version=1, stage="production", request_id=f"{seed}-{i}",
            request={"body": " ".join(rng.choice(vocabulary) for _ in range(rng.randint(12, 30) if shifted else rng.randint(5, 15)))},
            response={"action": rng.choice(["refund", "reply"]), "confidence": 0.9},
        )
        for i in range(n)
    ])


def test_one_run_checks_every_production_version_and_publishes_the_table(
    agentgov_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str
) -> None:
    register(agent_dir, config=agentgov_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice")
    promote(agentgov_config, AgentRef(agent_name, version=1), Stage.PRODUCTION, actor="bob", audit=agentgov_home.audit_log, plugins=agentgov_plugins)
    now = datetime.now(UTC)
    _traffic(agentgov_home.root, agent_name, now - timedelta(hours=24), 600, seed=1, shifted=False)
    _traffic(agentgov_home.root, agent_name, now, 600, seed=2, shifted=True)

    rows = run_flow(drift_monitor, config=agentgov_config)

    assert [(r["agent"], r["version"], r["alias"], r["status"]) for r in rows] == [(agent_name, 1, "production", "drift")]
    assert "request.body:length" in rows[0]["drifted_columns"] and rows[0]["report"].startswith("runs:/")
    tag = json.loads(connect(agentgov_config).get_model_version(agent_name, "1").tags[TAG_DRIFT])
    assert tag["status"] == "drift" and tag["report"] == rows[0]["report"]

    run = one_run(agentgov_config, "monitor drift over 24h")
    assert run.state == "COMPLETED"
    assert sorted(name.rsplit("-", 1)[0] for name, _ in run.task_runs) == ["check-drift", "list-live-versions"]
    assert set(run.task_states()) == {"COMPLETED"}
    table = run.artifacts["drift-monitor"]
    assert agent_name in table and "| drift |" in table
