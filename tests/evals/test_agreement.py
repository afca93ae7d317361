"""Agent-aware comparison of shadow and production answers, and the statistics the shadow-agreement policy reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from agentgov.core.errors import InvalidValue
from agentgov.evals.agreement import score_pair, summarise
from agentgov.plugins.policies.shadow_agreement import ShadowAgreement
from agentgov.policies import policy_context
from agentgov.registry.model import TAG_ROLLOUT

REFUND = {"tool": "billing.refund", "args": {"order": "A-1", "amount": 20}}
NOTE = {"tool": "tickets.comment", "args": {"ticket": 7, "text": "refunded"}}


def _side(action: str = "refund", calls: tuple[dict[str, Any], ...] = (REFUND, NOTE), **more: Any) -> dict[str, Any]:
    return {"action": action, "tool_calls": list(calls), "latency_ms": 100.0, "cost": 0.01, "tokens": 300, **more}


def test_the_same_action_and_tool_calls_agree_whatever_the_key_order_or_number_type() -> None:
    shadow = _side(
        calls=({"tool": "billing.refund", "args": {"amount": 20.0, "order": "A-1"}}, NOTE), latency_ms=130.0, tokens=280
    )
    score = score_pair(_side(), shadow)
    assert score.agree and score.difference == ""
    assert score.latency_delta_ms == 30.0 and score.tokens_delta == -20 and score.cost_delta == 0.0


def test_the_same_action_with_different_arguments_disagrees_and_names_the_tool() -> None:
    shadow = _side(calls=({"tool": "billing.refund", "args": {"order": "A-1", "amount": 200}}, NOTE))
    score = score_pair(_side(), shadow)
    assert score.same_action and score.same_tools and not score.same_arguments and not score.agree
    assert score.difference == "different arguments to billing.refund"


def test_call_order_matters_unless_asked_not_to() -> None:
    swapped = _side(calls=(NOTE, REFUND))
    assert not score_pair(_side(), swapped).agree
    assert score_pair(_side(), swapped, ordered=False).agree
    assert not score_pair(_side(), _side(calls=(NOTE, NOTE)), ordered=False).agree  # a multiset, not a set


def test_a_different_action_or_an_error_disagrees() -> None:
    assert score_pair(_side(), _side(action="reply")).difference == "action 'reply' instead of 'refund'"
    failed = score_pair(_side(), _side(error="TimeoutError"))
    assert failed.candidate_error and not failed.agree and "candidate failed" in failed.difference


def test_the_action_may_come_from_the_response_and_calls_from_trace_objects() -> None:
    @dataclass(frozen=True)
    class Recorded:  # the shape of the runtime's recorded tool call
        tool: str
        args: Any
        result: Any = None

    production = {
        "response": {"action": "refund"},
        "tool_calls": [Recorded("billing.refund", {"order": "A-1", "amount": 20})],
    }
    assert score_pair(production, {"action": "refund", "tool_calls": [REFUND]}).agree

    @dataclass(frozen=True)
    class Traced:  # the shape of the runtime's trace
        calls: tuple[Recorded, ...]

    traced = {"action": "refund", "trace": Traced((Recorded("billing.refund", {"order": "A-1", "amount": 20}),))}
    assert score_pair(traced, {"action": "refund", "trace": {"calls": [REFUND]}}).agree
    assert not score_pair(traced, {"action": "refund", "trace": {"calls": []}}).agree
    with pytest.raises(InvalidValue, match="tool name"):
        score_pair(production, {"action": "refund", "tool_calls": [{"args": {}}]})


def test_a_production_error_leaves_the_pair_out_of_the_agreement_but_not_out_of_the_error_rates() -> None:
    pairs = [(_side(), _side())] * 8 + [(_side(error="boom"), _side())] * 2
    summary = summarise(pairs)
    assert (summary.pairs, summary.requests, summary.agreed) == (10, 8, 8)
    assert summary.agreement == 1.0 and summary.production_error_rate == 0.2 and summary.error_rate == 0.0


def test_the_summary_gives_agreement_with_its_interval_and_the_latency_percentiles() -> None:
    pairs = []
    for i in range(1000):
        production = _side(latency_ms=100.0 + i % 100)
        candidate = _side(latency_ms=110.0 + i % 100, action="reply" if i % 50 == 0 else "refund")
        pairs.append((production, candidate))
    summary = summarise(pairs)
    assert summary.requests == 1000 and summary.agreement == pytest.approx(0.98)
    low, high = summary.interval
    assert low < 0.98 < high and high - low < 0.03
    assert summary.latency_p95_ms - summary.production_latency_p95_ms == pytest.approx(10.0)
    assert summary.mean_latency_delta_ms == pytest.approx(10.0)
    assert summary.examples[0] == "action 'reply' instead of 'refund'"
    json.dumps(summary.to_dict())


def test_no_pairs_summarise_to_no_agreement_and_the_policy_does_not_pass() -> None:
    summary = summarise([])
    assert summary.agreement is None and summary.interval is None
    result = _policy(summary.to_rollout_stats())
    assert result.status != "pass"


def _policy(stats: dict[str, Any]):
    policy = ShadowAgreement()
    return policy.evaluate(policy_context(policy.name, evidence={TAG_ROLLOUT: stats}))


def test_the_shadow_agreement_policy_reads_the_summary() -> None:
    good = [(_side(latency_ms=100.0), _side(latency_ms=105.0))] * 600
    result = _policy(summarise(good).to_rollout_stats(report="runs:/r/rollout.json"))
    assert result.status == "pass", result.reason
    assert result.evidence == ("runs:/r/rollout.json",)
    wrong_arguments = [
        (_side(), _side(calls=({"tool": "billing.refund", "args": {"order": "A-1", "amount": 200}}, NOTE)))
    ] * 100
    result = _policy(summarise(good + wrong_arguments).to_rollout_stats())
    assert result.status == "fail" and "agreement lower bound" in result.reason
