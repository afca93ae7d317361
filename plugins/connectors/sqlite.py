"""Connector kind ``sqlite``: each tool action runs one SQL statement on a SQLite file.

Manifest::

    connectors:
      - name: helpdesk
        kind: sqlite
        scopes: ["tickets:write"]
        config:
          path_env: HELPDESK_DB          # or path: /var/lib/helpdesk.db
          init_sql: CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, subject TEXT, priority TEXT)
          sql_create_ticket: INSERT INTO tickets (subject, priority) VALUES (:subject, 'normal')
          sql_set_priority: UPDATE tickets SET priority = :priority WHERE id = :ticket_id

``sql_<action>`` is the statement of tool ``<connector>.<action>``; the
tool's arguments are its named parameters (``:subject``; one the call leaves
out, as an optional argument, is ``NULL``). A statement that
returns rows (a ``SELECT``, or ``... RETURNING``) answers ``{"rows": [...]}``,
each row an object; any other answers ``{"rowcount": N, "lastrowid": ID}``.
Each call opens the file, runs in one transaction and closes it, so calls
from several worker threads never share a connection. ``init_sql`` (a script)
runs once, when the connector first connects.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentgov.core import Register, hookimpl
from agentgov.registry.runtime import ConnectorSettings

BUSY_TIMEOUT_S = 5.0
PREFIX = "sql_"
_PARAMETER = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")


class SqliteConnection:
    def __init__(self, path: Path, statements: Mapping[str, str]) -> None:
        self._path = path
        self._statements = dict(statements)

    def call(self, action: str, args: Mapping[str, Any]) -> Any:
        statement = self._statements.get(action)
        if statement is None:
            raise LookupError(f"no statement for action {action!r}: add config sql_{action} to the connector")
        connection = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_S)
        try:
            connection.row_factory = sqlite3.Row
            with connection:  # one transaction: committed, or rolled back on error
                cursor = connection.execute(statement, {**dict.fromkeys(_PARAMETER.findall(statement)), **args})
                if cursor.description is not None:
                    return {"rows": [dict(row) for row in cursor.fetchall()]}
                return {"rowcount": cursor.rowcount, "lastrowid": cursor.lastrowid}
        finally:
            connection.close()

    def close(self) -> None:
        pass


class SqliteConnector:
    name = "sqlite"
    description = "Runs one SQL statement per tool action (config sql_<action>) on a SQLite file (config path)."

    def connect(self, settings: ConnectorSettings) -> SqliteConnection:
        config = dict(settings.config)
        unknown = sorted(k for k in config if k not in ("path", "init_sql") and not k.startswith(PREFIX))
        if unknown:
            raise ValueError(
                f"unknown config {', '.join(unknown)} (expected: path or path_env, init_sql, sql_<action>)"
            )
        path = config.get("path")
        if not isinstance(path, str) or not path.strip():
            raise ValueError("config path (or path_env) must name the SQLite file")
        statements = {k.removeprefix(PREFIX): v for k, v in config.items() if k.startswith(PREFIX)}
        wrong = sorted(k for k, v in statements.items() if not isinstance(v, str) or not v.strip())
        if wrong:
            raise ValueError(f"config {', '.join(PREFIX + k for k in wrong)} must be an SQL statement")
        file = Path(path).expanduser()
        if not file.parent.is_dir():
            raise ValueError(f"the folder of {file} does not exist")
        init = config.get("init_sql")
        if init:
            if not isinstance(init, str):
                raise ValueError("config init_sql must be an SQL script")
            connection = sqlite3.connect(file, timeout=BUSY_TIMEOUT_S)
            try:
                connection.executescript(init)
                connection.commit()
            finally:
                connection.close()
        return SqliteConnection(file, statements)


@hookimpl
def agentgov_register_connectors(register: Register) -> None:
    register(SqliteConnector())
