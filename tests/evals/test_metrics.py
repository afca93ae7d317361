"""The eval statistics on hand-made outcomes, checked against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from agentgov.core.stats import wilson_interval
from agentgov.evals.metrics import Outcome, per_class, percentile, summarize


def _outcomes(pairs: list[tuple[str, str | None]], latency: float = 1.0) -> list[Outcome]:
    return [Outcome(e, p, latency, error=None if p is not None else "ValueError: boom") for e, p in pairs]


def test_the_wilson_interval_of_8_in_10_is_the_textbook_value() -> None:
    # Wilson (1927) score interval for 8/10 at 95%: centre (0.8 + 1.96²/20) / (1 + 1.96²/10), half-width as below.
    z = 1.959963984540054
    centre = (0.8 + z * z / 20) / (1 + z * z / 10)
    half = z * (0.8 * 0.2 / 10 + z * z / 400) ** 0.5 / (1 + z * z / 10)
    assert (centre - half, centre + half) == pytest.approx((0.4902, 0.9433), abs=5e-5)
    summary = summarize(_outcomes([("a", "a")] * 8 + [("a", "b")] * 2))
    assert summary.success_ci == pytest.approx((0.4902, 0.9433), abs=5e-5)
    assert summary.success_rate == 0.8


def test_per_class_precision_and_recall_on_a_tiny_hand_made_set() -> None:
    # expected -> predicted: refund x3 (2 right, 1 as billing), billing x2 (1 right, 1 as refund), reply x1 (raised)
    outcomes = _outcomes([("refund", "refund"), ("refund", "refund"), ("refund", "billing"),
                          ("billing", "billing"), ("billing", "refund"), ("reply", None)])
    stats = per_class(outcomes)
    assert list(stats) == ["billing", "refund", "reply"]
    refund, billing, reply = stats["refund"], stats["billing"], stats["reply"]
    assert (refund.tp, refund.fp, refund.fn, refund.support) == (2, 1, 1, 3)
    assert refund.precision == pytest.approx(2 / 3) and refund.recall == pytest.approx(2 / 3)
    assert (billing.tp, billing.fp, billing.fn, billing.support) == (1, 1, 1, 2)
    assert billing.precision == 0.5 and billing.recall == 0.5
    # a failed call is a miss of its expected class and a false positive of no class
    assert (reply.tp, reply.fp, reply.fn, reply.support) == (0, 0, 1, 1)
    assert reply.precision is None and reply.recall == 0.0
    assert reply.to_dict() == {"precision": None, "recall": 0.0, "tp": 0, "fp": 0, "fn": 1, "support": 1}


def test_a_label_only_ever_predicted_has_false_positives_and_no_recall() -> None:
    stats = per_class(_outcomes([("reply", "escalate"), ("reply", "reply")]))
    assert (stats["escalate"].fp, stats["escalate"].support, stats["escalate"].recall, stats["escalate"].precision) == (1, 0, None, 0.0)


@pytest.mark.parametrize("values", [[5.0], [3.0, 1.0], [float(v) for v in range(1, 101)], [0.2, 9.5, 1.1, 1.1, 30.0, 4.4, 0.01]])
def test_percentiles_match_numpy_linear_interpolation(values: list[float]) -> None:
    for q in (0, 50, 95, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([], 50) is None


def test_summary_counts_errors_latency_of_all_calls_and_cost_over_all_rows() -> None:
    outcomes = [
        Outcome("a", "a", 10.0, cost=0.002),
        Outcome("a", "b", 20.0, cost=0.004),
        Outcome("b", None, 30.0, error="invalid response: no 'action'"),
        Outcome("b", "b", 40.0),
    ]
    s = summarize(outcomes)
    assert (s.samples, s.successes, s.errors, s.error_rate) == (4, 2, 1, 0.25)
    assert s.latency_ms == {"p50": 25.0, "p95": pytest.approx(38.5), "p99": pytest.approx(39.7)}
    assert s.cost_per_task == pytest.approx(0.0015) and s.cost_reported == 2
    assert s.success_ci == wilson_interval(2, 4)


def test_an_error_with_a_matching_prediction_is_not_a_success() -> None:
    assert not Outcome("a", "a", 1.0, error="late").success
