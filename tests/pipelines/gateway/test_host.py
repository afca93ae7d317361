"""Shadow versions hosted in processes of their own: no side effect, a hang costs the callers nothing, every
thread of a host runs at a lower CPU priority than the gateway (and on the CPUs it was given), the host processes
end with the gateway."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from agentgov.deploy.process import alive
from agentgov.evals import inference_log
from agentgov.pipelines.gateway import GatewaySettings
from agentgov.registry.runtime import Trace

from .test_service import running, wait_for

LAST_CPU = max(os.sched_getaffinity(0))
HOSTED = GatewaySettings(
    refresh_s=0.05, shadow_timeout_s=0.5, log_max_wait_s=0.2, shadow_process=True, shadow_cpus=(LAST_CPU,)
)


def niceness_of_threads(pid: int) -> set[int]:
    return {os.getpriority(os.PRIO_PROCESS, int(task.name)) for task in Path(f"/proc/{pid}/task").iterdir()}


def test_a_hosted_shadow_runs_below_the_gateways_priority_executes_no_side_effect_and_a_hang_costs_nothing(
    gateway_agent,
) -> None:
    gateway_agent.clear_tickets()
    before = len(inference_log.read(gateway_agent.config.home, gateway_agent.name))
    gateway_agent.route(production=1, shadow=2, mirror_share=1.0, rollout_id="r-hosted")

    async def main() -> tuple[list[int], list[float], object]:
        async with running(gateway_agent, HOSTED) as (gateway, client):
            hosts = []
            for i in range(15):
                assert (await client.post("/act", json={"subject": f"h{i}"})).json()["version"] == 1
            value = gateway.metrics.value
            await wait_for(
                lambda: (
                    value(
                        "agentgov_gateway_requests_total", agent=gateway.agent, version=2, role="shadow", outcome="ok"
                    )
                    == 15
                )
            )
            hosts.append(gateway.table.current.shadow.process.pid)
            expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + HOSTED.shadow_nice)
            assert HOSTED.shadow_nice > 0 and niceness_of_threads(hosts[0]) == {expected}
            assert os.sched_getaffinity(hosts[0]) == {LAST_CPU}  # kept to the CPUs it was given
            assert "hosted in pid" in (await client.get("/routing")).json()["shadow_upstream"]

            await asyncio.to_thread(
                gateway_agent.route, production=1, shadow=3, mirror_share=1.0, rollout_id="r-hosted"
            )
            await wait_for(lambda: gateway.table.current.routing.shadow == 3, timeout=60)
            hosts.append(gateway.table.current.shadow.process.pid)
            seconds = []
            for i in range(30):
                began = time.perf_counter()
                answer = await client.post("/act", json={"subject": f"hang{i}"})
                seconds.append(time.perf_counter() - began)
                assert answer.status_code == 200 and answer.json()["version"] == 1
            await asyncio.sleep(HOSTED.shadow_timeout_s + 0.3)
            dropped = sum(
                value("agentgov_gateway_shadow_dropped_total", agent=gateway.agent, reason=r)
                for r in ("timeout", "busy", "queue_full")
            )
            assert dropped == 30, dropped
        return hosts, seconds, gateway

    hosts, seconds, _ = asyncio.run(main())
    assert max(seconds) < 0.5, max(seconds)  # the hosted shadow sleeps 5 s per copy
    assert [t[2] for t in gateway_agent.tickets()] == [1] * 45  # production's tickets only
    log = inference_log.read(gateway_agent.config.home, gateway_agent.name).iloc[before:]
    shadow = log[(log["stage"] == "shadow") & (log["version"] == 2)]
    assert len(shadow) == 15
    assert all(not c.executed for text in shadow["trace"] for c in Trace.from_json(text).calls)
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in hosts) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in hosts)  # stopped with the gateway
