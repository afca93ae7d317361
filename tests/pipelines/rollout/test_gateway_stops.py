"""Bad candidates stopped on the real gateway's traffic (the app in process, driven over ASGI): each one is
registered with its own code, the controller runs its plan while the gateway answers, and the rollout stops with
production unchanged and the audit log telling why."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentgov.core.types import Stage
from agentgov.deploy.plan import parse_plan
from agentgov.pipelines.rollout import actions, controller
from agentgov.pipelines.rollout.state import INCONCLUSIVE, PAUSED, ROLLED_BACK
from agentgov.registry.store import aliases, versions

SHADOW_PLAN = """\
name = "shadow-first"

[[steps]]
kind = "shadow"
min_requests = 60
max_minutes = 0.5

[steps.analysis]
shadow_agreement = 0.9

[steps.analysis.policies.shadow-agreement]
min_requests = 60
max_latency_ratio = 100.0  # in-process calls take about a millisecond: their ratio is noise

[[steps.analysis.metrics]]
name = "error_rate"
margin = 0.05
mde = 0.3

[[steps]]
kind = "canary"
percent = 50
min_requests = 60
max_minutes = 0.5

[[steps.analysis.metrics]]
name = "error_rate"
margin = 0.05
mde = 0.3

[[steps]]
kind = "production"
"""

LATENCY_PLAN = (
    SHADOW_PLAN.replace(
        """[[steps]]
kind = "production"
""",
        "",
    ).rstrip()
    + """

[[steps.analysis.metrics]]
name = "latency_mean_ms"
margin = 0.2
mde = 0.6
relative = true

[[steps]]
kind = "production"
"""
)


@dataclass
class Traffic:
    answered: list[int] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    metrics: str = ""


def drive_with_traffic(
    ctx: Any,
    name: str,
    request: Callable[[int], dict[str, Any]],
    *,
    build: Callable[..., Any] | None = None,
    drive: Callable[..., Any] | None = None,
    **settings: Any,
) -> Any:
    """Run the controller (``drive``) while a thread sends requests through the gateway's ASGI app (a gateway from
    ``build``, by default the registry's, versions in process); the state it stopped at, and the traffic seen."""
    import httpx

    from agentgov.pipelines.gateway import GatewaySettings, build_gateway, create_app

    gateway = (build or build_gateway)(
        ctx.config, name, settings=GatewaySettings(refresh_s=0.2, log_max_wait_s=0.3, **settings)
    )
    stop = threading.Event()
    seen = Traffic()

    def serve() -> None:
        async def main() -> None:
            await gateway.start()  # the app's lifespan does this under uvicorn; ASGITransport runs no lifespan
            transport = httpx.ASGITransport(app=create_app(gateway))
            try:
                async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                    i = 0
                    while not stop.is_set():
                        reply = await client.post("/act", json=request(i), headers={"X-Agentgov-Key": f"user-{i}"})
                        seen.statuses.append(reply.status_code)
                        seen.answered.append(int(reply.headers.get("X-Agentgov-Version", 0)))
                        i += 1
                        if i % 20 == 0:
                            await asyncio.sleep(0.02)  # let the shadow workers and the log writer run
                    seen.metrics = (await client.get("/metrics")).text
            finally:
                await gateway.stop()

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        final = (drive or controller.drive)(ctx, name, poll_s=0.3)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    return final, seen


