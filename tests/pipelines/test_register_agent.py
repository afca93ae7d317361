"""``agentgov register`` runs the register-agent flow: quiet on the terminal, recorded in Prefect."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from agentgov.core.config import Config
from agentgov.pipelines.register_agent import agent_name as manifest_name
from agentgov.registry.backend import connect

from .conftest import one_run

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_register_on_the_cli_prints_no_library_noise_and_prefect_records_the_flow(
    agentgov_config: Config, agent_dir: Path, agent_name: str, run_cli: Run
) -> None:
    result = run_cli("register", str(agent_dir), "--json")

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no traceback, no warning, no Prefect log line, not even at interpreter exit
    version = json.loads(result.stdout)
    assert (version["name"], version["version"], version["stage"]) == (agent_name, 1, "candidate")
    assert connect(agentgov_config).get_model_version(agent_name, "1").tags["agentgov.stage"] == "candidate"

    run = one_run(agentgov_config, f"register {agent_name}")
    assert run.state == "COMPLETED"
    for step in ("check-manifest-", "check-datasets-", "validate-data-", "package-and-register-"):  # each step once
        assert run.task_states(step) == ["COMPLETED"], (step, run.task_runs)
    summary = run.artifacts[f"register-{agent_name}"]
    assert f"{agent_name}/1 (candidate)" in summary and "| data validation | no dataset names a suite |" in summary


def test_a_bad_manifest_is_one_line_on_the_cli_and_a_failed_run_in_prefect(
    agentgov_config: Config, agent_dir: Path, agent_name: str, run_cli: Run
) -> None:
    manifest = agent_dir / "agent.yaml"
    manifest.write_text(manifest.read_text().replace("risk_tier: medium", "risk_tier: extreme"))

    result = run_cli("register", str(agent_dir))

    assert result.returncode == 2
    assert result.stderr.startswith("agentgov: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "risk_tier" in result.stderr and "Traceback" not in result.stderr
    run = one_run(agentgov_config, f"register {agent_name}")
    assert run.state == "FAILED"
    assert run.task_states("check-manifest-") == ["FAILED"]
    assert run.task_states("package-and-register-") == []  # a user's error is not retried, nothing is packaged


def test_the_run_is_named_after_the_agent_even_before_its_manifest_is_checked(agent_dir: Path, agent_name: str) -> None:
    assert manifest_name(str(agent_dir)) == agent_name
    assert manifest_name(str(agent_dir / "agent.yaml")) == agent_name
    assert manifest_name(str(agent_dir / "missing")) is None
