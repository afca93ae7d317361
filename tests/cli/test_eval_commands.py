"""``agentgov eval`` as a user runs it: the real command, the evaluate-agent flow on an embedded Prefect server."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from agentgov.core.config import load_config
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager

Run = Callable[..., subprocess.CompletedProcess[str]]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "support-router"
NAME = "eval-router"


def test_eval_refuses_changed_data_in_one_line_and_records_it_when_allowed(
    agentgov_home: Home, agentgov_plugins: PluginManager, tmp_path: Path, run_cli: Run
) -> None:
    from agentgov.data.datasets import add_dataset
    from agentgov.pipelines.registration import register

    agent = tmp_path / "agent"
    shutil.copytree(EXAMPLE, agent, ignore=shutil.ignore_patterns("__pycache__"))
    (agent / "agent.yaml").write_text((agent / "agent.yaml").read_text().replace("name: support-router", f"name: {NAME}"))
    add_dataset(agent / "data" / "eval.csv", agent_dir=agent, role="eval", home=agentgov_home.root)
    register(agent, config=load_config(), audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice")
    with (agent / "data" / "eval.csv").open("a", encoding="utf-8") as f:
        f.write("T9999,Hello,please refund me,refund\n")

    refused = run_cli("eval", NAME, "1", "--agent", str(agent))
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith("agentgov: error: refusing to evaluate on untracked data: ") and refused.stderr.count("\n") == 1
    assert f"agentgov data checkout {NAME} 1" in refused.stderr

    allowed = run_cli("eval", NAME, "1", "--agent", str(agent), "--allow-untracked", "--workers", "1", "--json")
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stderr == ""  # no progress bar, no library noise with --json
    results = json.loads(allowed.stdout)
    assert results["samples"] == 401 and results["errors"] == 0 and results["workers"] == 1
    assert results["dataset"]["tracked"] is False and any("--allow-untracked" in note for note in results["notes"])
    assert results["report"].startswith("runs:/") and results["report"].endswith("/eval/results.json")
    assert [r.action for r in agentgov_home.audit_log.records(subject_prefix=NAME)][-1] == "eval.recorded"
