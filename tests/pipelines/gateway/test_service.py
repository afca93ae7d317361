"""The gateway in process on a real registry (sqlite) with real registered versions: canary share and stickiness,
shadow copies that never execute a side effect, shadows that hang or raise, routing changes under traffic."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from agentgov.deploy.routing import assign
from agentgov.evals import inference_log
from agentgov.pipelines.gateway import Gateway, GatewaySettings, build_gateway, create_app
from agentgov.registry.runtime import Trace

# Shadows in this process's threads (fast to start); test_app.py runs them in host processes, as the CLI does.
FAST = GatewaySettings(refresh_s=0.05, shadow_timeout_s=0.3, log_max_wait_s=0.2, shadow_process=False)


@contextlib.asynccontextmanager
async def running(agent: Any, settings: GatewaySettings = FAST) -> AsyncIterator[tuple[Gateway, Any]]:
    """The gateway's app with its lifespan, and an httpx client on it (no sockets)."""
    import httpx

    gateway = build_gateway(agent.config, agent.name, settings=settings)
    app = create_app(gateway)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            yield gateway, client


def rows(agent: Any, **filters: Any) -> Any:
    return inference_log.read(agent.config.home, agent.name, **filters)


def test_the_canary_answers_its_keys_share_sticky_by_key_and_the_weight_only_adds_keys(gateway_agent) -> None:
    gateway_agent.route(production=1, canary=2, canary_weight=0.25, mirror_share=0.0, rollout_id="r-canary")
    keys = [f"user-{i}" for i in range(200)]

    async def main() -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        async with running(gateway_agent) as (gateway, client):

            async def versions() -> dict[str, int]:
                found = {}
                for key in keys:
                    answer = await client.post("/act", json={"subject": key}, headers={"X-Agentgov-Key": key})
                    assert answer.status_code == 200, answer.text
                    assert answer.headers["X-Agentgov-Role"] == (
                        "canary" if answer.json()["version"] == 2 else "production"
                    )
                    found[key] = answer.json()["version"]
                return found

            first, again = await versions(), await versions()
            gateway_agent.route(production=1, canary=2, canary_weight=0.5, mirror_share=0.0, rollout_id="r-canary")
            await wait_for(lambda: gateway.table.current.routing.canary_weight == 0.5)
            return first, again, await versions()

    first, again, raised = asyncio.run(main())
    assert first == again  # sticky
    assert first == {k: 2 if assign("r-canary", k, 0.25) == "canary" else 1 for k in keys}
    assert 0.25 - 0.08 < Counter(first.values())[2] / len(keys) < 0.25 + 0.08
    assert raised == {k: 2 if assign("r-canary", k, 0.5) == "canary" else 1 for k in keys}
    assert all(raised[k] == 2 for k in keys if first[k] == 2)  # no key flips back as the weight rises
    # Keyless requests are routed by their own request id: both versions answer some.
    gateway_agent.route(production=1, canary=2, canary_weight=0.5, mirror_share=0.0, rollout_id="r-keyless")

    async def keyless() -> Counter[int]:
        async with running(gateway_agent) as (_, client):
            return Counter([(await client.post("/act", json={"subject": "x"})).json()["version"] for _ in range(60)])

    assert set(asyncio.run(keyless())) == {1, 2}


