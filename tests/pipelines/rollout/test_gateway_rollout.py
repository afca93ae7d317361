"""A rollout driven by the real gateway's traffic (in process): the controller's routing reaches the gateway, the
gateway's inference-log rows (rollout id, stages, pairing, traces) are what the analysis reads."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from agentgov.core.types import Stage
from agentgov.deploy.plan import parse_plan
from agentgov.pipelines.rollout import actions, controller
from agentgov.pipelines.rollout.state import SUCCEEDED
from agentgov.registry.store import aliases, versions

PLAN = """\
name = "gateway"

[[steps]]
kind = "shadow"
min_requests = 200
max_minutes = 3

[steps.analysis]
shadow_agreement = 0.9

[steps.analysis.policies.shadow-agreement]
min_requests = 200
max_latency_ratio = 100.0  # in-process calls take about a millisecond: their ratio is noise

[[steps.analysis.metrics]]
name = "error_rate"
margin = 0.05
mde = 0.3

[[steps]]
kind = "canary"
percent = 25
min_requests = 200
max_minutes = 3

[[steps.analysis.metrics]]
name = "error_rate"
margin = 0.05
mde = 0.3

[[steps]]
kind = "production"
"""


def test_a_rollout_on_real_gateway_traffic_reaches_production(ctx: Any, rollout_agent: Any, candidate: int) -> None:
    from agentgov.pipelines.gateway import GatewaySettings, build_gateway

    name = rollout_agent.name
    before = aliases(ctx.client, name)["production"]
    state = actions.start(ctx, name, candidate, parse_plan(PLAN, "gateway.toml"), actor="alice")
    gateway = build_gateway(ctx.config, name, settings=GatewaySettings(refresh_s=0.2, log_max_wait_s=0.3))
    stop = threading.Event()
    answered: list[int] = []

    def serve() -> None:
        async def main() -> None:
            await gateway.start()
            i = 0
            try:
                while not stop.is_set():
                    reply = await gateway.act(
                        {"subject": f"Charged twice ({i})", "body": "Please refund me."}, f"user-{i}"
                    )
                    answered.append(reply.version or 0)
                    i += 1
                    if i % 20 == 0:
                        await asyncio.sleep(0.02)  # let the shadow workers and the log writer run
            finally:
                await gateway.stop()

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        final = controller.drive(ctx, name, poll_s=0.3)
    finally:
        stop.set()
        thread.join(timeout=60)

    assert final.status == SUCCEEDED, final.detail
    assert (
        aliases(ctx.client, name)["production"] == candidate
        and aliases(ctx.client, name)["previous-production"] == before
    )
    assert [v.version for v in versions(ctx.client, name) if v.stage is Stage.PRODUCTION] == [candidate]
    assert candidate in answered and before in answered  # the canary answered part of the traffic
    steps = [
        r.payload["payload"]
        for r in ctx.audit.records(subject_prefix=name)
        if r.action == "event.rollout-step" and r.payload["payload"]["rollout"] == state.id
    ]
    shadow, canary = steps[0]["analysis"], steps[1]["analysis"]
    agreement = next(c for c in shadow["checks"] if c["check"] == "shadow_agreement")
    assert agreement["verdict"] == "pass" and agreement["n_candidate"] >= 200
    assert canary["counts"]["candidate"] >= 200 and canary["counts"]["production"] > canary["counts"]["candidate"]