def register_variant(ctx: Any, rollout_agent: Any, tmp: Path, router: str) -> int:
    """Register the module's agent again with ``router`` as its router.py: a new candidate version with new code."""
    import yaml

    from agentgov.pipelines.registration import register

    source = rollout_agent.root / "agent"
    manifest = yaml.safe_load((source / "agent.yaml").read_text())
    folder = tmp / "variant"
    shutil.copytree(source, folder)
    (folder / "router.py").write_text(router)
    (folder / "agent.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    version = register(folder, config=ctx.config, audit=ctx.audit, plugins=ctx.plugins, actor="alice")
    return version.version


def audit_story(ctx: Any, name: str, rollout_id: str) -> list[Any]:
    return [
        r
        for r in ctx.audit.records(subject_prefix=name)
        if r.payload.get("rollout") == rollout_id
        or (r.action == "event.rollout-step" and r.payload.get("payload", {}).get("rollout") == rollout_id)
    ]


def productions(ctx: Any, name: str) -> list[int]:
    return [v.version for v in versions(ctx.client, name) if v.stage is Stage.PRODUCTION]


BASE_ROUTER = (Path(__file__).resolve().parents[3] / "examples" / "support-router" / "router.py").read_text()

HANGING = BASE_ROUTER.replace(
    "    def act(self, request: dict) -> dict:\n",
    "    def act(self, request: dict) -> dict:\n        import time\n\n        time.sleep(3.0)\n",
)

FAILS_LIVE = BASE_ROUTER.replace(
    "    def act(self, request: dict) -> dict:\n",
    # A fault that only live traffic meets (its shadow copies pass): every third live request fails.
    "    def act(self, request: dict, ctx) -> dict:\n"
    "        if ctx.mode.value == 'live' and int(request.get('n', 0)) % 3 == 0:\n"
    "            raise RuntimeError('the live write path is broken')\n",
)

SLOW_LIVE = BASE_ROUTER.replace(
    "    def act(self, request: dict) -> dict:\n",
    # Slower only on live traffic (its shadow copies are as quick as production's): 30 ms more a request.
    "    def act(self, request: dict, ctx) -> dict:\n"
    "        if ctx.mode.value == 'live':\n"
    "            import time\n\n"
    "            time.sleep(0.03)\n",
)


def ticket(i: int) -> dict[str, Any]:
    return {"subject": f"Charged twice ({i})", "body": "Please refund me.", "n": i}


def test_a_candidate_whose_shadow_hangs_is_rolled_back_at_shadow(ctx: Any, rollout_agent: Any, tmp_path: Path) -> None:
    assert HANGING != BASE_ROUTER
    name = rollout_agent.name
    before = aliases(ctx.client, name)["production"]
    hanging = register_variant(ctx, rollout_agent, tmp_path, HANGING)
    state = actions.start(ctx, name, hanging, parse_plan(SHADOW_PLAN, "shadow.toml"), actor="alice")

    final, seen = drive_with_traffic(ctx, name, ticket, shadow_timeout_s=0.3, shadow_workers=2)

    # Each timed-out copy is logged as a failed shadow call: agreement with production fails at the shadow step.
    assert (final.status, final.step) == (ROLLED_BACK, 0), final.detail
    assert aliases(ctx.client, name)["production"] == before and productions(ctx, name) == [before]
    assert "shadow" not in aliases(ctx.client, name)
    assert set(seen.answered) == {before} and set(seen.statuses) == {200}  # the caller never met the shadow
    dropped = [
        line
        for line in seen.metrics.splitlines()
        if line.startswith("agentgov_gateway_shadow_dropped_total") and not line.endswith(" 0.0")
    ]
    assert any('reason="timeout"' in line or 'reason="busy"' in line for line in dropped), seen.metrics
    story = audit_story(ctx, name, state.id)
    actions_seen = [r.action for r in story]
    assert actions_seen == ["rollout.started", "rollout.step_entered", "rollout.rolled_back"], actions_seen
    checks = {c["check"]: c for c in story[-1].payload["analysis"]["checks"]}
    assert checks["shadow_agreement"]["verdict"] == "fail", checks
    assert "timeout: no answer within 0.3 s" in checks["shadow_agreement"]["reason"]


def test_a_candidate_failing_live_traffic_is_rolled_back_at_canary(
    ctx: Any, rollout_agent: Any, tmp_path: Path
) -> None:
    name = rollout_agent.name
    before = aliases(ctx.client, name)["production"]
    failing = register_variant(ctx, rollout_agent, tmp_path, FAILS_LIVE)
    state = actions.start(ctx, name, failing, parse_plan(SHADOW_PLAN, "shadow.toml"), actor="alice")

    final, seen = drive_with_traffic(ctx, name, ticket)

    assert final.status == ROLLED_BACK, final.detail
    assert final.step == 1, final.detail  # the shadow step passed; the canary failed
    assert aliases(ctx.client, name)["production"] == before and productions(ctx, name) == [before]
    assert "canary" not in aliases(ctx.client, name) and "shadow" not in aliases(ctx.client, name)
    assert failing in seen.answered and 502 in seen.statuses  # the canary really answered, and failed, live
    story = audit_story(ctx, name, state.id)
    actions_seen = [r.action for r in story]
    assert actions_seen[0] == "rollout.started" and actions_seen.count("event.rollout-step") == 1
    shadow = next(r for r in story if r.action == "event.rollout-step").payload["payload"]["analysis"]
    assert {c["check"]: c["verdict"] for c in shadow["checks"]}["error_rate"] == "pass"
    assert actions_seen[-1] == "rollout.rolled_back", actions_seen
    checks = {c["check"]: c for c in story[-1].payload["analysis"]["checks"]}
    assert checks["error_rate"]["verdict"] == "fail", checks


def test_a_candidate_with_a_latency_regression_is_rolled_back_at_canary(
    ctx: Any, rollout_agent: Any, tmp_path: Path
) -> None:
    assert "latency_mean_ms" in LATENCY_PLAN and LATENCY_PLAN.count('kind = "production"') == 1
    name = rollout_agent.name
    before = aliases(ctx.client, name)["production"]
    slow = register_variant(ctx, rollout_agent, tmp_path, SLOW_LIVE)
    state = actions.start(ctx, name, slow, parse_plan(LATENCY_PLAN, "latency.toml"), actor="alice")

    final, seen = drive_with_traffic(ctx, name, ticket)

    assert (final.status, final.step) == (ROLLED_BACK, 1), final.detail
    assert aliases(ctx.client, name)["production"] == before and productions(ctx, name) == [before]
    assert slow in seen.answered and set(seen.statuses) == {200}
    story = audit_story(ctx, name, state.id)
    assert [r.action for r in story][-1] == "rollout.rolled_back"
    checks = {c["check"]: c for c in story[-1].payload["analysis"]["checks"]}
    assert checks["latency_mean_ms"]["verdict"] == "fail" and checks["error_rate"]["verdict"] != "fail", checks


def test_a_borderline_candidate_with_too_little_traffic_pauses_inconclusive(
    ctx: Any, rollout_agent: Any, tmp_path: Path
) -> None:
    # The same code as production, but a step asking for far more traffic than a few seconds bring.
    plan = SHADOW_PLAN.replace("min_requests = 60\nmax_minutes = 0.5", "min_requests = 5000\nmax_minutes = 0.1", 1)
    plan = plan.replace("min_requests = 60\nmax_latency", "min_requests = 5000\nmax_latency", 1)
    assert plan.count("5000") == 2
    name = rollout_agent.name
    before = aliases(ctx.client, name)["production"]
    same = register_variant(ctx, rollout_agent, tmp_path, BASE_ROUTER)
    state = actions.start(ctx, name, same, parse_plan(plan, "borderline.toml"), actor="alice")
    try:
        final, seen = drive_with_traffic(ctx, name, ticket)
        assert (final.status, final.reason, final.step) == (PAUSED, INCONCLUSIVE, 0), final.detail
        assert set(seen.answered) == {before} and set(seen.statuses) == {200}
        assert controller.tick(ctx, name).generation == final.generation  # it waits for a person, deciding nothing
        assert aliases(ctx.client, name)["production"] == before and aliases(ctx.client, name)["shadow"] == same
        story = audit_story(ctx, name, state.id)
        assert [r.action for r in story] == ["rollout.started", "rollout.step_entered", "rollout.paused"]
        checks = {c["check"]: c for c in story[-1].payload["analysis"]["checks"]}
        assert checks["shadow_agreement"]["verdict"] == "inconclusive" and checks["shadow_agreement"]["min_n"] == 5000
    finally:
        actions.abort(ctx, name, actor="alice")  # the module's next rollout may start
    assert aliases(ctx.client, name)["production"] == before and "shadow" not in aliases(ctx.client, name)
