"""Agent-aware comparison of a shadow (or canary) answer with production's answer to the same request.

A pair agrees when the candidate did what production did: the same action,
and the same tool calls with the same arguments (in the same order, unless
``ordered=False``). Latency, cost and tokens are compared as deltas
(candidate - production). :func:`summarise` turns the pairs into the
statistics the ``shadow-agreement`` policy reads from the ``agentgov.rollout``
tag (:meth:`AgreementSummary.to_rollout_stats`):

* ``requests``: the pairs whose production call answered (a production error
  leaves nothing to agree with, so it is left out of the agreement, not
  counted against the candidate); ``agreement`` is the share of those that
  agree, and the policy takes its Wilson lower bound from these two numbers;
* ``error_rate`` / ``production_error_rate``: over all pairs;
* ``latency_p95_ms`` / ``production_latency_p95_ms``: over the pairs where
  both latencies were measured.

One side of a pair is a mapping: ``action`` (or ``response.action``),
``tool_calls`` (each ``{"tool": str, "args": ...}`` or any object with
``tool`` and ``args`` attributes, such as the runtime's recorded tool call)
or else ``trace`` (the runtime's trace, or its dict, whose ``calls`` are used),
``error``, ``latency_ms``, ``cost``, ``tokens``. Arguments are compared as
values (``1 == 1.0``, key order ignored), after whatever masking the trace
applied: two arguments masked to the same text are equal here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentgov.core.errors import InvalidValue
from agentgov.core.stats import number, wilson_interval

Call = tuple[str, Any]  # (tool, canonical arguments)


@dataclass(frozen=True)
class Side:
    """What one version did for one request."""

    action: Any
    tool_calls: tuple[Call, ...]
    error: str | None
    latency_ms: float | None
    cost: float | None
    tokens: float | None

    @classmethod
    def of(cls, record: Mapping[str, Any] | Side) -> Side:
        if isinstance(record, Side):
            return record
        if not isinstance(record, Mapping):
            raise InvalidValue(f"one side of a pair must be a mapping, got {type(record).__name__}")
        response = record.get("response")
        action = record.get("action")
        if action is None and isinstance(response, Mapping):
            action = response.get("action")
        error = record.get("error")
        return cls(
            action=_canonical(action),
            tool_calls=tuple(_call(c) for c in _calls_of(record)),
            error=None if error in (None, "") else str(error),
            latency_ms=number(record.get("latency_ms")),
            cost=number(record.get("cost")),
            tokens=number(record.get("tokens")),
        )


@dataclass(frozen=True)
class PairScore:
    """How a candidate's answer compares with production's for one request.

    ``comparable`` is False when production erred (nothing to agree with);
    ``difference`` names the first thing that differs, empty when they agree.
    """

    comparable: bool
    agree: bool
    same_action: bool
    same_tools: bool  # the same tools called (names only)
    same_arguments: bool  # the same tool calls with the same arguments
    candidate_error: bool
    production_error: bool
    latency_delta_ms: float | None
    cost_delta: float | None
    tokens_delta: float | None
    difference: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "comparable": self.comparable,
            "agree": self.agree,
            "same_action": self.same_action,
            "same_tools": self.same_tools,
            "same_arguments": self.same_arguments,
            "candidate_error": self.candidate_error,
            "production_error": self.production_error,
            "latency_delta_ms": self.latency_delta_ms,
            "cost_delta": self.cost_delta,
            "tokens_delta": self.tokens_delta,
            "difference": self.difference,
        }


def score_pair(
    production: Mapping[str, Any] | Side, candidate: Mapping[str, Any] | Side, *, ordered: bool = True
) -> PairScore:
    """Compare what the candidate did with what production did for the same request."""
    prod, cand = Side.of(production), Side.of(candidate)
    same_action = prod.action == cand.action
    if ordered:
        same_tools = [t for t, _ in prod.tool_calls] == [t for t, _ in cand.tool_calls]
        same_arguments = prod.tool_calls == cand.tool_calls
    else:
        same_tools = Counter(t for t, _ in prod.tool_calls) == Counter(t for t, _ in cand.tool_calls)
        same_arguments = Counter(prod.tool_calls) == Counter(cand.tool_calls)
    comparable = prod.error is None
    if not comparable:
        difference = f"production failed: {prod.error}"
    elif cand.error is not None:
        difference = f"the candidate failed: {cand.error}"
    elif not same_action:
        difference = f"action {cand.action!r} instead of {prod.action!r}"
    elif not same_tools:
        order = "" if ordered else " (any order)"
        difference = f"tools {[t for t, _ in cand.tool_calls]} instead of {[t for t, _ in prod.tool_calls]}{order}"
    elif not same_arguments:
        difference = f"different arguments to {_first_changed(prod.tool_calls, cand.tool_calls, ordered)}"
    else:
        difference = ""
    return PairScore(
        comparable=comparable,
        agree=comparable and not difference,
        same_action=same_action,
        same_tools=same_tools,
        same_arguments=same_arguments,
        candidate_error=cand.error is not None,
        production_error=prod.error is not None,
        latency_delta_ms=_delta(cand.latency_ms, prod.latency_ms),
        cost_delta=_delta(cand.cost, prod.cost),
        tokens_delta=_delta(cand.tokens, prod.tokens),
        difference=difference,
    )


@dataclass(frozen=True)
class AgreementSummary:
    """Many pairs, summed up. ``interval`` is the Wilson 95% interval of ``agreement``; None without comparable pairs."""

    pairs: int
    requests: int
    agreed: int
    agreement: float | None
    interval: tuple[float, float] | None
    action_agreement: float | None
    argument_agreement: float | None
    error_rate: float | None
    production_error_rate: float | None
    latency_p95_ms: float | None
    production_latency_p95_ms: float | None
    mean_latency_delta_ms: float | None
    mean_cost_delta: float | None
    mean_tokens_delta: float | None
    examples: tuple[str, ...] = ()  # the first few differences, for people

    def to_dict(self) -> dict[str, Any]:
        return {
            "pairs": self.pairs,
            "requests": self.requests,
            "agreed": self.agreed,
            "agreement": self.agreement,
            "agreement_interval": None if self.interval is None else list(self.interval),
            "action_agreement": self.action_agreement,
            "argument_agreement": self.argument_agreement,
            "error_rate": self.error_rate,
            "production_error_rate": self.production_error_rate,
            "latency_p95_ms": self.latency_p95_ms,
            "production_latency_p95_ms": self.production_latency_p95_ms,
            "mean_latency_delta_ms": self.mean_latency_delta_ms,
            "mean_cost_delta": self.mean_cost_delta,
            "mean_tokens_delta": self.mean_tokens_delta,
            "examples": list(self.examples),
        }

    def to_rollout_stats(self, report: str | None = None) -> dict[str, Any]:
        """The ``agentgov.rollout`` tag's value, as the ``shadow-agreement`` policy reads it (None values left out)."""
        stats = {key: value for key, value in self.to_dict().items() if value is not None}
        if report:
            stats["report"] = report
        return stats


