"""Rollout fixtures: one registered agent in production per module (real MLflow on sqlite; test_shared_backend.py
puts it on the PostgreSQL-backed server), cheap candidate versions cloned from it, small plans, and a traffic writer
that fills the inference log for a rollout's arms."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SMALL_PLAN = """\
name = "small"

[[steps]]
kind = "shadow"
mirror = 1.0
min_requests = 200

[steps.analysis]
shadow_agreement = 0.9

[steps.analysis.policies.shadow-agreement]
min_requests = 200

[[steps.analysis.metrics]]
name = "error_rate"
margin = 0.05
mde = 0.3

[[steps]]
kind = "canary"
percent = 25
min_requests = 200

[[steps.analysis.metrics]]
name = "error_rate"
margin = 0.05
mde = 0.3

[[steps.analysis.metrics]]
name = "latency_mean_ms"
margin = 0.2
mde = 0.6
relative = true

[[steps]]
kind = "production"
"""


@dataclass(frozen=True)
class RolloutAgent:
    """A home with one agent whose first version is in production."""

    root: Path
    home: Any
    environ: dict[str, str]
    name: str
    first: int


def agent_in_production(root: Path, tracking_uri: str | None = None) -> RolloutAgent:
    """A home in ``root`` with the example agent registered and promoted to production by alice; on the home's
    sqlite registry, or on the MLflow server at ``tracking_uri``."""
    from agentgov.core.types import Stage
    from agentgov.pipelines.promotion import promote
    from agentgov.pipelines.registration import register
    from tests.conftest import example_project

    project = example_project(root, "rollout", "alice", tracking_uri=tracking_uri)
    root, home, environ, config, plugins, agent_dir = (
        project.root, project.home, project.environ, project.config, project.plugins, project.agent_dir
    )
    version = register(agent_dir, config=config, audit=home.audit_log, plugins=plugins, actor="alice")
    promote(config, version.ref, Stage.PRODUCTION, actor="alice", audit=home.audit_log, plugins=plugins)
    return RolloutAgent(root, home, environ, version.name, version.version)


@pytest.fixture(scope="module")
def rollout_agent(tmp_path_factory: pytest.TempPathFactory) -> RolloutAgent:
    """The module's agent on real MLflow on sqlite (test_shared_backend.py overrides it with the PostgreSQL server)."""
    return agent_in_production(tmp_path_factory.mktemp("rollout"))


@pytest.fixture
def ctx(rollout_agent: RolloutAgent, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The controller's context for the module's home; the environment points there too (for commands and flows)."""
    import os

    from agentgov.core.config import load_config
    from agentgov.core.home import Home
    from agentgov.core.plugins import PluginManager
    from agentgov.pipelines.rollout.controller import Context

    for name in list(os.environ):
        if name.startswith("AGENTGOV_") or name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "PREFECT_API_URL"):
            monkeypatch.delenv(name)
    for key, value in rollout_agent.environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(rollout_agent.root)
    config = load_config()
    plugins = PluginManager(config)
    plugins.load_builtins()
    return Context(config, plugins, Home.configured(config, plugins).audit_log)


@pytest.fixture
def candidate(ctx: Any, rollout_agent: RolloutAgent) -> int:
    """A new ready candidate version of the agent: production's model, registered again (no files logged twice)."""
    from agentgov.registry.store import aliases

    production = aliases(ctx.client, rollout_agent.name)["production"]
    original = ctx.client.get_model_version(rollout_agent.name, str(production))
    tags = {
        k: v
        for k, v in original.tags.items()
        if not k.startswith(("agentgov.decision.", "agentgov.gate.", "agentgov.rollout"))
    }
    tags["agentgov.stage"] = "candidate"
    created = ctx.client.create_model_version(
        rollout_agent.name,
        source=original.source,
        run_id=original.run_id,
        tags=tags,
        model_id=original.model_id or original.source.removeprefix("models:/"),
    )
    return int(created.version)


@dataclass(frozen=True)
class Behaviour:
    """How the candidate answers, against a production that never errs and takes 100 ms."""

    error_every: int = 0  # every n-th candidate call fails (0: never)
    latency_ms: float = 100.0
    other_args: bool = False  # same action, different tool-call arguments


def traffic_rows(state: Any, n: int, behaviour: Behaviour, offset: int = 0) -> list[Any]:
    """``n`` production calls and ``n`` candidate calls of the rollout's current step (shadow calls paired)."""
    from agentgov.core.types import utcnow
    from agentgov.evals.inference_log import InferenceRecord

    step = state.current_step
    role = "shadow" if step["kind"] == "shadow" else "canary"
    now = utcnow()
    records = []
    for i in range(offset, offset + n):
        args = {"ticket": i, "queue": "billing"}
        trace = {"calls": [{"tool": "tickets.route", "args": args}]}
        other = {"calls": [{"tool": "tickets.route", "args": {**args, "queue": "sales"}}]}
        pairing = f"{state.id}-{i}" if role == "shadow" else None
        jitter = (i % 7) * 3.0
        records.append(
            InferenceRecord(
                time=now,
                agent=state.agent,
                version=state.baseline,
                stage="production",
                request_id=f"p{i}",
                pairing_id=pairing,
                latency_ms=100.0 + jitter,
                cost=0.001,
                response={"action": "route"},
                rollout_id=state.id,
                trace=json.dumps(trace),
            )
        )
        fails = behaviour.error_every and i % behaviour.error_every == 0
        records.append(
            InferenceRecord(
                time=now,
                agent=state.agent,
                version=state.candidate,
                stage=role,
                request_id=f"c{i}",
                pairing_id=pairing,
                latency_ms=behaviour.latency_ms + jitter,
                cost=0.001,
                response={"action": "route"},
                rollout_id=state.id,
                error="boom" if fails else None,
                trace=json.dumps(other if behaviour.other_args else trace),
            )
        )
    return records


def write_traffic(ctx: Any, state: Any, n: int, behaviour: Behaviour = Behaviour(), offset: int = 0) -> None:
    from agentgov.evals import inference_log

    inference_log.append(ctx.config.home, traffic_rows(state, n, behaviour, offset))


@pytest.fixture
def traffic(ctx: Any) -> Iterator[Any]:
    """``traffic(name, behaviour)``: a thread that feeds each observed step of the agent's rollout with traffic until stopped."""
    from agentgov.pipelines.rollout.state import OBSERVING, RUNNING, read_state

    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start(name: str, behaviour: Behaviour = Behaviour(), batch: int = 300) -> None:
        def feed() -> None:
            fed: set[tuple[str, int]] = set()
            while not stop.is_set():
                state = read_state(ctx.client, name)
                if (
                    state is not None
                    and state.status == RUNNING
                    and state.phase == OBSERVING
                    and (state.id, state.step) not in fed
                ):
                    write_traffic(ctx, state, batch, behaviour, offset=state.step * 100000)
                    fed.add((state.id, state.step))
                stop.wait(0.1)

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        threads.append(thread)

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=10)


@pytest.fixture
def small_plan() -> Any:
    from agentgov.deploy.plan import parse_plan

    return parse_plan(SMALL_PLAN, "small.toml")
