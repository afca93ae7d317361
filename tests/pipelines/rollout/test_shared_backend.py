"""A staged rollout on the shared backend: a real ``mlflow server`` on PostgreSQL (``mlflow_server``) instead of
the home's sqlite. Machine A is one home (the controller, the inference log); machine B is another home on the same
tracking URI, which sees A's rollout and aborts it with the real ``agentgov`` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentgov.pipelines.rollout import actions, controller
from agentgov.pipelines.rollout.state import ABORTED, DONE, RUNNING, SUCCEEDED, read_state
from agentgov.registry.store import aliases
from tests.pipelines.rollout.conftest import Behaviour, RolloutAgent, agent_in_production
from tests.pipelines.rollout.test_gateway_stops import productions


@pytest.fixture(scope="module")
def rollout_agent(tmp_path_factory: pytest.TempPathFactory, mlflow_server: str) -> RolloutAgent:
    """Machine A: this module's agent, registered and in production on the PostgreSQL-backed server (the
    directory's ``ctx``, ``candidate`` and ``traffic`` fixtures build on it)."""
    return agent_in_production(tmp_path_factory.mktemp("shared-a"), tracking_uri=mlflow_server)


@pytest.fixture(scope="module")
def machine_b(tmp_path_factory: pytest.TempPathFactory, mlflow_server: str) -> tuple[Path, dict[str, str]]:
    """Another home in another folder on the same tracking URI: (its folder, the environment its commands run in)."""
    from agentgov.core.home import Home

    root = tmp_path_factory.mktemp("shared-b")
    home = Home(root / "home")
    home.create()
    return root, {
        "AGENTGOV_HOME": str(home.root),
        "AGENTGOV_USER": "bob",
        "AGENTGOV_TRACKING_URI": mlflow_server,
        "AGENTGOV_NO_SERVER": "1",
    }


def test_a_good_candidate_reaches_production_on_the_server(
    ctx: Any, rollout_agent: RolloutAgent, candidate: int, small_plan: Any, traffic: Any, mlflow_server: str
) -> None:
    assert ctx.config.tracking_uri == mlflow_server and ctx.config.registry_uri == mlflow_server
    name = rollout_agent.name
    before = aliases(ctx.client, name)["production"]
    state = actions.start(ctx, name, candidate, small_plan, actor="alice")
    traffic(name, Behaviour())  # into machine A's inference log, which A's controller analyses
    final = controller.drive(ctx, name, poll_s=0.05)

    assert (final.status, final.phase) == (SUCCEEDED, DONE), final.detail
    assert final.id == state.id and [s["kind"] for s in final.plan["steps"]] == ["shadow", "canary", "production"]
    now = aliases(ctx.client, name)
    assert now["production"] == candidate and now["previous-production"] == before
    assert "canary" not in now and "shadow" not in now
    assert productions(ctx, name) == [candidate]
    steps = [
        r
        for r in ctx.audit.records(subject_prefix=name)
        if r.action == "event.rollout-step" and r.payload["payload"]["rollout"] == state.id
    ]
    assert len(steps) == 2  # shadow, then canary 25%, each passed


def test_a_rollout_started_on_one_machine_is_seen_and_aborted_from_another(
    ctx: Any,
    rollout_agent: RolloutAgent,
    candidate: int,
    small_plan: Any,
    machine_b: tuple[Path, dict[str, str]],
    run_cli: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = rollout_agent.name
    before = aliases(ctx.client, name)["production"]
    started = actions.start(ctx, name, candidate, small_plan, actor="alice")
    entered = controller.tick(ctx, name)  # on A: the candidate into shadow, mirrored traffic on
    assert (entered.status, entered.step) == (RUNNING, 0) and aliases(ctx.client, name).get("shadow") == candidate

    root_b, env_b = machine_b
    monkeypatch.chdir(root_b)  # B's commands run in B's folder, on B's home
    shown = run_cli("rollout", "status", name, "--json", env=env_b, check=True)
    seen = json.loads(shown.stdout)["rollout"]
    assert (seen["id"], seen["status"], seen["candidate"], seen["baseline"]) == (started.id, RUNNING, candidate, before)
    assert seen["started_by"] == "alice"

    aborted = run_cli("rollout", "abort", name, env=env_b, check=True)
    assert f"Rollout {started.id} of {name}: aborted by bob" in aborted.stdout

    state = read_state(ctx.client, name)  # back on A
    assert (state.id, state.status, state.phase) == (started.id, ABORTED, DONE)
    assert state.detail == "aborted by bob" and state.updated_by == "bob"
    now = aliases(ctx.client, name)
    assert now["production"] == before and productions(ctx, name) == [before]
    assert "shadow" not in now and "canary" not in now
    from agentgov.pipelines.rollout.traffic import routing

    after = routing(ctx.config, ctx.client, name)  # the rollout's traffic settings are gone with it
    assert (after["production"], after["shadow"], after["canary"], after["canary_weight"]) == (before, None, None, 0)
    assert after["rollout_id"] != started.id
    # B recorded its abort in its own audit log; A's holds none.
    from agentgov.core.home import Home

    b_records = Home(Path(env_b["AGENTGOV_HOME"])).audit_log.records(subject_prefix=name)
    assert [(r.action, r.actor) for r in b_records if r.action == "rollout.aborted"] == [("rollout.aborted", "bob")]
    assert not any(r.action == "rollout.aborted" for r in ctx.audit.records(subject_prefix=name))
