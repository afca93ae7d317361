"""Promotions killed at random moments: never two productions, never a stuck project.

Each round a fresh process promotes a new version to production and is killed
with SIGKILL after a random delay (anywhere from before its decision to after
its move); then this process promotes the next version, as the next command
would. After every round: one production version, aliases and stage tags
agree (``doctor``), no interrupted move is left, and the audit log verifies.

``AGENTGOV_CRASH_SOAK=200`` runs 200 rounds per backend (the closing note of
the hardening issue reports such a run); CI runs a few.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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

ROUNDS = int(os.environ.get("AGENTGOV_CRASH_SOAK", "6"))


def _promote_in_child(environment: dict[str, str], name: str, version: int, ready: Any) -> None:
    os.environ.update(environment)
    from agentgov.core.config import load_config
    from agentgov.core.plugins import load_plugins
    from agentgov.registry.backend import connect

    config = load_config()
    plugins = load_plugins(config, entrypoints=False)
    connect(config).get_registered_model(name)  # the store is open: what follows is the promotion itself
    ready.set()
    promote(config, AgentRef(name, version=version), Stage.PRODUCTION, actor="victim", audit=Home(config.home).audit_log, plugins=plugins)


@pytest.mark.timeout(300 + 30 * ROUNDS)
def test_promotions_killed_at_random_points_leave_one_production(
    registry_config: Config,
    agentgov_home: Home,
    agentgov_plugins: PluginManager,
    agent_dir: Path,
    agent_name: str,
    mlflow_client: object,
    clone_version: Callable[[str, int], int],
) -> None:
    audit = agentgov_home.audit_log
    first = register(agent_dir, config=registry_config, audit=audit, plugins=agentgov_plugins, actor="alice")
    # A forkserver that has imported agentgov and MLflow but opened no store: each victim starts in milliseconds.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["agentgov.pipelines.promotion", "mlflow"])
    environment = {k: v for k, v in os.environ.items() if k.startswith(("AGENTGOV_", "MLFLOW_"))}

    promote(registry_config, first.ref, Stage.PRODUCTION, actor="alice", audit=audit, plugins=agentgov_plugins)

    def victim_process(version: int) -> tuple[Any, float]:
        ready = context.Event()
        process = context.Process(target=_promote_in_child, args=(environment, agent_name, version, ready))
        process.start()
        assert ready.wait(timeout=120), "the victim never got to its promotion"
        return process, time.monotonic()

    calibration, started = victim_process(clone_version(agent_name, first.version))  # how long one takes, unkilled
    calibration.join(timeout=120)
    typical = time.monotonic() - started
    assert calibration.exitcode == 0
    rng = random.Random(int(os.environ.get("AGENTGOV_CRASH_SEED", "7")))
    killed = finished = 0
    slowest_next = 0.0
    for _ in range(ROUNDS):
        victim = clone_version(agent_name, first.version)
        process, _ = victim_process(victim)
        process.join(timeout=rng.uniform(0.0, 1.2 * typical))  # from before its decision to after its move
        if process.is_alive():
            os.kill(process.pid, signal.SIGKILL)
            killed += 1
        else:
            finished += 1
        process.join()

        successor = clone_version(agent_name, first.version)
        started = time.monotonic()
        promote(registry_config, AgentRef(agent_name, version=successor), Stage.PRODUCTION, actor="bob", audit=audit, plugins=agentgov_plugins)
        slowest_next = max(slowest_next, time.monotonic() - started)

        held = [v.version for v in versions(mlflow_client, agent_name) if v.stage is Stage.PRODUCTION]
        assert held == [successor], held
        assert aliases(mlflow_client, agent_name)["production"] == successor
        assert doctor.check(mlflow_client, agent_name) == []
        assert pending_move(mlflow_client, agent_name) is None
        audit.verify()
    print(f"\ncrash soak: a promotion takes {typical:.2f} s; {ROUNDS} rounds, {killed} killed, {finished} finished before the kill; slowest next promotion {slowest_next:.2f} s")
    recovered = [r.payload["outcome"] for r in audit.records(subject_prefix=agent_name) if r.action == "stage.recovered"]
    print(f"crash soak: stage moves recovered: {len(recovered)} ({', '.join(sorted(set(recovered))) or '-'}); "
          f"audit appends recovered: {sum(1 for r in audit.records() if r.action == 'audit.recovered')}")
