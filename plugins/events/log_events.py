"""Writes every lifecycle event to the ``agentgov.events`` logger.

With ``agentgov --debug`` (or any logging set up at INFO) people see events as
they happen; the audit log keeps them regardless of this plugin.
"""

from __future__ import annotations

import logging

from agentgov.core import Event, hookimpl

log = logging.getLogger("agentgov.events")


@hookimpl
def agentgov_on_event(event: Event) -> None:
    decision = f" (decision {event.decision_id})" if event.decision_id else ""
    log.info("%s %s by %s%s", event.kind.value, event.agent, event.actor, decision)
