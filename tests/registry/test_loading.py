"""A registered agent with tools, loaded from a real registry (sqlite): live, shadow and replay through load_agent,
and the same governed agent from its downloaded model folder with no registry (as a bento builds it)."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path

import pytest

from agentgov.core.config import Config
from agentgov.core.home import Home
from agentgov.pipelines.registration import register
from agentgov.registry import agent_from_model_dir, load_agent
from agentgov.registry.runtime import ToolRefused, Trace

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

MANIFEST = """\
name: {name}
description: Files a ticket for each request and raises its priority when the customer is angry.
owners: [support@example.com]
risk_tier: low
entrypoint: agent.py:TicketAgent
example_request: {{subject: Charged twice, angry: true}}
connectors:
  - name: helpdesk
    kind: sqlite
    scopes: ["tickets:read", "tickets:write"]
    config:
      path_env: TEST_HELPDESK_DB
      init_sql: CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, subject TEXT, priority TEXT DEFAULT 'normal')
      sql_create_ticket: INSERT INTO tickets (subject) VALUES (:subject)
      sql_set_priority: UPDATE tickets SET priority = :priority WHERE id = :ticket_id
      sql_delete_ticket: DELETE FROM tickets WHERE id = :ticket_id
tools:
  - connector: helpdesk
    action: create_ticket
    schema: schemas/create_ticket.json
    scope: tickets:write
    stub: {{rowcount: 1, lastrowid: 0}}
  - connector: helpdesk
    action: set_priority
    schema: schemas/set_priority.json
    scope: tickets:write
    stub: {{rowcount: 1, lastrowid: 0}}
  - connector: helpdesk
    action: delete_ticket
    schema: schemas/set_priority.json
    scope: tickets:admin
"""

AGENT = """
from agentgov.registry.runtime import ToolError


class TicketAgent:
    def act(self, request, ctx):
        created = ctx.call("helpdesk.create_ticket", {"subject": request["subject"]})
        ticket = created["lastrowid"]
        if request.get("angry"):
            ctx.tools.helpdesk.set_priority(ticket_id=ticket, priority="high")
        if request.get("delete"):
            try:
                ctx.tools.helpdesk.delete_ticket(ticket_id=ticket, priority="low")
            except ToolError as exc:
                return {"ticket": ticket, "refused": exc.outcome}
        return {"ticket": ticket}
"""


@pytest.fixture
def tool_agent(tmp_path: Path, agent_name: str) -> Path:
    folder = tmp_path / "ticket-agent"
    (folder / "schemas").mkdir(parents=True)
    (folder / "agent.yaml").write_text(MANIFEST.format(name=agent_name.replace("router", "tickets")))
    (folder / "agent.py").write_text(textwrap.dedent(AGENT))
    (folder / "schemas" / "create_ticket.json").write_text(
        json.dumps({"type": "object", "properties": {"subject": {"type": "string"}}, "required": ["subject"]})
    )
    (folder / "schemas" / "set_priority.json").write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {"ticket_id": {"type": "integer"}, "priority": {"enum": ["normal", "high"]}},
            }
        )
    )
    return folder


def _rows(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT id, subject, priority FROM tickets ORDER BY id").fetchall()


def test_a_registered_agent_calls_its_tools_live_in_shadow_and_in_replay(
    registry_config: Config, agentgov_home: Home, agentgov_plugins, tool_agent: Path, tmp_path: Path, monkeypatch
) -> None:
    db = tmp_path / "helpdesk.db"
    monkeypatch.setenv("TEST_HELPDESK_DB", str(db))
    version = register(
        tool_agent, config=registry_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice"
    )
    assert _rows(db) == []  # the registration probe ran in shadow mode: its tools answered from their stubs
    agent = load_agent(f"{version.name}/{version.version}", registry_config)

    response, live = agent.act_traced({"subject": "Charged twice", "angry": True}, trace_id="req-1")
    assert response == {"ticket": 1}
    assert _rows(db) == [(1, "Charged twice", "high")]
    assert (live.trace_id, live.agent, live.version) == ("req-1", version.name, version.version)
    assert [(c.tool, c.outcome, c.executed) for c in live.calls] == [
        ("helpdesk.create_ticket", "ok", True),
        ("helpdesk.set_priority", "ok", True),
    ]
    assert agent.act({"subject": "Lost parcel"}) == {"ticket": 2}  # act() keeps its one-argument form

    shadow_response, shadow = agent.act_traced(
        {"subject": "Charged twice", "angry": True},
        mode="shadow",
        trace_id="req-1",
        paired=Trace.from_json(live.to_json()),
    )
    assert shadow_response == response
    assert [(c.executed, c.source) for c in shadow.calls] == [(False, "paired"), (False, "paired")]
    assert len(_rows(db)) == 2  # nothing executed

    replayed, trace = agent.act_traced({"subject": "Charged twice", "angry": True}, mode="replay", paired=live)
    assert replayed == response and all(not c.executed for c in trace.calls)
    with pytest.raises(Exception, match="replayed trace holds no such call") as raised:
        agent.act({"subject": "Something new"}, mode="replay", paired=live)
    assert [c.outcome for c in raised.value.agentgov_trace.calls] == ["unanswered"]

    refused, trace = agent.act_traced({"subject": "Delete me", "delete": True})
    assert refused == {"ticket": 3, "refused": "refused"}
    assert trace.calls[-1].outcome == "refused" and "scope 'tickets:admin' is not granted" in trace.calls[-1].error
    assert _rows(db)[-1] == (3, "Delete me", "normal")


def test_a_downloaded_model_folder_builds_the_same_governed_agent_without_the_registry(
    registry_config: Config, agentgov_home: Home, agentgov_plugins, tool_agent: Path, tmp_path: Path, monkeypatch
) -> None:
    import mlflow

    from agentgov.registry.backend import connect

    db = tmp_path / "helpdesk.db"
    monkeypatch.setenv("TEST_HELPDESK_DB", str(db))
    version = register(
        tool_agent, config=registry_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice"
    )
    connect(registry_config)
    folder = mlflow.artifacts.download_artifacts(
        f"models:/{version.name}/{version.version}", dst_path=str(tmp_path / "model")
    )
    monkeypatch.setenv("AGENTGOV_TRACKING_URI", "http://127.0.0.1:9")  # no registry from here on

    agent = agent_from_model_dir(folder, {"name": version.name, "version": version.version})
    response, trace = agent.act_traced({"subject": "From the bento", "angry": True})
    assert response == {"ticket": 1}
    assert _rows(db) == [(1, "From the bento", "high")]
    assert (trace.agent, trace.version, [c.executed for c in trace.calls]) == (
        version.name,
        version.version,
        [True, True],
    )
    with pytest.raises(ToolRefused, match="not declared"):
        agent.tool_runtime().context().call("crm.lookup", {})

    # The manifest may also be handed over as a file (a bento carries it beside the model).
    from_file = agent_from_model_dir(folder, version, manifest=tool_agent / "agent.yaml")
    assert from_file.act({"subject": "Again"}) == {"ticket": 2}
    assert from_file.version is version
