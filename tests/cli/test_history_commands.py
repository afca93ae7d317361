"""``agentgov history``, ``agentgov diff`` and ``agentgov show --bom``, run as a user runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from agentgov.core.config import load_config
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager

Run = Callable[..., subprocess.CompletedProcess[str]]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "support-router"
NAME = "history-router"


@pytest.fixture
def agent(agentgov_home: Home, tmp_path: Path) -> Path:
    target = tmp_path / "agent"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = target / "agent.yaml"
    manifest.write_text(manifest.read_text().replace("name: support-router", f"name: {NAME}"))
    return target


def _json(run_cli: Run, *args: str) -> dict:
    return json.loads(run_cli(*args, "--json", check=True).stdout)


def _between(a: str, b: str) -> str:
    first, second = datetime.fromisoformat(a), datetime.fromisoformat(b)
    return (first + (second - first) / 2).isoformat()


def _walk_to_production_and_back(agent: Path, plugins: PluginManager) -> None:
    """v1, v2, v3 promoted to production in turn, then a rollback to v2: in-process, the CLI only reads."""
    from agentgov.core.types import AgentRef, Stage
    from agentgov.pipelines.promotion import promote, rollback
    from agentgov.pipelines.registration import register
    from agentgov.registry.backend import connect

    config, audit = load_config(), Home(load_config().home).audit_log
    register(agent, config=config, audit=audit, plugins=plugins, actor="alice")
    client = connect(config)
    first = client.get_model_version(NAME, "1")
    for _ in range(2):  # real versions of the same model, without logging the files again
        client.create_model_version(NAME, source=first.source, run_id=first.run_id, tags=first.tags, model_id=first.model_id)
    for version in (1, 2, 3):
        promote(config, AgentRef(NAME, version=version), Stage.PRODUCTION, actor=f"bob{version}", audit=audit, plugins=plugins)
    rollback(config, NAME, actor="carol", audit=audit, plugins=plugins)


def test_history_answers_at_any_moment_and_reports_a_hand_edited_alias(agent: Path, run_cli: Run, agentgov_plugins: PluginManager) -> None:
    from mlflow import MlflowClient

    _walk_to_production_and_back(agent, agentgov_plugins)
    changes = _json(run_cli, "history", NAME)["changes"]
    assert [(c["version"], c["rollback"], c["actor"]) for c in changes] == [(1, False, "bob1"), (2, False, "bob2"), (3, False, "bob3"), (2, True, "carol")]
    assert all(c["decision_id"] and c["reason"] for c in changes)
    times = [c["at"] for c in changes]
    naive_before = datetime.fromisoformat(times[0]).replace(tzinfo=None, microsecond=0).isoformat()  # naive means UTC
    (held,) = _json(run_cli, "history", NAME, "--at", naive_before, "--stage", "production")["stages"]
    assert held["version"] is None
    between = _json(run_cli, "history", NAME, "--at", _between(times[1], times[2]))["stages"]
    assert {h["stage"]: h["version"] for h in between} == {"shadow": None, "canary": None, "production": 2}

    config = load_config()
    MlflowClient(tracking_uri=config.tracking_uri, registry_uri=config.registry_uri).set_registered_model_alias(NAME, "production", "3")
    # Through the control plane (the default), where MLflow is loaded already, history cross-checks the aliases.
    edited = run_cli("history", NAME, "--stage", "production", check=True, env={"AGENTGOV_NO_SERVER": "0"})
    stderr = edited.stderr.partition("\n")[2] if edited.stderr.startswith("agentgov: starting the control plane") else edited.stderr
    assert stderr == (
        "agentgov: warning: history-router: MLflow alias production points to v3, but the audit log says v2 holds it "
        "(edited outside agentgov?); the audit log is the record\n"
    )
    assert "(rollback)" in edited.stdout and "carol" in edited.stdout
    # In process (--no-server) it answers from the audit log alone, without importing MLflow; doctor checks the registry.
    cold = run_cli("history", NAME, "--stage", "production", check=True)
    assert (cold.stdout, cold.stderr) == (edited.stdout, "")


def test_diff_and_show_bom(agent: Path, run_cli: Run, agentgov_plugins: PluginManager, default_mode: None) -> None:
    from agentgov.pipelines.registration import register

    config = load_config()
    register(agent, config=config, audit=Home(config.home).audit_log, plugins=agentgov_plugins, actor="alice")
    (agent / "router.py").write_text((agent / "router.py").read_text() + "\n# tuned\n")
    register(agent, config=config, audit=Home(config.home).audit_log, plugins=agentgov_plugins, actor="alice")

    shown = _json(run_cli, "show", NAME, "1", "--bom")
    assert shown["bom"]["code"]["files"].keys() == {"router.py"}
    table = run_cli("show", NAME, "1", "--bom", check=True)
    assert "Bill of materials" in table.stdout and "router.py" in table.stdout and table.stderr == ""

    changes = _json(run_cli, "diff", NAME, "1", "2")["changes"]
    assert {(c["change"], c["section"], c["name"]) for c in changes} == {("changed", "code", "(all files)"), ("changed", "code", "router.py")}
    assert "router.py" in run_cli("diff", NAME, "1", "2", check=True).stdout
    assert "made of the same things" in run_cli("diff", NAME, "1", "1", check=True).stdout


def test_bad_input_is_one_line_and_exit_code_2(agentgov_home: Home, run_cli: Run) -> None:
    bad_time = run_cli("history", "nobody", "--at", "yesterday")
    assert bad_time.returncode == 2
    assert bad_time.stderr.strip().startswith("agentgov: error: cannot read the time 'yesterday'")
    unknown = run_cli("history", "nobody")
    assert (unknown.returncode, unknown.stderr.count("\n")) == (2, 1)
    assert "neither in the registry nor in the audit log" in unknown.stderr
    missing = run_cli("diff", "nobody", "1", "2")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
