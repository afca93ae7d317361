"""``agentgov demo`` run once, as a user runs it (the installed command, in a fresh folder, nothing configured),
then its results read back from the real stores: MLflow, the audit log, the inference log, the helpdesk store,
the drift reports, and the processes of this machine."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import agentgov_executable

AGENT = "support-router"
# Settings of the caller's shell the demo must not follow (it points at its own folder only).
FOREIGN = ("AGENTGOV_HOME", "AGENTGOV_CONFIG", "MLFLOW_TRACKING_URI", "PREFECT_API_URL", "HELPDESK_DB")


@dataclass(frozen=True)
class Demo:
    root: Path
    summary: dict[str, Any]
    stdout: str

    def records(self) -> list[dict[str, Any]]:
        lines = (self.root / ".agentgov" / "audit" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def config(self) -> Any:
        from agentgov.core.config import load_config

        return load_config(start=self.root, environ={"AGENTGOV_CONFIG": str(self.root / "agentgov.toml")})


def run_demo(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    # A shell's settings for a team's servers are ignored: this would send nothing anywhere.
    env.update(MLFLOW_TRACKING_URI="http://127.0.0.1:9/unreachable", PREFECT_API_URL="http://127.0.0.1:9/api")
    return subprocess.run(
        [agentgov_executable(), "demo", str(root), *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = tmp_path_factory.mktemp("demo") / "agentgov-demo"
    done = run_demo(root, "--json")
    assert done.returncode == 0, f"agentgov demo exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert "Traceback" not in done.stderr, done.stderr
    return Demo(root, json.loads(done.stdout), done.stdout)


def test_the_demo_runs_every_step_and_its_json_summary_times_each(demo: Demo) -> None:
    steps = [s["name"] for s in demo.summary["steps"]]
    assert steps == [
        "init", "data", "track", "validate", "register", "evaluate", "production", "rollout", "drift", "blocked",
        "emergency", "verify",
    ]
    assert all(s["seconds"] >= 0 and s["said"] for s in demo.summary["steps"])
    assert demo.summary["seconds"] == pytest.approx(sum(s["seconds"] for s in demo.summary["steps"]), abs=0.1)
    assert json.loads((demo.root / "demo-summary.json").read_text()) == demo.summary
    looks = {item["what"]: item["where"] for item in demo.summary["look"]}
    assert looks["the drift report (Evidently HTML)"].endswith(".html")
    assert f"--backend-store-uri sqlite:///{demo.root}/.agentgov/mlflow.db" in looks["MLflow's UI (versions, aliases, eval runs)"]


def test_v2_scores_above_v1_offline_with_intervals_that_do_not_overlap(demo: Demo) -> None:
    scores = next(s for s in demo.summary["steps"] if s["name"] == "evaluate")["eval"]
    v1, v2 = scores["v1"], scores["v2"]
    assert v1["samples"] == v2["samples"] == 400
    assert v1["ci_low"] < v1["rate"] < v1["ci_high"] < v2["ci_low"] < v2["rate"] < v2["ci_high"]


def test_the_rollout_left_v2_in_production_and_the_emergency_rollback_put_v1_back(demo: Demo) -> None:
    from agentgov.registry.backend import connect
    from agentgov.registry.store import aliases, versions

    client = connect(demo.config())
    stages = {v.version: v.stage.value for v in versions(client, AGENT)}
    assert stages == {1: "production", 2: "archived", 3: "candidate"}
    assert aliases(client, AGENT) == {"production": 1}
    assert [(v["version"], v["stage"]) for v in demo.summary["versions"]] == [(1, "production"), (2, "archived"), (3, "candidate")]
    # Before the emergency rollback the rollout had left v2 in production and v1 as previous-production.
    emergency = next(s for s in demo.summary["steps"] if s["name"] == "emergency")
    assert emergency["aliases_before"] == {"production": 2, "previous-production": 1}
    assert emergency["aliases_after"] == {"production": 1}


def test_the_audit_log_tells_the_whole_story(demo: Demo) -> None:
    records = demo.records()
    decisions = [(r["subject"], r["payload"]["target"], r["payload"]["outcome"], r["actor"]) for r in records if r["action"] == "decision"]
    user = decisions[0][3]
    assert decisions == [
        (f"{AGENT}/1", "production", "allowed", user),  # v1, approved by a second person
        (f"{AGENT}/2", "shadow", "allowed", user),  # the rollout's steps, each through the gate
        (f"{AGENT}/2", "canary", "allowed", user),
        (f"{AGENT}/2", "production", "allowed", user),
        (f"{AGENT}/3", "production", "blocked", user),  # the deliberately bad version
        (f"{AGENT}/1", "production", "allowed", "demo-on-call"),  # the emergency rollback, ungated and recorded
    ]
    assert [d["id"] for d in demo.summary["decisions"]] == [r["payload"]["id"] for r in records if r["action"] == "decision"]
    approvals = [(r["subject"], r["actor"]) for r in records if r["action"] == "event.approved"]
    assert approvals == [(f"{AGENT}/1", "demo-reviewer"), (f"{AGENT}/2", "demo-reviewer")] and user != "demo-reviewer"

    blocked = next(r for r in records if r["action"] == "decision" and r["payload"]["outcome"] == "blocked")
    verdicts = {r["policy"]: r["status"] for r in blocked["payload"]["results"]}
    assert verdicts["eval-thresholds"] == "fail" and verdicts["human-approval"] == "fail"
    assert blocked["payload"]["id"] == next(s for s in demo.summary["steps"] if s["name"] == "blocked")["decision"]

    rollout = next(s for s in demo.summary["steps"] if s["name"] == "rollout")["rollout"]
    steps = [r["payload"]["payload"] for r in records if r["action"] == "event.rollout-step"]
    assert [(s["rollout"], s["step"], s["verdict"]) for s in steps] == [(rollout, "shadow", "pass"), (rollout, "canary 50%", "pass")]
    assert all(c["verdict"] == "pass" for s in steps for c in s["analysis"]["checks"])
    actions = [r["action"] for r in records]
    assert actions.index("rollout.succeeded") < actions.index("drift.check") < actions.index("rollout.emergency_rollback")
    ended = next(r for r in records if r["action"] == "rollout.rolled_back")
    assert (ended["payload"]["rollout"], ended["payload"]["reason"], ended["actor"]) == (rollout, "emergency", "demo-on-call")


def test_shadow_copies_left_no_rows_in_the_helpdesk_store(demo: Demo) -> None:
    from agentgov.evals import inference_log

    home = demo.root / ".agentgov"
    shadow = inference_log.read(home, AGENT, stage="shadow")
    assert len(shadow) >= 80 and set(shadow["version"]) == {2}
    shadow_tickets = set(shadow["request.ticket_id"])
    with sqlite3.connect(demo.root / "helpdesk.db") as store:
        routed = dict(store.execute("SELECT id, routed_by FROM tickets").fetchall())
        by_router = dict(store.execute("SELECT routed_by, count(*) FROM tickets GROUP BY routed_by").fetchall())
    store.close()
    # Every ticket mirrored to v2 was routed only by production (v1): the shadow's side effects never ran.
    assert {routed[t] for t in shadow_tickets} == {"keyword-rules"}
    # v2 wrote exactly the tickets it answered live: its canary share, production, then the launch-day traffic.
    live = {
        step["name"]: step[key]["live_tickets_by_version"]
        for step in demo.summary["steps"]
        for key in ("rollout_traffic", "drift_traffic")
        if key in step
    }
    assert set(live["drift"]) == {"2"}  # the launch traffic started once the gateway routed production to v2
    assert by_router["tfidf-logreg"] == live["rollout"]["2"] + live["drift"]["2"]
    assert by_router["keyword-rules"] == live["rollout"]["1"]
    assert "keyword-rules-broken" not in by_router  # the blocked version never served


def test_the_drift_report_files_exist_and_the_launch_traffic_drifted(demo: Demo) -> None:
    drift = next(s for s in demo.summary["steps"] if s["name"] == "drift")
    html = Path(drift["drift_report"])
    assert html.is_file() and html.with_suffix(".json").is_file() and html.is_relative_to(demo.root)
    assert "request.channel" in drift["drifted_columns"]
    assert [g["status"] for g in drift["gate"]] == ["fail"]  # what the production gate's drift-within-limits says


def test_audit_verify_passes_on_the_demos_log(demo: Demo) -> None:
    done = subprocess.run(
        [agentgov_executable(), "audit", "verify", "--json"], cwd=demo.root, capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if k not in FOREIGN}, "AGENTGOV_NO_SERVER": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["records"] == len(demo.records())


def test_no_process_the_demo_started_is_left_running(demo: Demo) -> None:
    """Its Prefect server and the gateway's shadow host inherit the demo's AGENTGOV_CONFIG: none may run now."""
    left = _started_by(demo.root)
    assert not left, left


def test_a_folder_holding_other_files_is_refused_in_one_line_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    done = run_demo(tmp_path, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"agentgov: error: {tmp_path} is not empty and was not made by `agentgov demo` "
        "(choose a new or empty folder, for example `agentgov demo agentgov-demo`)"
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_sigterm_stops_the_demo_and_every_service_it_started(tmp_path: Path) -> None:
    """Stopped while its Prefect server boots: exit 130 in one line, and nothing it started outlives it."""
    import signal
    import time

    root = tmp_path / "stopped"
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    process = subprocess.Popen(
        [agentgov_executable(), "demo", str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("[1/12]")  # the project is laid out; Prefect's server starts next
        deadline = time.monotonic() + 60
        while not any(b"prefect" in cmdline for _, cmdline in _started_by(root)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _started_by(root), "the demo's Prefect server should be running now"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == (
        "agentgov: the demo was interrupted; every service it started has stopped (run it again to start over)"
    )
    deadline = time.monotonic() + 10
    while _started_by(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _started_by(root)


def _started_by(root: Path) -> list[tuple[str, bytes]]:
    """The processes started with the demo's AGENTGOV_CONFIG in their environment: all the demo started."""
    marker = f"AGENTGOV_CONFIG={root / 'agentgov.toml'}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc.name, (proc / "cmdline").read_bytes().replace(b"\0", b" ")[:200]))
        except OSError:
            continue
    return found