def test_shadow_copies_are_paired_logged_and_never_execute_a_side_effect(gateway_agent) -> None:
    gateway_agent.route(production=1, shadow=2, mirror_share=1.0, rollout_id="r-shadow")
    gateway_agent.clear_tickets()
    before = len(rows(gateway_agent))

    async def main() -> list[str]:
        async with running(gateway_agent) as (gateway, client):
            ids = []
            for i in range(25):
                answer = await client.post("/act", json={"subject": f"ticket {i}", "agentgov_key": f"k{i}"})
                assert answer.status_code == 200 and answer.json()["version"] == 1
                ids.append(answer.headers["X-Agentgov-Request-Id"])
            await wait_for(
                lambda: (
                    gateway.metrics.value(
                        "agentgov_gateway_requests_total", agent=gateway.agent, version=2, role="shadow", outcome="ok"
                    )
                    == 25
                )
            )
            return ids

    ids = asyncio.run(main())
    assert [t[2] for t in gateway_agent.tickets()] == [1] * 25  # only production's tickets exist
    log = rows(gateway_agent).iloc[before:]
    production = log[log["stage"] == "production"].set_index("pairing_id")
    shadow = log[log["stage"] == "shadow"].set_index("pairing_id")
    assert sorted(production.index) == sorted(shadow.index) == sorted(ids)
    assert set(production["version"]) == {1} and set(shadow["version"]) == {2}
    assert set(production["rollout_id"]) == set(shadow["rollout_id"]) == {"r-shadow"}
    assert "agentgov_key" not in " ".join(log.columns)  # the routing key is not part of the request
    for pairing_id in ids:
        live = Trace.from_json(production.loc[pairing_id, "trace"])
        copy = Trace.from_json(shadow.loc[pairing_id, "trace"])
        assert [(c.tool, c.executed, c.source) for c in live.calls] == [("helpdesk.create_ticket", True, "connector")]
        # Different arguments (the version number), so no recorded answer matches: the tool's stub answers.
        assert [(c.tool, c.executed, c.mode) for c in copy.calls] == [("helpdesk.create_ticket", False, "shadow")]
        assert copy.trace_id == f"{pairing_id}.shadow" and shadow.loc[pairing_id, "error"] is None
    assert set(shadow["response.action"]) == {"filed"} and set(shadow["response.text"]) == {"v2"}


def test_a_shadow_that_hangs_or_raises_costs_the_caller_nothing_and_is_counted(gateway_agent) -> None:
    async def traffic(shadow: int) -> tuple[list[float], Gateway]:
        gateway_agent.route(production=1, shadow=shadow, mirror_share=1.0, rollout_id=f"r-fault-{shadow}")
        async with running(gateway_agent) as (gateway, client):
            seconds = []
            for i in range(40):
                began = time.perf_counter()
                answer = await client.post("/act", json={"subject": f"s{i}"})
                seconds.append(time.perf_counter() - began)
                assert answer.status_code == 200 and answer.json()["version"] == 1
            await asyncio.sleep(FAST.shadow_timeout_s + 0.2)
        return seconds, gateway

    hung, gateway = asyncio.run(traffic(3))
    value = gateway.metrics.value
    dropped = {
        r: value("agentgov_gateway_shadow_dropped_total", agent=gateway.agent, reason=r)
        for r in ("timeout", "busy", "queue_full")
    }
    assert dropped["timeout"] >= 1 and sum(dropped.values()) == 40, dropped  # every copy dropped, none answered
    assert value("agentgov_gateway_errors_total", agent=gateway.agent, version=1, role="production") == 0
    assert max(hung) < 0.5, max(hung)  # the shadow sleeps 5 s; the caller never waits for it

    raised, gateway = asyncio.run(traffic(4))
    assert max(raised) < 0.5
    assert gateway.metrics.value("agentgov_gateway_shadow_dropped_total", agent=gateway.agent, reason="error") == 40
    assert gateway.metrics.value("agentgov_gateway_errors_total", agent=gateway.agent, version=4, role="shadow") == 40
    shadow = rows(gateway_agent, version=4, stage="shadow")
    assert len(shadow) == 40 and shadow["error"].str.contains("this version is broken").all()
    timed_out = rows(gateway_agent, version=3, stage="shadow")
    assert len(timed_out) >= 1 and timed_out["error"].str.startswith("timeout").all()
    assert "agentgov_gateway_shadow_dropped_total" in gateway.metrics.render().decode()


def test_routing_changes_under_traffic_fail_no_request(gateway_agent) -> None:
    gateway_agent.route(production=1, rollout_id="r-move", canary=None, canary_weight=0.0, mirror_share=0.0)

    async def main() -> tuple[list[int], list[int], Gateway]:
        async with running(gateway_agent) as (gateway, client):
            statuses: list[int] = []
            versions: list[int] = []
            stop = asyncio.Event()

            async def caller(n: int) -> None:
                i = 0
                while not stop.is_set():
                    answer = await client.post("/act", json={"subject": f"c{n}-{i}"})
                    statuses.append(answer.status_code)
                    if answer.status_code == 200:
                        versions.append(answer.json()["version"])
                    i += 1

            callers = [asyncio.create_task(caller(n)) for n in range(6)]
            await asyncio.sleep(0.3)
            await asyncio.to_thread(
                gateway_agent.route, production=1, canary=2, canary_weight=0.5, mirror_share=0.0, rollout_id="r-move"
            )
            await wait_for(lambda: gateway.table.current.routing.canary == 2)
            await asyncio.sleep(0.3)
            await asyncio.to_thread(
                gateway_agent.route, production=2, rollout_id="r-move", canary_weight=0.0, mirror_share=0.0
            )
            await wait_for(lambda: gateway.table.current.routing.production == 2)
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.gather(*callers)
            after = [(await client.post("/act", json={"subject": "after"})).json()["version"] for _ in range(5)]
            return statuses, versions + after, gateway

    statuses, versions, gateway = asyncio.run(main())
    assert set(statuses) == {200} and len(statuses) > 20
    # In completion order: a call that started on version 1 finishes on it, even after the swap.
    assert versions[0] == 1 and versions[-5:] == [2] * 5 and set(versions) == {1, 2}
    # Each alias and the tag are written one by one, so a replica may also take up the states in between.
    assert gateway.metrics.value("agentgov_gateway_routing_swaps_total", agent=gateway.agent) >= 3


