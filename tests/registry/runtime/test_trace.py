"""A trace is plain JSON, and answers a call again in the order the calls were made."""

from __future__ import annotations

import json

import pytest

from agentgov.registry.runtime import ToolCall, Trace
from agentgov.registry.runtime.trace import Answers


def test_a_trace_round_trips_through_json() -> None:
    trace = Trace(
        "t-9",
        "router",
        3,
        "live",
        (
            ToolCall(
                0,
                "helpdesk.create_ticket",
                {"subject": "a"},
                "ok",
                {"id": 1},
                None,
                1.5,
                True,
                "live",
                True,
                "connector",
            ),
            ToolCall(
                1, "crm.lookup", {}, "refused", None, "tool crm.lookup: not declared", 0.1, True, "live", False, None
            ),
        ),
    )
    text = trace.to_json()
    assert json.loads(text)["calls"][1]["outcome"] == "refused"
    assert Trace.from_json(text) == trace


def test_an_unknown_outcome_is_refused_when_loading() -> None:
    with pytest.raises(ValueError, match="outcome 'maybe'"):
        Trace.from_dict({"trace_id": "t", "calls": [{"seq": 0, "tool": "a.b", "outcome": "maybe"}]})


def test_answers_take_the_nth_same_call_and_skip_refusals() -> None:
    trace = Trace(
        "t",
        calls=(
            ToolCall(0, "a.b", {"x": 1}, "ok", "first", executed=True),
            ToolCall(1, "a.b", {"x": 1}, "refused", None, "no"),
            ToolCall(2, "a.b", {"x": 1}, "ok", "second", executed=True),
            ToolCall(3, "a.b", {"x": 2}, "failed", None, "boom", executed=True),
        ),
    )
    answers = Answers(trace)
    assert answers.take("a.b", {"x": 1}).result == "first"
    assert answers.take("a.b", {"x": 1}).result == "second"
    assert answers.take("a.b", {"x": 1}) is None
    assert answers.take("a.b", {"x": 2}).outcome == "failed"
    assert answers.take("a.c", {"x": 2}) is None
