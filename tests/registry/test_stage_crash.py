"""A promotion killed at any point of its stage move is finished by the next writer: never two productions.

A real process promotes a version to production and is stopped at a named
point of the move (``agentgov.core.crashpoints``), then killed with SIGKILL
while it holds the agent's lock. The next promotion of the agent (or
``doctor --repair``) takes the dead holder's lock at once, completes the move
from its intent, and the audit log tells the story.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agentgov.core.config import Config
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager
from agentgov.core.types import AgentRef, Stage
from agentgov.pipelines.promotion import promote
from agentgov.pipelines.registration import register
from agentgov.registry import doctor
from agentgov.registry.stages import pending_move
from agentgov.registry.store import aliases, versions

WORKER = Path(__file__).with_name("crash_worker.py")
POINTS = ("stage.after-intent", "stage.after-aliases", "stage.after-tags", "stage.after-audit")


def kill_promotion_at(point: str, name: str, version: int, tmp_path: Path) -> None:
    marker = tmp_path / f"{point}-{version}.paused"
    env = {**os.environ, "AGENTGOV_PAUSE_AT": point, "AGENTGOV_PAUSE_FILE": str(marker)}
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), name, str(version), "production"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            if worker.poll() is not None:
                raise AssertionError(f"the promotion ended ({worker.returncode}) before {point}:\n{worker.communicate()}")
            assert time.monotonic() < deadline, f"the promotion never reached {point}"
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.communicate()


def productions(client: object, name: str) -> list[int]:
    return [v.version for v in versions(client, name) if v.stage is Stage.PRODUCTION]


@pytest.mark.timeout(600)
def test_the_next_promotion_finishes_a_move_killed_at_each_point(
    registry_config: Config,
    agentgov_home: Home,
    agentgov_plugins: PluginManager,
    agent_dir: Path,
    agent_name: str,
    mlflow_client: object,
    clone_version: Callable[[str, int], int],
    tmp_path: Path,
) -> None:
    audit = agentgov_home.audit_log
    first = register(agent_dir, config=registry_config, audit=audit, plugins=agentgov_plugins, actor="alice")
    promote(registry_config, first.ref, Stage.PRODUCTION, actor="alice", audit=audit, plugins=agentgov_plugins)

    for point in POINTS:
        killed = clone_version(agent_name, first.version)
        kill_promotion_at(point, agent_name, killed, tmp_path)
        assert pending_move(mlflow_client, agent_name) is not None, point
        assert doctor.check(mlflow_client, agent_name), f"doctor sees nothing wrong after a crash at {point}"

        bystander = clone_version(agent_name, first.version)  # the next writer: any move of this agent
        promote(registry_config, AgentRef(agent_name, version=bystander), Stage.SHADOW, actor="bob", audit=audit, plugins=agentgov_plugins)

        assert productions(mlflow_client, agent_name) == [killed], point
        assert aliases(mlflow_client, agent_name)["production"] == killed
        assert pending_move(mlflow_client, agent_name) is None
        assert doctor.check(mlflow_client, agent_name) == [], point
        records = list(audit.records(subject_prefix=agent_name))
        recovered = [r for r in records if r.action == "stage.recovered"]
        assert recovered[-1].payload["outcome"] == "completed" and recovered[-1].subject == f"{agent_name}/{killed}"
        changes = [r for r in records if r.action == "stage.change" and r.subject == f"{agent_name}/{killed}"]
        assert len(changes) == 1, (point, changes)  # recorded once: by the killed move, or by the recovery
        assert changes[0].payload.get("recovered", False) is (point != "stage.after-audit")
        audit.verify()


def test_doctor_repair_finishes_an_interrupted_move(
    registry_config: Config,
    agentgov_home: Home,
    agentgov_plugins: PluginManager,
    agent_dir: Path,
    agent_name: str,
    mlflow_client: object,
    clone_version: Callable[[str, int], int],
    tmp_path: Path,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    audit = agentgov_home.audit_log
    first = register(agent_dir, config=registry_config, audit=audit, plugins=agentgov_plugins, actor="alice")
    promote(registry_config, first.ref, Stage.PRODUCTION, actor="alice", audit=audit, plugins=agentgov_plugins)
    killed = clone_version(agent_name, first.version)
    kill_promotion_at("stage.after-aliases", agent_name, killed, tmp_path)
    # The torn state: the alias already points at the new version, the stage tags still say the old one holds production.
    assert aliases(mlflow_client, agent_name)["production"] == killed
    assert productions(mlflow_client, agent_name) == [first.version]

    found = run_cli("doctor")
    assert found.returncode == 1 and "was interrupted" in found.stdout and "--repair" in found.stdout

    repaired = run_cli("doctor", "--repair")  # the shared server holds other tests' agents too: judge only this one
    assert f"repaired: completed the interrupted move of {agent_name}/{killed} to production" in repaired.stdout
    assert agent_name not in repaired.stdout.replace(f"repaired: completed the interrupted move of {agent_name}", "")
    assert doctor.check(mlflow_client, agent_name) == []
    assert productions(mlflow_client, agent_name) == [killed]
    assert aliases(mlflow_client, agent_name)["previous-production"] == first.version
    assert run_cli("audit", "verify").returncode == 0
