"""``agentgov rollout ...``, ``rollback --emergency`` and ``traffic replay`` as a user runs them: the real command
in a subprocess, on the rollout tests' home (real MLflow on sqlite, the `rollout` flow on an embedded Prefect)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from agentgov.core.types import AgentRef, Stage
from agentgov.pipelines.rollout import actions, controller
from agentgov.pipelines.rollout.state import DONE, PAUSED, RUNNING, read_state
from agentgov.registry.store import aliases, get, versions
from tests.pipelines.rollout import conftest as rollout_fixtures
from tests.pipelines.rollout import test_replay
from tests.pipelines.rollout.conftest import SMALL_PLAN, Behaviour

# The rollout tests' fixtures: one agent in production per module, candidates, plans, the traffic writer.
rollout_agent = rollout_fixtures.rollout_agent
ctx = rollout_fixtures.ctx
candidate = rollout_fixtures.candidate
small_plan = rollout_fixtures.small_plan
traffic = rollout_fixtures.traffic
gateway = test_replay.gateway  # a stand-in gateway on loopback


@pytest.fixture(autouse=True)
def _through_the_control_plane(ctx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's home is set up in process; its commands run as a user's do, through its control plane."""
    monkeypatch.setenv("AGENTGOV_NO_SERVER", "0")


CANARY_PLAN = """\
name = "canaries"

[[steps]]
kind = "canary"
percent = 25
min_requests = 200

[[steps.analysis.metrics]]
name = "error_rate"
margin = 0.05
mde = 0.3

[[steps]]
kind = "canary"
percent = 50
min_requests = 200

[[steps.analysis.metrics]]
name = "error_rate"
margin = 0.05
mde = 0.3

[[steps]]
kind = "production"
"""


def productions(ctx: Any, name: str) -> list[int]:
    return [v.version for v in versions(ctx.client, name) if v.stage is Stage.PRODUCTION]