def summarise(
    pairs: Iterable[tuple[Mapping[str, Any] | Side, Mapping[str, Any] | Side]],
    *,
    ordered: bool = True,
    examples: int = 5,
) -> AgreementSummary:
    """Score each ``(production, candidate)`` pair and sum them up."""
    sides = [(Side.of(p), Side.of(c)) for p, c in pairs]
    scores = [score_pair(p, c, ordered=ordered) for p, c in sides]
    compared = [s for s in scores if s.comparable]
    agreed = sum(s.agree for s in compared)
    timed = [(p.latency_ms, c.latency_ms) for p, c in sides if p.latency_ms is not None and c.latency_ms is not None]
    return AgreementSummary(
        pairs=len(scores),
        requests=len(compared),
        agreed=agreed,
        agreement=_share(agreed, len(compared)),
        interval=wilson_interval(agreed, len(compared)) if compared else None,
        action_agreement=_share(sum(s.same_action for s in compared), len(compared)),
        argument_agreement=_share(sum(s.same_action and s.same_arguments for s in compared), len(compared)),
        error_rate=_share(sum(s.candidate_error for s in scores), len(scores)),
        production_error_rate=_share(sum(s.production_error for s in scores), len(scores)),
        latency_p95_ms=_p95([c for _, c in timed]),
        production_latency_p95_ms=_p95([p for p, _ in timed]),
        mean_latency_delta_ms=_mean([s.latency_delta_ms for s in scores]),
        mean_cost_delta=_mean([s.cost_delta for s in scores]),
        mean_tokens_delta=_mean([s.tokens_delta for s in scores]),
        examples=tuple(s.difference for s in compared if not s.agree)[:examples],
    )


def _calls_of(record: Mapping[str, Any]) -> Sequence[Any]:
    """``tool_calls``, or the calls of a ``trace`` (a mapping with ``calls`` or an object with a ``calls`` attribute)."""
    if record.get("tool_calls") is not None:
        return record["tool_calls"]
    trace = record.get("trace")
    if trace is None:
        return ()
    calls = trace.get("calls") if isinstance(trace, Mapping) else getattr(trace, "calls", None)
    return calls or ()


def _call(call: Any) -> Call:
    if isinstance(call, Mapping):
        tool, args = call.get("tool"), call.get("args")
    else:
        tool, args = getattr(call, "tool", None), getattr(call, "args", None)
    if not isinstance(tool, str) or not tool:
        raise InvalidValue(f"a tool call needs a tool name, got {tool!r}")
    return tool, _canonical(args)


def _canonical(value: Any) -> Any:
    """A hashable form that compares as the value does: mappings by their items, sequences item by item."""
    if isinstance(value, Mapping):
        return ("{}", tuple(sorted((str(k), _canonical(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("[]", tuple(_canonical(v) for v in value))
    if isinstance(value, set | frozenset):
        return ("set", frozenset(_canonical(v) for v in value))
    return value


def _first_changed(prod: Sequence[Call], cand: Sequence[Call], ordered: bool) -> str:
    if ordered:
        return next(p[0] for p, c in zip(prod, cand, strict=True) if p != c)
    missing = Counter(prod) - Counter(cand)
    return next(iter(missing))[0]


def _delta(candidate: float | None, production: float | None) -> float | None:
    return None if candidate is None or production is None else candidate - production


def _share(count: int, total: int) -> float | None:
    return count / total if total else None


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _p95(values: Sequence[float]) -> float | None:
    if not values:
        return None
    import numpy as np

    return float(np.quantile(np.asarray(values, dtype=float), 0.95))