def test_rows_are_written_in_batches_and_every_one_is_flushed_at_shutdown(gateway_agent) -> None:
    gateway_agent.route(production=1, rollout_id="r-batch", mirror_share=0.0)
    folder = inference_log.log_root(gateway_agent.config.home) / f"agent={gateway_agent.name}"
    files_before = len(list(folder.rglob("*.parquet")))
    before = len(rows(gateway_agent))
    settings = replace(FAST, log_batch_rows=50, log_max_wait_s=60)

    async def main() -> Gateway:
        async with running(gateway_agent, settings) as (gateway, client):
            for i in range(120):
                assert (await client.post("/act", json={"subject": f"b{i}"})).status_code == 200
            # The writer takes every waiting row once a batch is full (more than 50 when it wakes late on a busy
            # machine): once it has caught up, less than a batch waits for the next one or the shutdown.
            log = gateway.log
            await wait_for(lambda: log.written + log.waiting == 120 and log.waiting < settings.log_batch_rows)
            assert log.written >= settings.log_batch_rows
        return gateway

    gateway = asyncio.run(main())
    assert len(rows(gateway_agent)) - before == 120 == gateway.log.written
    assert len(list(folder.rglob("*.parquet"))) - files_before == gateway.log.files <= 3  # batches, not a file per request


def test_readiness_health_and_metrics(gateway_agent) -> None:
    gateway_agent.route(production=1, rollout_id="r-ready", mirror_share=0.0)

    async def main() -> None:
        async with running(gateway_agent) as (_, client):
            assert (await client.get("/healthz")).status_code == 200
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["ready"] is True
            assert (await client.get("/routing")).json()["production"] == 1
            await client.post("/act", json={"subject": "m"})
            assert (await client.post("/act", content=b"[1]")).status_code == 400
            text = (await client.get("/metrics")).text
            assert (
                f'agentgov_gateway_requests_total{{agent="{gateway_agent.name}",outcome="ok",role="production",version="1"}} 1.0'
                in text
            )
            assert "agentgov_gateway_latency_seconds_bucket" in text

    asyncio.run(main())
    gateway_agent.route(production=None, rollout_id="r-ready", mirror_share=0.0)

    async def without_production() -> None:
        async with running(gateway_agent) as (_, client):
            assert (await client.get("/readyz")).status_code == 503
            answer = await client.post("/act", json={"subject": "m"})
            assert answer.status_code == 503 and "no production version" in answer.json()["error"]

    asyncio.run(without_production())
    gateway_agent.route(production=1)


async def wait_for(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def test_a_failing_version_is_a_502_logged_and_counted(gateway_agent) -> None:
    gateway_agent.route(production=4, rollout_id="r-broken", mirror_share=0.0)

    async def main() -> tuple[Any, Gateway]:
        async with running(gateway_agent) as (gateway, client):
            return await client.post("/act", json={"subject": "x"}), gateway

    answer, gateway = asyncio.run(main())
    gateway_agent.route(production=1)
    assert answer.status_code == 502 and "this version is broken" in answer.json()["error"]
    assert answer.headers["X-Agentgov-Version"] == "4"
    errors = gateway.metrics.value("agentgov_gateway_errors_total", agent=gateway.agent, version=4, role="production")
    assert errors == 1
    row = rows(gateway_agent, version=4, stage="production")
    assert list(row["request_id"]) == [answer.json()["request_id"]] and "broken" in row["error"].iloc[0]
