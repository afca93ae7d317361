"""The context an agent acts through: ``act(request, ctx)``.

``ctx.call("helpdesk.create_ticket", {"subject": "..."})`` or
``ctx.tools.helpdesk.create_ticket(subject="...")`` calls a tool. Every call
is checked (declared, scope granted, arguments valid), answered as the mode
says (executed, or from a recording or the tool's stub), and recorded in
``ctx.trace`` whether it succeeds or not; one that gives no result raises a
:class:`~agentgov.registry.runtime.ToolError` the agent may catch.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from agentgov.core.audit import redact
from agentgov.registry.runtime.errors import NoRecordedAnswer, ToolError, ToolFailed, ToolTimeout
from agentgov.registry.runtime.modes import Mode, check_read_only
from agentgov.registry.runtime.trace import Answers, ToolCall, Trace

if TYPE_CHECKING:
    from agentgov.registry.runtime.runtime import AgentRuntime, ToolSpec


class ToolContext:
    """One request's tools: ``call``, ``tools``, and the ``trace`` of what was called so far."""

    def __init__(
        self,
        runtime: AgentRuntime,
        mode: Mode | str = Mode.LIVE,
        *,
        trace_id: str | None = None,
        paired: Trace | None = None,
        read_only: str = "execute",
    ) -> None:
        self.mode = Mode.parse(mode)
        self.trace_id = trace_id or uuid.uuid4().hex
        self.read_only = check_read_only(read_only)
        self._runtime = runtime
        self._answers = Answers(paired)
        self._calls: list[ToolCall] = []
        self._lock = threading.Lock()
        self.tools = _Connectors(self)

    @property
    def trace(self) -> Trace:
        with self._lock:
            calls = tuple(self._calls)
        return Trace(self.trace_id, self._runtime.agent, self._runtime.version, self.mode.value, calls)

    def call(self, tool: str, args: Any = None) -> Any:
        """Call ``tool`` (``connector.action``) with ``args`` (a mapping); its result, or a ``ToolError``."""
        started = time.perf_counter()
        args = {} if args is None else args
        masked = self._mask(args)
        attempt = _Attempt()
        spec: ToolSpec | None = None
        try:
            spec = self._runtime.tool(tool)
            self._runtime.check_scope(spec)
            plain = self._runtime.check_args(spec, args)
            result = self._answer(spec, plain, masked, attempt)
        except ToolError as exc:
            self._record(
                tool, masked, spec, attempt, started, outcome=exc.outcome, error=self._runtime.masker.text(str(exc))
            )
            raise
        self._record(tool, masked, spec, attempt, started, outcome="ok", result=self._mask(result))
        return result

    def _answer(self, spec: ToolSpec, args: dict[str, Any], masked: Any, attempt: _Attempt) -> Any:
        if self.mode is Mode.REPLAY:
            return self._recorded(
                spec, masked, attempt, "trace", "the replayed trace holds no such call (same tool, same arguments)"
            )
        if self.mode is Mode.SHADOW and (spec.side_effects or self.read_only == "replay"):
            with self._lock:
                recorded = self._answers.take(spec.name, masked)
            if recorded is not None:
                return self._from(spec, recorded, attempt, "paired")
            if spec.stub is not None:
                attempt.source = "stub"
                return copy.deepcopy(spec.stub)
            what = (
                "a side-effecting tool never executes in shadow mode"
                if spec.side_effects
                else "read-only tools replay in this shadow run"
            )
            raise NoRecordedAnswer(
                spec.name, f"{what}, and there is no paired production result for these arguments nor a stub"
            )

        def mark() -> None:
            attempt.executed = True
            attempt.source = "connector"

        return self._runtime.execute(spec, args, mark)

    def _recorded(self, spec: ToolSpec, masked: Any, attempt: _Attempt, source: str, missing: str) -> Any:
        with self._lock:
            recorded = self._answers.take(spec.name, masked)
        if recorded is None:
            raise NoRecordedAnswer(spec.name, missing)
        return self._from(spec, recorded, attempt, source)

    @staticmethod
    def _from(spec: ToolSpec, recorded: ToolCall, attempt: _Attempt, source: str) -> Any:
        attempt.source = source
        if recorded.outcome == "timeout":
            raise ToolTimeout(spec.name, f"(recorded) {recorded.error or 'timed out'}")
        if recorded.outcome == "failed":
            raise ToolFailed(spec.name, f"(recorded) {recorded.error or 'failed'}")
        return copy.deepcopy(recorded.result)

    def _mask(self, value: Any) -> Any:
        """``value`` as the trace keeps it: JSON (anything else named by its type only, never its repr), masked."""
        plain = json.loads(json.dumps(value, default=lambda o: f"<{type(o).__name__}>"))
        return self._runtime.masker.value(redact(plain))

    def _record(
        self,
        tool: Any,
        masked: Any,
        spec: ToolSpec | None,
        attempt: _Attempt,
        started: float,
        *,
        outcome: str,
        result: Any = None,
        error: str | None = None,
    ) -> None:
        latency = round((time.perf_counter() - started) * 1000, 3)
        with self._lock:
            self._calls.append(
                ToolCall(
                    seq=len(self._calls),
                    tool=str(tool),
                    args=masked,
                    outcome=outcome,
                    result=result,
                    error=error,
                    latency_ms=latency,
                    side_effects=True if spec is None else spec.side_effects,
                    mode=self.mode.value,
                    executed=attempt.executed,
                    source=attempt.source,
                )
            )


class _Attempt:
    __slots__ = ("executed", "source")

    def __init__(self) -> None:
        self.executed = False
        self.source: str | None = None


class _Connectors:
    """``ctx.tools.helpdesk``: a connector's tools as attributes."""

    def __init__(self, context: ToolContext) -> None:
        self._context = context

    def __getattr__(self, connector: str) -> _Actions:
        if connector.startswith("__"):
            raise AttributeError(connector)
        return _Actions(self._context, connector)


class _Actions:
    def __init__(self, context: ToolContext, connector: str) -> None:
        self._context = context
        self._connector = connector

    def __getattr__(self, action: str) -> Any:
        if action.startswith("__"):
            raise AttributeError(action)
        context, tool = self._context, f"{self._connector}.{action}"

        def call(**args: Any) -> Any:
            return context.call(tool, args)

        call.__name__ = action
        return call


def wants_context(act: Any) -> bool:
    """Whether ``act`` (a bound method or function) takes a context after the request: ``act(request, ctx)``.

    Read once when an agent loads. ``act(self, request)`` does not;
    ``act(self, request, ctx)``, ``act(self, request, ctx=None)`` and ``act(self, *args)`` do.
    """
    import inspect

    try:
        parameters = inspect.signature(act).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in parameters)
