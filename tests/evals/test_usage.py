"""What a call cost, read from the agent's response: top-level fields, or a ``usage`` object in LLM APIs' shapes."""

from __future__ import annotations

from typing import Any

import pytest

from agentgov.evals.usage import Usage, reported_usage


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ({"action": "refund", "cost": 0.002, "tokens": 812}, Usage(0.002, 812.0)),
        ({"usage": {"total_tokens": 812, "prompt_tokens": 700}}, Usage(None, 812.0)),  # OpenAI: the total wins
        ({"usage": {"input_tokens": 700, "output_tokens": 112, "cost": 0.003}}, Usage(0.003, 812.0)),  # Anthropic
        ({"usage": {"prompt_tokens": 700, "completion_tokens": 112}}, Usage(None, 812.0)),
        ({"tokens": 5, "usage": {"total_tokens": 812}, "cost": 1, "usage_cost": 9}, Usage(1.0, 5.0)),
        ({"cost": 0, "tokens": 0}, Usage(0.0, 0.0)),  # free is reported as free
    ],
)
def test_reported_usage_reads_the_common_shapes(response: dict[str, Any], expected: Usage) -> None:
    assert reported_usage(response) == expected


@pytest.mark.parametrize(
    "response",
    [None, "refund", ["cost", 1], {}, {"cost": "cheap", "tokens": True}, {"usage": "lots"}, {"cost": float("nan")}],
)
def test_what_is_not_reported_is_none_never_zero(response: Any) -> None:
    assert reported_usage(response) == Usage(None, None)
