"""An offline eval never causes a side effect: an agent with tools is evaluated in shadow mode."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from agentgov.core.config import Config
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager
from agentgov.core.types import AgentRef
from agentgov.pipelines.evaluation import load_eval_set, run
from agentgov.pipelines.registration import register
from agentgov.registry import load_agent

MANIFEST = """\
name: {name}
description: Files a ticket for every request.
owners: [support@example.com]
risk_tier: low
entrypoint: agent.py:Filer
example_request: {{subject: hello}}
connectors:
  - name: helpdesk
    kind: sqlite
    scopes: ["tickets:write"]
    config:
      path_env: TEST_EVAL_HELPDESK_DB
      init_sql: CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, subject TEXT)
      sql_create_ticket: INSERT INTO tickets (subject) VALUES (:subject)
tools:
  - {{connector: helpdesk, action: create_ticket, schema: ticket.json, scope: "tickets:write", stub: {{lastrowid: 0}}}}
"""
AGENT = """
class Filer:
    def act(self, request, ctx):
        ctx.call("helpdesk.create_ticket", {"subject": request["subject"]})
        return {"action": "ticket"}
"""


def test_an_agent_with_side_effecting_tools_is_evaluated_without_executing_them(
    agentgov_config: Config,
    agentgov_home: Home,
    agentgov_plugins: PluginManager,
    agent_name: str,
    tmp_path: Path,
    monkeypatch,
) -> None:
    db = tmp_path / "helpdesk.db"
    monkeypatch.setenv("TEST_EVAL_HELPDESK_DB", str(db))
    folder = tmp_path / "filer"
    (folder / "data").mkdir(parents=True)
    name = agent_name.replace("router", "filer")
    (folder / "agent.yaml").write_text(MANIFEST.format(name=name))
    (folder / "agent.py").write_text(AGENT)
    (folder / "ticket.json").write_text(json.dumps({"type": "object", "required": ["subject"]}))
    (folder / "data" / "eval.csv").write_text(
        "subject,expected_action\n" + "".join(f"case {i},ticket\n" for i in range(5))
    )
    version = register(
        folder, config=agentgov_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice"
    )

    eval_set = load_eval_set(
        agentgov_config,
        AgentRef(name, version=version.version),
        dataset=str(folder / "data" / "eval.csv"),
        agent_dir=folder,
        allow_untracked=True,
    )
    result = run(agentgov_config, eval_set, response_field="action", workers=1)

    assert result.summary.samples == 5
    assert (result.summary.successes, result.summary.errors) == (5, 0)  # each create_ticket answered by its stub
    assert not db.exists()  # the helpdesk was never even opened

    live = load_agent(f"{name}/{version.version}", agentgov_config)
    live.act({"subject": "for real"})  # the same agent live does write: the check above can fail
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT subject FROM tickets").fetchall() == [("for real",)]
