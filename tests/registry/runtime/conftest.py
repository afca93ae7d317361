"""A helpdesk agent's manifest on a real SQLite file, and the built-in connector kinds as plugins register them."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from agentgov.registry.runtime import CONNECTORS, AgentRuntime, ConnectorKind

TICKET_SCHEMA = {
    "type": "object",
    "properties": {"subject": {"type": "string", "minLength": 1}, "email": {"type": "string"}},
    "required": ["subject"],
    "additionalProperties": False,
}
PRIORITY_SCHEMA = {
    "type": "object",
    "properties": {"ticket_id": {"type": "integer"}, "priority": {"enum": ["low", "normal", "high"]}},
    "required": ["ticket_id", "priority"],
}
LOOKUP_SCHEMA = {"type": "object", "properties": {"subject": {"type": "string"}}, "required": ["subject"]}


def helpdesk_manifest(db: Path, **overrides: Any) -> dict[str, Any]:
    connector = {
        "name": "helpdesk",
        "kind": "sqlite",
        "scopes": ["tickets:read", "tickets:write"],
        "config": {
            "path": str(db),
            "init_sql": "CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, subject TEXT, email TEXT, priority TEXT DEFAULT 'normal')",
            "sql_create_ticket": "INSERT INTO tickets (subject, email) VALUES (:subject, :email)",
            "sql_set_priority": "UPDATE tickets SET priority = :priority WHERE id = :ticket_id",
            "sql_find_tickets": "SELECT id, subject FROM tickets WHERE subject = :subject ORDER BY id",
        },
    }
    config = {**connector["config"], **overrides.pop("config", {})}
    connector["config"] = {k: v for k, v in config.items() if v is not None}  # None drops a key
    connector.update(overrides.pop("connector", {}))
    tools = [
        {
            "connector": "helpdesk",
            "action": "create_ticket",
            "schema": "create_ticket.json",
            "scope": "tickets:write",
            "side_effects": True,
            "stub": {"rowcount": 1, "lastrowid": -1},
        },
        {"connector": "helpdesk", "action": "set_priority", "schema": "set_priority.json", "scope": "tickets:write"},
        {
            "connector": "helpdesk",
            "action": "find_tickets",
            "schema": "find_tickets.json",
            "scope": "tickets:read",
            "side_effects": False,
        },
        {"connector": "helpdesk", "action": "close_all", "schema": "find_tickets.json", "scope": "tickets:admin"},
        *overrides.pop("tools", []),
    ]
    return {
        "name": "helpdesk-agent",
        "description": "Files tickets.",
        "owners": ["support@example.com"],
        "risk_tier": "low",
        "entrypoint": "agent.py:Agent",
        "example_request": {"subject": "hi"},
        "connectors": [connector],
        "tools": tools,
        **overrides,
    }


SCHEMAS = {
    "helpdesk.create_ticket": TICKET_SCHEMA,
    "helpdesk.set_priority": PRIORITY_SCHEMA,
    "helpdesk.find_tickets": LOOKUP_SCHEMA,
    "helpdesk.close_all": LOOKUP_SCHEMA,
}


def rows(db: Path) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as connection:
        try:
            return connection.execute("SELECT id, subject, email, priority FROM tickets ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # no table: nothing ever connected
            return []


@pytest.fixture
def kinds(agentgov_plugins) -> Mapping[str, ConnectorKind]:
    """The connector kinds the built-in plugins register through agentgov_register_connectors."""
    found = {name: registered.item for name, registered in agentgov_plugins.collect(CONNECTORS).items()}
    assert agentgov_plugins.problems == []
    return found


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "helpdesk.db"


@pytest.fixture
def runtime(db: Path, kinds: Mapping[str, ConnectorKind]) -> AgentRuntime:
    return AgentRuntime.from_manifest(helpdesk_manifest(db), SCHEMAS, kinds=kinds)


@pytest.fixture
def make_runtime(db: Path, kinds: Mapping[str, ConnectorKind]):
    """``make_runtime(**manifest_overrides, schemas=..., kinds_=...)``: a runtime of the helpdesk manifest.

    ``connector={...}`` replaces keys of the connector, ``config={...}`` adds to its config, ``tools=[...]`` adds
    tools; ``schemas`` adds to the helpdesk's schemas (``schemas={}``: none at all).
    """

    def make(
        *, schemas: Mapping[str, Any] | None = None, kinds_: Mapping[str, ConnectorKind] | None = None, **overrides: Any
    ) -> AgentRuntime:
        merged = {**SCHEMAS, **(schemas or {})} if schemas != {} else {}
        return AgentRuntime.from_manifest(
            helpdesk_manifest(db, **overrides), merged, kinds=kinds if kinds_ is None else kinds_
        )

    return make


@pytest.fixture
def ticket_rows(db: Path):
    """The rows of the helpdesk's tickets table, read straight from the SQLite file."""
    return lambda: rows(db)