def agentgov(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    from tests.conftest import agentgov_executable as executable

    return subprocess.run(
        [executable(), *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=timeout
    )


def test_start_runs_the_plan_as_a_flow_and_status_shows_the_outcome(
    ctx: Any, rollout_agent: Any, candidate: int, traffic: Any, tmp_path: Path
) -> None:
    name = rollout_agent.name
    plan = tmp_path / "plan.toml"
    plan.write_text(SMALL_PLAN)
    before = aliases(ctx.client, name)["production"]
    traffic(name, Behaviour())
    started = agentgov("rollout", "start", name, str(candidate), "--plan", str(plan), "--poll-s", "0.2")
    assert started.returncode == 0, started.stdout + started.stderr
    assert (
        f"of {name}/{candidate} (plan small: shadow -> canary 25% -> production); production is v{before}"
        in started.stdout
    )
    assert "succeeded" in started.stdout and "canary 25%" in started.stdout  # the live lines and the end
    assert productions(ctx, name) == [candidate]

    shown = agentgov("rollout", "status", name, "--json")
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert status["rollout"]["status"] == "succeeded" and status["waiting_for"].startswith("nothing: the rollout ended")
    canary = status["analysis"]
    assert canary["kind"] == "canary" and canary["counts"] == {"production": 300, "candidate": 300}
    assert {c["check"] for c in canary["checks"]} == {"error_rate", "latency_mean_ms"}
    assert all(c["min_n"] and c["interval"] for c in canary["checks"])
    text = agentgov("rollout", "status", name)
    assert (
        "Analysis of step 2 (canary)" in text.stdout
        and "error_rate" in text.stdout
        and "waiting for: nothing" in text.stdout
    )


def test_bad_input_is_one_line_and_exit_2(ctx: Any, rollout_agent: Any, candidate: int, tmp_path: Path) -> None:
    plan = tmp_path / "bad.toml"
    plan.write_text('[[steps]]\nkind = "canary"\npercent = 120\n')
    refused = agentgov("rollout", "start", rollout_agent.name, str(candidate), "--plan", str(plan))
    assert refused.returncode == 2 and "percent" in refused.stderr and "Traceback" not in refused.stderr
    assert agentgov("rollout", "pause", "no-such-agent").returncode == 2


@pytest.mark.parametrize(
    "point", ["stage.after-intent", "stage.after-aliases", "rollout.after-stage", "rollout.after-traffic-set"]
)
def test_a_controller_killed_mid_canary_is_finished_by_rollout_resume(
    ctx: Any, rollout_agent: Any, candidate: int, traffic: Any, tmp_path: Path, point: str
) -> None:
    name = rollout_agent.name
    plan = tmp_path / "canaries.toml"
    plan.write_text(CANARY_PLAN)
    before = aliases(ctx.client, name)["production"]
    marker = tmp_path / "paused"
    env = {"AGENTGOV_PAUSE_AT": point, "AGENTGOV_PAUSE_FILE": str(marker)}
    from tests.conftest import agentgov_executable as executable

    worker = subprocess.Popen(
        [executable(), "rollout", "start", name, str(candidate), "--plan", str(plan), "--poll-s", "0.2"],
        env={**os.environ, **env, "AGENTGOV_SUPERVISE": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "the controller never reached the canary"
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGKILL)  # kill -9 of the controller, mid-canary
        worker.communicate()

    # Killed entering the canary: production is untouched, the step uncommitted; the move or the weight half done.
    state = read_state(ctx.client, name)
    assert (state.status, state.step, state.phase) == (RUNNING, 0, "entering")
    assert productions(ctx, name) == [before] and aliases(ctx.client, name)["production"] == before
    if point == "rollout.after-traffic-set":
        from agentgov.pipelines.rollout.traffic import routing

        assert aliases(ctx.client, name)["canary"] == candidate
        assert routing(ctx.config, ctx.client, name)["canary_weight"] == 0.25

    traffic(name, Behaviour())
    resumed = agentgov("rollout", "resume", name, "--poll-s", "0.2")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    final = read_state(ctx.client, name)
    assert (final.status, final.phase) == ("succeeded", DONE)
    assert productions(ctx, name) == [candidate] and aliases(ctx.client, name)["previous-production"] == before
    story = [r.action for r in ctx.audit.records(subject_prefix=name) if r.payload.get("rollout") == state.id]
    assert story[:2] == ["rollout.started", "rollout.resumed"] and story[-1] == "rollout.succeeded"
    assert story.count("rollout.step_entered") == 2  # canary 25% (once, after the resume) and canary 50%
    changes = [
        r
        for r in ctx.audit.records(subject_prefix=name)
        if r.action == "stage.change" and r.subject == f"{name}/{candidate}"
    ]
    assert [c.payload["to"] for c in changes] == ["canary", "production"]  # the canary move was not repeated
    assert [c.payload.get("recovered", False) for c in changes] == [point.startswith("stage."), False]
    ctx.audit.verify()


def test_emergency_rollback_during_a_paused_rollout(
    ctx: Any, rollout_agent: Any, candidate: int, small_plan: Any
) -> None:
    name = rollout_agent.name
    before = aliases(ctx.client, name)["production"]
    actions.start(ctx, name, candidate, small_plan, actor="alice")
    controller.tick(ctx, name)  # in shadow, mirroring
    paused = agentgov("rollout", "pause", name, env={"AGENTGOV_USER": "bob"})
    assert paused.returncode == 0 and "paused at step 1 of 3: shadow" in paused.stdout and "by bob" in paused.stdout
    assert read_state(ctx.client, name).status == PAUSED

    rolled = agentgov("rollback", name, "--emergency", env={"AGENTGOV_USER": "carol"})
    assert rolled.returncode == 0, rolled.stderr
    assert f"production is v{before} (was v{before}); no canary or shadow traffic; rollout" in rolled.stdout
    state = read_state(ctx.client, name)
    assert (state.status, state.phase, state.reason) == ("rolled_back", DONE, "emergency")
    assert "shadow" not in aliases(ctx.client, name) and productions(ctx, name) == [before]
    assert get(ctx.client, AgentRef(name, version=candidate)).stage is Stage.ARCHIVED
    records = list(ctx.audit.records(subject_prefix=name))
    assert any(r.action == "rollout.paused" and r.actor == "bob" for r in records)
    assert any(r.action == "rollout.emergency_rollback" and r.actor == "carol" for r in records)
    assert any(
        r.action == "rollout.rolled_back" and r.actor == "carol" and r.payload["rollout"] == state.id for r in records
    )


@pytest.mark.parametrize("point", ["rollout.after-stage"])
def test_emergency_rollback_restores_production_when_the_controller_died_after_promoting(
    ctx: Any, rollout_agent: Any, candidate: int, point: str, tmp_path: Path
) -> None:
    """The controller moved the candidate to production and died before committing: an emergency rollback restores the baseline."""
    name = rollout_agent.name
    before = aliases(ctx.client, name)["production"]
    plan = tmp_path / "direct.toml"
    plan.write_text('name = "direct"\n[[steps]]\nkind = "production"\n')
    marker = tmp_path / "paused"
    from tests.conftest import agentgov_executable as executable

    worker = subprocess.Popen(
        [executable(), "rollout", "start", name, str(candidate), "--plan", str(plan), "--poll-s", "0.2"],
        env={**os.environ, "AGENTGOV_PAUSE_AT": point, "AGENTGOV_PAUSE_FILE": str(marker), "AGENTGOV_SUPERVISE": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.communicate()
    assert productions(ctx, name) == [candidate] and read_state(ctx.client, name).status == RUNNING

    rolled = agentgov("rollback", name, "--emergency", "--json")
    assert rolled.returncode == 0, rolled.stderr
    outcome = json.loads(rolled.stdout)
    assert outcome["aliases_before"]["production"] == candidate and outcome["aliases_after"]["production"] == before
    assert productions(ctx, name) == [before]
    assert read_state(ctx.client, name).status == "rolled_back"


def test_detach_hands_the_flow_to_the_control_planes_runner(
    ctx: Any, rollout_agent: Any, candidate: int, traffic: Any, tmp_path: Path
) -> None:
    """``--detach`` records a runner job (no control plane runs here: a warning says it starts with one); the job,
    run as the control plane's child runs it, drives the rollout to its end."""
    import signal as signals

    from agentgov.pipelines import control_plane, runner

    control_plane.stop(ctx.config.home)  # the module's earlier commands started one
    name = rollout_agent.name
    plan = tmp_path / "plan.toml"
    plan.write_text(SMALL_PLAN)
    detached = agentgov(
        "rollout", "start", name, str(candidate), "--plan", str(plan), "--detach", "--poll-s", "0.2",
        env={"AGENTGOV_NO_SERVER": "1"},
    )
    assert detached.returncode == 0, detached.stderr
    assert (
        "The control plane runs it as job" in detached.stdout
        and "no control plane runs for this home" in detached.stderr
    )
    [job] = [j for j in runner.jobs(ctx.config.home) if j.kwargs.get("name") == name]
    assert job.target == "agentgov.pipelines.rollout.flow:rollout" and job.kwargs == {"name": name, "poll_s": 0.2}
    assert read_state(ctx.client, name).status == RUNNING

    traffic(name, Behaviour())
    previous = signals.getsignal(signals.SIGTERM)
    try:
        assert runner.execute(job) == 0
    finally:
        signals.signal(signals.SIGTERM, previous)
        runner.cancel(ctx.config.home, job.id, by="test")
    assert read_state(ctx.client, name).status == "succeeded" and productions(ctx, name) == [candidate]


def test_detach_in_the_default_mode_leaves_the_rollout_to_the_control_plane(
    ctx: Any, rollout_agent: Any, candidate: int, traffic: Any, tmp_path: Path
) -> None:
    """As a user runs it: the command returns at once, the home's control plane drives the rollout to its end while
    traffic flows, and ``rollout status`` (through the same control plane) shows where it stands."""
    from agentgov.pipelines import control_plane

    name = rollout_agent.name
    plan = tmp_path / "plan.toml"
    plan.write_text(SMALL_PLAN)
    traffic(name, Behaviour())
    detached = agentgov("rollout", "start", name, str(candidate), "--plan", str(plan), "--detach", "--poll-s", "0.2")
    assert detached.returncode == 0, detached.stderr
    assert "The control plane runs it as job" in detached.stdout and "no control plane runs" not in detached.stderr
    assert control_plane.running(ctx.config.home) is not None
    deadline = time.monotonic() + 120
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        shown = agentgov("rollout", "status", name, "--json")
        assert shown.returncode == 0, shown.stderr
        status = json.loads(shown.stdout)
        if status["rollout"]["status"] != RUNNING:
            break
        time.sleep(1)
    assert status["rollout"]["status"] == "succeeded", status
    assert productions(ctx, name) == [candidate]


def test_traffic_replay_sends_the_dataset_to_a_gateway(tmp_path: Path, gateway: Any) -> None:
    url, seen = gateway
    dataset = tmp_path / "requests.jsonl"
    dataset.write_text(
        "".join(json.dumps({"request": {"text": f"t{i}", "agentgov_key": f"u{i}"}}) + "\n" for i in range(5))
    )
    sent = agentgov(
        "traffic",
        "replay",
        "router",
        "--dataset",
        str(dataset),
        "--rps",
        "20",
        "--duration",
        "1",
        "--url",
        url,
        "--json",
    )
    assert sent.returncode == 0, sent.stderr
    summary = json.loads(sent.stdout)
    assert summary["sent"] == 20 and summary["ok"] == 20 and summary["errors"] == 0
    assert len(seen) == 20 and {k for k, _ in seen} == {f"u{i}" for i in range(5)}
    shown = agentgov("traffic", "replay", "router", "--dataset", str(dataset), "--rps", "50", "--url", url)
    assert shown.returncode == 0 and "router: 5 requests in" in shown.stdout and "0 errors" in shown.stdout
    missing = agentgov(
        "traffic", "replay", "router", "--dataset", str(dataset), "--rps", "5", env={"AGENTGOV_GATEWAY_URL": ""}
    )
    assert missing.returncode == 2 and "--url" in missing.stderr


def test_an_inconclusive_rollout_exits_3_and_waits_for_a_person(
    ctx: Any, rollout_agent: Any, candidate: int, tmp_path: Path
) -> None:
    name = rollout_agent.name
    plan = tmp_path / "short.toml"
    plan.write_text(
        SMALL_PLAN.replace(
            "min_requests = 200\n\n[steps.analysis]", "min_requests = 200\nmax_minutes = 0.01\n\n[steps.analysis]"
        )
    )
    waiting = agentgov("rollout", "start", name, str(candidate), "--plan", str(plan), "--poll-s", "0.2")
    assert waiting.returncode == 3, waiting.stdout + waiting.stderr
    assert "paused: inconclusive after" in waiting.stdout and "no data never passes" in waiting.stdout
    assert f"agentgov rollout resume {name} --accept" in waiting.stdout

    shown = agentgov("rollout", "status", name)
    assert "status: paused (inconclusive)" in shown.stdout and "waiting for: a person" in shown.stdout
    refused = agentgov("rollout", "resume", name, "--accept")  # alice registered the version: she may not accept
    assert (
        refused.returncode == 2 and "may not accept" in refused.stderr and read_state(ctx.client, name).status == PAUSED
    )
    # bob accepts the shadow step's inconclusive verdict; the gate into canary then finds no agreement evidence
    # (shadow-agreement inconclusive): the rollout waits again, for a person to accept the gate too.
    accepted = agentgov("rollout", "resume", name, "--accept", env={"AGENTGOV_USER": "bob"})
    assert accepted.returncode == 3 and "the gate to canary needs review" in accepted.stdout
    assert read_state(ctx.client, name).accept == {"needed": ["shadow-agreement"]}
    aborted = agentgov("rollout", "abort", name, env={"AGENTGOV_USER": "bob"})
    assert aborted.returncode == 0 and "aborted by bob" in aborted.stdout
    assert read_state(ctx.client, name).status == "aborted" and productions(ctx, name) == [
        aliases(ctx.client, name)["production"]
    ]
