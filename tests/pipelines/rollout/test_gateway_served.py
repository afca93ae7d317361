"""A rollout step where production is the served bento (a real ``bentoml serve``) behind the gateway over HTTP:
the candidate's shadow copies are paired with the bento's traces, the shadow step passes on them, and an abort
leaves the session's served agent as it was (production unchanged)."""

from __future__ import annotations

import time
from typing import Any

from agentgov.deploy.plan import parse_plan
from agentgov.pipelines.rollout import actions, controller
from agentgov.pipelines.rollout.state import ABORTED, RUNNING
from agentgov.registry.store import aliases
from tests.pipelines.rollout.test_gateway_stops import SHADOW_PLAN, audit_story, drive_with_traffic


class ServedProduction:
    """Production's version answered by its served bento; any other version loaded in this process."""

    def __init__(self, config: Any, name: str, production: int, url: str) -> None:
        from agentgov.core.types import AgentRef
        from agentgov.pipelines.gateway import InProcessSource
        from agentgov.registry.loading import load_agent

        self.production, self.url = production, url
        self.local = InProcessSource(lambda version: load_agent(AgentRef(name, version=version), config))

    def primary(self, version: int) -> Any:
        from agentgov.pipelines.gateway import HttpUpstream

        return HttpUpstream(self.url, version) if version == self.production else self.local.primary(version)

    def shadow(self, version: int) -> Any:
        return self.local.shadow(version)


def test_a_shadow_step_with_the_served_bento_in_production(served_agent: Any, bento_server: str) -> None:
    from agentgov.core.home import Home
    from agentgov.deploy.traffic import read_routing
    from agentgov.pipelines.gateway import Gateway
    from agentgov.pipelines.rollout.controller import Context
    from agentgov.registry.backend import connect

    config, name = served_agent.config, served_agent.name
    ctx = Context(config, served_agent.plugins, Home.configured(config, served_agent.plugins).audit_log)
    assert aliases(ctx.client, name)["production"] == served_agent.version
    original = ctx.client.get_model_version(name, str(served_agent.version))
    tags = {k: v for k, v in original.tags.items() if not k.startswith(("agentgov.decision.", "agentgov.gate."))}
    tags["agentgov.stage"] = "candidate"
    candidate = int(
        ctx.client.create_model_version(
            name,
            source=original.source,
            run_id=original.run_id,
            tags=tags,
            model_id=original.model_id or original.source.removeprefix("models:/"),
        ).version
    )
    state = actions.start(ctx, name, candidate, parse_plan(SHADOW_PLAN, "shadow.toml"), actor="alice")
    client = connect(config)

    def build(*_: Any, settings: Any, **__: Any) -> Gateway:
        source = ServedProduction(config, name, served_agent.version, bento_server)
        return Gateway(name, lambda: read_routing(config, name, client=client), source, config.home, settings)

    def step_passed(ctx: Any, name: str, poll_s: float) -> Any:
        deadline = time.monotonic() + 60
        state = controller.tick(ctx, name)
        while state.step == 0 and state.status == RUNNING and time.monotonic() < deadline:
            time.sleep(poll_s)
            state = controller.tick(ctx, name)
        return state

    try:
        passed, seen = drive_with_traffic(
            ctx,
            name,
            lambda i: {"subject": f"Charged twice ({i})", "body": "Refund me."},
            build=build,
            drive=step_passed,
        )
    finally:
        ended = actions.abort(ctx, name, actor="alice")

    assert (passed.status, passed.step) == (RUNNING, 1), passed.detail  # the shadow step passed: now the canary
    assert ended.status == ABORTED
    assert aliases(ctx.client, name)["production"] == served_agent.version
    assert "canary" not in aliases(ctx.client, name) and "shadow" not in aliases(ctx.client, name)
    assert served_agent.version in seen.answered and set(seen.statuses) == {200}
    story = audit_story(ctx, name, state.id)
    step = next(r for r in story if r.action == "event.rollout-step").payload["payload"]["analysis"]
    agreement = next(c for c in step["checks"] if c["check"] == "shadow_agreement")
    assert agreement["verdict"] == "pass" and agreement["n_candidate"] >= 60, agreement
    assert [r.action for r in story][-1] == "rollout.aborted"
