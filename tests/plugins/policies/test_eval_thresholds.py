import pytest

from agentgov.core import wilson_interval
from agentgov.plugins.policies.eval_thresholds import EvalThresholds
from agentgov.policies import policy_context
from agentgov.registry.model import TAG_EVAL

POLICY = EvalThresholds()
CRITERIA = {"success_criteria": {"task_success_min": 0.85, "error_rate_max": 0.05}}


def _check(results: dict | None, params: dict | None = None, manifest: dict | None = CRITERIA):
    evidence = {TAG_EVAL: results} if results is not None else None
    return POLICY.evaluate(policy_context(POLICY.name, evidence=evidence, params=params, manifest=manifest))


def _results(samples: int, success: float, errors: float = 0.0) -> dict:
    low, high = wilson_interval(success * samples, samples)
    return {"samples": samples, "task_success": {"rate": success, "ci_low": low, "ci_high": high}, "error_rate": errors, "report": "runs:/r/eval.json"}


def test_passes_when_the_lower_bound_meets_the_minimum() -> None:
    result = _check(_results(1000, 0.93, 0.01))
    assert result.status == "pass", result.reason
    assert result.metrics["task_success_ci_low"] == pytest.approx(wilson_interval(930, 1000)[0])


def test_a_point_estimate_above_the_minimum_is_not_enough() -> None:
    # 0.87 observed on 200 samples: the 95% lower bound is about 0.82, below 0.85.
    result = _check(_results(200, 0.87))
    assert result.status == "fail"
    assert "task success lower bound 0.816" in result.reason


def test_the_error_rate_is_judged_on_its_upper_bound() -> None:
    assert _check(_results(200, 0.99, 0.03)).status == "fail"  # upper bound about 0.064 > 0.05
    assert _check(_results(5000, 0.99, 0.03)).status == "pass"  # upper bound about 0.035


def test_too_few_samples_is_inconclusive() -> None:
    result = _check(_results(40, 1.0), params={"min_samples": 100})
    assert result.status == "inconclusive"
    assert "only 40 eval samples" in result.reason


def test_no_results_is_an_error() -> None:
    result = _check(None)
    assert result.status == "error" and "agentgov eval test-agent 1" in result.reason


def test_no_criteria_warns_instead_of_passing_silently() -> None:
    assert _check(_results(1000, 0.9), manifest={}).status == "warn"


def test_results_without_a_sample_count_are_an_error() -> None:
    assert _check({"task_success": {"rate": 1.0}}).status == "error"
