"""One registered agent with four versions, shared by the gateway tests of this folder (registering costs seconds).

Each version files a ticket in a real SQLite database through the governed
runtime (a side effect that shows), and answers with its version number:

1 and 2   well-behaved;
3         sleeps 5 s, and 4 raises, when ``GATEWAY_TEST_FAULTS=1`` (set after registration, whose probe runs
          the example request: the faults are for the shadow role only).

Stages are set with the MLflow aliases directly (the gateway reads what the
gate would write); ``route`` puts them and the traffic tag in place.
"""

from __future__ import annotations

import json
import os
import sqlite3
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MANIFEST = """\
name: {name}
description: Files a ticket for each request.
owners: [support@example.com]
risk_tier: low
entrypoint: agent.py:Agent
example_request: {{subject: Charged twice}}
connectors:
  - name: helpdesk
    kind: sqlite
    scopes: ["tickets:write"]
    config:
      path_env: GATEWAY_TEST_DB
      init_sql: CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, subject TEXT, version INTEGER)
      sql_create_ticket: INSERT INTO tickets (subject, version) VALUES (:subject, :version)
tools:
  - connector: helpdesk
    action: create_ticket
    schema: create_ticket.json
    scope: tickets:write
    side_effects: true
    stub: {{rowcount: 1, lastrowid: 0}}
"""

AGENT = """
import os
import time

VERSION = {version}
FAULT = {fault!r}


class Agent:
    def act(self, request, ctx):
        if FAULT and os.environ.get("GATEWAY_TEST_FAULTS") == "1":
            if FAULT == "sleep":
                time.sleep(5)
            else:
                raise RuntimeError("this version is broken")
        created = ctx.call("helpdesk.create_ticket", {{"subject": request["subject"], "version": VERSION}})
        return {{"action": "filed", "text": "v{{}}".format(VERSION), "ticket": created["lastrowid"], "version": VERSION}}
"""

SCHEMA = {
    "type": "object",
    "properties": {"subject": {"type": "string"}, "version": {"type": "integer"}},
    "required": ["subject", "version"],
}
FAULTS = {1: None, 2: None, 3: "sleep", 4: "raise"}


@dataclass(frozen=True)
class GatewayAgent:
    config: Any
    name: str
    db: Path
    root: Path

    def client(self) -> Any:
        from agentgov.registry.backend import connect

        return connect(self.config)

    def route(
        self, production: int | None = 1, canary: int | None = None, shadow: int | None = None, **traffic: Any
    ) -> Any:
        """Put the stage aliases and the traffic tag in place (``canary_weight``, ``mirror_share``, ``rollout_id``)."""
        from agentgov.deploy.traffic import clear_routing, write_routing

        client = self.client()
        for alias, version in (("production", production), ("canary", canary), ("shadow", shadow)):
            if version is None:
                client.delete_registered_model_alias(self.name, alias)
            else:
                client.set_registered_model_alias(self.name, alias, str(version))
        if traffic:
            traffic.setdefault("rollout_id", f"rollout-{uuid.uuid4().hex[:6]}")
            return write_routing(self.config, self.name, client=client, **traffic)
        clear_routing(self.config, self.name, client=client)
        return None

    def tickets(self) -> list[tuple[int, str, int]]:
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db) as connection:
            return connection.execute("SELECT id, subject, version FROM tickets ORDER BY id").fetchall()

    def clear_tickets(self) -> None:
        if self.db.exists():
            with sqlite3.connect(self.db) as connection:
                connection.execute("DELETE FROM tickets")


@pytest.fixture(scope="package")
def gateway_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayAgent]:
    from agentgov.core.config import load_config
    from agentgov.core.home import Home
    from agentgov.core.plugins import PluginManager
    from agentgov.pipelines.registration import register

    root = tmp_path_factory.mktemp("gateway")
    name = f"gw-{uuid.uuid4().hex[:8]}"
    home = Home(root / "home")
    home.create()
    db = root / "helpdesk.db"
    environ = {"AGENTGOV_HOME": str(home.root), "AGENTGOV_USER": "test-user", "AGENTGOV_NO_SERVER": "1"}
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("AGENTGOV_") or k.startswith("MLFLOW_")]:
            patch.delenv(key)
        for key, value in environ.items():
            patch.setenv(key, value)
        patch.setenv("GATEWAY_TEST_DB", str(db))
        config = load_config(start=root, environ=environ)
        plugins = PluginManager(config)
        plugins.load_builtins()
        for version, fault in FAULTS.items():
            folder = root / f"v{version}"
            folder.mkdir()
            (folder / "agent.yaml").write_text(MANIFEST.format(name=name))
            (folder / "agent.py").write_text(textwrap.dedent(AGENT.format(version=version, fault=fault)))
            (folder / "create_ticket.json").write_text(json.dumps(SCHEMA))
            registered = register(folder, config=config, audit=home.audit_log, plugins=plugins, actor="test-user")
            assert registered.version == version
        patch.setenv("GATEWAY_TEST_FAULTS", "1")
        yield GatewayAgent(config, name, db, root)
