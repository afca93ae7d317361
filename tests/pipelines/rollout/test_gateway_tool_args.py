"""A candidate that does the same thing with different tool-call arguments, stopped on the real gateway's traffic.

The agent is the example's v1 router, acting through a real SQLite helpdesk (the ``sqlite`` connector); the
candidate routes the same tickets to the same queues but signs them with another ``routed_by``. Its shadow
copies run in shadow mode, so the store only ever holds production's writes."""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentgov.core.types import Stage
from agentgov.deploy.plan import parse_plan
from agentgov.pipelines.rollout import actions
from agentgov.pipelines.rollout.state import ROLLED_BACK
from agentgov.registry.store import aliases, versions
from tests.pipelines.rollout.test_gateway_stops import SHADOW_PLAN, audit_story, drive_with_traffic

V1 = Path(__file__).resolve().parents[3] / "examples" / "support-router" / "v1"


@dataclass(frozen=True)
class ToolAgent:
    name: str
    production: int
    candidate: int
    db: Path


def _agent_dir(root: Path, name: str, router: str) -> Path:
    import yaml

    folder = root / f"{name}-{router}"
    shutil.copytree(V1, folder, ignore=shutil.ignore_patterns("suites", "__pycache__"))
    manifest = yaml.safe_load((V1 / "agent.yaml").read_text())
    manifest["name"] = name
    (folder / "agent.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    code = (folder / "router.py").read_text()
    assert 'router = "keyword-rules"' in code
    (folder / "router.py").write_text(code.replace('router = "keyword-rules"', f'router = "{router}"'))
    return folder


@pytest.fixture(scope="module")
def tool_agent(rollout_agent: Any) -> ToolAgent:
    """In the module's home: v1 in production, and a candidate that differs only in its tool calls' arguments."""
    from agentgov.core.config import load_config
    from agentgov.core.home import Home
    from agentgov.core.plugins import PluginManager
    from agentgov.pipelines.promotion import promote
    from agentgov.pipelines.registration import register

    db = rollout_agent.root / "helpdesk.db"
    environ = {**rollout_agent.environ, "HELPDESK_DB": str(db)}
    config = load_config(start=rollout_agent.root, environ=environ)
    plugins = PluginManager(config)
    plugins.load_builtins()
    audit = Home.configured(config, plugins).audit_log
    name = f"tools-{uuid.uuid4().hex[:8]}"
    old = os.environ.get("HELPDESK_DB")
    os.environ["HELPDESK_DB"] = str(db)
    try:
        first = register(
            _agent_dir(rollout_agent.root, name, "keyword-rules"),
            config=config,
            audit=audit,
            plugins=plugins,
            actor="alice",
        )
        promote(config, first.ref, Stage.PRODUCTION, actor="alice", audit=audit, plugins=plugins)
        second = register(
            _agent_dir(rollout_agent.root, name, "keyword-rules-b"),
            config=config,
            audit=audit,
            plugins=plugins,
            actor="alice",
        )
    finally:
        if old is None:
            os.environ.pop("HELPDESK_DB", None)
        else:
            os.environ["HELPDESK_DB"] = old
    return ToolAgent(name, first.version, second.version, db)


def test_same_action_with_other_tool_arguments_is_stopped_by_shadow_agreement(
    ctx: Any, tool_agent: ToolAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPDESK_DB", str(tool_agent.db))
    name = tool_agent.name
    state = actions.start(ctx, name, tool_agent.candidate, parse_plan(SHADOW_PLAN, "shadow.toml"), actor="alice")

    def ticket(i: int) -> dict[str, Any]:
        return {
            "ticket_id": f"SYN-{state.id}-{i}",
            "subject": "Charged twice",
            "body": "Please refund me.",
            "channel": "email",
        }

    final, seen = drive_with_traffic(ctx, name, ticket)

    assert (final.status, final.step) == (ROLLED_BACK, 0), final.detail
    assert aliases(ctx.client, name)["production"] == tool_agent.production
    assert [v.version for v in versions(ctx.client, name) if v.stage is Stage.PRODUCTION] == [tool_agent.production]
    assert set(seen.answered) == {tool_agent.production} and set(seen.statuses) == {200}
    story = audit_story(ctx, name, state.id)
    assert [r.action for r in story] == ["rollout.started", "rollout.step_entered", "rollout.rolled_back"]
    analysis = story[-1].payload["analysis"]
    agreement = next(c for c in analysis["checks"] if c["check"] == "shadow_agreement")
    assert agreement["verdict"] == "fail", agreement
    assert analysis["agreement"]["action_agreement"] == 1.0 and analysis["agreement"]["argument_agreement"] == 0.0
    with sqlite3.connect(tool_agent.db) as store:
        routed = dict(
            store.execute(
                "SELECT routed_by, count(*) FROM tickets WHERE id LIKE ? GROUP BY routed_by", (f"SYN-{state.id}-%",)
            ).fetchall()
        )
    assert routed == {"keyword-rules": len(seen.answered)}, routed  # production wrote every ticket; the shadow none
