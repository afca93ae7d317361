"""Running one policy so that whatever it does, the gate gets a verdict.

A policy runs in its own daemon thread with a time limit. Raising, running
past the limit, returning something that is not a :class:`PolicyResult`, or
answering for another policy all become ``error`` results naming the plugin:
the gate fails closed. (A thread that hangs cannot be killed; being a daemon,
it does not keep the command from exiting.)
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

from agentgov.core.errors import AgentgovError
from agentgov.core.plugins import Registered
from agentgov.core.types import PolicyResult, PolicyStatus
from agentgov.policies.context import Evidence, GateRequest, PolicyContext
from agentgov.policies.protocol import Policy
from agentgov.policies.settings import ConfiguredPolicy


def run_policy(
    configured: ConfiguredPolicy, registered: Registered[Policy] | None, request: GateRequest, evidence: Evidence
) -> PolicyResult:
    if registered is None:
        return PolicyResult(
            configured.name,
            PolicyStatus.ERROR,
            f"no loaded plugin provides policy {configured.name!r}; install its plugin, "
            "or check plugins.block / $AGENTGOV_PLUGINS_BLOCK (`agentgov plugins list`)",
            mode=configured.mode,
        )
    context = PolicyContext(configured.name, configured.params, request, evidence)
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            outcome["value"] = registered.item.evaluate(context)
        except BaseException as exc:  # a policy's failure is a verdict, not a crash
            outcome["error"] = exc

    started = time.perf_counter()
    worker = threading.Thread(target=call, name=f"policy {configured.name}", daemon=True)
    worker.start()
    worker.join(configured.timeout_s)
    seconds = round(time.perf_counter() - started, 6)

    def error(reason: str) -> PolicyResult:
        return PolicyResult(configured.name, PolicyStatus.ERROR, f"{reason} (plugin {registered.plugin})", mode=configured.mode, plugin=registered.plugin, seconds=seconds)

    if worker.is_alive():
        return error(f"did not answer within its time limit of {configured.timeout_s:g} s")
    if "error" in outcome:
        exc = outcome["error"]
        what = str(exc) if isinstance(exc, AgentgovError) else f"{type(exc).__name__}: {exc}"
        return error(f"raised {what}" if not isinstance(exc, AgentgovError) else what)
    value = outcome.get("value")
    if not isinstance(value, PolicyResult):
        return error(f"returned {type(value).__name__} {_short(value)}, not a PolicyResult")
    if value.policy != configured.name:
        return error(f"answered for policy {value.policy!r} instead of {configured.name!r}")
    return replace(value, mode=configured.mode, plugin=registered.plugin, seconds=seconds)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
