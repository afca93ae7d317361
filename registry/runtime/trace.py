"""What an agent did: each tool call, recorded under the request's ``trace_id``.

A :class:`Trace` is plain JSON (:meth:`Trace.to_json`, :meth:`Trace.from_json`)
so an inference log can store it beside the request and a replay can load it.
Arguments and results are recorded as the audit log would write them (secret
keys redacted, credential- and personal-data-looking values masked, with the
audit masker's patterns, but no field exempt by its name, as ``subject`` is in
an audit record: only ``*_id`` and ``*_hash`` values are kept as they are); a replay
or a shadow run looks calls up by that same masked form, so two calls whose
arguments differ only in masked parts are told apart by their order alone.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

OUTCOMES = ("ok", "refused", "timeout", "failed", "unanswered")
SOURCES = ("connector", "paired", "stub", "trace", None)  # where an answer came from; None when there was none


@dataclass(frozen=True)
class ToolCall:
    """One call of a tool, as recorded (arguments and result already masked)."""

    seq: int  # 0, 1, ... within the trace
    tool: str  # connector.action
    args: Any
    outcome: str  # one of OUTCOMES
    result: Any = None
    error: str | None = None
    latency_ms: float = 0.0
    side_effects: bool = True
    mode: str = "live"
    executed: bool = False  # whether the connector was called
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "tool": self.tool,
            "args": self.args,
            "outcome": self.outcome,
            "result": self.result,
            "error": self.error,
            "latency_ms": self.latency_ms,
            "side_effects": self.side_effects,
            "mode": self.mode,
            "executed": self.executed,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        outcome = data["outcome"]
        if outcome not in OUTCOMES:
            raise ValueError(f"tool call outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
        return cls(
            seq=int(data["seq"]),
            tool=str(data["tool"]),
            args=data.get("args"),
            outcome=outcome,
            result=data.get("result"),
            error=data.get("error"),
            latency_ms=float(data.get("latency_ms", 0.0)),
            side_effects=bool(data.get("side_effects", True)),
            mode=str(data.get("mode", "live")),
            executed=bool(data.get("executed", False)),
            source=data.get("source"),
        )


@dataclass(frozen=True)
class Trace:
    """Every tool call one request made, in order."""

    trace_id: str
    agent: str = ""
    version: int | None = None
    mode: str = "live"
    calls: tuple[ToolCall, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "agent": self.agent,
            "version": self.version,
            "mode": self.mode,
            "calls": [c.to_dict() for c in self.calls],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trace:
        version = data.get("version")
        return cls(
            trace_id=str(data["trace_id"]),
            agent=str(data.get("agent", "")),
            version=None if version is None else int(version),
            mode=str(data.get("mode", "live")),
            calls=tuple(ToolCall.from_dict(c) for c in data.get("calls", ())),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Trace:
        return cls.from_dict(json.loads(text))


def call_key(tool: str, masked_args: Any) -> str:
    """How a call is looked up in a recorded trace: the tool and its masked arguments, canonically."""
    return tool + "\x00" + json.dumps(masked_args, sort_keys=True, separators=(",", ":"), default=str)


class Answers:
    """The recorded calls of a trace that can answer a call again: the n-th same call gets the n-th recorded one.

    A recorded refusal or a call left unanswered is no answer; a recorded
    failure or timeout is replayed as one. Not thread-safe on its own; the
    context that owns it holds a lock.
    """

    def __init__(self, trace: Trace | None) -> None:
        self._queues: dict[str, deque[ToolCall]] = defaultdict(deque)
        for recorded in trace.calls if trace is not None else ():
            if recorded.outcome in ("ok", "failed", "timeout"):
                self._queues[call_key(recorded.tool, recorded.args)].append(recorded)

    def take(self, tool: str, masked_args: Any) -> ToolCall | None:
        queue = self._queues.get(call_key(tool, masked_args))
        return queue.popleft() if queue else None
