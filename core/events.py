"""Publishing lifecycle events: first the audit log, then the plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentgov.core.audit import AuditLog, AuditRecord
from agentgov.core.types import Event

if TYPE_CHECKING:
    from agentgov.core.plugins import PluginManager


def publish(event: Event, *, audit: AuditLog, plugins: PluginManager) -> AuditRecord:
    """Record ``event`` in the audit log, then hand it to every ``agentgov_on_event``.

    The audit record is written first, so no plugin can hide or veto an event,
    and a plugin that fails does not lose it.
    """
    record = audit.append(
        actor=event.actor,
        action=f"event.{event.kind.value}",
        subject=str(event.agent),
        payload=event.to_dict(),
    )
    plugins.emit(event)
    return record
