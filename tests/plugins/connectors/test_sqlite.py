"""The sqlite connector kind on a real file: statements per action, rows or counts, one transaction per call."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agentgov.registry.runtime import CONNECTORS
from agentgov.registry.runtime.protocol import ConnectorSettings

INIT = "CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, subject TEXT NOT NULL, priority TEXT)"


@pytest.fixture
def sqlite_kind(agentgov_plugins):
    return agentgov_plugins.collect(CONNECTORS)["sqlite"].item


def test_statements_insert_update_and_select(sqlite_kind, tmp_path: Path) -> None:
    db = tmp_path / "helpdesk.db"
    connection = sqlite_kind.connect(
        ConnectorSettings(
            "helpdesk",
            "sqlite",
            (),
            {
                "path": str(db),
                "init_sql": INIT,
                "sql_create": "INSERT INTO tickets (subject, priority) VALUES (:subject, :priority)",
                "sql_list": "SELECT id, subject, priority FROM tickets ORDER BY id",
            },
        )
    )
    assert connection.call("create", {"subject": "a"}) == {"rowcount": 1, "lastrowid": 1}  # :priority left out: NULL
    assert connection.call("list", {}) == {"rows": [{"id": 1, "subject": "a", "priority": None}]}
    with pytest.raises(sqlite3.IntegrityError):
        connection.call("create", {"subject": None})
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT count(*) FROM tickets").fetchone() == (1,)  # the failed call was rolled back
    with pytest.raises(LookupError, match="add config sql_delete"):
        connection.call("delete", {})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "config path \\(or path_env\\) must name the SQLite file"),
        ({"path": "/no/such/folder/x.db"}, "the folder of /no/such/folder/x.db does not exist"),
        ({"path": "x.db", "sql_a": ""}, "config sql_a must be an SQL statement"),
        ({"path": "x.db", "user": "bob"}, "unknown config user"),
    ],
)
def test_wrong_config_is_named(sqlite_kind, config, message) -> None:
    with pytest.raises(ValueError, match=message):
        sqlite_kind.connect(ConnectorSettings("helpdesk", "sqlite", (), config))
