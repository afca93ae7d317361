"""Append every agentgov lifecycle event to ``$AGENTGOV_NOTIFY_FILE`` as JSON Lines."""

from __future__ import annotations

import fcntl
import json
import os

from agentgov.core import Event, hookimpl


@hookimpl
def agentgov_on_event(event: Event) -> None:
    path = os.environ.get("AGENTGOV_NOTIFY_FILE")
    if not path:
        return
    line = json.dumps(event.to_dict(), sort_keys=True) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # several agentgov processes may notify at once
        f.write(line)
