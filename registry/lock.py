"""A promotion lock that works wherever the registry is shared.

MLflow has no transactions, but creating a registered model is atomic in
every store: the name is unique. Holding the lock means having created the
registered model ``agentgov-lock.<agent>``; releasing it means deleting it.
That works the same on the embedded sqlite store and on a shared MLflow
server, from any number of machines. A lock whose holder died is taken over
once its lease has expired, or at once when it was a process of this host
that no longer runs.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from agentgov.registry.backend import LOCK_PREFIX, quiet
from agentgov.registry.errors import Conflict

if TYPE_CHECKING:
    from mlflow import MlflowClient

LEASE_SECONDS = 60.0
_CONTENDED = ("RESOURCE_ALREADY_EXISTS", "RESOURCE_DOES_NOT_EXIST")


@contextmanager
def promotion_lock(client: MlflowClient, agent: str, *, wait: float = 60.0, lease: float = LEASE_SECONDS) -> Iterator[str]:
    """Hold the agent's promotion lock; yields the holder id."""
    from mlflow.exceptions import MlflowException

    name = f"{LOCK_PREFIX}{agent}"
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + wait
    delay = 0.02
    while True:
        try:
            with quiet():
                client.create_registered_model(
                    name,
                    tags={"agentgov.lock.holder": holder, "agentgov.lock.expires": f"{time.time() + lease:.3f}"},
                    description=f"agentgov promotion lock for {agent}; safe to delete once its lease has expired",
                )
            break
        except MlflowException as exc:
            # A lost race shows as "already exists", or as "does not exist" when the holder released
            # the lock between MLflow's insert and its look-up of the existing row: both mean "try again".
            if exc.error_code not in _CONTENDED and "database is locked" not in str(exc):
                raise
        _break_if_expired(client, name)
        if time.monotonic() > deadline:
            raise Conflict(
                f"another promotion of {agent} has held its lock for over {wait:.0f} s",
                hint=f"try again; if no promotion is running, delete the registered model {name}",
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    try:
        yield holder
    finally:
        with quiet():
            try:
                client.delete_registered_model(name)
            except MlflowException:
                pass  # taken over after expiry; the new holder owns it now


def _break_if_expired(client: MlflowClient, name: str) -> None:
    """Take the lock over when its lease ran out, or at once when its holder was a process of this host that is gone."""
    from mlflow.exceptions import MlflowException

    try:
        with quiet():
            model = client.get_registered_model(name)
            expires = float(model.tags.get("agentgov.lock.expires", "0"))
            if time.time() > expires or _holder_is_gone(model.tags.get("agentgov.lock.holder", "")):
                client.delete_registered_model(name)
    except (MlflowException, ValueError):
        pass  # released or broken meanwhile; the next attempt decides


def _holder_is_gone(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's process: only its lease tells
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
