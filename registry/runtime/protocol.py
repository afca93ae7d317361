"""The protocol a connector-kind plugin implements.

Internal module: plugin authors import these names from
:mod:`agentgov.registry.runtime`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agentgov.core.plugins import Kind, check_named


@dataclass(frozen=True)
class ConnectorSettings:
    """One connector the manifest declares, as its kind receives it to connect.

    ``config`` is the manifest's ``config`` with every ``KEY_env: NAME`` read
    from the environment and handed over as ``KEY`` (so secrets never sit in
    the manifest); ``agent`` is the agent's name.
    """

    name: str
    kind: str
    scopes: tuple[str, ...]
    config: Mapping[str, Any] = field(default_factory=dict)
    agent: str = ""


@runtime_checkable
class Connection(Protocol):
    """An open connection to one declared connector; ``call`` executes one action."""

    def call(self, action: str, args: Mapping[str, Any]) -> Any:
        """Execute ``action`` with arguments already validated against the tool's schema.

        Return a JSON value (the tool's result). Raise to fail the call; the
        message reaches the agent and the trace. Called from a worker thread,
        possibly several at once.
        """
        ...

    def close(self) -> None: ...


@runtime_checkable
class ConnectorKind(Protocol):
    """A kind of system agents act on (``http``, ``sqlite``, ``zendesk``...), named by a connector's ``kind:``."""

    name: str
    description: str

    def connect(self, settings: ConnectorSettings) -> Connection:
        """Open a connection for one declared connector; raise ``ValueError`` for a wrong ``config``."""
        ...


def check_connector_kind(item: Any) -> str | None:
    return check_named(item, methods=("connect",))


CONNECTORS: Kind[ConnectorKind] = Kind("connector kind", "agentgov_register_connectors", check_connector_kind)
