"""What one call cost, as the agent reports it in its response.

An agent reports usage with top-level ``cost`` and ``tokens`` fields, or with a
``usage`` object as LLM APIs return it: ``{"total_tokens": 812}`` (OpenAI's
shape) or ``{"input_tokens": 700, "output_tokens": 112}`` (Anthropic's), with
``cost`` beside the tokens or inside ``usage``. Top-level fields win. What the
agent does not report is ``None``, never 0: no data is not a free call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentgov.core.stats import number


@dataclass(frozen=True)
class Usage:
    cost: float | None = None
    tokens: float | None = None


def reported_usage(response: Any) -> Usage:
    """The cost and tokens ``response`` reports; ``None`` for each it does not."""
    if not isinstance(response, Mapping):
        return Usage()
    usage = response.get("usage")
    usage = usage if isinstance(usage, Mapping) else {}
    cost = number(response.get("cost"))
    if cost is None:
        cost = number(usage.get("cost"))
    tokens = number(response.get("tokens"))
    if tokens is None:
        tokens = number(usage.get("total_tokens"))
    if tokens is None:
        parts = [number(usage.get(k)) for k in ("input_tokens", "output_tokens", "prompt_tokens", "completion_tokens")]
        known = [p for p in parts if p is not None]
        tokens = sum(known) if known else None
    return Usage(cost, tokens)
