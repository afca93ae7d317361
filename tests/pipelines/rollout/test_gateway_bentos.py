"""A whole rollout with every version served as its own bento: production deployed by ``agentgov deploy``, the
candidate ``--alongside`` it, and ``agentgov gateway NAME --served`` (a real uvicorn process) calling each over HTTP
while the controller takes the candidate through shadow, canary 50 % and production on live traffic."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from agentgov.deploy.plan import parse_plan
from agentgov.pipelines.rollout import actions, controller
from agentgov.pipelines.rollout.state import SUCCEEDED
from agentgov.registry.store import aliases
from tests.pipelines.rollout.test_gateway_stops import (
    BASE_ROUTER,
    SHADOW_PLAN,
    audit_story,
    productions,
    register_variant,
    ticket,
)


def _post(client: Any, url: str, i: int) -> tuple[int, int]:
    reply = client.post(f"{url}/act", json=ticket(i), headers={"X-Agentgov-Key": f"user-{i}"})
    return reply.status_code, int(reply.headers.get("X-Agentgov-Version", 0))


def test_a_candidate_served_as_its_own_bento_rolls_out_behind_the_served_gateway(
    ctx: Any, rollout_agent: Any, tmp_path: Path
) -> None:
    import httpx

    from agentgov.deploy import process, records
    from agentgov.evals import inference_log
    from agentgov.pipelines.runtime import free_port
    from tests.cli.test_rollout_commands import agentgov
    from tests.conftest import agentgov_executable

    name, home = rollout_agent.name, ctx.config.home
    before = aliases(ctx.client, name)["production"]
    candidate = register_variant(ctx, rollout_agent, tmp_path, BASE_ROUTER + "\n# v2: the same rules, its own bento\n")
    main = agentgov("deploy", name, str(before), "--json")
    assert main.returncode == 0, main.stderr
    beside = agentgov("deploy", name, str(candidate), "--alongside", "--json")
    assert beside.returncode == 0, beside.stderr
    served = {v: records.serving(home, name, "bentoml-local", v) for v in (before, candidate)}
    assert all(r is not None for r in served.values()) and served[before].pid != served[candidate].pid
    assert json.loads(beside.stdout)["url"] == served[candidate].url

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "gateway.log"
    gateway = process.spawn(
        [agentgov_executable(), "gateway", name, "--served", "--port", str(port), "--refresh", "0.2",
         "--log-wait", "0.3"],
        os.environ,
        log,
    )
    stop = threading.Event()
    seen: list[tuple[int, int]] = []

    def send() -> None:
        with httpx.Client(timeout=30) as client:
            i = 0
            while not stop.is_set():
                seen.append(_post(client, url, i))
                i += 1

    sender = threading.Thread(target=send, daemon=True)
    try:
        process.wait_until_ready(f"{url}/readyz", running=lambda: gateway.poll() is None, timeout=60, log=log,
                                 what="agentgov gateway --served")
        state = actions.start(ctx, name, candidate, parse_plan(SHADOW_PLAN, "shadow.toml"), actor="alice")
        sender.start()
        final = controller.drive(ctx, name, poll_s=0.3)
        assert (final.status, final.step) == (SUCCEEDED, 2), final.detail
        deadline = time.monotonic() + 30
        while seen[-1][1] != candidate and time.monotonic() < deadline:  # the gateway re-reads its routing
            time.sleep(0.1)
        stop.set()
        sender.join(timeout=30)
        assert seen[-1] == (200, candidate)
        with httpx.Client(timeout=10) as client:
            metrics = client.get(f"{url}/metrics").text
    finally:
        stop.set()
        gateway.send_signal(signal.SIGTERM)  # it writes every buffered row before it exits
        gateway.wait(timeout=30)
        gone = agentgov("undeploy", name)
        assert gone.returncode == 0, gone.stderr

    assert aliases(ctx.client, name)["production"] == candidate and productions(ctx, name) == [candidate]
    assert {status for status, _ in seen} == {200}, log.read_text()[-2000:]
    assert {version for _, version in seen} == {before, candidate}  # production's bento, then the canary's too
    canary_calls = [line for line in metrics.splitlines() if line.startswith("agentgov_gateway_requests_total{")
                    and 'role="canary"' in line and f'version="{candidate}"' in line and 'outcome="ok"' in line]
    assert canary_calls and float(canary_calls[0].rpartition(" ")[2]) >= 60, metrics
    assert all(not process.alive(r.pid, r.started) for r in served.values())
    assert records.serving(home, name, "bentoml-local", candidate) is None

    rows = inference_log.read(home, name)
    rows = rows[rows["rollout_id"] == state.id]
    shadow, canary = rows[rows["stage"] == "shadow"], rows[rows["stage"] == "canary"]
    primary = rows[rows["stage"] == "production"].set_index("pairing_id")
    assert len(shadow) >= 60 and set(shadow["version"]) == {candidate} and shadow["error"].isna().all()
    assert shadow["pairing_id"].isin(primary.index).all()  # each copy joins its production twin
    assert len(canary) >= 60 and set(canary["version"]) == {candidate}
    assert shadow["trace"].map(lambda t: json.loads(t)["mode"]).eq("shadow").all()  # the bento ran it in shadow mode
    story = [r.action for r in audit_story(ctx, name, state.id)]
    assert story[0] == "rollout.started" and story[-1] == "rollout.succeeded", story
